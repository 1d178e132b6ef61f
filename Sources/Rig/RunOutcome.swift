import Glibc

/// How a run ended: the run's state at its end, and the process's exit status.
public enum RunOutcome: Sendable, Equatable, CustomStringConvertible {
    /// Every step ran to its end.
    case completed
    /// A hard limit of the protocol's `[limits]` tripped.
    case limitTripped(limit: String, value: Double)
    /// SIGINT or SIGTERM (the number).
    case interrupted(signal: Int32)
    /// A part failed: the potentiostat, camera, GPIO, recorder (disk full…), a subscriber.
    case fault(device: String, message: String)

    /// Exit status of `operando run`: 0 complete, 1 fault, 3 limit tripped, 128 + signal when interrupted
    /// (docs/run.md, "Exit status").
    public var exitCode: Int32 {
        switch self {
        case .completed: return 0
        case .fault: return 1
        case .limitTripped: return 3
        case .interrupted(let s): return 128 + s
        }
    }

    public var description: String {
        switch self {
        case .completed: return "protocol complete"
        case .limitTripped(let l, let v): return "limit \(l) tripped at \(v)"
        case .interrupted(let s): return "interrupted by \(RunInterrupt.name(of: s))"
        case .fault(let d, let m): return "fault: \(d): \(m)"
        }
    }
}

/// The run's state: what the supervisor knows, and the one place that decides the run must stop.
public enum RunState: Sendable, Equatable {
    case starting
    case running
    /// Stopping safely, for this reason.
    case stopping(RunOutcome)
    case ended(RunOutcome)
}
