import Glibc
import Synchronization

/// Exposure timing on the rig's clock (nanoseconds), derived from a protocol's `[imaging]`.
public struct ExposureTiming: Sendable, Equatable {
    public var periodNanoseconds: Int64
    public var ledLeadNanoseconds: Int64
    public var exposureNanoseconds: Int64
    public var ledTailNanoseconds: Int64
    /// A frame whose LED-on deadline is missed by more than this is skipped, not fired late.
    public var missMarginNanoseconds: Int64

    public init(periodNanoseconds: Int64, ledLeadNanoseconds: Int64, exposureNanoseconds: Int64,
                ledTailNanoseconds: Int64, missMarginNanoseconds: Int64 = 1_000_000) {
        self.periodNanoseconds = periodNanoseconds
        self.ledLeadNanoseconds = ledLeadNanoseconds
        self.exposureNanoseconds = exposureNanoseconds
        self.ledTailNanoseconds = ledTailNanoseconds
        self.missMarginNanoseconds = missMarginNanoseconds
    }
}

/// Intended and actual times of one frame's edges (nanoseconds of the rig's clock). An edge that was
/// not driven (a skipped frame, a failed line) keeps `FrameEdges.absent`, never a made-up time.
public struct FrameEdges: Sendable, Equatable {
    /// The value of an actual time whose edge did not happen.
    public static let absent = Int64.min
    public var frame: Int64 = 0
    public var intendedLedOn: Int64 = 0
    public var intendedTrigger: Int64 = 0
    public var intendedLedOff: Int64 = 0
    public var actualLedOn: Int64 = FrameEdges.absent
    public var actualTrigger: Int64 = FrameEdges.absent
    public var actualLedOff: Int64 = FrameEdges.absent
    /// Wake-up lateness at the LED-on deadline.
    public var latenessNanoseconds: Int64 = 0
    /// True when the frame was skipped for a missed deadline (no edges were driven).
    public var skipped = false
    /// Protocol step index at the trigger.
    public var step: Int32 = 0
    /// Set when driving a line failed; the loop stops after such a frame.
    public var lineFailed = false

    public init() {}
}

/// The lockstep exposure loop (docs/architecture.md, Lockstep): per frame, LED on at t − lead, camera
/// trigger at t, LED off only after the exposure has ended (t_actual + exposure + tail), at absolute
/// deadlines from a timeline fixed at the start. A late wake-up can lengthen the LED's on-time but
/// never cut an exposure's light; a deadline missed by more than the margin skips the frame.
///
/// Real-time path: `fire(frame:)` and `runUntilStopped()` allocate nothing and take no locks; the
/// records go into a preallocated single-producer/single-consumer ring another thread drains.
public final class ExposureLoop: @unchecked Sendable {
    public let clock: Clock
    public let led: DigitalLine?
    public let trigger: DigitalLine?
    public let timing: ExposureTiming
    /// Trigger time of frame 0 (fixed at construction, or when the thread starts:
    /// `runUntilStopped(timelineStartsInNanoseconds:)`).
    public private(set) var firstTriggerNanoseconds: Int64
    /// Protocol step the sequencer is in (written by the sequencer, read at each trigger).
    public let currentStep = Atomic<Int>(0)
    /// Set to stop the loop after the frame in progress (LED then off).
    public let stopRequested = Atomic<Bool>(false)
    /// Stop after this many frames (for self-tests and benchmarks); Int64.max for a run.
    public let frameLimit: Int64
    /// Wake-up latency at each LED-on deadline (only meaningful on a real clock): a snapshot, safe to
    /// take from any thread while the loop runs (it allocates on the caller's thread, never the loop's).
    public var latency: LatencyHistogram { liveLatency.snapshot }
    /// Lateness of each trigger edge (actual − intended, after the line was driven): the wake-up at the
    /// trigger deadline plus the lines' own cost (a GPIO driver's lock or system call shows here).
    /// A snapshot, as `latency`.
    public var triggerLateness: LatencyHistogram { liveTriggerLateness.snapshot }
    /// The histograms the loop writes (fixed atomic storage: a reader never shares a buffer the loop
    /// would then have to copy).
    private let liveLatency = LiveLatencyHistogram()
    private let liveTriggerLateness = LiveLatencyHistogram()
    public private(set) var missedDeadlines: Int = 0
    public private(set) var firedFrames: Int = 0

