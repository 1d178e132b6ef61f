/// Monotone piecewise-cubic Hermite interpolation (PCHIP, Fritsch–Carlson / Fritsch–Butland
/// derivatives, SciPy's end-point rule): shape preserving, so a monotone table gives a monotone
/// curve with no overshoot. Outside the knots the table is either constant (end values) or
/// continued linearly with the end slope, as the caller chooses.
public struct MonotoneTable: Sendable, Equatable {
    /// How the table behaves outside its knots.
    public enum Extrapolation: Sendable, Equatable {
        /// Hold the end values (derivative zero).
        case constant
        /// Continue with the end slopes.
        case linear
    }

    public let x: [Double]
    public let y: [Double]
    /// Knot derivatives dy/dx.
    public let slopes: [Double]
    public let extrapolation: Extrapolation

    /// - Precondition: at least two knots, `x` strictly increasing, all values finite (checked by
    ///   `ParameterSet.validate`, which names the file and field).
    public init(x: [Double], y: [Double], extrapolation: Extrapolation) {
        precondition(x.count == y.count && x.count >= 2, "MonotoneTable needs ≥ 2 knots of equal count")
        self.x = x
        self.y = y
        self.extrapolation = extrapolation
        let n = x.count
        var h = [Double](repeating: 0, count: n - 1)
        var delta = [Double](repeating: 0, count: n - 1)
        for k in 0..<(n - 1) {
            h[k] = x[k + 1] - x[k]
            delta[k] = (y[k + 1] - y[k]) / h[k]
        }
        var d = [Double](repeating: 0, count: n)
        if n == 2 {
            d[0] = delta[0]
            d[1] = delta[0]
        } else {
            for k in 1..<(n - 1) {
                if delta[k - 1] == 0 || delta[k] == 0 || (delta[k - 1] > 0) != (delta[k] > 0) {
                    d[k] = 0
                } else {
                    let w1 = 2 * h[k] + h[k - 1]
                    let w2 = h[k] + 2 * h[k - 1]
                    d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
                }
            }
            d[0] = MonotoneTable.endSlope(h0: h[0], h1: h[1], d0: delta[0], d1: delta[1])
            d[n - 1] = MonotoneTable.endSlope(h0: h[n - 2], h1: h[n - 3], d0: delta[n - 2], d1: delta[n - 3])
        }
        self.slopes = d
    }

    /// SciPy's shape-preserving three-point end slope.
    private static func endSlope(h0: Double, h1: Double, d0: Double, d1: Double) -> Double {
        var d = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if (d > 0) != (d0 > 0) || d0 == 0 {
            d = 0
        } else if (d0 > 0) != (d1 > 0), abs(d) > abs(3 * d0) {
            d = 3 * d0
        }
        return d
    }

    /// Index k of the interval [x[k], x[k+1]] holding `t` (t inside the knots).
    @inline(__always)
    private func interval(_ t: Double) -> Int {
        var lo = 0
        var hi = x.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) >> 1
            if x[mid] <= t { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// Value and derivative at `t`.
    @inline(__always)
    public func evaluate(_ t: Double) -> (value: Double, derivative: Double) {
        let n = x.count
        if t <= x[0] {
            switch extrapolation {
            case .constant: return (y[0], 0)
            case .linear: return (y[0] + slopes[0] * (t - x[0]), slopes[0])
            }
        }
        if t >= x[n - 1] {
            switch extrapolation {
            case .constant: return (y[n - 1], 0)
            case .linear: return (y[n - 1] + slopes[n - 1] * (t - x[n - 1]), slopes[n - 1])
            }
        }
        let k = interval(t)
        let h = x[k + 1] - x[k]
        let s = (t - x[k]) / h
        let s2 = s * s, s3 = s2 * s
        let h00 = 2 * s3 - 3 * s2 + 1, h10 = s3 - 2 * s2 + s
        let h01 = -2 * s3 + 3 * s2, h11 = s3 - s2
        let value = h00 * y[k] + h10 * h * slopes[k] + h01 * y[k + 1] + h11 * h * slopes[k + 1]
        let dh00 = (6 * s2 - 6 * s) / h, dh10 = 3 * s2 - 4 * s + 1
        let dh01 = (-6 * s2 + 6 * s) / h, dh11 = 3 * s2 - 2 * s
        let derivative = dh00 * y[k] + dh10 * slopes[k] + dh01 * y[k + 1] + dh11 * slopes[k + 1]
        return (value, derivative)
    }

    /// Value at `t`.
    public func callAsFunction(_ t: Double) -> Double { evaluate(t).value }
}
