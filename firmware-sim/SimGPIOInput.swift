import Foundation
import Rig

/// A fault on a simulated edge-event input line.
public enum SimInputFault: Sendable, Equatable {
    /// The next `count` detected edges are lost inside the "kernel": their sequence numbers are used up
    /// (a reader sees the gap), as when the kernel's event queue overflows.
    case dropEdges(count: Int)
    /// The next `count` detected edges never reach the line (a loose wire): no trace, no sequence gap.
    case missEdges(count: Int)
    /// Every wait and read throws `GPIOError.io` with this reason (the chip went away, EIO/ENODEV).
    case lineError(reason: String)
}

/// The wire into one line from outside: the level an external instrument drives, as a time-ordered
/// list of transitions on the rig's clock, and the edge-event request on it (if any), with a bounded
/// "kernel" queue. Edges happen lazily: a transition takes effect when someone looks at a time past it.
final class SimInputWire: @unchecked Sendable {
    let lock = NSLock()
    // Transitions not yet reached by the clock, oldest first (structure of arrays; `head` moves forward).
    private var times: [Int64] = []
    private var levels: [Bool] = []
    private var head = 0
    /// Wire level as of `reachedNanoseconds`.
    private(set) var level = false
    private var reachedNanoseconds = Int64.min

    // The request.
    var requested: EdgeInputSettings?
    private var requestedAtNanoseconds: Int64 = 0
    private var queue: [EdgeEvent] = []
    private var queueHead = 0
    private(set) var queueCount = 0
    private var globalSequence: UInt64 = 0
    private var lineSequence: UInt64 = 0
    private var dropRemaining = 0
    private var missRemaining = 0
    var lineError: String?

    /// Adds a transition at `t` (clamped to the last one so the list stays ordered, as a real wire's).
    func drive(high: Bool, atNanoseconds t: Int64) {
        lock.lock(); defer { lock.unlock() }
        if head > 1024 && head * 2 > times.count {   // compact now and then, off the reader's path
            times.removeFirst(head); levels.removeFirst(head); head = 0
        }
        let last = max(times.last ?? .min, reachedNanoseconds)
        times.append(max(t, last))
        levels.append(high)
    }

    func setFault(_ fault: SimInputFault?) {
        lock.lock(); defer { lock.unlock() }
        switch fault {
        case nil: dropRemaining = 0; missRemaining = 0; lineError = nil
        case .dropEdges(let n)?: dropRemaining = max(0, n)
        case .missEdges(let n)?: missRemaining = max(0, n)
        case .lineError(let r)?: lineError = r
        }
    }

    /// Starts a request at `now`: transitions up to now happen first (unseen, as before a real request).
    /// The queue holds `kernelEventBufferSize` edges; 0 means the kernel's 16 on a wall clock but 4096 on
    /// the virtual clock, where a reader polling in real time lags by whole seconds of rig time (the rig
    /// jumps from deadline to deadline) and a 16-edge queue would lose edges no real reader would.
    func request(_ settings: EdgeInputSettings, now: Int64, virtualClock: Bool) {
        lock.lock(); defer { lock.unlock() }
        reach(now)
        requested = settings
        requestedAtNanoseconds = now
        let capacity = settings.kernelEventBufferSize > 0 ? settings.kernelEventBufferSize : (virtualClock ? 4096 : 16)
        queue = Array(repeating: EdgeEvent(), count: capacity)
        queueHead = 0; queueCount = 0; globalSequence = 0; lineSequence = 0
    }

    func endRequest() {
        lock.lock(); defer { lock.unlock() }
        requested = nil
        queueCount = 0
    }

