import Glibc

/// Holds `/dev/cpu_dma_latency` at 0 µs while alive (what cyclictest does), so deep CPU idle states
/// do not add wake-up latency. Silently does nothing where the file cannot be opened.
public final class CPUDMALatencyGuard {
    private var fd: Int32 = -1

    public init() {
        fd = open("/dev/cpu_dma_latency", O_WRONLY)
        if fd >= 0 {
            var zero: Int32 = 0
            if write(fd, &zero, 4) != 4 { close(fd); fd = -1 }
        }
    }

    public var isHeld: Bool { fd >= 0 }

    deinit { if fd >= 0 { close(fd) } }
}

/// Measures the exposure loop's wake-up latency on the real clock with given lines (nil: idle),
/// on a SCHED_FIFO thread — the run's latency self-test and the benchmark.
public enum LatencyProbe {
    /// Runs the loop for `seconds` with the given timing (lines nil: idle) on the real clock.
    public static func measure(timing: ExposureTiming, seconds: Double, priority: Int32,
                               led: DigitalLine? = nil, trigger: DigitalLine? = nil)
        throws -> (histogram: LatencyHistogram, report: RealtimeReport, missed: Int) {
        let clock = MonotonicClock()
        let frames = Int64(max(1, seconds * 1e9 / Double(timing.periodNanoseconds)))
        // Start far enough ahead for the thread to be created and its stack locked.
        let loop = ExposureLoop(clock: clock, led: led, trigger: trigger, timing: timing,
                                firstTriggerNanoseconds: clock.monotonicNanoseconds + 200_000_000, frameLimit: frames)
        let dmaLatency = CPUDMALatencyGuard()
        let thread = RealtimeThread { loop.runUntilStopped() }
        try thread.start(priority: priority)
        thread.join()
        withExtendedLifetime(dmaLatency) {}
        return (loop.latency, thread.report, loop.missedDeadlines)
    }

    /// The benchmark's form: a bare period (LED lead 10 % of it up to 200 µs, no exposure).
    public static func measure(periodNanoseconds: Int64, seconds: Double, priority: Int32)
        throws -> (histogram: LatencyHistogram, report: RealtimeReport, missed: Int) {
        try measure(timing: ExposureTiming(periodNanoseconds: periodNanoseconds,
                                           ledLeadNanoseconds: min(200_000, periodNanoseconds / 10),
                                           exposureNanoseconds: 0, ledTailNanoseconds: 0,
                                           missMarginNanoseconds: periodNanoseconds),
                    seconds: seconds, priority: priority)
    }
}
