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

/// What one latency measurement found.
public struct LatencyProbeResult {
    /// Wake-up lateness at each LED-on deadline.
    public var histogram: LatencyHistogram
    /// Lateness of each trigger edge after the line was driven (the lines' cost shows here).
    public var triggerLateness: LatencyHistogram
    /// How the thread really ran (SCHED_FIFO, memory locked).
    public var report: RealtimeReport
    /// Frames skipped for a missed deadline.
    public var missed: Int
    /// Page faults (minor + major) the loop's thread took after its first frame: 0 when every page it
    /// touches was touched before the loop.
    public var pageFaults: Int
}

/// Measures the exposure loop's wake-up latency on the real clock with given lines (nil: idle),
/// on a SCHED_FIFO thread — the run's latency self-test and the benchmark.
public enum LatencyProbe {
    /// Runs the loop for `seconds` with the given timing (lines nil: idle) on the real clock.
    public static func run(timing: ExposureTiming, seconds: Double, priority: Int32,
                           led: DigitalLine? = nil, trigger: DigitalLine? = nil) throws -> LatencyProbeResult {
        let clock = MonotonicClock()
        let frames = Int64(max(1, seconds * 1e9 / Double(timing.periodNanoseconds)))
        // Start far enough ahead for the thread to be created and its stack locked.
        let loop = ExposureLoop(clock: clock, led: led, trigger: trigger, timing: timing,
                                firstTriggerNanoseconds: clock.monotonicNanoseconds + 200_000_000, frameLimit: frames)
        let dmaLatency = CPUDMALatencyGuard()
        // The timeline starts once the thread runs: under load, locking memory and creating the thread
        // can take longer than any fixed lead, and the late first frames would count as latency.
        let thread = RealtimeThread { loop.runUntilStopped(timelineStartsInNanoseconds: 10_000_000) }
        try thread.start(priority: priority)
        thread.join()
        withExtendedLifetime(dmaLatency) {}
        return LatencyProbeResult(histogram: loop.latency, triggerLateness: loop.triggerLateness, report: thread.report, missed: loop.missedDeadlines,
                                  pageFaults: loop.pageFaultsInLoop)
    }

    /// `run`'s figures as a tuple.
    public static func measure(timing: ExposureTiming, seconds: Double, priority: Int32,
                               led: DigitalLine? = nil, trigger: DigitalLine? = nil)
        throws -> (histogram: LatencyHistogram, report: RealtimeReport, missed: Int) {
        let r = try run(timing: timing, seconds: seconds, priority: priority, led: led, trigger: trigger)
        return (r.histogram, r.report, r.missed)
    }

    /// The benchmark's timing for a bare period: LED lead 10 % of it up to 200 µs, no exposure.
    public static func benchmarkTiming(periodNanoseconds: Int64) -> ExposureTiming {
        ExposureTiming(periodNanoseconds: periodNanoseconds, ledLeadNanoseconds: min(200_000, periodNanoseconds / 10),
                       exposureNanoseconds: 0, ledTailNanoseconds: 0, missMarginNanoseconds: periodNanoseconds)
    }

    /// The benchmark's form: a bare period (`benchmarkTiming`), lines nil for idle.
    public static func run(periodNanoseconds: Int64, seconds: Double, priority: Int32,
                           led: DigitalLine? = nil, trigger: DigitalLine? = nil) throws -> LatencyProbeResult {
        try run(timing: benchmarkTiming(periodNanoseconds: periodNanoseconds), seconds: seconds, priority: priority,
                led: led, trigger: trigger)
    }

    /// `run(periodNanoseconds:…)`'s figures as a tuple, lines idle.
    public static func measure(periodNanoseconds: Int64, seconds: Double, priority: Int32)
        throws -> (histogram: LatencyHistogram, report: RealtimeReport, missed: Int) {
        let r = try run(periodNanoseconds: periodNanoseconds, seconds: seconds, priority: priority)
        return (r.histogram, r.report, r.missed)
    }
}
