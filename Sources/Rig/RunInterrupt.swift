import Glibc
import Synchronization

/// SIGINT/SIGTERM → a flag the run loop polls; the loop then turns the LED off, puts the cell at open
/// circuit and closes the dataset before exiting non-zero.
public enum RunInterrupt {
    /// The signal number received (0: none).
    public static let received = Atomic<Int32>(0)

    /// Installs the handlers (idempotent).
    public static func install() {
        signal(SIGINT, runInterruptHandler)
        signal(SIGTERM, runInterruptHandler)
        // A parent may have started us with these signals blocked (the mask is inherited): unblock
        // them, or a stop request would wait, pending, until the run ends on its own.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    public static var signalName: String {
        switch received.load(ordering: .relaxed) {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case 0: return ""
        case let s: return "signal \(s)"
        }
    }
}

private func runInterruptHandler(_ sig: Int32) {
    RunInterrupt.received.store(sig, ordering: .relaxed)
}
