import Testing
@testable import FirmwareSim

@Test func virtualClockStartsNearA32BitWrapAndJumpsToDeadlines() {
    let clock = VirtualClock()
    let t0 = clock.monotonicNanoseconds
    #expect(t0 == VirtualClock.defaultStartNanoseconds)
    #expect(UInt32(truncatingIfNeeded: t0) > UInt32.max - 1_000_000_001)
    #expect(clock.isVirtual)
    clock.sleep(untilNanoseconds: t0 + 6 * 3600 * 1_000_000_000)
    #expect(clock.monotonicNanoseconds == t0 + 6 * 3600 * 1_000_000_000)
    clock.sleep(untilNanoseconds: t0)   // a passed deadline returns at once, time never goes back
    #expect(clock.monotonicNanoseconds == t0 + 6 * 3600 * 1_000_000_000)
}

@Test func wallClockAdvancesOnItsOwn() {
    let clock = WallClock()
    let a = clock.monotonicNanoseconds
    clock.sleep(untilNanoseconds: a + 2_000_000)
    #expect(clock.monotonicNanoseconds >= a + 2_000_000)
    #expect(!clock.isVirtual)
}
