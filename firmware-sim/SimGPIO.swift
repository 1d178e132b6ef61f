import Foundation
import Rig
import Synchronization

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
/// and observers (the camera) are told of each edge.
///
/// Real-time path: `SimDigitalLine.set` takes no lock, allocates nothing and calls no observer when it
/// runs on an exposure loop's real-time thread (`RealtimeThreadMarker`) on a real clock: it writes the
/// edge into the ring with atomics and a dispatcher thread (normal priority, polling every
/// `dispatchIntervalNanoseconds`) calls the observers. Everywhere else (the virtual clock, a test
/// driving lines itself) the observers are called before `set` returns, as the edge happens.
/// Lines are driven by one thread at a time (requests and releases happen before and after the loop).
public final class SimGPIOChip: GPIOChip, @unchecked Sendable {
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
    /// Who holds each line (requests and releases; never read on the real-time path).
    var consumers: [String?]
    /// The wires into each line from outside (an instrument's trigger-out), for edge-event inputs
    /// (SimGPIOInput.swift).
    let wires: [SimInputWire]

    // Per-line state the real-time path reads, as atomics.
    private let levels: AtomicSlots      // 0 low, 1 high
    /// The token of the request holding each line (0: none); `set` compares it with its line's.
    private let ownerTokens: AtomicSlots
    /// From when each line's `set` fails (`Int64.max`: no fault); the reason in `faultReasons`.
    private let faultFromNanoseconds: AtomicSlots
    /// Read only when a fault fires (an error is being thrown, off the timed path).
    private let faultReasons: Mutex<[String]>
    private var nextToken: Int64 = 0

