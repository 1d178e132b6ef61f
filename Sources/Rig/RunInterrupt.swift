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
