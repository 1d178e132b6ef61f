import Dataset
import Electrochemistry
import Foundation
import Imaging
import Rig

/// Feeds a live view from a dataset directory: everything already recorded at once, then — while the
/// run is still writing it — the new rows and frames, polling its files through `DatasetReader` every
/// `pollIntervalSeconds`. It stops following once `run_ended` is in events.jsonl.
public final class DatasetFollower: @unchecked Sendable {
    public let reader: DatasetReader
    public let history: LiveHistory
    public var pollIntervalSeconds = 0.5
    private var echemCount = 0
    private var monitorCount = 0
    private var eventCount = 0
    private var frameCount = 0
    private var dropped = 0, missed = 0, violations = 0
    private var ledOn: Bool?
    private var stepStarted: (index: Int, text: String)?
    private let lock = NSLock()
    private var stopRequested = false
    private var thread: Thread?
    private let finishedSignal = DispatchSemaphore(value: 0)
    private var finishedFlag = false
    /// run_ended was read (kept: a later file may fail to read at that poll and be retried).
    private var sawRunEnded = false
    private var referenceSent = false
    private lazy var stepTexts: [String] = (try? ProtocolSteps.texts(reader.runInfo)) ?? []
    /// True once run_ended was read (nothing more will come).
    public var finished: Bool { lock.withLock { finishedFlag } }
    /// The last error met while polling (a half-written row is retried at the next poll).
    public private(set) var lastError: String?

    /// Opens `directory` (throws `DatasetError` when it is not a dataset).
    public init(directory: String, history: LiveHistory) throws {
        reader = try DatasetReader(directory)
        self.history = history
        history.setInfo(reader.runInfo)
    }

    /// Reads what is new once; returns true when the run has ended.
    @discardableResult
    public func poll() -> Bool {
        do {
            let events = try reader.events()
            let echem = try reader.echem()
            let monitor = try reader.monitor()
            let frames = try reader.frames()
            if echem.count > echemCount { history.append(echem: Array(echem[echemCount...])); echemCount = echem.count }
            if monitor.count > monitorCount { history.append(monitor: Array(monitor[monitorCount...])); monitorCount = monitor.count }
            var ended = sawRunEnded
            if events.count > eventCount {
                let new = Array(events[eventCount...])
                eventCount = events.count
                for e in new {
                    switch e.event {
                    case "frame_dropped": dropped += 1
                    case "frame_skipped": missed += 1
                    case "lockstep_violation": violations += 1
                    case "led_off": ledOn = false
                    case "run_started": ledOn = true
                    case "step_started": stepStarted = (Int(e.fields["step"]?.number ?? -1), e.fields["text"]?.string ?? "")
                    case "run_ended": ended = true; sawRunEnded = true
                    default: break
                    }
                }
                history.append(events: new)
            }
            if frames.count > frameCount, let last = frames.last {
                var view = try reader.recording()
                if !referenceSent, let first = view.records.firstIndex(where: { $0.exposures > 0 }) {
                    history.setContrastReference(try view.frame(first).frame, exposures: view.records[first].exposures)
                    referenceSent = true
                }
                let index = view.records.count - 1
                let f = try view.frame(index)
                history.update(frame: f.frame, record: last)
                frameCount = frames.count
            }
            history.update(status: status(echem: echem.last, monitor: monitor.last, frames: frameCount, ended: ended))
            if ended {
                history.end(reason: events.last { $0.event == "run_ended" }?.fields["reason"]?.string ?? "ended")
                lock.withLock { finishedFlag = true }
            }
            lastError = nil
            return ended
        } catch {
            lastError = "\(error)"
            return false
        }
    }

    private func status(echem: EchemRecord?, monitor: MonitorRecord?, frames: Int, ended: Bool) -> LiveStatus {
        let steps = stepTexts
        let index = stepStarted?.index ?? echem?.step ?? 0
        let t: Double = max(echem?.timeSeconds ?? 0, monitor?.timeSeconds ?? 0)
        let text: String = stepStarted?.text ?? (steps.indices.contains(index) ? steps[index] : "")
        var run = RunStatus(runSeconds: t, step: index, stepCount: steps.count, stepText: text)
        if let e = echem {
            run.voltageVolts = e.voltageVolts
            run.currentAmps = e.currentAmps
            run.capacityMilliampHoursPerGram = e.capacityMilliampHoursPerGram
        }
        if let m = monitor {
            run.intensityChange = m.intensityChange
            run.sdcStd = m.sdcStd
            run.heterogeneous = m.heterogeneous
        }
        run.loopP99Microseconds = loopP99()
        run.droppedFrames = dropped
        run.missedDeadlines = missed
        run.lockstepViolations = violations
        run.recordedFrames = frames
        run.ledOn = ended ? false : (ledOn ?? false)
        return LiveStatus(run: run, ledKnown: ended || ledOn != nil, live: false)
    }

    private func loopP99() -> Double {
        guard let t = try? reader.timing(), let o = t.object else { return .nan }
        return o["run_loop_latency"]?["p99_us"]?.number ?? .nan
    }

    /// Follows the dataset on a thread of its own until it ends or `stop()`.
    public func start() {
        let t = Thread { [self] in
            while !isStopRequested {
                if poll() { break }
                Thread.sleep(forTimeInterval: pollIntervalSeconds)
            }
            finishedSignal.signal()
        }
        t.name = "operando live view follower"
        thread = t
        t.start()
    }

    private var isStopRequested: Bool { lock.withLock { stopRequested } }

    /// Stops following (waits for the current poll).
    public func stop() {
        guard thread != nil else { return }
        lock.withLock { stopRequested = true }
        _ = finishedSignal.wait(timeout: .now() + 5)
        thread = nil
    }

    /// Waits until the run ended (or `timeoutSeconds`); true when it did.
    public func waitUntilEnded(timeoutSeconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline { if finished { return true }; Thread.sleep(forTimeInterval: 0.05) }
        return finished
    }
}

/// The protocol's planned step texts, from run.json.
enum ProtocolSteps {
    static func texts(_ info: RunInfo) throws -> [String] {
        try ProtocolFile.parse(text: info.protocolText, path: info.protocolPath).plannedSteps.map(\.step.text)
    }
}