    private let ring: UnsafeMutableBufferPointer<FrameEdges>
    private let head = Atomic<Int>(0)   // next slot the loop writes
    private let tail = Atomic<Int>(0)   // next slot the reader takes
    public private(set) var overflowed = false
    /// Page faults the loop's thread took after its first frame (minor + major, from getrusage).
    public private(set) var pageFaultsInLoop = 0
    /// Context switches of the loop's thread after its first frame (getrusage): voluntary ones are its
    /// sleeps (at most one per deadline slept to; more would mean it blocked on something else),
    /// involuntary ones are preemptions.
    public private(set) var voluntarySwitchesInLoop = 0
    public private(set) var involuntarySwitchesInLoop = 0
    /// Deadlines the loop slept to after its first frame (a deadline already passed is not slept to).
    public private(set) var sleepsInLoop = 0

    public init(clock: Clock, led: DigitalLine?, trigger: DigitalLine?, timing: ExposureTiming,
                firstTriggerNanoseconds: Int64, frameLimit: Int64 = .max, ringCapacity: Int = 1 << 14) {
        self.clock = clock
        self.led = led
        self.trigger = trigger
        self.timing = timing
        self.firstTriggerNanoseconds = firstTriggerNanoseconds
        self.frameLimit = frameLimit
        ring = .allocate(capacity: ringCapacity)
        ring.initialize(repeating: FrameEdges())
    }

    deinit { ring.deallocate() }

    /// Fires frame `k` of the timeline and returns its record. No allocation, no locks.
    @inline(__always)
    public func fire(frame k: Int64) -> FrameEdges {
        var r = FrameEdges()
        r.frame = k
        r.intendedTrigger = firstTriggerNanoseconds &+ k &* timing.periodNanoseconds
        r.intendedLedOn = r.intendedTrigger - timing.ledLeadNanoseconds
        r.intendedLedOff = r.intendedTrigger + timing.exposureNanoseconds + timing.ledTailNanoseconds
        r.step = Int32(truncatingIfNeeded: currentStep.load(ordering: .relaxed))
        sleeps &+= 1
        let woke = clock.sleepReadingWake(untilNanoseconds: r.intendedLedOn)
        r.latenessNanoseconds = woke - r.intendedLedOn
        if !clock.isVirtual { liveLatency.record(nanoseconds: r.latenessNanoseconds) }
        if r.latenessNanoseconds > timing.missMarginNanoseconds {
            // Too late to keep the LED lead: skip rather than fire late.
            r.skipped = true
            missedDeadlines += 1
            return r
        }
        do {
            try led?.set(true)
            r.actualLedOn = clock.monotonicNanoseconds
            sleep(until: r.intendedTrigger, now: r.actualLedOn)
            try trigger?.set(true)
            r.actualTrigger = clock.monotonicNanoseconds
            if !clock.isVirtual { liveTriggerLateness.record(nanoseconds: r.actualTrigger - r.intendedTrigger) }
            // The camera times the exposure from the edge it saw: keep the LED on past its end.
            let off = max(r.intendedLedOff, r.actualTrigger + timing.exposureNanoseconds + timing.ledTailNanoseconds)
            sleep(until: off, now: r.actualTrigger)
            try trigger?.set(false)
            try led?.set(false)
            r.actualLedOff = clock.monotonicNanoseconds
        } catch {
            r.lineFailed = true
            try? led?.set(false)
        }
        firedFrames += 1
        return r
    }

    /// Sleeps to `deadline` unless the real clock has already passed it (`now` was just read): a
    /// deadline behind us (the LED-off of a zero-length exposure) costs no system call. The virtual
    /// clock always gets the call (its sleep is where simulated time moves).
    @inline(__always)
    private func sleep(until deadline: Int64, now: Int64) {
        if deadline <= now && !clock.isVirtual { return }
        sleeps &+= 1
        clock.sleep(untilNanoseconds: deadline)
    }

    /// Deadlines slept to so far (the loop's thread only).
    private var sleeps = 0

    /// Pushes a record into the ring (drops and flags overflow when the reader has fallen behind).
    @inline(__always)
    public func push(_ r: FrameEdges) {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        if h - t >= ring.count { overflowed = true; return }
        ring[h % ring.count] = r
        head.store(h + 1, ordering: .releasing)
    }

    /// Takes the records written since the last call (reader thread).
    public func drain(into out: inout [FrameEdges]) {
        let h = head.load(ordering: .acquiring)
        var t = tail.load(ordering: .relaxed)
        while t < h {
            out.append(ring[t % ring.count])
            t += 1
        }
        tail.store(t, ordering: .releasing)
    }

