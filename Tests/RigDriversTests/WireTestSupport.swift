import Electrochemistry
import Foundation
import Rig
@testable import FirmwareSim

/// A scratch folder `operando-test-UUID` under the temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

/// A loopback peer that records every line it receives and answers through `reply` (nil: silence).
/// Serves TCP on 127.0.0.1 or, with `pty: true`, a pseudo-terminal.
final class RecordingPeer: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    private let thread = TwinThread()
    private let listener: TwinListener?
    private let pty: TwinPty?
    let address: String
    private let reply: @Sendable (String) -> [String]

    init(pty usePty: Bool = false, reply: @escaping @Sendable (String) -> [String]) throws {
        self.reply = reply
        if usePty {
            let p = try TwinPty(linkPath: nil, device: "recording-peer")
            pty = p
            listener = nil
            address = "serial://\(p.path)?baud=230400"
        } else {
            let l = try TwinListener(port: 0, device: "recording-peer")
            listener = l
            pty = nil
            address = "tcp://127.0.0.1:\(l.port)"
        }
        thread.start(name: "recording-peer") { [self] in serve() }
    }

    private func serve() {
        if let pty {
            while !thread.stopRequested { for l in pty.master.readLines(waitMilliseconds: 20) { handle(l, pty.master) } }
            return
        }
        while !thread.stopRequested {
            guard let c = listener?.accept(waitMilliseconds: 20) else { continue }
            while !thread.stopRequested && !c.isClosed { for l in c.readLines(waitMilliseconds: 20) { handle(l, c) } }
            c.close()
        }
    }

    private func handle(_ line: String, _ c: TwinConnection) {
        lock.lock(); lines.append(line); lock.unlock()
        for r in reply(line) { c.writeLine(r) }
    }

    /// Lines received so far.
    var received: [String] { lock.lock(); defer { lock.unlock() }; return lines }

    func clear() { lock.lock(); lines.removeAll(); lock.unlock() }

    func stop() {
        thread.stop()
        listener?.close()
        pty?.close()
    }
}

/// What a protocol run through the sequencer produced.
struct SequencedRun {
    var runSeconds: [Double] = []
    var voltages: [Double] = []
    var currents: [Double] = []
    var compliance: [Bool] = []
    var events: [RunEvent] = []
    /// Wall time from each nominal sample time to `read()` returning, ns (real clock only).
    var readLatencyNanoseconds: [Int64] = []
    /// Intervals between successive sample stamps, ns.
    var sampleIntervalsNanoseconds: [Int64] = []
    var endReason = ""

    /// (step index, reason, run time) of each step end.
    var stepEnds: [(Int, String, Double)] {
        var out: [(Int, String, Double)] = []
        var k = 0
        for e in events {
            if case .stepEnded(let i, _, let r) = e { out.append((i, r, stepEndTimes.count > k ? stepEndTimes[k] : -1)); k += 1 }
        }
        return out
    }
    var stepEndTimes: [Double] = []
}

/// Drives `Sequencer` on `potentiostat` sampling every `[cell] sample_interval_s` of `clock`, as the run
/// engine's main loop does (sleep to the deadline, read, hand the sample to the sequencer).
func runSequencer(_ protocolFile: ProtocolFile, on potentiostat: Potentiostat, clock: any Clock,
                  maximumSeconds: Double) throws -> SequencedRun {
    let sequencer = try Sequencer(protocolFile: protocolFile, potentiostat: potentiostat)
    let interval = Int64((protocolFile.cell.sampleIntervalSeconds * 1e9).rounded())
    var run = SequencedRun()
    let t0 = clock.monotonicNanoseconds + 20_000_000
    clock.sleep(untilNanoseconds: t0)
    run.events += try sequencer.start(atSeconds: 0)
    var k: Int64 = 0
    var lastStamp: Int64?
    while true {
        let due = t0 + k * interval
        clock.sleep(untilNanoseconds: due)
        let s = try potentiostat.read()
        run.readLatencyNanoseconds.append(clock.monotonicNanoseconds - due)
        if let l = lastStamp { run.sampleIntervalsNanoseconds.append(s.monotonicNanoseconds - l) }
        lastStamp = s.monotonicNanoseconds
        let t = Double(k * interval) * 1e-9
        run.runSeconds.append(t)
        run.voltages.append(s.voltageVolts)
        run.currents.append(s.currentAmps)
        run.compliance.append(s.inCompliance)
        let events = try sequencer.onSample(s, runSeconds: t)
        for e in events { if case .stepEnded = e { run.stepEndTimes.append(t) } }
        run.events += events
        if sequencer.finished { run.endReason = sequencer.endReason; break }
        k += 1
        if Double(k * interval) * 1e-9 > maximumSeconds { run.endReason = "test timeout"; break }
    }
    return run
}

/// The short real-time protocol of the end-to-end tests (≤ 40 s): rest, a fast charge to a voltage
/// limit, a hold at that voltage, a rest.
let shortProtocolText = """
[cell]
active_mass_mg = 1.5
practical_capacity_mAh_per_g = 210
sample_interval_s = 1
[limits]
voltage_min_V = 2.5
voltage_max_V = 4.4
current_max_mA = 10
[[steps]]
do = "Rest for 5 s"
[[steps]]
do = "Charge at 4C for 30 s or until 3.985 V"
[[steps]]
do = "Hold at 3.985 V for 10 s"
[[steps]]
do = "Rest for 5 s"
"""

/// The `[sim]` world shared by the twin and the in-process reference: a fine model step so that a read
/// between model steps sees the cell within 50 ms of now.
func shortProtocolSimConfiguration() -> SimConfiguration {
    var c = SimConfiguration()
    c.modelStepSeconds = 0.05
    c.sampleIntervalSeconds = 1
    return c
}

/// Waits up to `seconds` for `condition` (a twin's thread acts a moment after the driver).
func eventually(within seconds: Double = 3, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return condition()
}

func percentile(_ xs: [Int64], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return Double(s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))])
}

func rms(_ a: [Double], _ b: [Double]) -> Double {
    let n = min(a.count, b.count)
    guard n > 0 else { return .infinity }
    var sum = 0.0
    for i in 0..<n { sum += (a[i] - b[i]) * (a[i] - b[i]) }
    return (sum / Double(n)).squareRoot()
}
