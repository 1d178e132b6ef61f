// The exposure loop's wake-up latency beside cyclictest's, per line kind (issue 17's loop rows).
import FirmwareSim
import Foundation
import Imaging
import Rig
import Synchronization
import RigDrivers

/// Exact wake-up latencies (ns) of one side of a comparison, and their order statistics.
struct WakeSamples {
    private(set) var sorted: [Int64]
    /// The samples in the order they were taken (one per period).
    let inOrder: [Int64]
    init(_ ns: [Int64]) { inOrder = ns; sorted = ns.sorted() }
    var count: Int { sorted.count }
    /// Nearest-rank quantile, µs (the same estimator for the loop and cyclictest).
    func quantile(_ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let k = min(sorted.count, max(1, Int((q * Double(sorted.count)).rounded(.up))))
        return Double(sorted[k - 1]) / 1000
    }
    var p50: Double { quantile(0.5) }
    var p99: Double { quantile(0.99) }
    var text: String {
        String(format: "%.0f/%.0f/%.0f/%.0f", quantile(0.5), quantile(0.99), quantile(0.999), quantile(1))
    }
    static func pooled(_ xs: [WakeSamples]) -> WakeSamples { WakeSamples(xs.flatMap(\.sorted)) }
}

/// The nearest-rank quantile `q` of `xs` (reordered in place: quickselect, no sort).
func selectQuantile(_ xs: inout [Int64], _ q: Double) -> Int64 {
    let n = xs.count
    var k = min(n, max(1, Int((q * Double(n)).rounded(.up)))) - 1
    var lo = 0, hi = n - 1
    return xs.withUnsafeMutableBufferPointer { a in
        while lo < hi {
            // Median-of-three pivot, Hoare partition.
            let mid = lo + (hi - lo) / 2
            let pivot = max(min(a[lo], a[mid]), min(max(a[lo], a[mid]), a[hi]))
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return a[k] }
        }
        k = max(0, k)
        return a[k]
    }
}

/// 90 % interval of p99(ours) / p99(theirs) by a paired block bootstrap: each pair's samples are cut
/// into blocks of `block` consecutive periods, and a resample draws blocks (with replacement) with
/// the same blocks from both sides, which ran at the same time. A burst that hit both sides stays in
/// both; one that hit one side weighs as often as its block is drawn. (Resampling single samples
/// would treat the bursts as independent and give too narrow an interval.)
func pairedBlockBootstrap(_ pairs: [PairResult], block: Int, resamples: Int = 600) -> (Double, Double) {
    var blocks: [(ours: ArraySlice<Int64>, theirs: ArraySlice<Int64>)] = []
    for p in pairs {
        let n = min(p.ours.inOrder.count, p.theirs.inOrder.count)
        var s = 0
        while s < n {
            let e = min(n, s + block)
            blocks.append((p.ours.inOrder[s..<e], p.theirs.inOrder[s..<e]))
            s = e
        }
    }
    guard !blocks.isEmpty else { return (.nan, .nan) }
    var rng = SplitMix64(seed: 17)
    var a: [Int64] = [], b: [Int64] = []
    var ratios: [Double] = []
    for _ in 0..<resamples {
        a.removeAll(keepingCapacity: true)
        b.removeAll(keepingCapacity: true)
        for _ in 0..<blocks.count {
            let k = rng.below(blocks.count)
            a.append(contentsOf: blocks[k].ours)
            b.append(contentsOf: blocks[k].theirs)
        }
        ratios.append(Double(selectQuantile(&a, 0.99)) / Double(selectQuantile(&b, 0.99)))
    }
    ratios.sort()
    return (ratios[Int(0.05 * Double(resamples))], ratios[Int(0.95 * Double(resamples)) - 1])
}

/// Waits, if needed, so that a process started now begins its `--secaligned` timeline on the next
/// whole second of CLOCK_MONOTONIC (cyclictest takes the second after its thread starts, and two if
/// that is within 100 ms of it): returns that second, ns.
func nextWholeSecondForCyclictest() -> Int64 {
    let clock = MonotonicClock()
    var now = clock.monotonicNanoseconds
    // Leave cyclictest up to 300 ms to start its thread before the second it will align to.
    if now % 1_000_000_000 > 600_000_000 {
        clock.sleep(untilNanoseconds: (now / 1_000_000_000 + 1) * 1_000_000_000 + 5_000_000)
        now = clock.monotonicNanoseconds
    }
    return (now / 1_000_000_000 + 1) * 1_000_000_000
}