    let log: EdgeLog

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
        levels = AtomicSlots(count: n, initial: 0)
        ownerTokens = AtomicSlots(count: n, initial: 0)
        faultFromNanoseconds = AtomicSlots(count: n, initial: .max)
        faultReasons = Mutex(Array(repeating: "", count: n))
        log = EdgeLog(capacity: max(16, edgeLogCapacity))
    }

    deinit {
        log.stopDispatcher()
        levels.deallocate()
        ownerTokens.deallocate()
        faultFromNanoseconds.deallocate()
    }

    /// Edges ever logged (the ring keeps the last `edgeLogCapacity`).
    public var edgeCount: Int { log.count.load(ordering: .acquiring) }

    /// Edges the dispatcher could not deliver to the observers because the ring had wrapped past them
    /// (0 unless the observers fell a whole ring behind the real-time thread).
    public var undeliveredEdgeCount: Int { log.undelivered.load(ordering: .relaxed) }

    /// How often the dispatcher thread (real clock only) delivers the real-time thread's edges.
    public static let dispatchIntervalNanoseconds: Int64 = 500_000

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
        nextToken += 1
        ownerTokens.store(k, nextToken)
        let line = SimDigitalLine(chip: self, offset: offset, consumer: consumer, token: nextToken)
        drive(offset: offset, high: initialHigh)
        return line
    }

    /// Who holds line `offset`, if anyone (`gpioinfo`'s consumer column).
    public func consumer(ofLine offset: UInt32) -> String? {
        Int(offset) < consumers.count ? consumers[Int(offset)] : nil
    }

    /// Current level of line `offset`.
    public func value(ofLine offset: UInt32) -> Bool { Int(offset) < levels.count && levels.load(Int(offset)) != 0 }

    /// Calls `observer(offset, rising, monotonicNanoseconds)` on every edge, in order: before `set`
    /// returns, or (for edges the real-time thread drives on a real clock) from the dispatcher thread.
    public func addEdgeObserver(_ observer: @escaping (UInt32, Bool, Int64) -> Void) {
        log.addObserver(observer)
        if !clock.isVirtual { log.startDispatcher() }
    }

    /// Calls the observers for edges not yet delivered (the dispatcher does this every
    /// `dispatchIntervalNanoseconds`; a reader that wants them sooner may call it). Not real-time safe.
    public func deliverPendingEdges() { log.deliverPending() }

    /// Makes every `set` on the line from `atNanoseconds` on (default: now) fail with `GPIOError.io`;
    /// a nil reason clears the fault.
    public func injectIOFault(line offset: UInt32, reason: String?, atNanoseconds: Int64? = nil) {
        let k = Int(offset)
        guard k < lineNames.count else { return }
        if let reason {
            faultReasons.withLock { $0[k] = reason }
            faultFromNanoseconds.store(k, atNanoseconds ?? clock.monotonicNanoseconds)
        } else {
            faultFromNanoseconds.store(k, .max)
        }
    }

    /// Edges still in the ring, oldest first, optionally of one line: always an unbroken run ending at
    /// the newest edge. Read newest first, so when a running loop laps the ring during the read, the
    /// run simply starts later: no edge is skipped inside it (a skipped edge would make a line's
    /// edges seem not to alternate).
    public func edges(line offset: UInt32? = nil) -> [GPIOEdge] {
        let count = log.count.load(ordering: .acquiring)
        var out: [GPIOEdge] = []
        out.reserveCapacity(min(count, log.capacity))
        var n = count - 1
        while n >= max(0, count - log.capacity) {
            // Overwritten meanwhile: everything older is gone too.
            guard let e = log.edge(n) else { break }
            if offset == nil || e.lineOffset == offset { out.append(e) }
            n -= 1
        }
        out.reverse()
        return out
    }

    /// Time the line spent high within [start, end) ns, from the edge ring (the LED-overlap integral).
    /// Exact as long as the window's edges are still in the ring. Lock-free: safe beside a running loop.
    public func highNanoseconds(line offset: UInt32, from start: Int64, to end: Int64) -> Int64 {
        guard end > start, Int(offset) < levels.count else { return 0 }
        // Walk back from the newest edge of this line to find the level at `start` and the edges inside.
        let count = log.count.load(ordering: .acquiring)
        var total: Int64 = 0
        var segmentEnd = end
        var level: Bool? = nil          // level after the edge in hand (the newest edge's: the line's now)
        var n = count - 1
        let oldest = max(0, count - log.capacity)
        while n >= oldest {
            guard let e = log.edge(n) else { break }   // overwritten: older edges are gone too
            n -= 1
            guard e.lineOffset == offset else { continue }
            if level == nil { level = e.rising }
            let t = e.monotonicNanoseconds
            if t >= end { level = !e.rising; continue }   // level before this edge
            if t <= start { break }
            if level! { total += segmentEnd - t }
            segmentEnd = t
            level = !e.rising
        }
        if level ?? (levels.load(Int(offset)) != 0) { total += segmentEnd - start }
        return total
    }

    /// Changes the line's level and logs the edge (no transition, no edge). On the real-time thread
    /// (real clock, observers served by the dispatcher) this is a few atomic stores.
    func drive(offset: UInt32, high: Bool) {
        let k = Int(offset)
        guard (levels.loadRelaxed(k) != 0) != high else { return }
        levels.store(k, high ? 1 : 0)
        log.append(offset: offset, rising: high, atNanoseconds: clock.monotonicNanoseconds)
        // No observers, nothing to deliver; on the real-time thread with a dispatcher, it delivers.
        guard log.hasObservers, !(log.dispatching && RealtimeThreadMarker.isCurrentThreadRealtime) else { return }
        log.deliverPending()
    }

    func set(offset: UInt32, token: Int64, high: Bool) throws(GPIOError) {
        let k = Int(offset)
        guard ownerTokens.load(k) == token else { throw .notRequested(chip: name, line: lineNames[k]) }
        let faultFrom = faultFromNanoseconds.load(k)
        if faultFrom != .max, clock.monotonicNanoseconds >= faultFrom {
            throw .io(chip: name, line: lineNames[k], reason: faultReasons.withLock { $0[k] })
        }
        drive(offset: offset, high: high)
    }

    func release(offset: UInt32, consumer: String, token: Int64) {
        let k = Int(offset)
        guard consumers[k] == consumer, ownerTokens.load(k) == token else { return }
        drive(offset: offset, high: false)
        ownerTokens.store(k, 0)
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
    /// This request's token on the chip (a later request of the line gets another).
    let token: Int64
    private var released = false

    init(chip: SimGPIOChip, offset: UInt32, consumer: String, token: Int64) {
        self.chip = chip
        self.offset = offset
        self.consumer = consumer
        self.token = token
    }

    /// The line's role (`led`, `trigger`) or `lineN`.
    public var name: String { chip.lineNames[Int(offset)] }

    /// Drives the line; logs an edge when the level changes. No allocation, no lock (on the real-time
    /// thread the observers are called later, by the chip's dispatcher).
    /// - Throws: `.notRequested` after `release()`, `.io` when a fault is injected.
    public func set(_ high: Bool) throws(GPIOError) {
        try chip.set(offset: offset, token: token, high: high)
    }

    /// Drives the line low and gives it back to the chip.
    public func release() {
        guard !released else { return }
        released = true
        chip.release(offset: offset, consumer: consumer, token: token)
    }
}

