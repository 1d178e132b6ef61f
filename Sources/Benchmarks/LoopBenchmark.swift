// The exposure loop's wake-up latency beside cyclictest's, per line kind (issue 17's loop rows).
import FirmwareSim
import Foundation
import Rig
import Synchronization
import RigDrivers

/// cyclictest's histogram: p50, p99, p99.9 (bucket upper edges, µs, as `LatencyHistogram`'s) and max.
struct LatencyFigures {
    var p50: Double, p99: Double, p999: Double, max: Double
    /// The histogram behind the figures (to pool repeats).
    var histogram = LatencyHistogram()
    var text: String { String(format: "%.0f/%.0f/%.0f/%.0f", p50, p99, p999, max) }
}

/// Adds a histogram's samples into `pool` (each at its bucket's lower edge + 0.5 µs, so it lands in the
/// same bucket: a 1 µs bucket below 10 ms, 100 µs above).
func pool(_ h: LatencyHistogram, into pool: inout LatencyHistogram) {
    guard let buckets = h.jsonObject["buckets_us_upper_edge_count"] as? [[Double]] else { return }
    for b in buckets where b.count == 2 {
        let width = b[0] > 10_000 ? 100.0 : 1.0
        for _ in 0..<Int(b[1]) { pool.record(nanoseconds: Int64(((b[0] - width) * 1000 + 500).rounded())) }
    }
}