/// cyclictest with the loop's priority and period, one thread, memory locked, absolute sleeps on
/// CLOCK_MONOTONIC, each sample printed in ns (`-v -N`), its timeline on `phase` of the period from a
/// whole second (`--secaligned`): its wake-ups come at second + phase + k × period, k ≥ 1.
final class CyclictestRun: @unchecked Sendable {
    private let process = Process()
    private let outputPath: String
    let loops: Int

    /// Starts cyclictest (nil when it cannot be run: rt-tests not installed). Its samples go to a
    /// file in `folder`, not a pipe: nothing in this process has to read while the loop is timed.
    init?(periodMicroseconds: Int, loops: Int, priority: Int, phaseMicroseconds: Int, folder: String) {
        self.loops = loops
        outputPath = folder + "/cyclictest-\(UUID().uuidString).txt"
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
              let out = FileHandle(forWritingAtPath: outputPath) else { return nil }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/cyclictest")
        process.arguments = ["-t1", "-p\(priority)", "-i\(periodMicroseconds)", "-d0", "-l\(loops)", "-m", "-q", "-v", "-N",
                             "--secaligned=\(phaseMicroseconds)"]
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        try? out.close()
    }

    /// Waits for cyclictest and returns its samples (ns), or nil when it failed.
    func finish() -> [Int64]? {
        process.waitUntilExit()
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        guard process.terminationStatus == 0, let text = try? String(contentsOfFile: outputPath, encoding: .utf8) else { return nil }
        var ns: [Int64] = []
        ns.reserveCapacity(loops)
        for line in text.split(separator: "\n") {
            // "  thread:  cycle:  latency"
            let f = line.split(separator: ":")
            guard f.count == 3, let v = Int64(f[2].trimmingCharacters(in: .whitespaces)) else { continue }
            ns.append(v)
        }
        return ns.isEmpty ? nil : ns
    }
}

/// Which lines the loop drives while it is measured.
enum LoopLineKind: String, CaseIterable {
    /// No lines (the run's latency self-test).
    case idle
    /// The sim chip as it was before issue 17 (an NSLock around every edge, observers called on the
    /// loop's thread), rebuilt here so the before and after are measured in the same run.
    case simLocked = "sim (NSLock)"
    /// firmware-sim's chip on the real clock: lock-free edge ring, observers on its dispatcher thread.
    case sim
    /// libgpiod lines on the first GPIO chip, where one exists.
    case libgpiod

    /// Lines to drive (nil pair: idle), a camera-like reader to run beside the loop, or why not.
    func lines() -> (led: DigitalLine?, trigger: DigitalLine?, reader: EdgeReaderThread?, absent: String?) {
        switch self {
        case .idle:
            return (nil, nil, nil, nil)
        case .simLocked:
            let chip = LockedSimChip(clock: MonotonicClock())
            let seen = EdgeTally()
            chip.observers.append { _, rising, _ in if rising { seen.rising += 1 } }
            return (LockedSimLine(chip: chip, offset: 0), LockedSimLine(chip: chip, offset: 1),
                    EdgeReaderThread { a, b in chip.highNanoseconds(line: 0, from: a, to: b) }, nil)
        case .sim:
            let chip = SimGPIOChip(clock: MonotonicClock())
            let seen = EdgeTally()
            chip.addEdgeObserver { _, rising, _ in if rising { seen.rising += 1 } }
            do {
                let led = try chip.requestLine(offset: SimGPIOChip.ledOffset, consumer: "bench", initialHigh: false)
                let trigger = try chip.requestLine(offset: SimGPIOChip.triggerOffset, consumer: "bench", initialHigh: false)
                return (led, trigger, EdgeReaderThread { a, b in chip.highNanoseconds(line: SimGPIOChip.ledOffset, from: a, to: b) }, nil)
            } catch { return (nil, nil, nil, "sim chip: \(error)") }
        case .libgpiod:
            do {
                let chip = try GPIOBackend.open("gpiochip0")
                let led = try chip.requestOutput(offset: 0, consumer: "operando-bench", initialHigh: false)
                let trigger = try chip.requestOutput(offset: 1, consumer: "operando-bench", initialHigh: false)
                return (led, trigger, nil, nil)
            } catch { return (nil, nil, nil, "not present (\(error))") }
        }
    }
}

/// Counts the edges an observer saw.
final class EdgeTally: @unchecked Sendable { var rising = 0 }

