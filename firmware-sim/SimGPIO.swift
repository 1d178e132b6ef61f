import Foundation
import Rig

/// One recorded transition of a simulated GPIO line.
public struct GPIOEdge: Sendable, Equatable {
    /// Line offset on the chip.
    public var lineOffset: UInt32
    /// True for a rising edge (0 → 1), false for falling.
    public var rising: Bool
    /// When the line changed, ns of the rig's clock.
    public var monotonicNanoseconds: Int64
}

/// A simulated GPIO chip with libgpiod v1 semantics: each line can be requested as an output by one
/// consumer at a time (a second request fails with EBUSY), set to 0/1 while requested, and released.
/// Every edge is logged with its clock time in a preallocated ring (the tests and the camera read it),
/// and observers (the camera) are told of each edge as it happens.
public final class SimGPIOChip: GPIOChip {
    /// Offset of the LED line (drives the camera's illumination).
    public static let ledOffset: UInt32 = 0
    /// Offset of the camera's trigger line (rising edge starts one exposure).
    public static let triggerOffset: UInt32 = 1
    /// Offset of the input line an external instrument's trigger-out drives (follow mode), `trigger-in`.
    public static let instrumentTriggerOffset: UInt32 = 2

    /// Chip name (`gpiochip-sim`).
    public let name: String
    /// Line names by offset (`led`, `trigger`, then spare lines).
    public let lineNames: [String]
    let clock: any Clock
    var consumers: [String?]
    private(set) var values: [Bool]
    private var ioFault: [(reason: String, fromNanoseconds: Int64)?]

    // Edge ring: structure of arrays so logging an edge never allocates.
    private let capacity: Int
    private var ringOffset: [UInt32]
    private var ringRising: [Bool]
    private var ringTime: [Int64]
    /// Edges ever logged (the ring keeps the last `capacity`).
    public private(set) var edgeCount = 0
    private var observers: [(UInt32, Bool, Int64) -> Void] = []
    /// With `--realtime` the exposure thread drives the lines while the camera (main thread) reads the
    /// log: the simulated chip serialises them. (The real chip's driver takes no lock.)
    private let lock = NSLock()
    /// The wires into each line from outside (an instrument's trigger-out), for edge-event inputs
    /// (SimGPIOInput.swift).
    let wires: [SimInputWire]

    /// - Parameters:
    ///   - name: chip name (`gpiochip-sim`).
    ///   - clock: time source for the edge log.
    ///   - lineCount: number of lines (at least 2: `led`, `trigger`).
    ///   - edgeLogCapacity: edges kept in the ring.
    public init(name: String = "gpiochip-sim", clock: any Clock, lineCount: Int = 8, edgeLogCapacity: Int = 1 << 16) {
        self.name = name
        self.clock = clock
        let n = max(2, lineCount)
        lineNames = (0..<n).map { $0 == 0 ? "led" : $0 == 1 ? "trigger" : $0 == 2 ? "trigger-in" : "line\($0)" }
        wires = (0..<n).map { _ in SimInputWire() }
        consumers = Array(repeating: nil, count: n)
        values = Array(repeating: false, count: n)
        ioFault = Array(repeating: nil, count: n)
        capacity = max(16, edgeLogCapacity)
        ringOffset = Array(repeating: 0, count: capacity)
        ringRising = Array(repeating: false, count: capacity)
        ringTime = Array(repeating: 0, count: capacity)
    }

    /// Offset of the line called `name` (`led`, `trigger`, `trigger-in`, `line3`…), as `gpiod_chip_find_line` does.
    public func offset(ofLine lineName: String) throws(GPIOError) -> UInt32 {
        guard let k = lineNames.firstIndex(of: lineName) else { throw .noSuchLine(chip: name, line: lineName) }
        return UInt32(k)
    }

    /// Requests line `offset` as an output (libgpiod `gpiod_line_request_output`).
    /// - Throws: `GPIOError.noSuchLine` (EINVAL) for an offset beyond the chip, `.busy` (EBUSY) when
    ///   another consumer holds the line.
    public func requestOutput(offset: UInt32, consumer: String, initialHigh: Bool) throws -> DigitalLine {
        try requestLine(offset: offset, consumer: consumer, initialHigh: initialHigh)
    }

    /// Typed-throws form of `requestOutput`.
    public func requestLine(offset: UInt32, consumer: String, initialHigh: Bool) throws(GPIOError) -> SimDigitalLine {
        let k = Int(offset)
        guard k < lineNames.count else { throw .noSuchLine(chip: name, line: "offset \(offset)") }
        if let holder = consumers[k] { throw .busy(chip: name, line: lineNames[k], consumer: holder) }
        consumers[k] = consumer
        let line = SimDigitalLine(chip: self, offset: offset, consumer: consumer)
        drive(offset: offset, high: initialHigh)
        return line
    }