/// Runs cyclictest with the same priority and period (one thread, memory locked, absolute sleeps).
func cyclictest(periodMicroseconds: Int, loops: Int, priority: Int) -> LatencyFigures? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/cyclictest")
    p.arguments = ["-t1", "-p\(priority)", "-i\(periodMicroseconds)", "-l\(loops)", "-m", "-q", "-h20000"]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = Pipe()
    do { try p.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let text = String(data: data, encoding: .utf8) else { return nil }
    var hist: [(Double, Double)] = []
    var maxUs = 0.0
    for line in text.split(separator: "\n") {
        if line.hasPrefix("# Max Latencies:") { maxUs = Double(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0 }
        if line.first?.isNumber == true {
            let f = line.split(separator: " ").compactMap { Double($0) }
            if f.count >= 2, f[1] > 0 { hist.append((f[0], f[1])) }
        }
    }
    let total = hist.reduce(0) { $0 + $1.1 }
    guard total > 0 else { return nil }
    var h = LatencyHistogram()
    for (us, c) in hist { for _ in 0..<Int(c) { h.record(nanoseconds: Int64(us * 1000 + 500)) } }
    func q(_ x: Double) -> Double {
        var seen = 0.0
        for (us, c) in hist { seen += c; if seen >= (x * total).rounded(.up) { return us + 1 } }   // bucket upper edge, as ours
        return maxUs
    }
    return LatencyFigures(p50: q(0.5), p99: q(0.99), p999: q(0.999), max: maxUs, histogram: h)
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

/// The loop rows: for each rate and line kind, the loop's p99 and cyclictest's p99 measured
/// alternately (loop, cyclictest, loop, …) `repeats` times; the median of each and their ratio.
/// `Benchmarks loop [repeats] [seconds-at-1kHz] [seconds-at-10Hz]` runs only these rows.
func loopBenchmark(repeats: Int = 5, secondsAt1kHz: Double = 4, secondsAt10Hz: Double = 6, priority: Int32 = 80) {
    line("== Rig: exposure-loop wake p99 vs cyclictest p99 (SCHED_FIFO \(priority), CLOCK_MONOTONIC, absolute deadlines; "
         + "median of \(repeats) alternating repeats) ==")
    line("(loop: lateness of the wake-up at each LED-on deadline; faults: page faults in the loop's thread after frame 0;"
         + " sim lines run with a camera-like reader of the edge log every 1 ms)")
    line(pad("rate / lines", 22) + pad("loop p50/p99/p99.9/max µs", 28) + pad("cyclictest p50/p99/p99.9/max µs", 34)
         + pad("p99 ratio", 11) + pad("faults", 8) + "goal ≤ 1.2")
    for (hz, seconds) in [(1000.0, secondsAt1kHz), (10.0, secondsAt10Hz)] {
        let period = Int64(1e9 / hz)
        for kind in LoopLineKind.allCases {
            let label = pad(String(format: "%.0f Hz ", hz) + kind.rawValue, 22)
            // Probe the kind once: a missing GPIO chip is reported, not measured.
            if let why = kind.lines().absent {
                line(label + why)
                continue
            }
            var ours: [LatencyFigures] = [], theirs: [LatencyFigures] = []
            var faults = 0, missed = 0, fifo = true
            var triggerP99: [Double] = [], triggerMax: [Double] = []
            do {
                for _ in 0..<repeats {
                    let lines = kind.lines()
                    lines.reader?.start()
                    let r = try LatencyProbe.run(periodNanoseconds: period, seconds: seconds, priority: priority,
                                                     led: lines.led, trigger: lines.trigger)
                    lines.reader?.finish()
                    lines.led?.release()
                    lines.trigger?.release()
                    let h = r.histogram
                    ours.append(LatencyFigures(p50: h.percentileMicroseconds(0.5), p99: h.percentileMicroseconds(0.99),
                                               p999: h.percentileMicroseconds(0.999), max: h.maxMicroseconds, histogram: h))
                    faults = max(faults, r.pageFaults)
                    if lines.led != nil {
                        triggerP99.append(r.triggerLateness.percentileMicroseconds(0.99))
                        triggerMax.append(r.triggerLateness.maxMicroseconds)
                    }
                    missed += r.missed
                    fifo = fifo && r.report.schedFifo
                    if let ct = cyclictest(periodMicroseconds: Int(period / 1000), loops: Int(seconds * hz), priority: Int(priority)) {
                        theirs.append(ct)
                    }
                }
            } catch {
                line(label + "FAILED: \(error)")
                continue
            }
            func med(_ xs: [LatencyFigures]) -> LatencyFigures? {
                xs.isEmpty ? nil : LatencyFigures(p50: median(xs.map(\.p50)), p99: median(xs.map(\.p99)),
                                                   p999: median(xs.map(\.p999)), max: median(xs.map(\.max)))
            }
            let o = med(ours)!, c = med(theirs)
            let ratio = c.map { o.p99 / $0.p99 }
            line(label + pad(o.text, 28) + pad(c?.text ?? "cyclictest unavailable", 34)
                 + pad(ratio.map { String(format: "%.2f", $0) } ?? "-", 11) + pad("\(faults)", 8)
                 + (ratio.map { $0 <= 1.2 ? "met" : "MISSED" } ?? "-")
                 + (fifo ? "" : "  (SCHED_FIFO refused)") + (missed > 0 ? "  missed \(missed)" : ""))
            line(pad("", 22) + "loop p99 per repeat: " + ours.map { String(format: "%.0f", $0.p99) }.joined(separator: " ")
                 + "; cyclictest: " + theirs.map { String(format: "%.0f", $0.p99) }.joined(separator: " ")
                 + pooledRatio(ours, theirs)
                 + (triggerP99.isEmpty ? "" : String(format: "; trigger edge lateness p99 %.0f µs, max %.0f µs (medians)",
                                                     median(triggerP99), median(triggerMax))))
        }
    }
}

/// The p99 of all repeats pooled, each side, and their ratio (a second view of the same samples).
func pooledRatio(_ ours: [LatencyFigures], _ theirs: [LatencyFigures]) -> String {
    var a = LatencyHistogram(), b = LatencyHistogram()
    for o in ours { pool(o.histogram, into: &a) }
    for t in theirs { pool(t.histogram, into: &b) }
    guard a.count > 0, b.count > 0 else { return "" }
    let pa = a.percentileMicroseconds(0.99), pb = b.percentileMicroseconds(0.99)
    return String(format: "; pooled p99 %.0f vs %.0f µs (ratio %.2f)", pa, pb, pa / pb)
}
