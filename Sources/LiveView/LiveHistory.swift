import Dataset
import Electrochemistry
import Foundation
import Imaging
import Rig

/// What the page shows about the rig and the step: the run engine's status (for a dataset, rebuilt
/// from its files) and the two facts the page needs beside it.
public struct LiveStatus: Sendable, Equatable {
    /// The engine's status, or a dataset's, field for field.
    public var run: RunStatus
    /// False when the LED's state is not known (a dataset that has not ended): the page shows none.
    public var ledKnown: Bool
    /// True when this status comes from a running engine (the stop action makes sense).
    public var live: Bool

    public init(run: RunStatus = RunStatus(), ledKnown: Bool = false, live: Bool = false) {
        self.run = run
        self.ledKnown = ledKnown
        self.live = live
    }

    /// The engine's status message as the page shows it.
    public init(_ s: RunStatus) { self.init(run: s, ledKnown: true, live: true) }

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.field("t", run.runSeconds)
        w.field("step", run.step)
        w.field("stepCount", run.stepCount)
        w.field("stepText", run.stepText)
        w.field("V", run.voltageVolts)
        w.field("I", run.currentAmps)
        w.field("capacity", run.capacityMilliampHoursPerGram)
        w.field("dI", run.intensityChange)
        w.field("sdc", run.sdcStd)
        w.field("het", run.heterogeneous)
        w.field("p99", run.loopP99Microseconds)
        w.field("dropped", run.droppedFrames)
        w.field("missed", run.missedDeadlines)
        w.field("violations", run.lockstepViolations)
        w.field("frames", run.recordedFrames)
        w.key("led"); if ledKnown { w.bool(run.ledOn) } else { w.null() }
        w.field("fraction", run.fraction)
        w.field("planned", run.plannedSeconds)
        w.field("live", live)
        w.endObject()
    }
}

/// The live view's bounded history and its fan-out to connected clients.
///
/// Every change is one increment with a sequence number, encoded once and posted to every client's
/// queue; a client that connects gets the history as one `history` message (with the sequence number
/// it covers), then the latest frame, then increments. Memory is bounded: echem rows are thinned
/// (every other older row dropped) beyond `maxEchemRows`, monitor rows likewise, events keep the last
/// `maxEvents`, and only the latest frame is kept.
public final class LiveHistory: @unchecked Sendable {
    /// Bounds (a 6 h run at 1 Hz has 21 600 echem rows and ~7 200 recorded frames).
    public let maxEchemRows: Int
    public let maxMonitorRows: Int
    public let maxEvents: Int

    private let lock = NSLock()
    private var seq = 0
    private var infoJSON = "null"
    private var stepTexts: [String] = []
    private var pixelSizeMicrometres = Double.nan
    private var echem: [EchemRecord] = []
    private var monitor: [MonitorRecord] = []
    private var events: [EventRecord] = []
    private var status: LiveStatus?
    private var ended: String?
    private var latestFrame: (frame: LiveFrame, json: String)?
    private var contrast = ContrastReference()
    private var clients: [ObjectIdentifier: LiveClient] = [:]
    /// Messages posted to clients (for the benchmark and tests).
    public private(set) var postedMessages = 0

    public init(maxEchemRows: Int = 40_000, maxMonitorRows: Int = 20_000, maxEvents: Int = 2_000) {
        self.maxEchemRows = max(100, maxEchemRows)
        self.maxMonitorRows = max(100, maxMonitorRows)
        self.maxEvents = max(10, maxEvents)
    }

    /// The last sequence number given out.
    public var sequence: Int { lock.withLock { seq } }
    /// Number of connected clients.
    public var clientCount: Int { lock.withLock { clients.count } }
    /// The latest status.
    public var latestStatus: LiveStatus? { lock.withLock { status } }
    /// The outcome once the run ended (or the dataset's run_ended reason).
    public var endedReason: String? { lock.withLock { ended } }
    /// Counts held (echem, monitor, events).
    public var counts: (echem: Int, monitor: Int, events: Int) { lock.withLock { (echem.count, monitor.count, events.count) } }
    /// Mean ΔI/I₀ of the latest frame's contrast image, if any.
    public var latestContrastMean: Double? { lock.withLock { latestFrame?.frame.contrastMean } }
    /// Frame number of the latest frame, if any.
    public var latestFrameNumber: Int? { lock.withLock { latestFrame?.frame.frame } }

