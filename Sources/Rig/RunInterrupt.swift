import Glibc
import Synchronization

/// Process signals during a run. SIGINT/SIGTERM set a flag the run loop polls: the supervisor then
/// stops safely (LED off, cell at open circuit, dataset closed) and the process exits non-zero.
/// SIGHUP (a closed SSH session) and SIGPIPE (stderr piped into a program that went away) must not
/// end a long experiment: SIGHUP is recorded and the run goes on without status output; SIGPIPE is
/// ignored, so a write to a broken pipe fails with EPIPE instead of killing the process.
public enum RunInterrupt {
    /// The stopping signal received (0: none).
    public static let received = Atomic<Int32>(0)
    /// Set when SIGHUP arrived.
    public static let hangup = Atomic<Bool>(false)
    /// Set when a status write found stderr broken (EPIPE, EIO).
    public static let terminalBroken = Atomic<Bool>(false)

    /// Installs the handlers (idempotent).
    public static func install() {
        signal(SIGINT, runInterruptHandler)
        signal(SIGTERM, runInterruptHandler)
        signal(SIGHUP, runHangupHandler)
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit (ulimit -f) must fail the write (EFBIG) like a full disk, not kill the run.
        signal(SIGXFSZ, SIG_IGN)
        // A parent may have started us with these signals blocked (the mask is inherited): unblock
        // them, or a stop request would wait, pending, until the run ends on its own.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// True when status output should stop (terminal gone).
    public static var terminalLost: Bool { hangup.load(ordering: .relaxed) || terminalBroken.load(ordering: .relaxed) }

    /// The name of the stopping signal received ("" when none).
    public static var signalName: String { received.load(ordering: .relaxed) == 0 ? "" : name(of: received.load(ordering: .relaxed)) }

    /// A signal's name.
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }
}

private func runInterruptHandler(_ sig: Int32) {
    RunInterrupt.received.store(sig, ordering: .relaxed)
}

private func runHangupHandler(_ sig: Int32) {
    RunInterrupt.hangup.store(true, ordering: .relaxed)
}