/// What the simulated camera does beside the loop: every millisecond, the LED's on-time over the last
/// 10 ms from the chip's edge log (a normal-priority thread, as the run engine's).
final class EdgeReaderThread: @unchecked Sendable {
    private let read: (Int64, Int64) -> Int64
    private let stop = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private(set) var reads = 0

    init(_ read: @escaping (Int64, Int64) -> Int64) { self.read = read }

    func start() {
        let t = Thread { [self] in
            let clock = MonotonicClock()
            var sink: Int64 = 0
            while !stop.load(ordering: .relaxed) {
                let now = clock.monotonicNanoseconds
                sink &+= read(now - 10_000_000, now)
                reads += 1
                clock.sleep(untilNanoseconds: now + 1_000_000)
            }
            withExtendedLifetime(sink) {}
            done.signal()
        }
        t.start()
    }

    func finish() {
        stop.store(true, ordering: .relaxed)
        done.wait()
    }
}

/// The sim chip's output path before issue 17 (firmware-sim/SimGPIO.swift at 6ef317c): an NSLock
/// around the edge ring, the observers called under it on the driving thread.
final class LockedSimChip: @unchecked Sendable {
    let clock: any Clock
    let lock = NSLock()
    var values = [Bool](repeating: false, count: 8)
    let capacity = 1 << 16
    var ringOffset: [UInt32], ringRising: [Bool], ringTime: [Int64]
    var edgeCount = 0
    var observers: [(UInt32, Bool, Int64) -> Void] = []

    init(clock: any Clock) {
        self.clock = clock
        ringOffset = Array(repeating: 0, count: capacity)
        ringRising = Array(repeating: false, count: capacity)
        ringTime = Array(repeating: 0, count: capacity)
    }

    func drive(offset: UInt32, high: Bool) {
        let k = Int(offset)
        lock.lock(); defer { lock.unlock() }
        guard values[k] != high else { return }
        values[k] = high
        let t = clock.monotonicNanoseconds
        let slot = edgeCount % capacity
        ringOffset[slot] = offset
        ringRising[slot] = high
        ringTime[slot] = t
        edgeCount += 1
        for o in observers { o(offset, high, t) }
    }

    func highNanoseconds(line offset: UInt32, from start: Int64, to end: Int64) -> Int64 {
        guard end > start else { return 0 }
        lock.lock(); defer { lock.unlock() }
        var total: Int64 = 0, segmentEnd = end, level = values[Int(offset)]
        var n = edgeCount - 1
        let oldest = max(0, edgeCount - capacity)
        while n >= oldest {
            let k = n % capacity
            n -= 1
            guard ringOffset[k] == offset else { continue }
            let t = ringTime[k]
            if t >= end { level = !ringRising[k]; continue }
            if t <= start { break }
            if level { total += segmentEnd - t }
            segmentEnd = t
            level = !ringRising[k]
        }
        if level { total += segmentEnd - start }
        return total
    }
}

/// A line of `LockedSimChip`.
final class LockedSimLine: DigitalLine {
    let chip: LockedSimChip
    let offset: UInt32
    init(chip: LockedSimChip, offset: UInt32) { self.chip = chip; self.offset = offset }
    var name: String { offset == 0 ? "led" : "trigger" }
    func set(_ high: Bool) throws(GPIOError) { chip.drive(offset: offset, high: high) }
    func release() { chip.drive(offset: offset, high: false) }
}

/// One side-by-side measurement: the loop (or, for the A/A check, a second cyclictest) and cyclictest
/// running at the same time, same SCHED_FIFO priority, period and sample count, their wake-ups half a
/// period apart on a fixed phase (each wakes while the other sleeps): both see the same machine,
/// second by second. `swap` exchanges the two phases (alternate repeats do, so neither side keeps the
/// phase that happens to suit this machine's timers).
struct PairResult {
    var ours: WakeSamples, theirs: WakeSamples
    var probe: LatencyProbeResult?
    /// Frame (sample) index of each side's latest wake-up (is an outlier the first frame, or any?).
    var oursWorstAt = 0, theirsWorstAt = 0
}

/// Index of the largest value.
func indexOfMax(_ xs: [Int64]) -> Int { xs.indices.max { xs[$0] < xs[$1] } ?? 0 }

