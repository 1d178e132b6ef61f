import Dataset
import Electrochemistry
import Foundation

// Follow mode (docs/follow.md): the potentiostat is run by its own software; operando free-runs the
// exposure loop at the protocol's frame rate and records every edge of the instrument's trigger
// output, with the kernel's timestamp, into triggers.csv and events.jsonl (`instrument_trigger`).
// The instrument's record is imported afterwards (`operando import`) and aligned on those edges.

/// The trigger input of a followed rig.
public struct FollowHardware {
    /// The requested edge-event input line (real: libgpiod v1/v2; firmware-sim: `trigger-in`).
    public var input: EdgeInput
    /// The chip's name, for run.json.
    public var chip: String
    /// The line as the rig file names it.
    public var line: String
    /// What must stay alive while the input is read (the chip; firmware-sim's instrument).
    public var owner: AnyObject?

    public init(input: EdgeInput, chip: String, line: String, owner: AnyObject? = nil) {
        self.input = input
        self.chip = chip
        self.line = line
        self.owner = owner
    }

    /// run.json's `follow` object: the line and how the run ends.
    func runInfo(protocolFile: ProtocolFile) -> JSONValue {
        let s = input.settings
        let f = protocolFile.follow ?? FollowSettings()
        var ends: [String: JSONValue] = ["signal": .bool(true), "tail_s": .number(f.tailSeconds)]
        if let d = f.durationSeconds { ends["duration_s"] = .number(d) }
        if let n = f.edgeCount { ends["edges"] = .number(Double(n)) }
        if let total = FollowHardware.protocolTotalSeconds(protocolFile) { ends["protocol_total_s_after_first_edge"] = .number(total) }
        return .object([
            "trigger_input": .object(["chip": .string(chip), "line": .string(line), "offset": .number(Double(input.lineOffset)),
                                      "edge": .string(s.edge.rawValue), "bias": .string(s.bias.rawValue), "active_low": .bool(s.activeLow),
                                      "debounce_us": .number(Double(s.debounceMicroseconds))]),
            "ends": .object(ends),
            "commanded": .string("nothing electrical: the instrument's own software runs the cell"),
        ])
    }

    /// The protocol's own total, s, when every planned step has a fixed duration (nil otherwise).
    static func protocolTotalSeconds(_ p: ProtocolFile) -> Double? {
        let planned = p.plannedSteps
        guard !planned.isEmpty, planned.allSatisfy({ $0.step.durationSeconds != nil }) else { return nil }
        return planned.compactMap { $0.step.durationSeconds }.reduce(0, +)
    }
}

/// The potentiostat slot of a followed rig: operando commands nothing electrical, so any use is an
/// error naming follow mode (the run engine never calls it).
public final class FollowedInstrument: Potentiostat {
    public let name = "followed instrument"
    public init() {}

    public func apply(_ mode: PotentiostatMode) throws {
        throw PotentiostatError.rejected(device: name, command: "\(mode)",
                                         reason: "follow mode: the instrument's own software runs the cell; operando commands nothing electrical")
    }

    public func read() throws -> ElectrochemSample {
        throw PotentiostatError.rejected(device: name, command: "read",
                                         reason: "follow mode: the instrument records the cell; import its file with operando import")
    }
}

/// Writes triggers.csv from the run's `instrument_trigger` events (an inline subscriber beside the
/// recorder; its failure is a fault like the recorder's).
final class TriggerRecorder: RunSubscriber {
    let subscriberName = "trigger recorder"
    private let writer: TriggerWriter
    private let lineOffset: Int
    private var closed = false

    init(directory: String, lineOffset: UInt32) throws {
        writer = try TriggerWriter(directory: directory)
        self.lineOffset = Int(lineOffset)
    }

    func receive(_ message: RunMessage, bus: RunBus) throws {
        switch message {
        case .event(.instrumentTrigger(let edge, let kind, let ns, let sequence), let t):
            try writer.append(TriggerRecord(edge: edge, timeSeconds: t, monotonicNanoseconds: ns, kind: kind, lineOffset: lineOffset,
                                            globalSequence: sequence, lineSequence: sequence))
        case .ended:
            guard !closed else { return }
            closed = true
            try writer.close()
        default: break
        }
    }
}