    // MARK: Ingest

    /// The run's description (run.json's content).
    public func setInfo(_ info: RunInfo) {
        var steps: [String] = []
        if let p = try? ProtocolFile.parse(text: info.protocolText, path: info.protocolPath) {
            steps = p.plannedSteps.map(\.step.text)
        }
        var w = JSONWriter()
        w.beginObject()
        w.field("backend", info.backend)
        w.field("protocol", info.protocolPath)
        w.field("startUTC", info.startTimeUTC)
        w.field("pixelSizeUm", info.pixelSizeMicrometres)
        w.field("binning", info.binning)
        w.field("frameRateHz", info.frameRateHz)
        w.field("exposureMs", info.exposureMilliseconds)
        w.field("width", info.roi.width)
        w.field("height", info.roi.height)
        w.beginArray("steps")
        for s in steps { w.string(s) }
        w.endArray()
        w.endObject()
        lock.withLock {
            infoJSON = w.text
            stepTexts = steps
            pixelSizeMicrometres = info.pixelSizeMicrometres
            seq += 1
            broadcastLocked(kind: .ordered, "{\"type\":\"info\",\"seq\":\(seq),\"info\":\(infoJSON)}")
        }
    }

    /// New electrochemistry rows.
    public func append(echem rows: [EchemRecord]) {
        guard !rows.isEmpty else { return }
        lock.withLock {
            echem.append(contentsOf: rows)
            if echem.count > maxEchemRows { echem = Self.thin(echem) }
            seq += 1
            var w = JSONWriter()
            w.beginObject(); w.field("type", "echem"); w.field("seq", seq); w.key("rows"); Self.writeEchem(rows, to: &w); w.endObject()
            broadcastLocked(kind: .ordered, w.text)
        }
    }

    /// New monitor rows.
    public func append(monitor rows: [MonitorRecord]) {
        guard !rows.isEmpty else { return }
        lock.withLock {
            monitor.append(contentsOf: rows)
            if monitor.count > maxMonitorRows { monitor = Self.thin(monitor) }
            seq += 1
            var w = JSONWriter()
            w.beginObject(); w.field("type", "monitor"); w.field("seq", seq); w.key("rows"); Self.writeMonitor(rows, to: &w); w.endObject()
            broadcastLocked(kind: .ordered, w.text)
        }
    }

    /// New events.
    public func append(events new: [EventRecord]) {
        guard !new.isEmpty else { return }
        lock.withLock {
            events.append(contentsOf: new)
            if events.count > maxEvents { events.removeFirst(events.count - maxEvents) }
            if let end = new.last(where: { $0.event == "run_ended" }) { ended = end.fields["reason"]?.string ?? "ended" }
            seq += 1
            var w = JSONWriter()
            w.beginObject(); w.field("type", "events"); w.field("seq", seq); w.beginArray("events")
            for e in new { Self.writeEvent(e, to: &w) }
            w.endArray(); w.endObject()
            broadcastLocked(kind: .ordered, w.text)
        }
    }

    /// The latest status (coalesced for a slow client).
    public func update(status s: LiveStatus) {
        lock.withLock {
            status = s
            seq += 1
            var w = JSONWriter()
            w.beginObject(); w.field("type", "status"); w.field("seq", seq); w.key("status"); s.write(to: &w); w.endObject()
            broadcastLocked(kind: .status, w.text)
        }
    }

    /// Sets the total contrast's reference I₀ (the first frame with data) when no frame came yet: a
    /// follower that joins a run late sends the dataset's first frame here, then only the latest.
    public func setContrastReference(_ frame: BinnedFrame, exposures: Int) {
        lock.withLock { _ = contrast.contrast(of: frame, exposures: exposures) }
    }

