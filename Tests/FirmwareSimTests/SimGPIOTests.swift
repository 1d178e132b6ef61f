import Rig
import Testing
@testable import FirmwareSim

@Test func gpioLinesFollowLibgpiodV1Semantics() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    #expect(try chip.offset(ofLine: "led") == SimGPIOChip.ledOffset)
    #expect(try chip.offset(ofLine: "trigger") == SimGPIOChip.triggerOffset)
    #expect(throws: GPIOError.noSuchLine(chip: "gpiochip-sim", line: "shutter")) { try chip.offset(ofLine: "shutter") }
    #expect(throws: GPIOError.noSuchLine(chip: "gpiochip-sim", line: "offset 99")) {
        _ = try chip.requestOutput(offset: 99, consumer: "a", initialHigh: false)
    }
    let led = try chip.requestOutput(offset: 0, consumer: "operando", initialHigh: false)
    #expect(led.name == "led")
    // EBUSY: a second request of a held line names the holder.
    #expect(throws: GPIOError.busy(chip: "gpiochip-sim", line: "led", consumer: "operando")) {
        _ = try chip.requestOutput(offset: 0, consumer: "other", initialHigh: true)
    }
    try led.set(true)
    #expect(chip.value(ofLine: 0))
    led.release()
    #expect(!chip.value(ofLine: 0))      // released lines are driven low
    #expect(chip.consumer(ofLine: 0) == nil)
    #expect(throws: GPIOError.notRequested(chip: "gpiochip-sim", line: "led")) { try led.set(true) }
    // Released: another consumer may take it.
    let again = try chip.requestOutput(offset: 0, consumer: "other", initialHigh: true)
    #expect(chip.value(ofLine: 0))
    again.release()
}

@Test func everyEdgeIsLoggedWithItsClockTime() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let t0 = clock.monotonicNanoseconds
    let led = try chip.requestOutput(offset: SimGPIOChip.ledOffset, consumer: "t", initialHigh: false)
    let trig = try chip.requestOutput(offset: SimGPIOChip.triggerOffset, consumer: "t", initialHigh: false)
    try led.set(true)
    clock.sleep(untilNanoseconds: t0 + 200_000)
    try trig.set(true)
    try trig.set(true)                  // no transition, no edge
    try trig.set(false)
    clock.sleep(untilNanoseconds: t0 + 3_000_000)
    try led.set(false)
    let edges = chip.edges()
    #expect(edges == [
        GPIOEdge(lineOffset: 0, rising: true, monotonicNanoseconds: t0),
        GPIOEdge(lineOffset: 1, rising: true, monotonicNanoseconds: t0 + 200_000),
        GPIOEdge(lineOffset: 1, rising: false, monotonicNanoseconds: t0 + 200_000),
        GPIOEdge(lineOffset: 0, rising: false, monotonicNanoseconds: t0 + 3_000_000),
    ])
    #expect(chip.edges(line: 0).count == 2)
    // LED-on time inside windows: fully inside, partly, and before the LED came on.
    #expect(chip.highNanoseconds(line: 0, from: t0 + 1_000_000, to: t0 + 2_000_000) == 1_000_000)
    #expect(chip.highNanoseconds(line: 0, from: t0 + 2_500_000, to: t0 + 3_500_000) == 500_000)
    #expect(chip.highNanoseconds(line: 0, from: t0 - 1_000_000, to: t0) == 0)
    #expect(chip.highNanoseconds(line: 0, from: t0 + 4_000_000, to: t0 + 5_000_000) == 0)
}

@Test func gpioIOFaultSurfacesAsGPIOErrorIO() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let trig = try chip.requestOutput(offset: 1, consumer: "t", initialHigh: false)
    chip.injectIOFault(line: 1, reason: "EIO (simulated fault)", atNanoseconds: clock.monotonicNanoseconds + 1_000)
    try trig.set(true)                  // before the fault time
    clock.advance(bySeconds: 1e-6)
    #expect(throws: GPIOError.io(chip: "gpiochip-sim", line: "trigger", reason: "EIO (simulated fault)")) { try trig.set(false) }
    chip.injectIOFault(line: 1, reason: nil)
    try trig.set(false)
}

@Test func onlyTheSimChipExists() throws {
    let rig = try SimRig(configuration: SimConfiguration())
    #expect(try rig.openChip(named: "gpiochip-sim") === rig.chip)
    #expect(throws: GPIOError.chipUnavailable(chip: "gpiochip0", reason: "no such device")) { _ = try rig.openChip(named: "gpiochip0") }
}