    /// Writes every page the loop will touch before the first deadline (the record ring, the histograms,
    /// 64 KiB of stack), so no first-touch page fault lands inside the loop even where `mlockall` was
    /// refused (with it, MCL_FUTURE has already populated them).
    func touchMemory() {
        // Nothing pushed yet (the reader finds head = 0): the slots may be rewritten.
        if head.load(ordering: .acquiring) == 0 { ring.update(repeating: FrameEdges()) }
        liveLatency.touch()
        liveTriggerLateness.touch()
        withUnsafeTemporaryAllocation(byteCount: 64 * 1024, alignment: 16) { stack in
            memset(stack.baseAddress!, 0, stack.count)
            withExtendedLifetime(stack) {}
        }
    }

    /// The real-time thread's body: frames 0, 1, 2, … until stopped, a line fails or the limit.
    /// - Parameters:
    ///   - delay: when given, the timeline is moved so frame 0's LED-on deadline (the wake-up measured)
    ///     comes at least this long after the thread is running with its memory touched (as cyclictest
    ///     starts its first interval): a measurement then never counts the thread's own start-up as
    ///     lateness. Nil keeps the timeline fixed at construction (a run, whose timeline was published
    ///     ahead), and the other parameters are ignored.
    ///   - notBefore: with `delay`, frame 0's LED-on deadline is not before this time either (to start
    ///     beside another measurement, e.g. cyclictest started on a whole second).
    ///   - wakePhase: with `delay`, the LED-on deadlines fall on this phase of the period (ns after a
    ///     multiple of the period on CLOCK_MONOTONIC, as cyclictest's `--secaligned` offset): two
    ///     timelines measured side by side then keep a fixed distance.
    public func runUntilStopped(timelineStartsInNanoseconds delay: Int64? = nil, notBefore: Int64? = nil,
                                wakePhase: Int64? = nil) {
        RealtimeThreadMarker.markCurrentThread(true)
        defer { RealtimeThreadMarker.markCurrentThread(false) }
        touchMemory()
        if let delay {
            firstTriggerNanoseconds = Self.firstLedOn(earliest: max(clock.monotonicNanoseconds + max(0, delay), notBefore ?? .min),
                                                      period: timing.periodNanoseconds, phase: wakePhase)
                + timing.ledLeadNanoseconds
        }
        var k: Int64 = 0
        var before = ThreadCounters()
        var sleepsBefore = 0
        while k < frameLimit && !stopRequested.load(ordering: .relaxed) {
            let r = fire(frame: k)
            push(r)
            if r.lineFailed { break }
            // One system call after frame 0 (not on its deadline path): faults from here on count.
            if k == 0 { before = ThreadCounters.now(); sleepsBefore = sleeps }
            k += 1
        }
        if k > 0 {
            let after = ThreadCounters.now()
            pageFaultsInLoop = after.pageFaults - before.pageFaults
            voluntarySwitchesInLoop = after.voluntarySwitches - before.voluntarySwitches
            involuntarySwitchesInLoop = after.involuntarySwitches - before.involuntarySwitches
            sleepsInLoop = sleeps - sleepsBefore
        }
        try? led?.set(false)
        try? trigger?.set(false)
    }
}

/// Marks the threads running an exposure loop's real-time body (`ExposureLoop.runUntilStopped`), so
/// code the loop calls through a protocol (firmware-sim's GPIO chip) can leave work that locks or
/// allocates to another thread. Reading the mark is one thread-specific-data load: no lock.
public enum RealtimeThreadMarker {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// True on a thread inside `ExposureLoop.runUntilStopped`.
    public static var isCurrentThreadRealtime: Bool { pthread_getspecific(key) != nil }

    /// Marks (or unmarks) the calling thread.
    public static func markCurrentThread(_ realtime: Bool) {
        pthread_setspecific(key, realtime ? UnsafeRawPointer(bitPattern: 1) : nil)
    }
}

extension ExposureLoop {
    /// The first LED-on deadline at or after `earliest`, on `phase` of the period when one is given.
    static func firstLedOn(earliest: Int64, period: Int64, phase: Int64?) -> Int64 {
        guard let phase, period > 0 else { return earliest }
        let p = ((phase % period) + period) % period
        let r = ((earliest - p) % period + period) % period
        return r == 0 ? earliest : earliest + (period - r)
    }
}

/// The calling thread's page faults and context switches so far (getrusage).
struct ThreadCounters {
    var pageFaults = 0, voluntarySwitches = 0, involuntarySwitches = 0

    static func now() -> ThreadCounters {
        var usage = rusage()
        // RUSAGE_THREAD (1) is behind _GNU_SOURCE and not imported.
        guard getrusage(__rusage_who_t(1), &usage) == 0 else { return ThreadCounters() }
        return ThreadCounters(pageFaults: usage.ru_minflt + usage.ru_majflt, voluntarySwitches: usage.ru_nvcsw,
                              involuntarySwitches: usage.ru_nivcsw)
    }
}
