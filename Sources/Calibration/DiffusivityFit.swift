import Foundation
import ParticleModel

// Beyond the seed: the seed keeps the NMR shape of D_Li(θ) and fits one factor S (Eq. 16–18). Here the
// table itself — log10 D_Li at the knots x = 1 − θ that the run visits — is fitted to the line-profile
// contrast, with S held at the centre fit (D/S is what the model sees: S and an overall factor of D are
// the same thing) and A solved in closed form at every evaluation (seed Eq. 17). The misfit is
// penalised by second differences of log10 D at the knots; Levenberg–Marquardt with a finite-difference
// Jacobian whose columns run in parallel.

/// The fitted D_Li(θ) table.
public struct DiffusivityFitResult: Sendable {
    /// Knots x = 1 − θ of the table.
    public var knotsX: [Double]
    public var initialCm2PerS: [Double]
    public var fittedCm2PerS: [Double]
    /// 1σ standard error of log10 D_Li at each knot (0 at knots held fixed).
    public var log10StandardError: [Double]
    /// Indices of the knots that were fitted (the others are held at their initial values).
    public var freeKnots: [Int]
    /// The x = 1 − θ range the model visits during the run: only there can the data say anything.
    public var visitedX: ClosedRange<Double>
    /// S held fixed during the fit.
    public var scale: Double
    /// A at the fitted table.
    public var gain: Double
    /// Line-profile RMS misfit with the fitted table and with the S-only calibration.
    public var rmse: Double
    public var rmseScaleOnly: Double
    public var iterations: Int
    public var modelRuns: Int
    /// The curve on a fine x grid: x, D initial, D fitted, and the 95 % band (cm²/s).
    public var curve: [(x: Double, initial: Double, fitted: Double, low: Double, high: Double)]
}

