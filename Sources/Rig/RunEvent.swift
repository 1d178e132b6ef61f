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
    case runEnded(reason: String)

    /// The event as JSON fields (without the time).
    public var fields: [String: Any] {
        switch self {
        case .runStarted(let b): return ["event": "run_started", "backend": b]
        case .stepStarted(let i, let t): return ["event": "step_started", "step": i, "text": t]
        case .stepEnded(let i, let t, let r): return ["event": "step_ended", "step": i, "text": t, "reason": r]
        case .repeatEnded(let b, let r): return ["event": "repeat_ended", "block": b, "reason": r]
        case .limitTripped(let l, let v): return ["event": "limit_tripped", "limit": l, "value": v]
        case .compliance(let i, let t): return ["event": "compliance", "step": i, "text": t]
        case .fault(let d, let m): return ["event": "fault", "device": d, "message": m]
        case .frameSkipped(let f, let l): return ["event": "frame_skipped", "frame": f, "lateness_us": l]
        case .frameDropped(let f, let r): return ["event": "frame_dropped", "frame": f, "reason": r]
        case .lockstepViolation(let f, let p): return ["event": "lockstep_violation", "frame": f, "problem": p]
        case .warning(let w): return ["event": "warning", "message": w]
        case .monitorUnavailable(let m): return ["event": "monitor_unavailable", "message": m]
        case .interrupted(let s): return ["event": "interrupted", "signal": s]
        case .runEnded(let r): return ["event": "run_ended", "reason": r]
        }
    }
}
