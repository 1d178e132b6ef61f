import Dataset

/// Everything a run can report, as one enum (pymmcore-plus style): written to events.jsonl.
public enum RunEvent: Sendable, Equatable {
    case runStarted(backend: String)
    case stepStarted(index: Int, text: String)
    case stepEnded(index: Int, text: String, reason: String)
    case repeatEnded(block: Int, reason: String)
    case limitTripped(limit: String, value: Double)
    case compliance(step: Int, text: String)
    case fault(device: String, message: String)
    case frameSkipped(frame: Int64, latenessMicroseconds: Double)
    case frameDropped(frame: Int64, reason: String)
    case lockstepViolation(frame: Int64, problem: String)
    case warning(String)
    case monitorUnavailable(String)
    case interrupted(signal: String)
    /// The terminal went away (SIGHUP, or stderr broken): the run goes on without status output.
    case terminalLost(reason: String)
    /// The safe stop began, and why.
    case safeStopStarted(reason: String)
    /// The LED (and trigger) lines were driven low (`ok` false: driving them failed, `message` says why).
    case ledOff(ok: Bool, message: String)
    /// The potentiostat was set to open circuit (`ok` false: it could not be, `message` says why).
    case outputOff(ok: Bool, message: String)
    case runEnded(reason: String)
    /// Follow mode: edge number `edge` (from 0) on the instrument's trigger input, as the kernel
    /// stamped it (`monotonicNanoseconds` of the rig's clock; `sequence` libgpiod v2's, 0 on v1).
    case instrumentTrigger(edge: Int, kind: String, monotonicNanoseconds: Int64, sequence: UInt64)

    /// The event's name in events.jsonl.
    public var name: String {
        switch self {
        case .runStarted: return "run_started"
        case .stepStarted: return "step_started"
        case .stepEnded: return "step_ended"
        case .repeatEnded: return "repeat_ended"
        case .limitTripped: return "limit_tripped"
        case .compliance: return "compliance"
        case .fault: return "fault"
        case .frameSkipped: return "frame_skipped"
        case .frameDropped: return "frame_dropped"
        case .lockstepViolation: return "lockstep_violation"
        case .warning: return "warning"
        case .monitorUnavailable: return "monitor_unavailable"
        case .interrupted: return "interrupted"
        case .terminalLost: return "terminal_lost"
        case .safeStopStarted: return "safe_stop_started"
        case .ledOff: return "led_off"
        case .outputOff: return "output_off"
        case .runEnded: return "run_ended"
        case .instrumentTrigger: return "instrument_trigger"
        }
    }

    /// The event's fields (without the time and the name).
    public var fields: [String: JSONValue] {
        switch self {
        case .runStarted(let b): return ["backend": .string(b)]
        case .stepStarted(let i, let t): return ["step": .number(Double(i)), "text": .string(t)]
        case .stepEnded(let i, let t, let r): return ["step": .number(Double(i)), "text": .string(t), "reason": .string(r)]
        case .repeatEnded(let b, let r): return ["block": .number(Double(b)), "reason": .string(r)]
        case .limitTripped(let l, let v): return ["limit": .string(l), "value": .number(v)]
        case .compliance(let i, let t): return ["step": .number(Double(i)), "text": .string(t)]
        case .fault(let d, let m): return ["device": .string(d), "message": .string(m)]
        case .frameSkipped(let f, let l): return ["frame": .number(Double(f)), "lateness_us": .number(l)]
        case .frameDropped(let f, let r): return ["frame": .number(Double(f)), "reason": .string(r)]
        case .lockstepViolation(let f, let p): return ["frame": .number(Double(f)), "problem": .string(p)]
        case .warning(let w): return ["message": .string(w)]
        case .monitorUnavailable(let m): return ["message": .string(m)]
        case .interrupted(let s): return ["signal": .string(s)]
        case .terminalLost(let r): return ["reason": .string(r)]
        case .safeStopStarted(let r): return ["reason": .string(r)]
        case .ledOff(let ok, let m): return ["ok": .bool(ok), "message": .string(m)]
        case .outputOff(let ok, let m): return ["ok": .bool(ok), "message": .string(m)]
        case .runEnded(let r): return ["reason": .string(r)]
        case .instrumentTrigger(let e, let k, let ns, let q):
            return ["edge": .number(Double(e)), "kind": .string(k), "monotonic_ns": .number(Double(ns)),
                    "sequence": .number(Double(q))]
        }
    }

    /// The events.jsonl record at run time `timeSeconds`.
    public func record(atSeconds timeSeconds: Double) -> EventRecord {
        EventRecord(timeSeconds: timeSeconds, event: name, fields: fields)
    }
}
