import FirmwareSim
import Foundation
@testable import Rig
import Testing

// Issue 17: the loop on its real-time thread marks the thread, drives the sim chip's lines without
// calling the observers there, records each trigger edge's lateness and takes no page fault in the loop.
@Test func realClockLoopDrivesSimLinesOffItsObservers() throws {
    let chip = SimGPIOChip(clock: MonotonicClock())
    final class Seen: @unchecked Sendable { var triggers = 0; var onLoopThread = 0 }
    let seen = Seen()
    let lock = NSLock()
    chip.addEdgeObserver { offset, rising, _ in
        lock.lock(); defer { lock.unlock() }
        if offset == SimGPIOChip.triggerOffset && rising { seen.triggers += 1 }
        if RealtimeThreadMarker.isCurrentThreadRealtime { seen.onLoopThread += 1 }
    }
    let led = try chip.requestLine(offset: SimGPIOChip.ledOffset, consumer: "t", initialHigh: false)
    let trigger = try chip.requestLine(offset: SimGPIOChip.triggerOffset, consumer: "t", initialHigh: false)
    let timing = ExposureTiming(periodNanoseconds: 2_000_000, ledLeadNanoseconds: 200_000, exposureNanoseconds: 500_000,
                                ledTailNanoseconds: 100_000, missMarginNanoseconds: 50_000_000)
    let r = try LatencyProbe.run(timing: timing, seconds: 0.2, priority: 80, led: led, trigger: trigger)
    chip.deliverPendingEdges()
    lock.lock(); defer { lock.unlock() }
    #expect(r.histogram.count == 100)
    // Loose bounds: a shared VM, SCHED_FIFO possibly refused.
    #expect(r.missed <= 50)
    #expect(r.triggerLateness.count == UInt64(100 - r.missed))
    #expect(seen.triggers == 100 - r.missed)
    #expect(seen.onLoopThread == 0)
    #expect(!chip.value(ofLine: SimGPIOChip.ledOffset))
    if r.report.memoryLocked { #expect(r.pageFaults == 0) }
    #expect(!RealtimeThreadMarker.isCurrentThreadRealtime)
}

// Issue 17: another thread reading the histograms while the loop runs (the run's status does, every
// status line) costs the loop nothing: no copy of their storage on its thread, hence no page fault,
// and it blocks on nothing but its own sleeps.
@Test func histogramReadsBesideARunningLoopCostItNothing() throws {
    let timing = ExposureTiming(periodNanoseconds: 1_000_000, ledLeadNanoseconds: 100_000, exposureNanoseconds: 300_000,
                                ledTailNanoseconds: 50_000, missMarginNanoseconds: 50_000_000)
    let clock = MonotonicClock()
    let loop = ExposureLoop(clock: clock, led: nil, trigger: nil, timing: timing,
                            firstTriggerNanoseconds: clock.monotonicNanoseconds + 200_000_000, frameLimit: 300)
    let thread = RealtimeThread { loop.runUntilStopped(timelineStartsInNanoseconds: 10_000_000) }
    try thread.start(priority: 80)
    final class Reads: @unchecked Sendable { var snapshots = 0; var lastCount: UInt64 = 0 }
    let reads = Reads()
    let done = DispatchSemaphore(value: 0)
    Thread {
        // Until the loop has fired every frame: a snapshot of each histogram, back to back.
        while loop.latency.count < 300 {
            reads.lastCount = loop.triggerLateness.count
            reads.snapshots += 1
        }
        done.signal()
    }.start()
    thread.join()
    done.wait()
    #expect(reads.snapshots > 10)
    #expect(loop.latency.count == 300)
    #expect(loop.triggerLateness.count == UInt64(300 - loop.missedDeadlines))
    if thread.report.memoryLocked { #expect(loop.pageFaultsInLoop == 0) }
    // Up to three deadlines a frame (LED on, trigger, LED off; a late wake-up skips the passed
    // trigger deadline), each at most one voluntary switch.
    #expect(loop.sleepsInLoop <= 3 * 299 && loop.sleepsInLoop >= 2 * 299)
    #expect(loop.voluntarySwitchesInLoop <= loop.sleepsInLoop)
}

// Issue 17: with a zero-length exposure the LED-off deadline has passed when it is reached: the
// loop does not sleep to it (two system sleeps a frame, LED on and trigger).
@Test func passedDeadlineIsNotSleptTo() throws {
    let r = try LatencyProbe.run(periodNanoseconds: 1_000_000, seconds: 0.1, priority: 80)
    #expect(r.histogram.count == 100)
    #expect(r.sleeps <= 2 * 99 && r.sleeps >= 99)
    #expect(r.voluntarySwitches <= r.sleeps)
    #expect(r.wakeLatenessNanoseconds.count == 100)
}

// Issue 17: the probe can start beside another timeline: not before a given time, its wake-ups on a
// given phase of the period (as cyclictest's `--secaligned`), each one's exact lateness returned.
@Test func probeTimelineStartsOnThePhaseAsked() throws {
    let clock = MonotonicClock()
    let period: Int64 = 2_000_000
    let notBefore = clock.monotonicNanoseconds + 50_000_000
    let r = try LatencyProbe.run(timing: LatencyProbe.benchmarkTiming(periodNanoseconds: period), frames: 25, priority: 80,
                                 notBefore: notBefore, wakePhase: 1_500_000)
    // Not before the time asked, and on the phase asked. (How soon after it depends on how fast the
    // probe's thread starts: on a loaded CI machine it started 68 ms late, so no upper bound.)
    #expect(r.firstWakeNanoseconds >= notBefore)
    #expect(r.firstWakeNanoseconds % period == 1_500_000)
    #expect(r.wakeLatenessNanoseconds.count == 25)
    #expect(r.wakeLatenessNanoseconds.allSatisfy { $0 >= 0 })
    let h = r.histogram
    #expect(h.count == 25)
    #expect(Double(r.wakeLatenessNanoseconds.max()!) / 1000 == h.maxMicroseconds)
}

@Test(arguments: [(Int64(1_000), Int64(1_000_000), Int64(250_000), Int64(250_000)),
                  (Int64(250_000), Int64(1_000_000), Int64(250_000), Int64(250_000)),
                  (Int64(250_001), Int64(1_000_000), Int64(250_000), Int64(1_250_000)),
                  (Int64(7_300_000), Int64(100_000_000), Int64(-25_000_000), Int64(75_000_000)),
                  (Int64(42), Int64(1_000_000), nil as Int64?, Int64(42))])
func firstLedOnRoundsUpToThePhase(earliest: Int64, period: Int64, phase: Int64?, expected: Int64) {
    #expect(ExposureLoop.firstLedOn(earliest: earliest, period: period, phase: phase) == expected)
}

// Issue 17: after a late frame the loop's timeline stays fixed, so the frames whose deadlines passed
// meanwhile are reached late without a wait of their own; cyclictest takes no sample for such periods.
// `caughtUp` marks them from the records alone: a frame is caught up when its LED-on deadline is at or
// before the end of the frame before it (its wake-up, or its last edge).
@Test func framesReachedPastTheirDeadlineAreCaughtUp() {
    let period: Int64 = 1_000_000, lead: Int64 = 100_000
    func frame(_ k: Int64, lateness: Int64, fired: Bool, lastEdgeAfterWake: Int64 = 20_000) -> FrameEdges {
        var r = FrameEdges()
        r.frame = k
        r.intendedLedOn = 10_000_000 + k * period
        r.intendedTrigger = r.intendedLedOn + lead
        r.latenessNanoseconds = lateness
        if fired {
            r.actualLedOn = r.intendedLedOn + lateness + 1_000
            r.actualTrigger = max(r.intendedTrigger, r.actualLedOn) + 1_000
            r.actualLedOff = r.actualLedOn + lastEdgeAfterWake
        } else {
            r.skipped = true
        }
        return r
    }
    // Frame 2 wakes 4.5 periods late (skipped): frames 3–6 find their deadlines passed (lateness 3.5,
    // 2.5, 1.5, 0.5 periods as the loop goes straight on); frame 7's is ahead again.
    var records = [frame(0, lateness: 30_000, fired: true), frame(1, lateness: 20_000, fired: true),
                   frame(2, lateness: 4_500_000, fired: false)]
    for (k, late) in [(3, 3_500_000), (4, 2_500_000), (5, 1_500_000)] as [(Int64, Int64)] {
        records.append(frame(k, lateness: late, fired: false))
    }
    records.append(frame(6, lateness: 500_010, fired: true))
    records.append(frame(7, lateness: 15_000, fired: true))
    // Frame 8 wakes on time but its trigger edge comes 1.2 periods later (a stalled line): frame 9's
    // deadline passed during it.
    records.append(frame(8, lateness: 10_000, fired: true, lastEdgeAfterWake: 1_200_000))
    records.append(frame(9, lateness: 230_000, fired: true))
    records.append(frame(10, lateness: 12_000, fired: true))
    let caught = LatencyProbe.caughtUp(records)
    #expect(caught == [false, false, false, true, true, true, true, false, false, true, false])
    // A deadline exactly at the previous frame's end counts as passed (the wait would start after it).
    var edge = [frame(0, lateness: period - 100, fired: false), frame(1, lateness: 0, fired: true)]
    edge[1].intendedLedOn = edge[0].intendedLedOn + edge[0].latenessNanoseconds
    #expect(LatencyProbe.caughtUp(edge) == [false, true])
    #expect(LatencyProbe.caughtUp([]) == [])
}

/// A line whose `set(true)` stalls once, on its `stallAt`-th rising edge (counting from 0).
final class StallingLine: DigitalLine, @unchecked Sendable {
    let name = "led"
    let stallAt: Int, stallNanoseconds: Int64
    private var rises = 0
    init(stallAt: Int, stallNanoseconds: Int64) { self.stallAt = stallAt; self.stallNanoseconds = stallNanoseconds }
    func set(_ high: Bool) throws(GPIOError) {
        guard high else { return }
        if rises == stallAt {
            var t = timespec(tv_sec: 0, tv_nsec: Int(stallNanoseconds))
            nanosleep(&t, nil)
        }
        rises += 1
    }
    func release() {}
}

// Issue 17: the benchmark's loop samples are the deadlines the loop waited for. A line that stalls
// 5.5 periods on frame 10's LED-on edge makes frames 11–15 deadlines passed before their waits: they
// are caught up and out of the waited samples, which are the rest, in order.
@Test func aStallLeavesTheFramesItCoveredOutOfTheWaitedSamples() throws {
    let period: Int64 = 1_000_000
    let line = StallingLine(stallAt: 10, stallNanoseconds: 5_500_000)
    let r = try LatencyProbe.run(timing: LatencyProbe.benchmarkTiming(periodNanoseconds: period), frames: 40, priority: 80,
                                 led: line)
    #expect(r.caughtUp.count == 40)
    #expect(!r.caughtUp[0])
    // A loaded machine can only add catch-ups (a late wake-up of its own), not remove these.
    #expect(r.caughtUp[11...15].allSatisfy { $0 })
    #expect(r.wakeLatenessNanoseconds[11] >= 4 * period)
    let waited = r.waitedWakeLatenessNanoseconds
    #expect(!waited.isEmpty)
    #expect(waited == r.wakeLatenessNanoseconds.indices.filter { !r.caughtUp[$0] }.map { r.wakeLatenessNanoseconds[$0] })
}