func measurePair(kind: LoopLineKind, periodNanoseconds period: Int64, samples: Int, priority: Int32, swap: Bool,
                 yardstickOnly: Bool, folder: String) throws -> PairResult? {
    let quarter = period / 4
    let ourPhase = swap ? 3 * quarter : quarter, theirPhase = swap ? quarter : 3 * quarter
    let lines = kind.lines()
    lines.reader?.start()
    defer {
        lines.reader?.finish()
        lines.led?.release()
        lines.trigger?.release()
    }
    let second = nextWholeSecondForCyclictest()
    guard let ct = CyclictestRun(periodMicroseconds: Int(period / 1000), loops: samples, priority: Int(priority),
                                 phaseMicroseconds: Int(theirPhase / 1000), folder: folder) else { return nil }
    // cyclictest's first wake-up: second + phase + period; ours from half a period before it.
    let notBefore = second + theirPhase + period / 2
    if yardstickOnly {
        guard let a = CyclictestRun(periodMicroseconds: Int(period / 1000), loops: samples, priority: Int(priority),
                                    phaseMicroseconds: Int(ourPhase / 1000), folder: folder),
              let ours = a.finish(), let theirs = ct.finish() else { return nil }
        return PairResult(ours: WakeSamples(ours), theirs: WakeSamples(theirs), probe: nil,
                          oursWorstAt: indexOfMax(ours), theirsWorstAt: indexOfMax(theirs))
    }
    let r = try LatencyProbe.run(timing: LatencyProbe.benchmarkTiming(periodNanoseconds: period), frames: Int64(samples),
                                 priority: priority, led: lines.led, trigger: lines.trigger, notBefore: notBefore, wakePhase: ourPhase)
    guard let theirs = ct.finish() else { return nil }
    // The loop's samples as cyclictest takes its own: one per deadline waited for (not the frames it
    // reached already late, catching up after a late one, which cyclictest has no sample for).
    let waited = r.waitedWakeLatenessNanoseconds
    return PairResult(ours: WakeSamples(waited), theirs: WakeSamples(theirs), probe: r,
                      oursWorstAt: indexOfMax(waited), theirsWorstAt: indexOfMax(theirs))
}

