import Dataset
import Electrochemistry
import FirmwareSim
import Foundation
import Glibc
import HummingbirdWSClient
import Imaging
@testable import LiveView
import Logging
import Rig

/// A folder under the system's temporary directory for one test; `remove()` it in a `defer`.
struct TestDirectory {
    let path: String
    init(_ label: String = #function) throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "operando-test-live-" + label.filter { $0.isLetter || $0.isNumber } + "-" + UUID().uuidString)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A short protocol (minutes on the virtual clock, seconds of wall time).
func shortProtocol(minutes: Int = 3, rate: Double = 5, bin: Int = 10) throws -> ProtocolFile {
    let text = """
    [cell]
    active_mass_mg = 1.5
    practical_capacity_mAh_per_g = 210
    [imaging]
    frame_rate_Hz = \(rate)
    exposure_ms = 2.5
    bin = \(bin)
    led_lead_ms = 0.2
    [[steps]]
    do = "Charge at 2C for \(minutes) minutes"
    [[steps]]
    do = "Rest for 1 minutes"
    """
    return try ProtocolFile.parse(text: text, path: "live-test.toml")
}

/// A run engine on firmware-sim, with a 96 × 96 ROI to keep it quick.
func makeEngine(_ proto: ProtocolFile, directory: String) throws -> RunEngine {
    let (_, hw) = try SimRig.hardware(rigText: "", rigFile: "test-rig.toml", protocolFile: proto)
    var options = RunOptions(outputDirectory: directory)
    options.roi = RegionOfInterest(x: 80, y: 80, width: 96, height: 96)
    return RunEngine(protocolFile: proto, hardware: hw, options: options)
}

/// Runs `engine` on a thread of its own (its run blocks), for async tests.
func runOnThread(_ engine: RunEngine) async throws -> RunSummary {
    final class Box: @unchecked Sendable { let engine: RunEngine; init(_ e: RunEngine) { engine = e } }
    let box = Box(engine)
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<RunSummary, Error>) in
        Thread { do { c.resume(returning: try box.engine.run()) } catch { c.resume(throwing: error) } }.start()
    }
}

/// One HTTP/1.1 exchange over a raw socket to 127.0.0.1 (so a test controls every header, Host included).
struct HTTPReply {
    var status: Int
    var headers: [String: String]
    var body: String
}

func http(_ method: String = "GET", port: Int, path: String, headers: [String: String] = [:], host: String? = nil) throws -> HTTPReply {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    defer { close(fd) }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard ok == 0 else { throw POSIXError(.ECONNREFUSED) }
    var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\nConnection: close\r\n"
    for (k, v) in headers { request += "\(k): \(v)\r\n" }
    if method == "POST" { request += "Content-Length: 0\r\n" }
    request += "\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        data.append(contentsOf: buffer[0..<n])
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { return HTTPReply(status: 0, headers: [:], body: text) }
    let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
    let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
    var h: [String: String] = [:]
    for line in head.dropFirst() {
        if let c = line.firstIndex(of: ":") { h[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces) }
    }
    var body = String(text[split.upperBound...])
    if h["transfer-encoding"] == "chunked" { body = dechunk(body) }
    return HTTPReply(status: status, headers: h, body: body)
}

private func dechunk(_ s: String) -> String {
    var out = "", rest = Substring(s)
    while let r = rest.range(of: "\r\n"), let n = Int(rest[..<r.lowerBound], radix: 16), n > 0 {
        let start = r.upperBound
        let bytes = Array(rest[start...].utf8)
        out += String(decoding: bytes.prefix(n), as: UTF8.self)
        rest = Substring(String(decoding: bytes.dropFirst(n + 2), as: UTF8.self))
    }
    return out
}

/// A WebSocket client that collects the text messages it receives (as parsed JSON objects).
final class CollectingClient: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [[String: Any]] = []
    private var task: Task<Void, Error>?
    private(set) var receivedAt: [(type: String, frame: Int?, wallSeconds: Double)] = []

    var all: [[String: Any]] { lock.withLock { messages } }

    func connect(port: Int, query: String = "", until stop: @escaping @Sendable ([String: Any]) -> Bool) {
        let box = self
        task = Task {
            var logger = Logger(label: "test ws")
            logger.logLevel = .critical
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/ws\(query)", configuration: .init(maxFrameSize: 1 << 22),
                                              logger: logger) { inbound, _, _ in
                for try await m in inbound.messages(maxSize: 1 << 22) {
                    guard case .text(let s) = m,
                          let o = try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any] else { continue }
                    let now = Date().timeIntervalSince1970
                    box.lock.withLock {
                        box.messages.append(o)
                        box.receivedAt.append((o["type"] as? String ?? "", o["frame"] as? Int, now))
                    }
                    if stop(o) { break }
                }
            }
        }
    }

    /// Waits until `condition` holds for the messages so far (at most `timeoutSeconds`).
    func wait(timeoutSeconds: Double, for condition: ([[String: Any]]) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if condition(all) { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return condition(all)
    }

    func finish() async { task?.cancel(); _ = await task?.result }
}

/// The page's model rebuilt from messages the way live.js does: history, then increments by sequence
/// number (frames and status coalesced).
struct PageModel {
    var seq = -1
    var echemTimes: [Double] = []
    var monitorFrames: [Int] = []
    var events: [String] = []
    var lastFrame: Int?
    var ended: String?
    var histories = 0

    mutating func apply(_ m: [String: Any]) {
        let type = m["type"] as? String ?? ""
        let s = m["seq"] as? Int ?? -1
        switch type {
        case "history":
            histories += 1
            seq = s
            echemTimes = ((m["echem"] as? [String: Any])?["t"] as? [Any])?.compactMap { $0 as? Double } ?? []
            monitorFrames = ((m["monitor"] as? [String: Any])?["frame"] as? [Int]) ?? []
            events = (m["events"] as? [[String: Any]])?.compactMap { $0["event"] as? String } ?? []
            ended = m["ended"] as? String
        case "frame": lastFrame = m["frame"] as? Int
        case "status": break
        default:
            guard s > seq else { return }
            seq = s
            switch type {
            case "echem": echemTimes += (((m["rows"] as? [String: Any])?["t"] as? [Any]) ?? []).compactMap { $0 as? Double }
            case "monitor": monitorFrames += ((m["rows"] as? [String: Any])?["frame"] as? [Int]) ?? []
            case "events": events += (m["events"] as? [[String: Any]])?.compactMap { $0["event"] as? String } ?? []
            case "ended": ended = m["reason"] as? String
            default: break
            }
        }
    }
}

/// A client queue as the WebSocket handler uses it, without a socket.
struct LiveClientProbe {
    let history: LiveHistory
    let client: LiveClient
    init(history: LiveHistory, capacity: Int) {
        self.history = history
        client = LiveClient(capacity: capacity)
        history.add(client)
        _ = client.take(history: history)   // the initial history
    }
    func take() -> [String] { client.take(history: history) }
}
