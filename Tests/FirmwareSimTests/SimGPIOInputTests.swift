import Foundation
import Rig
import Testing
@testable import FirmwareSim

private let ms: Int64 = 1_000_000

@Test func instrumentPulsesArriveWithTheirTimesAndSequenceNumbers() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let t0 = clock.monotonicNanoseconds
    let line = SimGPIOChip.instrumentTriggerOffset
    #expect(try chip.lineOffset(named: "trigger-in") == line)
    // One pulse before the request: the kernel does not report edges from before a request.
    chip.scheduleInputPulses(line: line, risingAtNanoseconds: [t0 + 1 * ms], widthNanoseconds: 2 * ms)
    clock.sleep(untilNanoseconds: t0 + 5 * ms)
    let input = try chip.requestEdgeInput(offset: line, consumer: "follow", edge: .rising)
    #expect(input.name == "trigger-in")
    chip.scheduleInputPulses(line: line, risingAtNanoseconds: [t0 + 10 * ms, t0 + 30 * ms, t0 + 20 * ms], widthNanoseconds: 2 * ms)
    #expect(try input.waitEdges(timeoutNanoseconds: 0) == 0)      // nothing yet: the clock is at +5 ms
    clock.sleep(untilNanoseconds: t0 + 25 * ms)
    #expect(try input.waitEdges(timeoutNanoseconds: 0) == 2)
    var buffer = [EdgeEvent](repeating: EdgeEvent(), count: 1)
    #expect(try input.readEdges(into: &buffer) == 1)              // as many as the buffer holds
    #expect(buffer[0] == EdgeEvent(monotonicNanoseconds: t0 + 10 * ms, kind: .rising, lineOffset: line, globalSequence: 1, lineSequence: 1))
    clock.sleep(untilNanoseconds: t0 + 40 * ms)
    buffer = [EdgeEvent](repeating: EdgeEvent(), count: 8)
    #expect(try input.readEdges(into: &buffer) == 2)
    #expect(buffer[0].monotonicNanoseconds == t0 + 20 * ms)
    #expect(buffer[1] == EdgeEvent(monotonicNanoseconds: t0 + 30 * ms, kind: .rising, lineOffset: line, globalSequence: 3, lineSequence: 3))
    #expect(try input.readEdges(into: &buffer) == 0)
    #expect(!chip.inputLevel(ofLine: line))
}

@Test func bothEdgesAndActiveLowAreReportedLikeTheKernel() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let t0 = clock.monotonicNanoseconds
    let input = try chip.requestInput(offset: 2, consumer: "t", settings: EdgeInputSettings(edge: .both, activeLow: true))
    chip.driveInput(line: 2, high: true, atNanoseconds: t0 + 1 * ms)
    chip.driveInput(line: 2, high: true, atNanoseconds: t0 + 2 * ms)      // same level: no edge
    chip.driveInput(line: 2, high: false, atNanoseconds: t0 + 3 * ms)
    clock.sleep(untilNanoseconds: t0 + 4 * ms)
    var events = [EdgeEvent](repeating: EdgeEvent(), count: 4)
    #expect(try input.readEdges(into: &events) == 2)
    // Active-low: the wire's rise is the line's falling edge.
    #expect(events[0].kind == .falling)
    #expect(events[0].monotonicNanoseconds == t0 + 1 * ms)
    #expect(events[1].kind == .rising)
    #expect(events[1].globalSequence == 2)
}

@Test func aFullKernelQueueDropsTheOldestAndTheSequenceShowsIt() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let t0 = clock.monotonicNanoseconds
    let input = try chip.requestInput(offset: 2, consumer: "t", settings: EdgeInputSettings(edge: .rising, kernelEventBufferSize: 4))
    chip.scheduleInputPulses(line: 2, risingAtNanoseconds: (1...10).map { t0 + Int64($0) * ms }, widthNanoseconds: ms / 2)
    clock.sleep(untilNanoseconds: t0 + 20 * ms)
    var events = [EdgeEvent](repeating: EdgeEvent(), count: 16)
    #expect(try input.readEdges(into: &events) == 4)
    #expect(events.prefix(4).map(\.globalSequence) == [7, 8, 9, 10])
    #expect(events[0].monotonicNanoseconds == t0 + 7 * ms)
}

