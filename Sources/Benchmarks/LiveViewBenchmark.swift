// The live view's cost: latency from a frame being recorded to a page receiving it, the CPU it costs
// per recorded frame with 1 and 5 connected pages, and the acquisition loop's timing with and without
// pages — on firmware-sim's wall clock, so the exposure loop runs as on the rig.
import Dataset
import Electrochemistry
import FirmwareSim
import Foundation
import Glibc
import HummingbirdWSClient
import Imaging
import LiveView
import Logging
import Rig

/// Notes the wall time each recorded frame is published (inline: right after the recorder wrote it).
private final class FrameClock: RunSubscriber, @unchecked Sendable {
    let subscriberName = "benchmark frame clock"
    private let lock = NSLock()
    private(set) var recordedAt: [Int: Double] = [:]
    func receive(_ message: RunMessage, bus: RunBus) throws {
        if case .frame(let f) = message { let now = Date().timeIntervalSince1970; lock.withLock { recordedAt[f.record.frame] = now } }
    }
    var times: [Int: Double] { lock.withLock { recordedAt } }
}

/// A page stand-in: receives every message, notes when each frame message arrived (by frame number).
private final class BenchClient: @unchecked Sendable {
    private let lock = NSLock()
    private var arrivals: [Int: Double] = [:]
    private var task: Task<Void, Error>?
    func start(port: Int) {
        task = Task { [self] in
            var logger = Logger(label: "bench ws")
            logger.logLevel = .critical
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/ws", configuration: .init(maxFrameSize: 1 << 22), logger: logger) { inbound, _, _ in
                for try await m in inbound.messages(maxSize: 1 << 22) {
                    guard case .text(let s) = m, s.hasPrefix("{\"type\":\"frame\"") else { continue }
                    let now = Date().timeIntervalSince1970
                    // `"frame":N` follows the seq field; a page would parse the whole message.
                    if let r = s.range(of: "\"frame\":", range: s.index(s.startIndex, offsetBy: 15)..<s.endIndex),
                       let n = Int(s[r.upperBound...].prefix { $0.isNumber }) {
                        self.lock.withLock { self.arrivals[n] = now }
                    }
                }
            }
        }
    }
    var received: [Int: Double] { lock.withLock { arrivals } }
    func stop() async { task?.cancel(); _ = await task?.result }
}

private func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

private func percentile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

private struct LiveCase {
    var clients: Int?
    var frames = 0
    var cpu = 0.0
    var latencies: [Double] = []
    var loopP99 = Double.nan
    var dropped = 0, skipped = 0
    var received = 0
}

/// One wall-clock run of `seconds` with no live view (`clients` nil) or a live view and `clients` pages.
private func liveCase(clients: Int?, seconds: Int, directory: String) async throws -> LiveCase {
    let text = """
    [cell]
    active_mass_mg = 1.5
    [imaging]
    frame_rate_Hz = 10
    exposure_ms = 2.5
    bin = 5
    led_lead_ms = 0.2
    [[steps]]
    do = "Charge at 2C for \(seconds) seconds"
    """
    let proto = try ProtocolFile.parse(text: text, path: "live-bench.toml")
    let (_, hw) = try SimRig.hardware(rigText: "", protocolFile: proto, realtime: true)
    var options = RunOptions(outputDirectory: directory)
    options.latencySelfTestSeconds = 0
    let engine = RunEngine(protocolFile: proto, hardware: hw, options: options)
    let clock = FrameClock()
    engine.subscribeInline(clock)
    var server: LiveViewServer? = nil
    var pages: [BenchClient] = []
    if let n = clients {
        let s = try LiveViewServer(configuration: LiveViewConfiguration(host: "127.0.0.1", port: 0))
        try s.start()
        engine.subscribe(s)
        for _ in 0..<n { let c = BenchClient(); c.start(port: s.port ?? 0); pages.append(c) }
        server = s
        // Let the pages connect before the run starts.
        let deadline = Date().addingTimeInterval(5)
        while s.history.clientCount < n && Date() < deadline { try await Task.sleep(nanoseconds: 10_000_000) }
    }
    let cpu0 = cpuSeconds()
    final class Box: @unchecked Sendable { let e: RunEngine; init(_ e: RunEngine) { self.e = e } }
    let box = Box(engine)
    let summary = try await withCheckedThrowingContinuation { (c: CheckedContinuation<RunSummary, Error>) in
        Thread { do { c.resume(returning: try box.e.run()) } catch { c.resume(throwing: error) } }.start()
    }
    try await Task.sleep(nanoseconds: 300_000_000)   // the last frame's delivery
    var out = LiveCase(clients: clients)
    out.cpu = cpuSeconds() - cpu0
    out.frames = summary.recordedFrames
    out.dropped = summary.droppedFrames
    out.skipped = summary.skippedFrames
    let recorded = clock.times
    for p in pages {
        let got = p.received
        out.received += got.count
        for (frame, t) in got { if let t0 = recorded[frame] { out.latencies.append(t - t0) } }
    }
    for p in pages { await p.stop() }
    server?.stop()
    if let timing = try DatasetReader(directory).timing()?.object, let loop = timing["run_loop_latency"]?.object {
        out.loopP99 = loop["p99_us"]?.number ?? .nan
    }
    return out
}

/// Prints the live view's benchmark (about 75 s: three 20 s wall-clock runs).
func liveViewBenchmark(seconds: Int = 20) async {
    line("")
    line("== LiveView: frame recorded → page received, CPU per recorded frame, acquisition timing (firmware-sim, wall clock, 256×256, 2 recorded frames/s) ==")
    let root = (NSTemporaryDirectory() as NSString).appendingPathComponent("operando-bench-live-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(atPath: root) }
    var results: [LiveCase] = []
    for clients in [nil, 1, 5] as [Int?] {
        do {
            results.append(try await liveCase(clients: clients, seconds: seconds, directory: root + "/run-\(clients ?? 0).operando"))
        } catch {
            line("live view case \(clients.map(String.init) ?? "none"): FAILED: \(error)")
        }
    }
    guard let base = results.first(where: { $0.clients == nil }) else { return }
    line("pages  frames  received  latency p50/p99 (ms)  CPU/frame (ms)  live-view CPU/frame (ms)  loop p99 (µs)  dropped  missed")
    for r in results {
        let perFrame = r.frames > 0 ? r.cpu / Double(r.frames) * 1e3 : .nan
        let extra = r.clients == nil ? "-" : String(format: "%.2f", perFrame - (base.frames > 0 ? base.cpu / Double(base.frames) * 1e3 : 0))
        line(pad(r.clients.map(String.init) ?? "none", 6) + String(format: " %6d  %8d  %8.1f / %-8.1f  %14.2f  ", r.frames, r.received,
                                                                       percentile(r.latencies, 0.5) * 1e3, percentile(r.latencies, 0.99) * 1e3, perFrame)
             + pad(extra, 24) + String(format: "  %13.0f  %7d  %6d", r.loopP99, r.dropped, r.skipped))
    }
    line("(latency: inline subscriber's wall time at the frame's publication, after the recorder wrote it, to the WebSocket client's receipt; clients in-process; CPU is the whole process's)")
}

/// `liveViewBenchmark` from synchronous top-level code.
func runLiveViewBenchmark() {
    let done = DispatchSemaphore(value: 0)
    Task.detached { await liveViewBenchmark(); done.signal() }
    done.wait()
}