/// The loop rows: for each rate and line kind, `repeats` side-by-side pairs (`measurePair`); the
/// pooled p99 of each side with the ratio's 90 % bootstrap interval, and the median and range of the
/// per-pair ratios; each rate ends with cyclictest against itself, measured the same way (the
/// method's own spread: what a ratio of 1 looks like on this machine). `Benchmarks loop [repeats]
/// [seconds-at-1kHz] [seconds-at-10Hz]` runs only these rows; `Benchmarks loop-aa …` only the A/A
/// ones. 30 s pairs at 10 Hz: 300 samples a side, so the pooled p99 of 6 pairs is the 19th-largest of
/// 1,800 wake-ups, not the 8th of 720 (12 s pairs gave 10 Hz ratios from 0.51 to 1.21 on the same
/// binary, issue 17).
func loopBenchmark(repeats: Int = 6, secondsAt1kHz: Double = 5, secondsAt10Hz: Double = 30, priority: Int32 = 80,
                   yardstickOnly: Bool = false) {
    let started = DispatchTime.now().uptimeNanoseconds
    let ours = yardstickOnly ? "cyclictest A" : "loop"
    // cyclictest's sample files, removed at the end.
    let folder = NSTemporaryDirectory() + "operando-bench-loop-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    line("== Rig: exposure-loop wake p99 vs cyclictest p99 (SCHED_FIFO \(priority), CLOCK_MONOTONIC, absolute deadlines; "
         + "\(repeats) pairs run side by side) ==")
    line("(each pair: \(ours) and cyclictest at the same time, same priority, period and sample count, wake-ups half a period"
         + " apart, phases swapped every other pair; p50/p99/p99.9/max µs of all pairs' samples, nearest rank on exact ns;"
         + " ratio = \(ours) p99 / cyclictest p99 with its 90 % paired block-bootstrap interval, and the median [range] of the per-pair ratios;"
         + " the loop's samples are the deadlines it waited for, as cyclictest's (not the frames it reached already late,"
         + " catching up after a late one); sim lines run with a camera-like reader of the edge log every 1 ms;"
         + " load: 1-min load average before each row)")
    line(pad("rate / lines", 20) + pad("\(ours) µs", 20) + pad("cyclictest µs", 20) + pad("p99 ratio [90 % CI]", 22)
         + pad("per pair: median [range]", 26) + "goal ≤ 1.2")
    for (hz, seconds) in [(1000.0, secondsAt1kHz), (10.0, secondsAt10Hz)] {
        let period = Int64(1e9 / hz)
        let samples = max(10, Int(seconds * hz))
        // At 10 Hz the wake-up comes ~100 ms after the previous frame's line work: the NSLock chip of
        // before issue 17 cannot change it (its cost shows at 1 kHz, in the trigger edge's lateness).
        let kinds: [LoopLineKind] = yardstickOnly ? [.idle] : hz >= 1000 ? LoopLineKind.allCases : [.idle, .sim, .libgpiod]
        // Each rate ends with cyclictest against itself, measured the same way in the same run: the
        // ratio two identical programs get on this machine now, which the goal's 1.2 is to be read
        // against.
        let rows = kinds.map { (kind: $0, aa: yardstickOnly) } + (yardstickOnly ? [] : [(kind: LoopLineKind.idle, aa: true)])
        for (kind, aa) in rows {
            let label = pad(String(format: "%.0f Hz ", hz) + (aa ? "A/A" : kind.rawValue), 20)
            if let why = kind.lines().absent {
                line(label + why)
                continue
            }
            let load = loadAverage()
            var pairs: [PairResult] = []
            do {
                for r in 0..<repeats {
                    guard let p = try measurePair(kind: kind, periodNanoseconds: period, samples: samples, priority: priority,
                                                  swap: r % 2 == 1, yardstickOnly: aa, folder: folder) else {
                        line(label + "cyclictest unavailable (rt-tests)")
                        break
                    }
                    pairs.append(p)
                }
            } catch {
                line(label + "FAILED: \(error)")
                continue
            }
            guard !pairs.isEmpty else { continue }
            let a = WakeSamples.pooled(pairs.map(\.ours)), b = WakeSamples.pooled(pairs.map(\.theirs))
            let ratio = a.p99 / b.p99
            // Blocks of 0.1 s at 1 kHz, 1 s at 10 Hz.
            let (lo, hi) = pairedBlockBootstrap(pairs, block: max(5, Int(hz / 10)))
            let perPair = pairs.map { $0.ours.p99 / $0.theirs.p99 }
            let med = median(perPair)
            let met = ratio <= 1.2 && med <= 1.2
            let probes = pairs.compactMap(\.probe)
            let fifo = probes.allSatisfy(\.report.schedFifo), locked = probes.allSatisfy(\.report.memoryLocked)
            line(label + pad(a.text, 20) + pad(b.text, 20) + pad(String(format: "%.2f [%.2f–%.2f]", ratio, lo, hi), 22)
                 + pad(String(format: "%.2f [%.2f–%.2f]", med, perPair.min()!, perPair.max()!), 26)
                 + (aa && !yardstickOnly ? "(cyclictest against itself; reported)"
                    : kind == .simLocked ? "(before issue 17; reported)" : met ? "met" : "MISSED")
                 + (fifo ? "" : "  (SCHED_FIFO refused)") + (locked ? "" : "  (mlockall refused)"))
            var detail = String(format: "%d × %d samples each side, load %.2f; p99 per pair: ", pairs.count, samples, load)
                + pairs.map { String(format: "%.0f/%.0f", $0.ours.p99, $0.theirs.p99) }.joined(separator: " ")
                + "; max at sample " + pairs.map { "\($0.oursWorstAt)/\($0.theirsWorstAt)" }.joined(separator: " ")
            if !probes.isEmpty {
                let frames = Double(probes.reduce(0) { $0 + $1.wakeLatenessNanoseconds.count - 1 })
                detail += String(format: "; loop thread: page faults %d, sleeps/frame %.2f, voluntary switches/frame %.2f, preemptions %d, missed %d"
                                 + ", caught up %d (deadline passed before the wait: no sample)",
                                 probes.map(\.pageFaults).max()!, Double(probes.reduce(0) { $0 + $1.sleeps }) / frames,
                                 Double(probes.reduce(0) { $0 + $1.voluntarySwitches }) / frames,
                                 probes.reduce(0) { $0 + $1.involuntarySwitches }, probes.reduce(0) { $0 + $1.missed },
                                 probes.reduce(0) { $0 + $1.caughtUp.filter { $0 }.count })
                if kind != .idle {
                    detail += String(format: "; trigger edge lateness p99 %.0f µs, max %.0f µs (medians)",
                                     median(probes.map { $0.triggerLateness.percentileMicroseconds(0.99) }),
                                     median(probes.map(\.triggerLateness.maxMicroseconds)))
                }
            }
            line(pad("", 20) + detail)
        }
    }
    line(String(format: "(loop rows: %.0f s)", Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9))
}

/// The 1-minute load average (other processes' share of the machine while timing is measured).
func loadAverage() -> Double {
    var l = [Double](repeating: .nan, count: 3)
    _ = getloadavg(&l, 3)
    return l[0]
}