enum DiffusivityFit {
    static func run(problem: CalibrationProblem, scale: Double, startSSE: Double,
                    startThetaRange: (min: Double, max: Double), progress: (String) -> Void) throws -> DiffusivityFitResult {
        let base = problem.parameters
        let xs = base.diffusivityX
        let q0 = base.diffusivityCm2PerS.map { log10($0) }
        let last = xs.count - 1
        // Constant ends (docs/model.md: D constant outside [0.07, 0.90]) stay tied to their neighbours.
        let tieFirst = xs.count > 2 && q0[0] == q0[1], tieLast = xs.count > 2 && q0[last] == q0[last - 1]
        let core = Array((tieFirst ? 1 : 0)...(tieLast ? last - 1 : last))
        let visited = max(0, 1 - startThetaRange.max)...max(0, 1 - startThetaRange.min)
        // A knot is free when the PCHIP pieces it shapes, (x_{k−1}, x_{k+1}), overlap the visited range.
        let free = core.filter { k in
            let lo = k > 0 ? xs[k - 1] : -Double.infinity, hi = k < last ? xs[k + 1] : Double.infinity
            return hi > visited.lowerBound && lo < visited.upperBound
        }
        guard !free.isEmpty else {
            throw CalibrationError.modelFailed(settings: "D(θ) fit", reason: "the run visits no knot of the D table")
        }
        progress(String(format: "calibrate: D(θ) fit of %d knots (x = %@) over the visited x = %.3f…%.3f, S = %.3f",
                        free.count, free.map { String(format: "%.3g", xs[$0]) }.joined(separator: ","),
                        visited.lowerBound, visited.upperBound, scale))

        func fullLog(_ p: [Double]) -> [Double] {
            var q = q0
            for (j, k) in free.enumerated() { q[k] = p[j] }
            if tieFirst { q[0] = q[1] }
            if tieLast { q[last] = q[last - 1] }
            return q
        }
        func parameters(_ p: [Double]) -> ParameterSet {
            var s = base
            s.diffusivityCm2PerS = fullLog(p).map { pow(10, $0) }
            return s
        }
        let weight = (problem.options.smoothness * max(startSSE, 1e-30)).squareRoot()
        let measured = problem.profileMeasured.flatMap { $0 }
        // Residuals: data (measured − A·χ, A in closed form) then the smoothness penalty.
        func residuals(_ m: ModelSamples, _ p: [Double]) -> (r: [Double], gain: Double, dataSSE: Double) {
            let theta = m.profileTheta.flatMap { $0 }
            let sums = GainSums(measured: measured, theta: theta, theta0: problem.options.theta0)
            let a = sums.bestGain
            var r: [Double] = []
            r.reserveCapacity(measured.count + xs.count)
            for (i, th) in zip(measured, theta) where i.isFinite && th.isFinite { r.append(i - a * (problem.options.theta0 - th)) }
            let q = fullLog(p)
            for k in 1..<max(1, last) { r.append(weight * (q[k - 1] - 2 * q[k] + q[k + 1])) }
            return (r, a, sums.bestSSE)
        }
        var runs = 0
        func evaluate(_ ps: [[Double]]) -> [(r: [Double], gain: Double, dataSSE: Double)?] {
            runs += ps.count
            let results = runModels(ps.map { problem.request(scale: scale, parameters: parameters($0)) })
            return zip(results, ps).map { res, p in
                if case .success(let m) = res { return residuals(m, p) }
                return nil
            }
        }
        func cost(_ r: [Double]) -> Double { r.reduce(0) { $0 + $1 * $1 } }

        var p = free.map { q0[$0] }
        guard var current = evaluate([p])[0] else {
            throw CalibrationError.modelFailed(settings: "D(θ) fit", reason: "the starting table does not run")
        }
        let startRMSE = (current.dataSSE / Double(max(1, measured.filter(\.isFinite).count))).squareRoot()
        var mu = 1e-2
        let step = 0.02
        var jacobian: [[Double]] = []    // rows: residuals, columns: parameters
        var iterations = 0
        for iteration in 0..<problem.options.diffusivityIterations {
            iterations = iteration + 1
            // Finite-difference Jacobian, one model run per free knot, in parallel.
            let shifted = p.indices.map { j -> [Double] in var q = p; q[j] += step; return q }
            let columns = evaluate(shifted)
            let n = current.r.count
            var jac = [[Double]](repeating: [Double](repeating: 0, count: p.count), count: n)
            for (j, c) in columns.enumerated() {
                guard let c, c.r.count == n else { continue }
                for i in 0..<n { jac[i][j] = (c.r[i] - current.r[i]) / step }
            }
            jacobian = jac
            var jtj = [[Double]](repeating: [Double](repeating: 0, count: p.count), count: p.count)
            var jtr = [Double](repeating: 0, count: p.count)
            for i in 0..<n {
                let row = jac[i]
                for a in p.indices {
                    jtr[a] += row[a] * current.r[i]
                    for b in a..<p.count { jtj[a][b] += row[a] * row[b] }
                }
            }
            for a in p.indices { for b in 0..<a { jtj[a][b] = jtj[b][a] } }
            var accepted = false
            var largest = 0.0
            for _ in 0..<5 {
                var m = jtj
                for a in p.indices { m[a][a] += mu * max(jtj[a][a], 1e-12) }
                guard var delta = solveLinear(m, jtr.map { -$0 }) else { mu *= 10; continue }
                largest = delta.map { abs($0) }.max() ?? 0
                if largest > 0.5 { delta = delta.map { $0 * 0.5 / largest }; largest = 0.5 }
                let trial = zip(p, delta).map { $0 + $1 }
                if let t = evaluate([trial])[0], cost(t.r) < cost(current.r) {
                    let gainInCost = (cost(current.r) - cost(t.r)) / cost(current.r)
                    p = trial; current = t; mu = max(mu / 3, 1e-7); accepted = true
                    progress(String(format: "  D fit iteration %d: RMS %.6f (A = %.4f), step %.3f decades",
                                    iterations, (t.dataSSE / Double(max(1, measured.count))).squareRoot(), t.gain, largest))
                    if gainInCost < 1e-4 { largest = 0 }
                    break
                }
                mu *= 4
            }
            if !accepted || largest < 2e-3 { break }
        }

        // Covariance: s²·(JᵀJ)⁻¹ (penalty rows included), widened for correlated residuals.
        let dataCount = measured.filter(\.isFinite).count
        let s2 = current.dataSSE / Double(max(1, dataCount - p.count))
        let rho = max(0, min(0.99, lagOneAutocorrelation(Array(current.r.prefix(dataCount)))))
        let inflation = (1 + rho) / (1 - rho)
        var covariance = [[Double]](repeating: [Double](repeating: 0, count: p.count), count: p.count)
        if !jacobian.isEmpty {
            var jtj = [[Double]](repeating: [Double](repeating: 0, count: p.count), count: p.count)
            for row in jacobian { for a in p.indices { for b in p.indices { jtj[a][b] += row[a] * row[b] } } }
            if let inv = invert(jtj) { covariance = inv.map { $0.map { $0 * s2 * inflation } } }
        }
        var stderr = [Double](repeating: 0, count: xs.count)
        for (j, k) in free.enumerated() { stderr[k] = max(0, covariance[j][j]).squareRoot() }
        if tieFirst { stderr[0] = stderr[1] }
        if tieLast { stderr[last] = stderr[last - 1] }

        // The curve with its band: gradient of log10 D(x) with respect to each free knot, by differences.
        let fitted = fullLog(p)
        let table = MonotoneTable(x: xs, y: fitted, extrapolation: .constant)
        let initialTable = MonotoneTable(x: xs, y: q0, extrapolation: .constant)
        let perturbed = p.indices.map { j -> MonotoneTable in
            var q = p; q[j] += 1e-4
            return MonotoneTable(x: xs, y: fullLog(q), extrapolation: .constant)
        }
        let curve = stride(from: 0.0, through: 1.0 + 1e-9, by: 0.01).map { x -> (x: Double, initial: Double, fitted: Double, low: Double, high: Double) in
            let y = table(x)
            let g = perturbed.map { ($0(x) - y) / 1e-4 }
            var v = 0.0
            for a in g.indices { for b in g.indices { v += g[a] * covariance[a][b] * g[b] } }
            let sd = max(0, v).squareRoot()
            return (x, pow(10, initialTable(x)), pow(10, y), pow(10, y - 1.96 * sd), pow(10, y + 1.96 * sd))
        }
        let rmse = (current.dataSSE / Double(max(1, dataCount))).squareRoot()
        progress(String(format: "calibrate: D(θ) fit: RMS %.6f (S-only %.6f) after %d iterations, %d model runs",
                        rmse, startRMSE, iterations, runs))
        return DiffusivityFitResult(knotsX: xs, initialCm2PerS: q0.map { pow(10, $0) }, fittedCm2PerS: fitted.map { pow(10, $0) },
                                    log10StandardError: stderr, freeKnots: free, visitedX: visited, scale: scale,
                                    gain: current.gain, rmse: rmse, rmseScaleOnly: startRMSE, iterations: iterations,
                                    modelRuns: runs, curve: curve)
    }
}