/// A fixed array of 64-bit atomics, allocated once (the real-time path reads and writes it).
struct AtomicSlots: @unchecked Sendable {
    let base: UnsafeMutablePointer<Atomic<Int64>>
    let count: Int

    init(count: Int, initial: Int64) {
        self.count = count
        base = .allocate(capacity: count)
        for i in 0..<count { (base + i).initialize(to: Atomic(initial)) }
    }

    @inline(__always)
    func load(_ i: Int) -> Int64 { base[i].load(ordering: .acquiring) }

    @inline(__always)
    func loadRelaxed(_ i: Int) -> Int64 { base[i].load(ordering: .relaxed) }

    @inline(__always)
    func store(_ i: Int, _ value: Int64) { base[i].store(value, ordering: .releasing) }

    @inline(__always)
    func storeRelaxed(_ i: Int, _ value: Int64) { base[i].store(value, ordering: .relaxed) }

    func deallocate() {
        base.deinitialize(count: count)
        base.deallocate()
    }
}

/// The chip's edge log: a preallocated ring written by one thread at a time with atomics (a per-slot
/// stamp makes a reader that raced an overwrite see it and skip the slot), read by any thread, and the
/// observers with their delivery cursor (behind a lock, never taken on the real-time path).
final class EdgeLog: @unchecked Sendable {
    let capacity: Int
    /// Edges ever appended; slot `n % capacity` holds edge `n` until edge `n + capacity` replaces it.
    let count = Atomic<Int>(0)
    let undelivered = Atomic<Int>(0)
    private let observerCount = Atomic<Int>(0)
    /// (n + 1) << 32 | offset << 1 | rising; 0 while the slot is being written.
    private let stamps: AtomicSlots
    private let times: AtomicSlots

    // Delivery (any thread but the real-time one).
    private let deliveryLock = NSRecursiveLock()
    private var observers: [(UInt32, Bool, Int64) -> Void] = []
    private var delivered = 0
    private let dispatcherRunning = Atomic<Bool>(false)
    private let dispatcherStop = Atomic<Bool>(false)
    private var dispatcher = pthread_t()

    init(capacity: Int) {
        self.capacity = capacity
        stamps = AtomicSlots(count: capacity, initial: 0)
        times = AtomicSlots(count: capacity, initial: 0)
    }

    deinit {
        stamps.deallocate()
        times.deallocate()
    }

    @inline(__always)
    private static func stamp(_ n: Int, _ offset: UInt32, _ rising: Bool) -> Int64 {
        Int64(bitPattern: UInt64(UInt32(truncatingIfNeeded: n &+ 1)) << 32 | UInt64(offset & 0x7fff_ffff) << 1 | (rising ? 1 : 0))
    }