    /// A recorded frame: its raw pixels and total contrast become the latest frame (coalesced).
    public func update(frame: BinnedFrame, record: FrameRecord) {
        // The heavy part (contrast, quantising, base64) runs outside the lock.
        let c = lock.withLock { contrast.contrast(of: frame, exposures: record.exposures) }
        let (lo, hi, raw) = LiveFrame.quantiseRaw(frame)
        let (scale, q, mean) = c.map(LiveFrame.quantiseContrast) ?? (0, [UInt8](repeating: 0, count: frame.pixels.count), .nan)
        let live = LiveFrame(frame: record.frame, timeSeconds: record.timeSeconds, step: record.step, width: frame.width,
                             height: frame.height, rawLow: lo, rawHigh: hi, raw: raw, contrastScale: scale, contrast: q,
                             contrastMean: mean)
        let pixel = lock.withLock { pixelSizeMicrometres }
        let nowMs = Date().timeIntervalSince1970 * 1e3
        lock.withLock {
            seq += 1
            let json = live.json(seq: seq, pixelSizeMicrometres: pixel, serverMilliseconds: nowMs)
            latestFrame = (live, json)
            broadcastLocked(kind: .frame, json)
        }
    }

    /// The run is over.
    public func end(reason: String) {
        lock.withLock {
            ended = reason
            seq += 1
            var w = JSONWriter()
            w.beginObject(); w.field("type", "ended"); w.field("seq", seq); w.field("reason", reason); w.endObject()
            broadcastLocked(kind: .ordered, w.text)
        }
    }

    // MARK: Clients

    /// Registers `client`: it receives the history, the latest frame, then every increment.
    func add(_ client: LiveClient) {
        lock.withLock {
            clients[ObjectIdentifier(client)] = client
            client.post(snapshotLocked(), kind: .ordered)
            if let f = latestFrame { client.post(f.json, kind: .frame) }
        }
    }

    func remove(_ client: LiveClient) {
        _ = lock.withLock { clients.removeValue(forKey: ObjectIdentifier(client)) }
    }

    /// Closes every client (the server is stopping).
    func closeAll() {
        let all = lock.withLock { Array(clients.values) }
        for c in all { c.close() }
    }

    /// The history message and the latest frame (a client that fell behind starts again from these).
    func snapshotMessages() -> [String] {
        lock.withLock { [snapshotLocked()] + (latestFrame.map { [$0.json] } ?? []) }
    }

    /// The latest frame's message as JSON text (served at /api/frame); nil before the first frame.
    public func latestFrameMessage() -> String? { lock.withLock { latestFrame?.json } }

    /// The history as one JSON text (also served at /api/history).
    public func snapshot() -> String { lock.withLock { snapshotLocked() } }

    private func snapshotLocked() -> String {
        var w = JSONWriter()
        w.beginObject()
        w.field("type", "history")
        w.field("seq", seq)
        w.key("info"); w.raw(infoJSON)
        w.key("echem"); Self.writeEchem(echem, to: &w)
        w.key("monitor"); Self.writeMonitor(monitor, to: &w)
        w.beginArray("events")
        for e in events { Self.writeEvent(e, to: &w) }
        w.endArray()
        w.key("status"); if let status { status.write(to: &w) } else { w.null() }
        w.key("ended"); if let ended { w.string(ended) } else { w.null() }
        w.endObject()
        return w.text
    }

    private func broadcastLocked(kind: LiveClient.Kind, _ text: String) {
        for c in clients.values { c.post(text, kind: kind); postedMessages += 1 }
    }

    // MARK: Encoding

    static func thin<T>(_ rows: [T]) -> [T] {
        // Keep the newest half whole and every other row of the older half: recent detail, old shape.
        let half = rows.count / 2
        var out: [T] = []
        out.reserveCapacity(rows.count)
        for i in stride(from: 0, to: half, by: 2) { out.append(rows[i]) }
        out.append(contentsOf: rows[half...])
        return out
    }