    /// Who holds line `offset`, if anyone (`gpioinfo`'s consumer column).
    public func consumer(ofLine offset: UInt32) -> String? {
        Int(offset) < consumers.count ? consumers[Int(offset)] : nil
    }

    /// Current level of line `offset`.
    public func value(ofLine offset: UInt32) -> Bool { Int(offset) < values.count && values[Int(offset)] }

    /// Calls `observer(offset, rising, monotonicNanoseconds)` on every edge, synchronously.
    public func addEdgeObserver(_ observer: @escaping (UInt32, Bool, Int64) -> Void) {
        observers.append(observer)
    }

    /// Makes every `set` on the line from `atNanoseconds` on (default: now) fail with `GPIOError.io`;
    /// a nil reason clears the fault.
    public func injectIOFault(line offset: UInt32, reason: String?, atNanoseconds: Int64? = nil) {
        guard Int(offset) < ioFault.count else { return }
        ioFault[Int(offset)] = reason.map { ($0, atNanoseconds ?? clock.monotonicNanoseconds) }
    }

    /// Edges still in the ring, oldest first, optionally of one line.
    public func edges(line offset: UInt32? = nil) -> [GPIOEdge] {
        lock.lock(); defer { lock.unlock() }
        var out: [GPIOEdge] = []
        let first = max(0, edgeCount - capacity)
        for n in first..<edgeCount {
            let k = n % capacity
            if let o = offset, ringOffset[k] != o { continue }
            out.append(GPIOEdge(lineOffset: ringOffset[k], rising: ringRising[k], monotonicNanoseconds: ringTime[k]))
        }
        return out
    }

    /// Time the line spent high within [start, end) ns, from the edge ring (the LED-overlap integral).
    /// Exact as long as the window's edges are still in the ring.
    public func highNanoseconds(line offset: UInt32, from start: Int64, to end: Int64) -> Int64 {
        guard end > start else { return 0 }
        lock.lock(); defer { lock.unlock() }
        // Walk back from the newest edge of this line to find the level at `start` and the edges inside.
        var total: Int64 = 0
        var segmentEnd = end
        var level = values[Int(offset)]
        var n = edgeCount - 1
        let oldest = max(0, edgeCount - capacity)
        while n >= oldest {
            let k = n % capacity
            n -= 1
            guard ringOffset[k] == offset else { continue }
            let t = ringTime[k]
            if t >= end { level = !ringRising[k]; continue }   // level before this edge
            if t <= start { break }
            if level { total += segmentEnd - t }
            segmentEnd = t
            level = !ringRising[k]
        }
        if level { total += segmentEnd - start }
        return total
    }

    func drive(offset: UInt32, high: Bool) {
        let k = Int(offset)
        lock.lock(); defer { lock.unlock() }
        guard values[k] != high else { return }   // no transition, no edge
        values[k] = high
        let t = clock.monotonicNanoseconds
        let slot = edgeCount % capacity
        ringOffset[slot] = offset
        ringRising[slot] = high
        ringTime[slot] = t
        edgeCount += 1
        for o in observers { o(offset, high, t) }
    }

    func set(offset: UInt32, consumer: String, high: Bool) throws(GPIOError) {
        let k = Int(offset)
        guard consumers[k] == consumer else { throw .notRequested(chip: name, line: lineNames[k]) }
        if let fault = ioFault[k], clock.monotonicNanoseconds >= fault.fromNanoseconds {
            throw .io(chip: name, line: lineNames[k], reason: fault.reason)
        }
        drive(offset: offset, high: high)
    }

    func release(offset: UInt32, consumer: String) {
        let k = Int(offset)
        guard consumers[k] == consumer else { return }
        drive(offset: offset, high: false)
        consumers[k] = nil
    }
}

/// A requested output line of `SimGPIOChip`.
public final class SimDigitalLine: DigitalLine {
    unowned let chip: SimGPIOChip
    /// Offset on the chip.
    public let offset: UInt32
    /// The consumer label given at request time.
    public let consumer: String
    private var released = false

    init(chip: SimGPIOChip, offset: UInt32, consumer: String) {
        self.chip = chip
        self.offset = offset
        self.consumer = consumer
    }

    /// The line's role (`led`, `trigger`) or `lineN`.
    public var name: String { chip.lineNames[Int(offset)] }

    /// Drives the line; logs an edge when the level changes. No allocation, no lock.
    /// - Throws: `.notRequested` after `release()`, `.io` when a fault is injected.
    public func set(_ high: Bool) throws(GPIOError) {
        if released { throw .notRequested(chip: chip.name, line: name) }
        try chip.set(offset: offset, consumer: consumer, high: high)
    }

    /// Drives the line low and gives it back to the chip.
    public func release() {
        guard !released else { return }
        released = true
        chip.release(offset: offset, consumer: consumer)
    }
}
