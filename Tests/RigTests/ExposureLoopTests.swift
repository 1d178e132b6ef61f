import FirmwareSim
import Foundation
import Rig
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