    static func writeEchem(_ rows: [EchemRecord], to w: inout JSONWriter) {
        w.beginObject()
        w.beginArray("t"); for r in rows { w.number(r.timeSeconds) }; w.endArray()
        w.beginArray("V"); for r in rows { w.number(r.voltageVolts) }; w.endArray()
        w.beginArray("I"); for r in rows { w.number(r.currentAmps) }; w.endArray()
        w.beginArray("step"); for r in rows { w.int(r.step) }; w.endArray()
        w.endObject()
    }

    static func writeMonitor(_ rows: [MonitorRecord], to w: inout JSONWriter) {
        w.beginObject()
        w.beginArray("frame"); for r in rows { w.int(r.frame) }; w.endArray()
        w.beginArray("t"); for r in rows { w.number(r.timeSeconds) }; w.endArray()
        w.beginArray("dI"); for r in rows { w.number(r.intensityChange) }; w.endArray()
        w.beginArray("sdc"); for r in rows { w.number(r.sdcStd) }; w.endArray()
        w.beginArray("het"); for r in rows { w.bool(r.heterogeneous) }; w.endArray()
        w.endObject()
    }

    static func writeEvent(_ e: EventRecord, to w: inout JSONWriter) {
        w.beginObject()
        w.field("t", e.timeSeconds)
        w.field("event", e.event)
        w.field("text", describe(e))
        w.endObject()
    }

    /// One readable line for the event log.
    static func describe(_ e: EventRecord) -> String {
        let f = e.fields
        func s(_ k: String) -> String? { f[k]?.string }
        func n(_ k: String) -> Double? { f[k]?.number }
        switch e.event {
        case "step_started": return "step \(Int(n("step") ?? -1) + 1) started: \(s("text") ?? "")"
        case "step_ended": return "step \(Int(n("step") ?? -1) + 1) ended (\(s("reason") ?? "")): \(s("text") ?? "")"
        case "limit_tripped": return "limit tripped: \(s("limit") ?? "") at \(n("value").map { String(format: "%.4g", $0) } ?? "?")"
        case "fault": return "fault: \(s("device") ?? ""): \(s("message") ?? "")"
        case "run_ended": return "run ended: \(s("reason") ?? "")"
        default:
            let rest = f.keys.sorted().map { k in "\(k)=\(f[k].map { $0.string ?? "\($0)" } ?? "")" }.joined(separator: " ")
            return rest.isEmpty ? e.event.replacingOccurrences(of: "_", with: " ")
                : e.event.replacingOccurrences(of: "_", with: " ") + ": " + rest
        }
    }
}

/// One connected page's outgoing queue: bounded, with the latest frame and status replacing an unsent
/// one; a client that falls more than `capacity` messages behind is sent the history again instead of
/// its backlog.
final class LiveClient: @unchecked Sendable {
    enum Kind { case ordered, status, frame }
    let capacity: Int
    private let lock = NSLock()
    private var queue: [(kind: Kind, text: String)] = []
    private var resync = false
    private var closed = false
    private let continuation: AsyncStream<Void>.Continuation
    /// Wakes the client's writer when something is queued.
    let wakeups: AsyncStream<Void>
    /// Messages replaced (frames, status) or dropped by a resync.
    private(set) var coalesced = 0

    init(capacity: Int = 256) {
        self.capacity = max(8, capacity)
        (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func post(_ text: String, kind: Kind) {
        lock.withLock {
            guard !closed else { return }
            if kind != .ordered, let i = queue.lastIndex(where: { $0.kind == kind }) {
                queue.remove(at: i); coalesced += 1
            }
            queue.append((kind, text))
            if queue.count > capacity { coalesced += queue.count; queue.removeAll(); resync = true }
        }
        continuation.yield()
    }

    /// What to send now (empty: nothing yet); `history` supplies the restart after a resync.
    func take(history: LiveHistory) -> [String] {
        let (batch, again) = lock.withLock { () -> ([String], Bool) in
            let out = queue.map(\.text)
            queue.removeAll(keepingCapacity: true)
            let r = resync
            resync = false
            return (out, r)
        }
        return again ? history.snapshotMessages() + batch : batch
    }

    var isClosed: Bool { lock.withLock { closed } }

    func close() {
        lock.withLock { closed = true }
        continuation.finish()
    }
}
