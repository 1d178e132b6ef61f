import Foundation
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

// Issue 17: on the exposure loop's real-time thread (real clock) `set` only writes the edge ring; the
// observers hear every edge, in order, from the chip's dispatcher thread instead.
@Test func realtimeThreadEdgesReachObserversFromTheDispatcher() throws {
    let chip = SimGPIOChip(clock: MonotonicClock())
    final class Heard: @unchecked Sendable {
        let lock = NSLock()
        var edges: [(UInt32, Bool)] = []
        var onDriver = 0
    }
    let heard = Heard()
    final class Flag: @unchecked Sendable { var value = false }   // written before `done` is signalled
    let driverMarked = Flag()
    chip.addEdgeObserver { offset, rising, _ in
        heard.lock.lock(); defer { heard.lock.unlock() }
        heard.edges.append((offset, rising))
        if RealtimeThreadMarker.isCurrentThreadRealtime { heard.onDriver += 1 }
    }
    nonisolated(unsafe) let led = try chip.requestLine(offset: SimGPIOChip.ledOffset, consumer: "t", initialHigh: false)
    nonisolated(unsafe) let trigger = try chip.requestLine(offset: SimGPIOChip.triggerOffset, consumer: "t", initialHigh: false)
    let done = DispatchSemaphore(value: 0)
    let driver = Thread {
        RealtimeThreadMarker.markCurrentThread(true)
        driverMarked.value = RealtimeThreadMarker.isCurrentThreadRealtime
        for _ in 0..<100 {
            try? led.set(true); try? trigger.set(true); try? trigger.set(false); try? led.set(false)
        }
        RealtimeThreadMarker.markCurrentThread(false)
        done.signal()
    }
    driver.start()
    done.wait()
    #expect(driverMarked.value)
    #expect(!RealtimeThreadMarker.isCurrentThreadRealtime)
    // The dispatcher polls every 0.5 ms; give it up to 2 s on a loaded machine.
    let deadline = Date().addingTimeInterval(2)
    while Date() < deadline {
        heard.lock.lock(); let n = heard.edges.count; heard.lock.unlock()
        if n == 400 { break }
        usleep(1000)
    }
    heard.lock.lock(); defer { heard.lock.unlock() }
    #expect(heard.edges.count == 400)
    #expect(heard.onDriver == 0)
    let expected: [(UInt32, Bool)] = [(0, true), (1, true), (1, false), (0, false)]
    #expect(heard.edges.enumerated().allSatisfy { $0.element == expected[$0.offset % 4] })
    #expect(chip.undeliveredEdgeCount == 0)
    #expect(chip.edgeCount == 400)
}

// The edge log is read beside a thread writing it (the camera beside the loop): every read sees a
// consistent history, even while the ring wraps under it.
@Test func edgeLogReadsStayConsistentBesideAWriter() throws {
    let clock = MonotonicClock()
    let chip = SimGPIOChip(clock: clock, edgeLogCapacity: 256)
    nonisolated(unsafe) let led = try chip.requestLine(offset: SimGPIOChip.ledOffset, consumer: "t", initialHigh: false)
    let done = DispatchSemaphore(value: 0)
    Thread {
        RealtimeThreadMarker.markCurrentThread(true)
        for k in 0..<200_000 { try? led.set(k % 2 == 0) }
        done.signal()
    }.start()
    var reads = 0
    var inconsistent = 0
    // Read until the writer is done (and at least once).
    while reads == 0 || done.wait(timeout: .now()) == .timedOut {
        let e = chip.edges(line: SimGPIOChip.ledOffset)
        // One line's edges alternate and never go back in time.
        for (a, b) in zip(e, e.dropFirst()) where a.rising == b.rising || b.monotonicNanoseconds < a.monotonicNanoseconds {
            inconsistent += 1
        }
        let now = clock.monotonicNanoseconds
        let high = chip.highNanoseconds(line: SimGPIOChip.ledOffset, from: now - 1_000_000, to: now)
        if high < 0 || high > 1_000_000 { inconsistent += 1 }
        reads += 1
    }
    #expect(reads > 0)
    #expect(inconsistent == 0)
    #expect(chip.edgeCount == 200_000)   // the initial low request drives no edge
    #expect(chip.edges().count == 256)
}

// On the virtual clock (one thread) the observers hear each edge before `set` returns, as before.
@Test func virtualClockObserversHearEdgesBeforeSetReturns() throws {
    let clock = VirtualClock()
    let chip = SimGPIOChip(clock: clock)
    var heard: [Bool] = []
    chip.addEdgeObserver { _, rising, _ in heard.append(rising) }
    let trigger = try chip.requestLine(offset: SimGPIOChip.triggerOffset, consumer: "t", initialHigh: false)
    try trigger.set(true)
    #expect(heard == [true])
    try trigger.set(false)
    #expect(heard == [true, false])
}
