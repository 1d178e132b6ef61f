import Foundation
import Testing
@testable import Figures

@Suite struct ContourTests {
    /// A paraboloid bowl: iso-lines are circles of radius √level around its minimum (seed Fig. S2B's valley).
    @Test func isoLinesOfABowlAreCircles() {
        let xs = stride(from: -2.0, through: 2.0, by: 0.05).map { $0 }
        let ys = xs
        var v: [Double] = []
        for y in ys { for x in xs { v.append(x * x + y * y) } }
        let segs = MarchingSquares.segments(x: xs, y: ys, values: v, level: 1)
        #expect(segs.count > 100)
        for s in segs {
            #expect(abs((s.x0 * s.x0 + s.y0 * s.y0).squareRoot() - 1) < 0.01)
            #expect(abs((s.x1 * s.x1 + s.y1 * s.y1).squareRoot() - 1) < 0.01)
        }
    }

    @Test func nanCellsAreSkipped() {
        let xs = [0.0, 1, 2], ys = [0.0, 1]
        let v = [0.0, 1, .nan, 0, 1, 2]
        let segs = MarchingSquares.segments(x: xs, y: ys, values: v, level: 0.5)
        #expect(segs.count == 1)
        #expect(segs[0].x0 == 0.5 && segs[0].x1 == 0.5)
    }

    @Test func niceLevelsLieInsideTheRange() {
        let lv = MarchingSquares.niceLevels([0.004, 0.2, .nan, 0.05])
        #expect(!lv.isEmpty)
        #expect(lv.allSatisfy { $0 > 0.004 && $0 < 0.2 })
    }
}
