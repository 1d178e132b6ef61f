import Rig
import Testing

private let ms: Int64 = 1_000_000

@Test func triggeredFramesMatchInOrderAndGapsAreMissing() {
    var a = TriggerFrameAudit(mode: .software, toleranceNanoseconds: 1 * ms, lateAfterNanoseconds: 50 * ms)
    for i in 0..<5 { a.trigger(index: Int64(i), atNanoseconds: Int64(i) * 100 * ms) }
    #expect(a.frame(exposureStartNanoseconds: 0 * ms + 10_000, receivedNanoseconds: 5 * ms) == .matched(triggerIndex: 0, late: false))
    #expect(a.frame(exposureStartNanoseconds: 100 * ms + 10_000, receivedNanoseconds: 190 * ms) == .matched(triggerIndex: 1, late: true))
    // Trigger 2's frame never comes; the frame starting after trigger 3 matches 3 and 2 is missing.
    #expect(a.frame(exposureStartNanoseconds: 300 * ms + 10_000, receivedNanoseconds: 305 * ms) == .matched(triggerIndex: 3, late: false))
    #expect(a.takeMissing() == [2])
    // A frame with no trigger near it is extra.
    #expect(a.frame(exposureStartNanoseconds: 350 * ms, receivedNanoseconds: 355 * ms) == .extra)
    a.expire(before: 1000 * ms)
    #expect(a.takeMissing() == [4])
    #expect(a.matched == 3 && a.missing == 2 && a.extra == 1 && a.late == 1 && a.pending == 0)
}

@Test func freeRunningFramesAreCaughtByNearestTimestamp() {
    // Intended exposures every 100 ms; the camera free-runs at 10 Hz with a 30 ms phase and one frame lost.
    var a = TriggerFrameAudit(mode: .freeRunning, toleranceNanoseconds: 50 * ms, lateAfterNanoseconds: 80 * ms)
    for i in 0..<4 { a.trigger(index: Int64(i), atNanoseconds: Int64(i) * 100 * ms) }
    #expect(a.frame(exposureStartNanoseconds: 30 * ms, receivedNanoseconds: 40 * ms) == .matched(triggerIndex: 0, late: false))
    #expect(a.frame(exposureStartNanoseconds: 230 * ms, receivedNanoseconds: 240 * ms) == .matched(triggerIndex: 2, late: false))
    #expect(a.takeMissing() == [1], "the camera skipped the exposure nearest 100 ms")
    #expect(a.frame(exposureStartNanoseconds: 160 * ms, receivedNanoseconds: 170 * ms) == .extra, "no open exposure near 160 ms: extra")
    #expect(a.matched == 2 && a.missing == 1 && a.extra == 1 && a.pending == 1)
}