    /// Appends an edge (one writer at a time). A seqlock write: stamp cleared, time, stamp, count.
    @inline(__always)
    func append(offset: UInt32, rising: Bool, atNanoseconds t: Int64) {
        let n = count.load(ordering: .relaxed)
        let slot = n % capacity
        stamps.storeRelaxed(slot, 0)
        atomicMemoryFence(ordering: .releasing)
        times.storeRelaxed(slot, t)
        stamps.store(slot, Self.stamp(n, offset, rising))
        count.store(n + 1, ordering: .releasing)
    }

    /// Edge `n`, or nil when its slot holds another edge (overwritten, or being written).
    func edge(_ n: Int) -> GPIOEdge? {
        let slot = n % capacity
        let s1 = UInt64(bitPattern: stamps.load(slot))
        let t = times.loadRelaxed(slot)
        atomicMemoryFence(ordering: .acquiring)
        let s2 = UInt64(bitPattern: stamps.loadRelaxed(slot))
        guard s1 == s2, s1 >> 32 == UInt64(UInt32(truncatingIfNeeded: n &+ 1)) else { return nil }
        return GPIOEdge(lineOffset: UInt32(truncatingIfNeeded: (s1 & 0xffff_ffff) >> 1), rising: s1 & 1 == 1,
                        monotonicNanoseconds: t)
    }

    func addObserver(_ observer: @escaping (UInt32, Bool, Int64) -> Void) {
        deliveryLock.lock(); defer { deliveryLock.unlock() }
        // A new observer hears edges from now on.
        if observers.isEmpty { delivered = count.load(ordering: .acquiring) }
        observers.append(observer)
        observerCount.store(observers.count, ordering: .releasing)
    }

    /// True once an observer was added.
    var hasObservers: Bool { observerCount.load(ordering: .acquiring) > 0 }

    /// True while the dispatcher thread serves the observers.
    var dispatching: Bool { dispatcherRunning.load(ordering: .relaxed) }

    /// Calls the observers for every edge appended since the last delivery, oldest first. Re-entrant
    /// (an observer that drives a line delivers its own edge in order).
    func deliverPending() {
        deliveryLock.lock(); defer { deliveryLock.unlock() }
        while true {
            let n = delivered
            guard n < count.load(ordering: .acquiring) else { return }
            delivered = n + 1
            guard let e = edge(n) else { undelivered.add(1, ordering: .relaxed); continue }
            for o in observers { o(e.lineOffset, e.rising, e.monotonicNanoseconds) }
        }
    }

    func startDispatcher() {
        guard !dispatcherRunning.exchange(true, ordering: .acquiringAndReleasing) else { return }
        dispatcherStop.store(false, ordering: .relaxed)
        let context = Unmanaged.passRetained(self).toOpaque()
        if pthread_create(&dispatcher, nil, edgeLogDispatcherEntry, context) != 0 {
            // No thread: deliver synchronously everywhere, as before.
            Unmanaged<EdgeLog>.fromOpaque(context).release()
            dispatcherRunning.store(false, ordering: .releasing)
        }
    }

    func stopDispatcher() {
        guard dispatcherRunning.load(ordering: .acquiring) else { return }
        dispatcherStop.store(true, ordering: .releasing)
        pthread_join(dispatcher, nil)
        dispatcherRunning.store(false, ordering: .releasing)
        deliverPending()
    }

    fileprivate func runDispatcher() {
        var ts = timespec()
        while !dispatcherStop.load(ordering: .acquiring) {
            deliverPending()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let next = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) + SimGPIOChip.dispatchIntervalNanoseconds
            var deadline = timespec(tv_sec: Int(next / 1_000_000_000), tv_nsec: Int(next % 1_000_000_000))
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nil) == EINTR {}
        }
    }
}

private func edgeLogDispatcherEntry(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let log = Unmanaged<EdgeLog>.fromOpaque(context!).takeRetainedValue()
    log.runDispatcher()
    return nil
}
