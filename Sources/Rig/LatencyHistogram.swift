import Synchronization

/// Wake-up latency histogram with fixed storage: 1 µs buckets to 10 ms, then 100 µs buckets to 1 s,
/// then one overflow bucket. `record` neither allocates nor locks while the storage is uniquely
/// owned; a histogram another thread reads while it is written is a `LiveLatencyHistogram`.
public struct LatencyHistogram: Sendable, Equatable {
    static let fineBuckets = 10_000      // 0 ..< 10 ms in 1 µs
    static let coarseBuckets = 9_900     // 10 ms ..< 1 s in 100 µs
    static let bucketCount = fineBuckets + coarseBuckets + 1
    private(set) var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var maxNanoseconds: Int64 = 0
    public private(set) var sumNanoseconds: Double = 0

    public init() {
        counts = [UInt64](repeating: 0, count: Self.bucketCount)
    }

    /// A histogram with these bucket counts and totals (a `LiveLatencyHistogram`'s snapshot).
    init(counts: [UInt64], count: UInt64, maxNanoseconds: Int64, sumNanoseconds: Double) {
        self.counts = counts
        self.count = count
        self.maxNanoseconds = maxNanoseconds
        self.sumNanoseconds = sumNanoseconds
    }

    /// The bucket holding a lateness of `ns` (≥ 0) nanoseconds.
    @inline(__always)
    static func bucket(nanoseconds ns: Int64) -> Int {
        let us = Int(ns / 1000)
        if us < fineBuckets { return us }
        if us < 1_000_000 { return fineBuckets + (us - fineBuckets) / 100 }
        return fineBuckets + coarseBuckets
    }

    /// Makes the counts uniquely owned and writes each of their pages (before a real-time loop: the
    /// first `record` must not copy the storage or take a page fault).
    public mutating func touch() {
        // Copy-on-write happens here if the storage is shared; an empty histogram's zeros are rewritten.
        let empty = count == 0
        counts.withUnsafeMutableBufferPointer { c in
            if empty { c.update(repeating: 0) }
        }
    }

    @inline(__always)
    public mutating func record(nanoseconds raw: Int64) {
        let ns = max(0, raw)
        counts[Self.bucket(nanoseconds: ns)] &+= 1
        count &+= 1
        sumNanoseconds += Double(ns)
        if ns > maxNanoseconds { maxNanoseconds = ns }
    }

    /// Upper edge of the bucket holding quantile `q` (0…1), µs.
    public func percentileMicroseconds(_ q: Double) -> Double {
        guard count > 0 else { return .nan }
        let target = UInt64((Double(count) * q).rounded(.up))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() {
            seen += c
            if seen >= max(1, target) {
                if i < Self.fineBuckets { return Double(i + 1) }
                if i < Self.fineBuckets + Self.coarseBuckets { return Double(Self.fineBuckets + (i - Self.fineBuckets + 1) * 100) }
                return Double(maxNanoseconds) / 1000
            }
        }
        return Double(maxNanoseconds) / 1000
    }

    public var meanMicroseconds: Double { count > 0 ? sumNanoseconds / Double(count) / 1000 : .nan }
    public var maxMicroseconds: Double { Double(maxNanoseconds) / 1000 }

    /// Summary for timing.json: percentiles and the non-empty buckets (upper edge µs → count).
    public var jsonObject: [String: Any] {
        var buckets: [[Double]] = []
        for (i, c) in counts.enumerated() where c > 0 {
            let edge = i < Self.fineBuckets ? Double(i + 1)
                : i < Self.fineBuckets + Self.coarseBuckets ? Double(Self.fineBuckets + (i - Self.fineBuckets + 1) * 100)
                : maxMicroseconds
            buckets.append([edge, Double(c)])
        }
        return [
            "count": count, "p50_us": percentileMicroseconds(0.5), "p99_us": percentileMicroseconds(0.99),
            "p999_us": percentileMicroseconds(0.999), "max_us": maxMicroseconds, "mean_us": meanMicroseconds,
            "buckets_us_upper_edge_count": buckets,
        ]
    }
}

/// The exposure loop's histograms: written by the real-time thread, readable by any thread at any
/// time (the run's status, timing.json) through `snapshot`. The storage is a fixed block of relaxed
/// atomics, never a Swift array: a reader holding a reference to an array's buffer would make the
/// writer's next `record` copy it (a 160 KB allocation, with its page faults, on the real-time thread).
/// One writer at a time; a snapshot taken during writing may lag the totals by the record in progress.
public final class LiveLatencyHistogram: @unchecked Sendable {
    private let buckets: UnsafeMutablePointer<Atomic<UInt64>>
    private let total = Atomic<UInt64>(0)
    private let maximum = Atomic<Int64>(0)
    /// Sum of the samples, a Double's bit pattern.
    private let sum = Atomic<UInt64>(0)

    public init() {
        buckets = .allocate(capacity: LatencyHistogram.bucketCount)
        for i in 0..<LatencyHistogram.bucketCount { (buckets + i).initialize(to: Atomic(0)) }
    }

    deinit {
        buckets.deinitialize(count: LatencyHistogram.bucketCount)
        buckets.deallocate()
    }

    /// Samples recorded so far.
    public var count: UInt64 { total.load(ordering: .relaxed) }

    /// Records one lateness (negative counts as 0). One writer: plain loads and stores, no
    /// read-modify-write instruction, no allocation, no lock.
    @inline(__always)
    public func record(nanoseconds raw: Int64) {
        let ns = max(0, raw)
        let b = buckets + LatencyHistogram.bucket(nanoseconds: ns)
        b.pointee.store(b.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        sum.store((Double(bitPattern: sum.load(ordering: .relaxed)) + Double(ns)).bitPattern, ordering: .relaxed)
        if ns > maximum.load(ordering: .relaxed) { maximum.store(ns, ordering: .relaxed) }
        total.store(total.load(ordering: .relaxed) &+ 1, ordering: .releasing)
    }

    /// Writes every page of the storage (before a real-time loop: no first-touch page fault in it).
    /// Only while nothing was recorded: the counts of an empty histogram are rewritten as zeros.
    public func touch() {
        guard count == 0 else { return }
        for i in 0..<LatencyHistogram.bucketCount { buckets[i].store(0, ordering: .relaxed) }
    }

    /// A copy of the histogram now (allocates: never call it on the real-time thread).
    public var snapshot: LatencyHistogram {
        _ = total.load(ordering: .acquiring)
        let counts = (0..<LatencyHistogram.bucketCount).map { buckets[$0].load(ordering: .relaxed) }
        // The count from the buckets read, so the percentiles are of exactly these samples.
        return LatencyHistogram(counts: counts, count: counts.reduce(0, &+), maxNanoseconds: maximum.load(ordering: .relaxed),
                                sumNanoseconds: Double(bitPattern: sum.load(ordering: .relaxed)))
    }
}