/// Follow mode's working state inside a run: the input's reader and what it has seen.
final class FollowState {
    let input: EdgeInput
    /// The reader thread (real clock); on the virtual clock the engine reads the input itself.
    let recorder: EdgeRecorder?
    var buffer = [EdgeEvent](repeating: EdgeEvent(), count: 64)
    var drained: [EdgeEvent] = []
    var edges = 0
    var firstEdgeNanoseconds: Int64?
    var countedEdgeNanoseconds: Int64?
    var lastSequence: UInt64 = 0
    var kernelDropped = 0
    var released = false

    init(input: EdgeInput, realClock: Bool) {
        self.input = input
        recorder = realClock ? EdgeRecorder(input: input) : nil
        drained.reserveCapacity(256)
    }

    var timingReport: JSONValue {
        var o: [String: JSONValue] = [
            "line": .string(input.name), "edges": .number(Double(edges)),
            "kernel_dropped_edges": .number(Double(recorder?.kernelDroppedCount ?? kernelDropped)),
            "reader": .string(recorder == nil ? "engine thread (virtual clock)" : "EdgeRecorder thread"),
        ]
        if let r = recorder {
            o["ring_overflowed_edges"] = .number(Double(r.overflowCount))
            if let e = r.error { o["reader_error"] = .string("\(e)") }
        }
        return .object(o)
    }
}

extension RunLoop {
    /// Follow mode's main loop: frames at the protocol's rate, trigger edges as they come, until a
    /// duration, a count of edges, a signal or a fault. Returns the exposure thread for the safe stop.
    func executeFollowing() -> RealtimeThread? {
        guard let follow = hardware.follow else { return nil }
        let clock = hardware.clock
        let settings = engine.protocolFile.follow ?? FollowSettings()
        let protocolTotal = FollowHardware.protocolTotalSeconds(engine.protocolFile)
        let state = FollowState(input: follow.input, realClock: !clock.isVirtual)
        followState = state
        // Edges are stamped by the kernel (or the sim's wire): how often the queue is read changes
        // no timestamp, only how soon an end on edges is noticed.
        let pollNs: Int64 = 100_000_000
        var nextPoll = t0
        var nextFrame: Int64 = 0
        var frameEdges: [FrameEdges] = []
        frameEdges.reserveCapacity(4096)
        var rtThread: RealtimeThread? = nil
        var lastStatusWall = Date.distantPast
        var lastStatusRun: Int64? = nil
        loop.currentStep.store(-1, ordering: .relaxed)
        supervisor.begin()
        do {
            try hardware.camera.start()
            if let r = state.recorder { try r.start() }
            if !clock.isVirtual { rtThread = try startRealtimeThread() }
            while !supervisor.mustStop {
                // The same stop and terminal handling as a commanded run (a followed run survives SIGHUP too).
                if stopRequestedBySignal() { break }
                if clock.isVirtual {
                    let frameStart = loop.firstTriggerNanoseconds + nextFrame * timing.periodNanoseconds - timing.ledLeadNanoseconds
                    if frameStart < nextPoll {
                        let r = loop.fire(frame: nextFrame)
                        nextFrame += 1
                        try handle(r)
                        continue
                    }
                    clock.sleep(untilNanoseconds: nextPoll)
                } else {
                    clock.sleep(untilNanoseconds: nextPoll)
                    frameEdges.removeAll(keepingCapacity: true)
                    loop.drain(into: &frameEdges)
                    for r in frameEdges { try handle(r) }
                }
                if supervisor.mustStop { break }
                try readTriggers(state, edgeCount: settings.edgeCount)
                let now = clock.monotonicNanoseconds
                let tailNs = Int64((settings.tailSeconds * 1e9).rounded())
                if let d = settings.durationSeconds, now >= t0 + Int64((d * 1e9).rounded()) {
                    supervisor.stop(.completed); break
                }
                if let n = state.countedEdgeNanoseconds, now >= n + tailNs { supervisor.stop(.completed); break }
                if let total = protocolTotal, let first = state.firstEdgeNanoseconds,
                   now >= first + Int64((total * 1e9).rounded()) + tailNs {
                    supervisor.stop(.completed); break
                }
                nextPoll += pollNs
                let due = clock.isVirtual ? lastStatusRun.map { nextPoll - $0 >= Int64(engine.options.statusIntervalSeconds * 60e9) } ?? true
                    : Date().timeIntervalSince(lastStatusWall) >= engine.options.statusIntervalSeconds
                if due {
                    lastStatusWall = Date()
                    lastStatusRun = nextPoll
                    bus.publish(.status(followStatus(runSeconds: seconds(now))))
                }
            }
        } catch {
            supervisor.fault(device: device(of: error), message: "\(error)")
        }
        return rtThread
    }

