import FirmwareSim
import Foundation
import Rig
import Testing

private let ms: Int64 = 1_000_000

/// Runs the virtual clock forward in 1 ms steps to `end`, draining the recorder as the engine would.
private func drive(_ clock: VirtualClock, to end: Int64, draining recorder: EdgeRecorder, into out: inout [EdgeEvent]) {
    var t = clock.monotonicNanoseconds
    while t < end {
        t += ms
        clock.sleep(untilNanoseconds: t)
        if t % (10 * ms) == 0 { usleep(300) }    // give the reader a moment, as a real loop's sleeps do
        recorder.drain(into: &out)
    }
}

@Test func recorderCollectsEveryInstrumentEdgeInOrder() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let t0 = clock.monotonicNanoseconds
    let input = try chip.requestEdgeInput(offset: SimGPIOChip.instrumentTriggerOffset, consumer: "follow", edge: .rising)
    let times = (1...200).map { t0 + Int64($0) * 7 * ms }
    chip.scheduleInputPulses(line: SimGPIOChip.instrumentTriggerOffset, risingAtNanoseconds: times, widthNanoseconds: 2 * ms)
    let recorder = EdgeRecorder(input: input, capacity: 1024, pollNanoseconds: 5 * ms)
    try recorder.start()
    #expect(recorder.isRunning)
    var edges: [EdgeEvent] = []
    drive(clock, to: t0 + 1500 * ms, draining: recorder, into: &edges)
    // Let the reader see the last edges, then stop it.
    let deadline = ContinuousClock.now + .seconds(5)
    while edges.count < times.count && ContinuousClock.now < deadline { usleep(1000); recorder.drain(into: &edges) }
    recorder.stop()
    #expect(!recorder.isRunning)
    recorder.drain(into: &edges)
    #expect(edges.map(\.monotonicNanoseconds) == times)
    #expect(edges.map(\.globalSequence) == (1...200).map { UInt64($0) })
    #expect(edges.allSatisfy { $0.kind == .rising && $0.lineOffset == 2 })
    #expect(recorder.overflowCount == 0)
    #expect(recorder.kernelDroppedCount == 0)
    #expect(recorder.recordedCount == 200)
    #expect(recorder.error == nil)
}

@Test func recorderCountsRingOverflowAndKernelDrops() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let t0 = clock.monotonicNanoseconds
    let input = try chip.requestInput(offset: 2, consumer: "follow", settings: EdgeInputSettings(edge: .rising, kernelEventBufferSize: 64))
    chip.injectInputFault(line: 2, .dropEdges(count: 3))
    chip.scheduleInputPulses(line: 2, risingAtNanoseconds: (1...40).map { t0 + Int64($0) * ms }, widthNanoseconds: ms / 2)
    // A 16-edge ring nobody drains: 37 edges arrive, 16 fit.
    let recorder = EdgeRecorder(input: input, capacity: 16, pollNanoseconds: 2 * ms)
    try recorder.start()
    clock.sleep(untilNanoseconds: t0 + 50 * ms)
    let deadline = ContinuousClock.now + .seconds(5)
    while recorder.recordedCount + recorder.overflowCount < 37 && ContinuousClock.now < deadline { usleep(1000) }
    recorder.stop()
    #expect(recorder.recordedCount == 16)
    #expect(recorder.overflowCount == 21)
    #expect(recorder.kernelDroppedCount == 3)    // the first seen edge is number 4
    var edges: [EdgeEvent] = []
    #expect(recorder.drain(into: &edges) == 16)
    #expect(edges.first?.globalSequence == 4)

    // Drops between seen edges are counted from the sequence gap.
    let clock2 = VirtualClock()
    let chip2 = SimGPIOChip(clock: clock2)
    let s0 = clock2.monotonicNanoseconds
    let input2 = try chip2.requestEdgeInput(offset: 2, consumer: "follow", edge: .rising)
    chip2.scheduleInputPulses(line: 2, risingAtNanoseconds: [s0 + ms], widthNanoseconds: ms / 2)
    let r2 = EdgeRecorder(input: input2, pollNanoseconds: 2 * ms)
    try r2.start()
    clock2.sleep(untilNanoseconds: s0 + 2 * ms)
    var seen: [EdgeEvent] = []
    let d2 = ContinuousClock.now + .seconds(5)
    while seen.isEmpty && ContinuousClock.now < d2 { usleep(1000); r2.drain(into: &seen) }
    chip2.injectInputFault(line: 2, .dropEdges(count: 2))
    chip2.scheduleInputPulses(line: 2, risingAtNanoseconds: [s0 + 3 * ms, s0 + 4 * ms, s0 + 5 * ms], widthNanoseconds: ms / 2)
    clock2.sleep(untilNanoseconds: s0 + 6 * ms)
    while seen.count < 2 && ContinuousClock.now < d2 { usleep(1000); r2.drain(into: &seen) }
    r2.stop()
    #expect(seen.map(\.globalSequence) == [1, 4])
    #expect(r2.kernelDroppedCount == 2)
}

@Test func aSixteenEdgeKernelQueueOnTheVirtualClockLosesEdgesAndTheRecorderSaysHowMany() throws {
    // The real kernel's default queue: a rig clock that jumps 300 ms at once overruns it.
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let t0 = clock.monotonicNanoseconds
    let input = try chip.requestInput(offset: 2, consumer: "follow", settings: EdgeInputSettings(edge: .rising, kernelEventBufferSize: 16))
    chip.scheduleInputPulses(line: 2, risingAtNanoseconds: (1...30).map { t0 + Int64($0) * 10 * ms }, widthNanoseconds: ms)
    let recorder = EdgeRecorder(input: input, pollNanoseconds: 2 * ms)
    try recorder.start()
    clock.sleep(untilNanoseconds: t0 + 400 * ms)
    var edges: [EdgeEvent] = []
    let deadline = ContinuousClock.now + .seconds(5)
    while edges.count < 16 && ContinuousClock.now < deadline { usleep(1000); recorder.drain(into: &edges) }
    recorder.stop()
    #expect(edges.count == 16)
    #expect(recorder.kernelDroppedCount == 14)
    #expect(edges.first?.globalSequence == 15)
}

@Test func recorderStopsOnALineErrorAndKeepsIt() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    let input = try chip.requestEdgeInput(offset: 2, consumer: "follow", edge: .rising)
    let recorder = EdgeRecorder(input: input, pollNanoseconds: 2 * ms)
    try recorder.start()
    chip.injectInputFault(line: 2, .lineError(reason: "EIO (simulated)"))
    let deadline = ContinuousClock.now + .seconds(5)
    while recorder.isRunning && ContinuousClock.now < deadline { usleep(1000) }
    #expect(!recorder.isRunning)
    #expect(recorder.error == GPIOError.io(chip: "gpiochip-sim", line: "trigger-in", reason: "EIO (simulated)"))
    recorder.stop()     // joins a finished thread; idempotent
    recorder.stop()
}