    /// Applies every transition up to `now` (call with the lock held). No allocation.
    func reach(_ now: Int64) {
        while head < times.count && times[head] <= now {
            let t = times[head], high = levels[head]
            head += 1
            guard high != level else { continue }          // no transition, no edge
            if let s = requested, t >= requestedAtNanoseconds {
                let logicalHigh = high != s.activeLow
                let kind: EdgeKind = logicalHigh ? .rising : .falling
                let detected = s.edge == .both || (s.edge == .rising) == logicalHigh
                if detected && missRemaining > 0 {
                    missRemaining -= 1                        // the wire never carried it
                    continue
                }
                level = high
                guard detected else { continue }
                globalSequence += 1
                lineSequence += 1
                if dropRemaining > 0 { dropRemaining -= 1; continue }
                let e = EdgeEvent(monotonicNanoseconds: t, kind: kind, lineOffset: 0,
                                  globalSequence: globalSequence, lineSequence: lineSequence)
                if queueCount == queue.count {              // full: the kernel drops the oldest
                    queueHead = (queueHead + 1) % queue.count
                    queueCount -= 1
                }
                queue[(queueHead + queueCount) % queue.count] = e
                queueCount += 1
            } else {
                level = high
            }
        }
        if now > reachedNanoseconds { reachedNanoseconds = now }
    }

    /// Next transition time not yet reached, if any (lock held).
    var nextTransitionNanoseconds: Int64? { head < times.count ? times[head] : nil }

    /// Moves up to `events.count` queued edges into `events` (lock held). No allocation.
    func take(into events: inout [EdgeEvent], offset: UInt32) -> Int {
        let n = min(events.count, queueCount)
        for k in 0..<n {
            var e = queue[(queueHead + k) % queue.count]
            e.lineOffset = offset
            events[k] = e
        }
        queueHead = (queueHead + n) % max(1, queue.count)
        queueCount -= n
        return n
    }
}

extension SimGPIOChip {
    /// The external instrument drives the wire into line `offset` to `high` at `atNanoseconds` (default:
    /// now) on the rig's clock; times may lie ahead (a protocol computed in advance). Times that would go
    /// back before the previous transition are clamped to it.
    public func driveInput(line offset: UInt32, high: Bool, atNanoseconds: Int64? = nil) {
        guard Int(offset) < wires.count else { return }
        wires[Int(offset)].drive(high: high, atNanoseconds: atNanoseconds ?? clock.monotonicNanoseconds)
    }

    /// A trigger-out pulse train on line `offset`: high at each time in `risingAtNanoseconds`, low again
    /// `widthNanoseconds` later (BioLogic's and Gamry's trigger outputs are pulses of a few ms).
    public func scheduleInputPulses(line offset: UInt32, risingAtNanoseconds: [Int64], widthNanoseconds: Int64 = 10_000_000) {
        for t in risingAtNanoseconds.sorted() {
            driveInput(line: offset, high: true, atNanoseconds: t)
            driveInput(line: offset, high: false, atNanoseconds: t + max(1, widthNanoseconds))
        }
    }

    /// Sets (or with nil clears) a fault on input line `offset`.
    public func injectInputFault(line offset: UInt32, _ fault: SimInputFault?) {
        guard Int(offset) < wires.count else { return }
        wires[Int(offset)].setFault(fault)
    }

    /// Level of the wire into line `offset` now (what `gpioget` would read).
    public func inputLevel(ofLine offset: UInt32) -> Bool {
        guard Int(offset) < wires.count else { return false }
        let w = wires[Int(offset)]
        w.lock.lock(); defer { w.lock.unlock() }
        w.reach(clock.monotonicNanoseconds)
        return w.level
    }

    /// Offset by name (`trigger-in`) or decimal number.
    public func lineOffset(named lineName: String) throws -> UInt32 {
        if let o = UInt32(lineName), Int(o) < lineNames.count { return o }
        return try offset(ofLine: lineName)
    }

    /// Requests line `offset` as an edge-event input (libgpiod semantics: edges before the request are
    /// not reported; a held line throws `.busy`; an offset beyond the chip `.noSuchLine`).
    public func requestEdgeInput(offset: UInt32, consumer: String, settings: EdgeInputSettings) throws -> EdgeInput {
        try requestInput(offset: offset, consumer: consumer, settings: settings)
    }

