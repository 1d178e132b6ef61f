import Glibc
import Synchronization

/// Follow mode's edge collector: a thread that blocks in `EdgeInput.waitEdges`, reads the edges into a
/// buffer allocated once, and pushes them into a fixed-capacity single-producer/single-consumer ring
/// that the run engine drains (`drain(into:)`) at its own pace. The reader allocates nothing per edge
/// and takes no lock; the kernel's timestamps travel unchanged.
///
/// The engine's part: `start()` after requesting the line, `drain(into:)` now and then (each drained edge
/// goes to edges.csv / events.jsonl), `stop()` before releasing the line, then report `overflowCount`,
/// `kernelDroppedCount` and `error` in timing.json.
public final class EdgeRecorder: @unchecked Sendable {
    /// The line being read (owned by the reader thread while it runs).
    public let input: EdgeInput
    /// Ring capacity, edges.
    public let capacity: Int
    /// How long one wait blocks before the reader looks at the stop flag, ns of the input's clock.
    public let pollNanoseconds: Int64

    private let ring: UnsafeMutableBufferPointer<EdgeEvent>
    private let head = Atomic<Int>(0)      // next slot the reader writes
    private let tail = Atomic<Int>(0)      // next slot the engine takes
    private let stopRequested = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    private let overflowed = Atomic<Int>(0)
    private let kernelDropped = Atomic<Int>(0)
    private let recorded = Atomic<Int>(0)
    private let failure = Mutex<GPIOError?>(nil)
    private var thread = pthread_t()
    private var started = false
    private let batchSize: Int

    /// - Parameters:
    ///   - input: a requested edge input; the recorder reads it only between `start()` and `stop()`.
    ///   - capacity: edges the ring holds before the engine must drain (≥ 16).
    ///   - pollNanoseconds: wait slice, bounds how long `stop()` takes (1 ms … 1 s).
    ///   - batchSize: edges per read (the kernel queue's 16 by default).
    public init(input: EdgeInput, capacity: Int = 4096, pollNanoseconds: Int64 = 20_000_000, batchSize: Int = 16) {
        self.input = input
        self.capacity = max(16, capacity)
        self.pollNanoseconds = min(max(pollNanoseconds, 1_000_000), 1_000_000_000)
        self.batchSize = max(1, batchSize)
        ring = .allocate(capacity: self.capacity)
        ring.initialize(repeating: EdgeEvent())
    }

    deinit {
        stop()
        ring.deallocate()
    }

    /// Edges pushed into the ring so far.
    public var recordedCount: Int { recorded.load(ordering: .relaxed) }
    /// Edges lost because the ring was full (the engine did not drain in time).
    public var overflowCount: Int { overflowed.load(ordering: .relaxed) }
    /// Edges the kernel dropped, from gaps in the global sequence numbers (0 where the backend gives
    /// none: libgpiod v1).
    public var kernelDroppedCount: Int { kernelDropped.load(ordering: .relaxed) }
    /// The error that ended the reader, if one did (the line failed; the engine should stop the run).
    public var error: GPIOError? { failure.withLock { $0 } }
    /// True while the reader thread runs.
    public var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Starts the reader thread.
    /// - Throws: `GPIOError.io` when the thread cannot be created.
    public func start() throws(GPIOError) {
        guard !started else { return }
        stopRequested.store(false, ordering: .relaxed)
        running.store(true, ordering: .releasing)
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, edgeRecorderEntry, context)
        guard rc == 0 else {
            Unmanaged<EdgeRecorder>.fromOpaque(context).release()
            running.store(false, ordering: .releasing)
            throw .io(chip: "edge recorder", line: input.name, reason: "cannot start the reader thread: \(String(cString: strerror(rc)))")
        }
        started = true
    }

    /// Stops the reader (within one `pollNanoseconds`) and waits for it. Idempotent.
    public func stop() {
        guard started else { return }
        stopRequested.store(true, ordering: .releasing)
        pthread_join(thread, nil)
        started = false
    }

    /// Appends the edges recorded since the last call, oldest first (engine thread). Returns how many.
    @discardableResult
    public func drain(into out: inout [EdgeEvent]) -> Int {
        let h = head.load(ordering: .acquiring)
        var t = tail.load(ordering: .relaxed)
        let n = h - t
        while t < h {
            out.append(ring[t % capacity])
            t += 1
        }
        tail.store(t, ordering: .releasing)
        return n
    }

    /// The reader thread's body. Everything it needs was allocated before the loop.
    fileprivate func run() {
        var batch = [EdgeEvent](repeating: EdgeEvent(), count: batchSize)
        var lastSequence: UInt64 = 0
        defer { running.store(false, ordering: .releasing) }
        while !stopRequested.load(ordering: .acquiring) {
            do {
                if try input.waitEdges(timeoutNanoseconds: pollNanoseconds) == 0 { continue }
                let n = try input.readEdges(into: &batch)
                for k in 0..<n {
                    let e = batch[k]
                    if e.globalSequence != 0 {
                        // Sequence numbers start at 1 per request: a first edge numbered n > 1 also
                        // means n − 1 edges were dropped before the reader saw any.
                        if e.globalSequence > lastSequence + 1 {
                            kernelDropped.add(Int(e.globalSequence - lastSequence - 1), ordering: .relaxed)
                        }
                        lastSequence = e.globalSequence
                    }
                    push(e)
                }
            } catch {
                failure.withLock { $0 = error }
                return
            }
        }
    }

    @inline(__always)
    private func push(_ e: EdgeEvent) {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        if h - t >= capacity { overflowed.add(1, ordering: .relaxed); return }
        ring[h % capacity] = e
        head.store(h + 1, ordering: .releasing)
        recorded.add(1, ordering: .relaxed)
    }
}

private func edgeRecorderEntry(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let recorder = Unmanaged<EdgeRecorder>.fromOpaque(context!).takeRetainedValue()
    recorder.run()
    return nil
}
