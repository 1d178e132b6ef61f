import Glibc

/// The real clock: CLOCK_MONOTONIC, absolute-deadline sleeps with `clock_nanosleep(TIMER_ABSTIME)`.
public final class MonotonicClock: Clock, @unchecked Sendable {
    public init() {}

    public var monotonicNanoseconds: Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public func sleep(untilNanoseconds deadline: Int64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        // EINTR (a signal) wakes early: sleep again to the same absolute deadline.
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    public var isVirtual: Bool { false }

    /// The clock read right after `clock_nanosleep` returns, in the same function, as cyclictest
    /// reads it: after a long sleep every page the wake-up path touches may miss the TLB (on a VM
    /// each miss is a two-level page walk), and reading through `monotonicNanoseconds` from the loop
    /// added 8–12 µs to the median wake-up at 10 Hz (issue 17).
    public func sleepReadingWake(untilNanoseconds deadline: Int64) -> Int64 {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