@Test func inputFaultsLoseEdgesOrFailTheLine() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let t0 = clock.monotonicNanoseconds
    let input = try chip.requestEdgeInput(offset: 2, consumer: "t", edge: .rising)
    var events = [EdgeEvent](repeating: EdgeEvent(), count: 16)
    // Dropped inside the kernel: sequence numbers jump over them.
    chip.injectInputFault(line: 2, .dropEdges(count: 2))
    chip.scheduleInputPulses(line: 2, risingAtNanoseconds: (1...4).map { t0 + Int64($0) * ms }, widthNanoseconds: ms / 2)
    clock.sleep(untilNanoseconds: t0 + 5 * ms)
    #expect(try input.readEdges(into: &events) == 2)
    #expect(events.prefix(2).map(\.globalSequence) == [3, 4])
    // Missed on the wire: no trace at all.
    chip.injectInputFault(line: 2, .missEdges(count: 1))
    chip.scheduleInputPulses(line: 2, risingAtNanoseconds: [t0 + 6 * ms, t0 + 7 * ms], widthNanoseconds: ms / 2)
    clock.sleep(untilNanoseconds: t0 + 8 * ms)
    #expect(try input.readEdges(into: &events) == 1)
    #expect(events[0] == EdgeEvent(monotonicNanoseconds: t0 + 7 * ms, kind: .rising, lineOffset: 2, globalSequence: 5, lineSequence: 5))
    // The line fails: waits and reads throw until the fault is cleared.
    chip.injectInputFault(line: 2, .lineError(reason: "ENODEV (simulated unbind)"))
    #expect(throws: GPIOError.io(chip: "gpiochip-sim", line: "trigger-in", reason: "ENODEV (simulated unbind)")) { _ = try input.waitEdges(timeoutNanoseconds: 0) }
    #expect(throws: GPIOError.io(chip: "gpiochip-sim", line: "trigger-in", reason: "ENODEV (simulated unbind)")) { _ = try input.readEdges(into: &events) }
    chip.injectInputFault(line: 2, nil)
    #expect(try input.waitEdges(timeoutNanoseconds: 0) == 0)
}

@Test func inputLinesAreRequestedOnceAndReleased() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let input = try chip.requestEdgeInput(offset: 2, consumer: "follow", edge: .rising)
    #expect(throws: GPIOError.busy(chip: "gpiochip-sim", line: "trigger-in", consumer: "follow")) {
        _ = try chip.requestOutput(offset: 2, consumer: "other", initialHigh: false)
    }
    #expect(throws: GPIOError.busy(chip: "gpiochip-sim", line: "led", consumer: "operando")) {
        _ = try chip.requestOutput(offset: 0, consumer: "operando", initialHigh: false)
        _ = try chip.requestEdgeInput(offset: 0, consumer: "x", edge: .rising)
    }
    #expect(throws: GPIOError.noSuchLine(chip: "gpiochip-sim", line: "offset 42")) { _ = try chip.requestEdgeInput(offset: 42, consumer: "x", edge: .rising) }
    input.release()
    #expect(chip.consumer(ofLine: 2) == nil)
    var events = [EdgeEvent](repeating: EdgeEvent(), count: 1)
    #expect(throws: GPIOError.notRequested(chip: "gpiochip-sim", line: "trigger-in")) { _ = try input.readEdges(into: &events) }
    #expect(throws: GPIOError.notRequested(chip: "gpiochip-sim", line: "trigger-in")) { _ = try input.waitEdges(timeoutNanoseconds: 0) }
    _ = try chip.requestEdgeInput(offset: 2, consumer: "again", edge: .falling)
}

@Test func waitingOnTheVirtualClockEndsWhenTimeMovesOrTheTimeoutPasses() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let t0 = clock.monotonicNanoseconds
    let input = try chip.requestEdgeInput(offset: 2, consumer: "t", edge: .rising)
    // Nobody drives the clock: the wait gives up after its timeout in real time too.
    var start = ContinuousClock.now
    #expect(try input.waitEdges(timeoutNanoseconds: 20 * ms) == 0)
    #expect(ContinuousClock.now - start >= .milliseconds(19))
    // Another thread moves the clock past an edge: the wait returns with it.
    chip.driveInput(line: 2, high: true, atNanoseconds: t0 + 50 * ms)
    let mover = Thread { Thread.sleep(forTimeInterval: 0.01); clock.sleep(untilNanoseconds: t0 + 60 * ms) }
    start = ContinuousClock.now
    mover.start()
    #expect(try input.waitEdges(timeoutNanoseconds: 10_000 * ms) == 1)
    #expect(ContinuousClock.now - start < .seconds(5))
}
