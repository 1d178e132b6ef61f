import Foundation
@testable import Rig
import Testing

// Issue 17: the loop's histograms are written by the real-time thread and read by the run's status
// while it runs; the live form gives the same figures as the value form and never shares storage.
@Test func liveHistogramSnapshotMatchesTheValueHistogram() {
    let live = LiveLatencyHistogram()
    var value = LatencyHistogram()
    // Fine buckets, a coarse one, the overflow bucket and a negative lateness (counted as 0).
    let samples: [Int64] = (1...2000).map { Int64($0) * 777 } + [12_345_678, 2_000_000_000, -5]
    for ns in samples {
        live.record(nanoseconds: ns)
        value.record(nanoseconds: ns)
    }
    let snap = live.snapshot
    #expect(live.count == UInt64(samples.count))
    #expect(snap == value)
    for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
        #expect(snap.percentileMicroseconds(q) == value.percentileMicroseconds(q))
    }
    #expect(snap.maxNanoseconds == 2_000_000_000)
    #expect(abs(snap.meanMicroseconds - value.meanMicroseconds) < 1e-9)
}

@Test func liveHistogramSnapshotIsACopy() {
    let live = LiveLatencyHistogram()
    live.record(nanoseconds: 5_000)
    let before = live.snapshot
    live.record(nanoseconds: 7_000)
    // The earlier snapshot keeps its one sample; a new one has both.
    #expect(before.count == 1)
    #expect(live.snapshot.count == 2)
    #expect(live.snapshot.percentileMicroseconds(1) == 8)
    live.touch()   // not empty: touching keeps the counts
    #expect(live.snapshot.count == 2)
}
