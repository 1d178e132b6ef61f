import Foundation
import Rig

/// The simulated rig's virtual clock: time moves only when someone sleeps to a deadline, and then
/// jumps straight there, so a 6-hour protocol runs in seconds with the same scheduler code.
///
/// It starts where timing bugs live (Aravis's fake camera does the same with its frame counter):
/// 2⁴⁴ ns − 1 s, i.e. one second before the low 32 bits of the nanosecond count wrap, beyond the range
/// of an Int32 of microseconds (35 min) and where a `Float` of seconds has only ~1 ms resolution.
public final class VirtualClock: Clock, @unchecked Sendable {
    /// Default start: one second before a 32-bit nanosecond wrap, at ≈ 4.9 h.
    public static let defaultStartNanoseconds: Int64 = (Int64(1) << 44) - 1_000_000_000

    // A lock, not an actor: `sleep` must be callable from the (synchronous) exposure loop.
    private let lock = NSLock()
    private var now: Int64
    /// Where the clock started, ns.
    public let startNanoseconds: Int64

    /// - Parameter startNanoseconds: the first reading of `monotonicNanoseconds`.
    public init(startNanoseconds: Int64 = VirtualClock.defaultStartNanoseconds) {
        now = startNanoseconds
        self.startNanoseconds = startNanoseconds
    }

    /// Now, ns of the virtual timebase.
    public var monotonicNanoseconds: Int64 { lock.lock(); defer { lock.unlock() }; return now }

    /// Jumps to `deadline` (never backwards). An advance observer (`onAdvance`) runs first, so
    /// something that lives on this clock (firmware-sim's instrument) can act at every moment up to
    /// the deadline before anyone can look past it.
    public func sleep(untilNanoseconds deadline: Int64) {
        lock.lock()
        if deadline > now, let observer, !observing {
            observing = true
            lock.unlock()
            observer(deadline)   // may sleep to times ≤ deadline itself: plain jumps while observing
            lock.lock()
            observing = false
        }
        if deadline > now { now = deadline }
        lock.unlock()
    }

    private var observer: ((Int64) -> Void)?
    private var observing = false

    /// Sets (nil: clears) the observer called with each new deadline before the clock jumps there.
    /// Within the observer, `sleep` jumps without calling it again.
    public func onAdvance(_ body: ((Int64) -> Void)?) {
        lock.lock(); observer = body; lock.unlock()
    }

    /// Advances by a relative amount (tests and fault timeouts).
    public func advance(bySeconds seconds: Double) {
        guard seconds > 0 else { return }
        sleep(untilNanoseconds: monotonicNanoseconds + Int64((seconds * 1e9).rounded()))
    }

    public var isVirtual: Bool { true }
}

/// Wall-clock mode for `--realtime`: the simulated rig runs on CLOCK_MONOTONIC, offset so that it
/// reads like the virtual clock (same start value), and sleeps with `clock_nanosleep(TIMER_ABSTIME)`.
public final class WallClock: Clock, @unchecked Sendable {
    private let offsetNanoseconds: Int64

    /// - Parameter startNanoseconds: the reading at construction (defaults to the virtual clock's start).
    public init(startNanoseconds: Int64 = VirtualClock.defaultStartNanoseconds) {
        offsetNanoseconds = startNanoseconds - WallClock.systemMonotonic()
    }

    static func systemMonotonic() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public var monotonicNanoseconds: Int64 { WallClock.systemMonotonic() + offsetNanoseconds }

    public func sleep(untilNanoseconds deadline: Int64) {
        let system = deadline - offsetNanoseconds
        var ts = timespec(tv_sec: Int(system / 1_000_000_000), tv_nsec: Int(system % 1_000_000_000))
        #if os(Linux)
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
        #else
        let remaining = system - WallClock.systemMonotonic()
        if remaining > 0 { usleep(UInt32(min(remaining / 1000, Int64(UInt32.max)))) }
        _ = ts
        #endif
    }

    public var isVirtual: Bool { false }
}
