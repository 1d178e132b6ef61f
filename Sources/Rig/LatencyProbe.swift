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
    /// The loop thread's context switches after its first frame: voluntary (its sleeps; more than
    /// `sleeps` would mean it blocked on something else) and involuntary (preemptions).
    public var voluntarySwitches: Int = 0
    public var involuntarySwitches: Int = 0
    /// Deadlines the loop slept to after its first frame.
    public var sleeps: Int = 0
    /// Each frame's wake-up lateness at its LED-on deadline, ns, in frame order (exact, where the
    /// histogram has 1 µs buckets).
    public var wakeLatenessNanoseconds: [Int64] = []
    /// Frame 0's LED-on deadline (CLOCK_MONOTONIC ns).
    public var firstWakeNanoseconds: Int64 = 0
    /// For each frame, in frame order: true when its LED-on deadline had already passed when the
    /// frame before it was done, so the loop never waited for it (it was catching up after a late
    /// frame); see ``LatencyProbe/caughtUp(_:)``.
    public var caughtUp: [Bool] = []

    /// The lateness of the frames the loop waited for (`caughtUp` false), in frame order: the samples
    /// cyclictest's definition takes. After an overrun cyclictest moves its next deadline past the
    /// present and takes one sample, where the loop's timeline stays fixed and the frames whose
    /// deadlines passed meanwhile are recorded too, each as late as the catching-up left it: a 5 ms
    /// stall at 1 kHz is one sample of cyclictest's and five of the loop's (issue 17).
    public var waitedWakeLatenessNanoseconds: [Int64] {
        zip(wakeLatenessNanoseconds, caughtUp).compactMap { $1 ? nil : $0 }
    }
}

/// Measures the exposure loop's wake-up latency on the real clock with given lines (nil: idle),
/// on a SCHED_FIFO thread — the run's latency self-test and the benchmark.
public enum LatencyProbe {
    /// Runs the loop for `seconds` with the given timing (lines nil: idle) on the real clock.
    /// - Parameters:
    ///   - notBefore: frame 0's LED-on deadline is not before this CLOCK_MONOTONIC time (ns).
    ///   - wakePhase: the LED-on deadlines fall on this phase of the period (ns past a multiple of
    ///     the period, as cyclictest's `--secaligned` offset), to run beside another timeline.
    public static func run(timing: ExposureTiming, seconds: Double, priority: Int32,
                           led: DigitalLine? = nil, trigger: DigitalLine? = nil,
                           notBefore: Int64? = nil, wakePhase: Int64? = nil) throws -> LatencyProbeResult {
        try run(timing: timing, frames: Int64(max(1, seconds * 1e9 / Double(timing.periodNanoseconds))), priority: priority,
                led: led, trigger: trigger, notBefore: notBefore, wakePhase: wakePhase)
    }

    /// `run(timing:seconds:…)` for a number of frames.
    public static func run(timing: ExposureTiming, frames: Int64, priority: Int32,
                           led: DigitalLine? = nil, trigger: DigitalLine? = nil,
                           notBefore: Int64? = nil, wakePhase: Int64? = nil) throws -> LatencyProbeResult {
        let clock = MonotonicClock()
        let frames = max(1, frames)
        // Start far enough ahead for the thread to be created and its stack locked. The record ring
        // holds every frame (read after the loop: the exact lateness of each wake-up).
        let loop = ExposureLoop(clock: clock, led: led, trigger: trigger, timing: timing,
                                firstTriggerNanoseconds: clock.monotonicNanoseconds + 200_000_000, frameLimit: frames,
                                ringCapacity: Int(min(max(16, frames), 1 << 20)))
        let dmaLatency = CPUDMALatencyGuard()
        // The timeline starts once the thread runs: under load, locking memory and creating the thread
        // can take longer than any fixed lead, and the late first frames would count as latency.
        let thread = RealtimeThread {
            loop.runUntilStopped(timelineStartsInNanoseconds: 10_000_000, notBefore: notBefore, wakePhase: wakePhase)
        }
        try thread.start(priority: priority)
        thread.join()
        withExtendedLifetime(dmaLatency) {}
        var records: [FrameEdges] = []
        records.reserveCapacity(Int(frames))
        loop.drain(into: &records)
        return LatencyProbeResult(histogram: loop.latency, triggerLateness: loop.triggerLateness, report: thread.report,
                                  missed: loop.missedDeadlines, pageFaults: loop.pageFaultsInLoop,
                                  voluntarySwitches: loop.voluntarySwitchesInLoop, involuntarySwitches: loop.involuntarySwitchesInLoop,
                                  sleeps: loop.sleepsInLoop, wakeLatenessNanoseconds: records.map(\.latenessNanoseconds),
                                  firstWakeNanoseconds: loop.firstTriggerNanoseconds - timing.ledLeadNanoseconds,
                                  caughtUp: caughtUp(records))
    }

    /// For each record, in order: whether its LED-on deadline was at or before the end of the frame
    /// before it — the later of that frame's wake-up and its last edge — so that the loop, which goes
    /// from one frame straight to the next, was already past the deadline before it began to wait.
    /// Frame 0 never is.
    public static func caughtUp(_ records: [FrameEdges]) -> [Bool] {
        var previousEnd = Int64.min
        return records.map { r in
            defer {
                // FrameEdges.absent is Int64.min: an edge that did not happen changes nothing.
                previousEnd = max(r.intendedLedOn + r.latenessNanoseconds, r.actualLedOn, r.actualTrigger, r.actualLedOff)
            }
            return r.intendedLedOn <= previousEnd
        }
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
