/// Wake-up latency histogram with fixed storage: 1 µs buckets to 10 ms, then 100 µs buckets to 1 s,
/// then one overflow bucket. `record` neither allocates nor locks (real-time path).
public struct LatencyHistogram: Sendable, Equatable {
    static let fineBuckets = 10_000      // 0 ..< 10 ms in 1 µs
    static let coarseBuckets = 9_900     // 10 ms ..< 1 s in 100 µs
    private(set) var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var maxNanoseconds: Int64 = 0
    public private(set) var sumNanoseconds: Double = 0

    public init() {
        counts = [UInt64](repeating: 0, count: Self.fineBuckets + Self.coarseBuckets + 1)
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
        let us = Int(ns / 1000)
        let index: Int
        if us < Self.fineBuckets { index = us }
        else if us < 1_000_000 { index = Self.fineBuckets + (us - Self.fineBuckets) / 100 }
        else { index = Self.fineBuckets + Self.coarseBuckets }
        counts[index] &+= 1
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
