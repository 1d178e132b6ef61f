import Foundation

// Small numerical pieces of the fits: the closed-form gain of seed Eq. 18, Brent's minimiser and a
// dense linear solver for the Levenberg–Marquardt normal equations.

/// Sums that give e(S, A) of seed Eq. 18 for any A at one S: with χ_k = θ0 − θ_k (seed Eq. 17),
/// Σ(Ī − Aχ)² = ΣĪ² − 2AΣĪχ + A²Σχ². With `fitsOffset`, Ī = Aχ + c with the offset c profiled out
/// (c = (ΣĪ − AΣχ)/N), and the sums are those of the centred data.
struct GainSums: Sendable {
    var count = 0
    var sumII = 0.0, sumIX = 0.0, sumXX = 0.0
    var sumI = 0.0, sumX = 0.0
    var fitsOffset = false

    init(measured: [Double], theta: [Double], theta0: Double, fitsOffset: Bool = false) {
        self.fitsOffset = fitsOffset
        for (i, th) in zip(measured, theta) where i.isFinite && th.isFinite {
            let x = theta0 - th
            count += 1; sumII += i * i; sumIX += i * x; sumXX += x * x; sumI += i; sumX += x
        }
    }

    private var n: Double { Double(max(1, count)) }
    private var cII: Double { fitsOffset ? sumII - sumI * sumI / n : sumII }
    private var cIX: Double { fitsOffset ? sumIX - sumI * sumX / n : sumIX }
    private var cXX: Double { fitsOffset ? sumXX - sumX * sumX / n : sumXX }

    /// The least-squares A at this S (seed Eq. 18 minimised over A, and c, in closed form).
    var bestGain: Double { cXX > 0 ? cIX / cXX : 0 }
    /// The offset c at gain A (0 without `fitsOffset`).
    func offset(gain a: Double) -> Double { fitsOffset && count > 0 ? (sumI - a * sumX) / n : 0 }
    var bestOffset: Double { offset(gain: bestGain) }
    /// Σ(χ − χ̄)² (Σχ² without the offset): the A-direction curvature of the sum of squares.
    var centredSumXX: Double { cXX }
    /// Σ residual² at gain A (offset profiled out when fitted).
    func sse(gain a: Double) -> Double { max(0, cII - 2 * a * cIX + a * a * cXX) }
    /// e(S, A) = sqrt(mean residual²) (seed Eq. 18).
    func rmse(gain a: Double) -> Double { count > 0 ? (sse(gain: a) / Double(count)).squareRoot() : .infinity }
    var bestSSE: Double { sse(gain: bestGain) }
    var bestRMSE: Double { rmse(gain: bestGain) }
}

/// Brent's method (parabolic interpolation with golden-section fallback) on [a, b].
func brentMinimise(_ a0: Double, _ b0: Double, start: Double, fStart: Double, tolerance: Double, maxEvaluations: Int,
                   _ f: (Double) throws -> Double) rethrows -> (x: Double, f: Double) {
    let golden = 0.3819660112501051
    var a = a0, b = b0
    var x = start, w = start, v = start
    var fx = fStart, fw = fStart, fv = fStart
    var d = 0.0, e = 0.0
    for _ in 0..<maxEvaluations {
        let m = 0.5 * (a + b)
        let tol1 = tolerance * abs(x) + 1e-10, tol2 = 2 * tol1
        if abs(x - m) <= tol2 - 0.5 * (b - a) { break }
        var useGolden = true
        if abs(e) > tol1 {
            var r = (x - w) * (fx - fv), q = (x - v) * (fx - fw)
            var p = (x - v) * q - (x - w) * r
            q = 2 * (q - r)
            if q > 0 { p = -p } else { q = -q }
            r = e
            e = d
            if abs(p) < abs(0.5 * q * r), p > q * (a - x), p < q * (b - x) {
                d = p / q
                let u = x + d
                if u - a < tol2 || b - u < tol2 { d = x < m ? tol1 : -tol1 }
                useGolden = false
            }
        }
        if useGolden {
            e = x >= m ? a - x : b - x
            d = golden * e
        }
        let u = abs(d) >= tol1 ? x + d : x + (d > 0 ? tol1 : -tol1)
        let fu = try f(u)
        if fu <= fx {
            if u >= x { a = x } else { b = x }
            v = w; fv = fw; w = x; fw = fx; x = u; fx = fu
        } else {
            if u < x { a = u } else { b = u }
            if fu <= fw || w == x { v = w; fv = fw; w = u; fw = fu }
            else if fu <= fv || v == x || v == w { v = u; fv = fu }
        }
    }
    return (x, fx)
}

/// Solves A·x = b (A n×n, row-major) by Gaussian elimination with partial pivoting; nil when singular.
func solveLinear(_ a: [[Double]], _ b: [Double]) -> [Double]? {
    let n = b.count
    var m = a, r = b
    for col in 0..<n {
        var pivot = col
        for row in col..<n where abs(m[row][col]) > abs(m[pivot][col]) { pivot = row }
        guard abs(m[pivot][col]) > 1e-300 else { return nil }
        if pivot != col { m.swapAt(pivot, col); r.swapAt(pivot, col) }
        for row in (col + 1)..<n {
            let f = m[row][col] / m[col][col]
            if f == 0 { continue }
            for k in col..<n { m[row][k] -= f * m[col][k] }
            r[row] -= f * r[col]
        }
    }
    var x = [Double](repeating: 0, count: n)
    for row in stride(from: n - 1, through: 0, by: -1) {
        var s = r[row]
        for k in (row + 1)..<n { s -= m[row][k] * x[k] }
        x[row] = s / m[row][row]
    }
    return x
}

/// Inverse of a small symmetric positive-definite matrix (column by column); nil when singular.
func invert(_ a: [[Double]]) -> [[Double]]? {
    let n = a.count
    var columns: [[Double]] = []
    for j in 0..<n {
        var e = [Double](repeating: 0, count: n); e[j] = 1
        guard let c = solveLinear(a, e) else { return nil }
        columns.append(c)
    }
    return (0..<n).map { i in (0..<n).map { j in columns[j][i] } }
}

/// Lag-1 autocorrelation of residuals (0 when undefined): used to widen uncertainties, since
/// neighbouring frames' residuals are not independent.
func lagOneAutocorrelation(_ r: [Double]) -> Double {
    guard r.count > 3 else { return 0 }
    let mean = r.reduce(0, +) / Double(r.count)
    var num = 0.0, den = 0.0
    for k in r.indices {
        den += (r[k] - mean) * (r[k] - mean)
        if k > 0 { num += (r[k] - mean) * (r[k - 1] - mean) }
    }
    return den > 0 ? num / den : 0
}
