/// Marching squares: iso-line segments of a gridded field.
public enum MarchingSquares {
    /// A segment between two points in data coordinates.
    public struct Segment: Sendable, Equatable {
        /// End points (x0, y0) → (x1, y1) in data coordinates.
        public var x0: Double, y0: Double, x1: Double, y1: Double
    }

    /// Segments of the iso-line `level` through the row-major grid `values` (`values[r * x.count + c]`).
    /// Cells with a NaN corner are skipped; saddles are split by the cell-centre average.
    public static func segments(x: [Double], y: [Double], values: [Double], level: Double) -> [Segment] {
        let nx = x.count, ny = y.count
        guard nx >= 2, ny >= 2, values.count == nx * ny else { return [] }
        var out: [Segment] = []
        for r in 0..<(ny - 1) {
            for c in 0..<(nx - 1) {
                // Corners counter-clockwise from bottom-left: (c,r) (c+1,r) (c+1,r+1) (c,r+1).
                let v0 = values[r * nx + c], v1 = values[r * nx + c + 1]
                let v2 = values[(r + 1) * nx + c + 1], v3 = values[(r + 1) * nx + c]
                guard v0.isFinite, v1.isFinite, v2.isFinite, v3.isFinite else { continue }
                var idx = 0
                if v0 > level { idx |= 1 }
                if v1 > level { idx |= 2 }
                if v2 > level { idx |= 4 }
                if v3 > level { idx |= 8 }
                if idx == 0 || idx == 15 { continue }
                func lerp(_ a: Double, _ b: Double, _ va: Double, _ vb: Double) -> Double {
                    let d = vb - va
                    return d == 0 ? (a + b) / 2 : a + (b - a) * (level - va) / d
                }
                // Edge crossing points: bottom, right, top, left.
                let bottom = (lerp(x[c], x[c + 1], v0, v1), y[r])
                let right = (x[c + 1], lerp(y[r], y[r + 1], v1, v2))
                let top = (lerp(x[c], x[c + 1], v3, v2), y[r + 1])
                let left = (x[c], lerp(y[r], y[r + 1], v0, v3))
                func seg(_ p: (Double, Double), _ q: (Double, Double)) {
                    out.append(Segment(x0: p.0, y0: p.1, x1: q.0, y1: q.1))
                }
                switch idx {
                case 1, 14: seg(left, bottom)
                case 2, 13: seg(bottom, right)
                case 3, 12: seg(left, right)
                case 4, 11: seg(right, top)
                case 6, 9: seg(bottom, top)
                case 7, 8: seg(left, top)
                case 5, 10:
                    let centreHigh = (v0 + v1 + v2 + v3) / 4 > level
                    if (idx == 5) == centreHigh { seg(left, top); seg(bottom, right) } else { seg(left, bottom); seg(right, top) }
                default: break
                }
            }
        }
        return out
    }

    /// Nice iso-levels strictly inside the finite range of `values`.
    public static func niceLevels(_ values: [Double], targetCount: Int = 8) -> [Double] {
        let finite = values.filter { $0.isFinite }
        guard let lo = finite.min(), let hi = finite.max(), hi > lo else { return [] }
        return TickLocator.ticks(lo, hi, scale: .linear, targetCount: targetCount)
            .map(\.value).filter { $0 > lo && $0 < hi }
    }
}