    /// Typed-throws form of `requestEdgeInput`.
    public func requestInput(offset: UInt32, consumer: String, settings: EdgeInputSettings) throws(GPIOError) -> SimEdgeInput {
        try settings.validate(chip: name)
        let k = Int(offset)
        guard k < lineNames.count else { throw .noSuchLine(chip: name, line: "offset \(offset)") }
        if let holder = consumers[k] { throw .busy(chip: name, line: lineNames[k], consumer: holder) }
        consumers[k] = consumer
        wires[k].request(settings, now: clock.monotonicNanoseconds, virtualClock: clock.isVirtual)
        return SimEdgeInput(chip: self, offset: offset, consumer: consumer, settings: settings)
    }
}

/// A requested edge-event input line of `SimGPIOChip`, fed by the wire's scheduled transitions. Edges
/// carry their scheduled time on the rig's clock and sequence numbers like libgpiod v2's.
public final class SimEdgeInput: EdgeInput {
    unowned let chip: SimGPIOChip
    public let lineOffset: UInt32
    public let settings: EdgeInputSettings
    /// The consumer label given at request time.
    public let consumer: String
    private var released = false
    private var wire: SimInputWire { chip.wires[Int(lineOffset)] }

    init(chip: SimGPIOChip, offset: UInt32, consumer: String, settings: EdgeInputSettings) {
        self.chip = chip
        self.lineOffset = offset
        self.consumer = consumer
        self.settings = settings
    }

    /// The line's name (`trigger-in`).
    public var name: String { chip.lineNames[Int(lineOffset)] }

    /// Waits until an edge is queued or the rig's clock passed now + timeout. On the virtual clock time
    /// moves only when the rig sleeps, so this polls (every 100 µs of real time) and also gives up after
    /// the same span of real time: a reader never hangs when nothing drives the clock.
    public func waitEdges(timeoutNanoseconds: Int64) throws(GPIOError) -> Int {
        let clock = chip.clock
        let start = clock.monotonicNanoseconds
        let deadline = timeoutNanoseconds < 0 ? Int64.max : start &+ timeoutNanoseconds
        var realStart = timespec()
        clock_gettime(CLOCK_MONOTONIC, &realStart)
        while true {
            if released { throw .notRequested(chip: chip.name, line: name) }
            let now = clock.monotonicNanoseconds
            let w = wire
            w.lock.lock()
            w.reach(now)
            let pending = w.queueCount
            let error = w.lineError
            let next = w.nextTransitionNanoseconds
            w.lock.unlock()
            if let error { throw .io(chip: chip.name, line: name, reason: error) }
            if pending > 0 { return pending }
            if now >= deadline { return 0 }
            if clock.isVirtual {
                var real = timespec()
                clock_gettime(CLOCK_MONOTONIC, &real)
                let realElapsed = Int64(real.tv_sec - realStart.tv_sec) * 1_000_000_000 + Int64(real.tv_nsec - realStart.tv_nsec)
                if timeoutNanoseconds >= 0 && realElapsed >= timeoutNanoseconds { return 0 }
                usleep(100)
            } else {
                // Wall clock: sleep to the next transition or the deadline, at most 1 ms (new
                // transitions may be driven meanwhile).
                let wake = min(deadline, min(next ?? .max, now + 1_000_000))
                clock.sleep(untilNanoseconds: wake)
            }
        }
    }

    /// Moves queued edges into `events` (returns 0 at once when none are queued, where the kernel would
    /// block). No allocation.
    public func readEdges(into events: inout [EdgeEvent]) throws(GPIOError) -> Int {
        if released { throw .notRequested(chip: chip.name, line: name) }
        let w = wire
        w.lock.lock(); defer { w.lock.unlock() }
        w.reach(chip.clock.monotonicNanoseconds)
        if let error = w.lineError { throw .io(chip: chip.name, line: name, reason: error) }
        return w.take(into: &events, offset: lineOffset)
    }

    /// Gives the line back (queued edges are discarded).
    public func release() {
        guard !released else { return }
        released = true
        wire.endRequest()
        if chip.consumers[Int(lineOffset)] == consumer { chip.consumers[Int(lineOffset)] = nil }
    }
}