    /// Moves the edges seen so far to the bus (instrument_trigger events → events.jsonl, triggers.csv).
    /// A failed line is a fault (the safe stop follows).
    func readTriggers(_ state: FollowState, edgeCount: Int?) throws {
        state.drained.removeAll(keepingCapacity: true)
        if let r = state.recorder {
            r.drain(into: &state.drained)
            if let e = r.error { throw e }
        } else if !state.released {
            while try state.input.waitEdges(timeoutNanoseconds: 0) > 0 {
                let n = try state.input.readEdges(into: &state.buffer)
                if n == 0 { break }
                for k in 0..<n { state.drained.append(state.buffer[k]) }
            }
        }
        for e in state.drained {
            if state.recorder == nil, e.globalSequence != 0, e.globalSequence > state.lastSequence + 1 {
                let lost = Int(e.globalSequence - state.lastSequence - 1)
                state.kernelDropped += lost
                publish(.warning("trigger input \(state.input.name): \(lost) edge(s) dropped by the kernel before edge \(state.edges) (sequence \(e.globalSequence) after \(state.lastSequence))"),
                        at: e.monotonicNanoseconds)
            }
            if e.globalSequence != 0 { state.lastSequence = e.globalSequence }
            if state.firstEdgeNanoseconds == nil { state.firstEdgeNanoseconds = e.monotonicNanoseconds }
            publish(.instrumentTrigger(edge: state.edges, kind: e.kind == .rising ? "rising" : "falling",
                                       monotonicNanoseconds: e.monotonicNanoseconds, sequence: e.globalSequence), at: e.monotonicNanoseconds)
            state.edges += 1
            if let n = edgeCount, state.edges == n { state.countedEdgeNanoseconds = e.monotonicNanoseconds }
        }
    }

    /// Part of the safe stop in follow mode: the reader stopped, the last edges recorded, the line
    /// released. Does nothing in a commanded run.
    func stopFollowing() {
        guard let state = followState, !state.released else { return }
        state.recorder?.stop()
        do { try readTriggers(state, edgeCount: nil) } catch {
            publish(.warning("trigger input \(state.input.name): the last edges could not be read: \(error)"))
        }
        state.input.release()
        state.released = true
    }

    /// The status line in follow mode: no step, no electrochemistry, the edges seen.
    func followStatus(runSeconds t: Double) -> RunStatus {
        let edges = followState?.edges ?? 0
        return RunStatus(runSeconds: t, step: -1, stepCount: 0, stepText: "following the instrument: \(edges) trigger edge(s)",
                         voltageVolts: .nan, currentAmps: .nan, capacityMilliampHoursPerGram: .nan,
                         intensityChange: monitor.latest?.intensityChange ?? .nan, sdcStd: monitor.latest?.sdcStd ?? .nan,
                         heterogeneous: monitor.latest?.heterogeneous ?? false,
                         loopP99Microseconds: hardware.clock.isVirtual ? .nan : (loop.latency.count > 0 ? loop.latency.percentileMicroseconds(0.99) : latencyP99),
                         droppedFrames: dropped, missedDeadlines: skipped, lockstepViolations: violations,
                         recordedFrames: recordedIndex, ledOn: !supervisor.mustStop, fraction: nil, plannedSeconds: nil)
    }
}
