// seed, Experimental Procedures, "Drift correction": the position of a bright sub-diffraction spot is
// found by fitting a two-dimensional Gaussian. Least squares by Levenberg–Marquardt with the
// analytic Jacobian; six parameters, so the normal equations are solved directly.
import Foundation

/// An elliptical 2D Gaussian on a constant offset (axes along x and y), in pixel units.
public struct Gaussian2D: Sendable, Equatable {
    /// Peak height above the offset.
    public var amplitude: Double
    /// Centre, x (column) in pixels.
    public var centreX: Double
    /// Centre, y (row) in pixels.
    public var centreY: Double
    /// Standard deviation along x, pixels.
    public var sigmaX: Double
    /// Standard deviation along y, pixels.
    public var sigmaY: Double
    /// Constant background.
    public var offset: Double

    /// Plain memberwise initialiser.
    public init(amplitude: Double, centreX: Double, centreY: Double, sigmaX: Double, sigmaY: Double, offset: Double) {
        self.amplitude = amplitude
        self.centreX = centreX
        self.centreY = centreY
        self.sigmaX = sigmaX
        self.sigmaY = sigmaY
        self.offset = offset
    }

    /// Value at (x, y).
    public func value(x: Double, y: Double) -> Double {
        let u = (x - centreX) / sigmaX, v = (y - centreY) / sigmaY
        return amplitude * exp(-0.5 * (u * u + v * v)) + offset
    }
}

/// Levenberg–Marquardt fit of a ``Gaussian2D`` to a square window of a frame.
public enum GaussianFitter {
    /// The result of a fit: the parameters, whether they are trustworthy, and the RMS residual.
    public struct Result: Sendable {
        /// Fitted parameters (window offset already added back: frame coordinates).
        public var gaussian: Gaussian2D
        /// True when the fit converged to a compact spot inside the window.
        public var isValid: Bool
        /// RMS residual over the window.
        public var rmsResidual: Double
    }

    /// Fits a Gaussian to the window of half-width `halfWidthPixels` centred on the pixel nearest
    /// (`guessX`, `guessY`). Pixels outside the frame or NaN are left out of the sum.
    public static func fit(_ frame: BinnedFrame, guessX: Double, guessY: Double,
                           halfWidthPixels: Int = 7, guessSigmaPixels: Double = 1.5) -> Result {
        let cx = Int(guessX.rounded()), cy = Int(guessY.rounded())
        var xs: [Double] = [], ys: [Double] = [], vs: [Double] = []
        xs.reserveCapacity((2 * halfWidthPixels + 1) * (2 * halfWidthPixels + 1))
        var border: [Float] = []
        for y in (cy - halfWidthPixels)...(cy + halfWidthPixels) where y >= 0 && y < frame.height {
            for x in (cx - halfWidthPixels)...(cx + halfWidthPixels) where x >= 0 && x < frame.width {
                let v = frame[x, y]
                guard v.isFinite else { continue }
                xs.append(Double(x - cx)); ys.append(Double(y - cy)); vs.append(Double(v))
                if abs(x - cx) == halfWidthPixels || abs(y - cy) == halfWidthPixels { border.append(v) }
            }
        }
        let invalid = Result(gaussian: Gaussian2D(amplitude: 0, centreX: guessX, centreY: guessY,
                                                  sigmaX: 0, sigmaY: 0, offset: 0),
                             isValid: false, rmsResidual: .infinity)
        guard vs.count >= 12 else { return invalid }
        // Start: offset from the window's border, centre from the positive-part centroid.
        let offset0 = Double(ImageOps.median(border))
        var sw = 0.0, sx = 0.0, sy = 0.0, peak = -Double.infinity
        for i in vs.indices {
            let w = max(0, vs[i] - offset0)
            sw += w * w; sx += w * w * xs[i]; sy += w * w * ys[i]
            peak = max(peak, vs[i])
        }
        var p: [Double] = [peak - offset0, sw > 0 ? sx / sw : 0, sw > 0 ? sy / sw : 0,
                           guessSigmaPixels, guessSigmaPixels, offset0]
        guard p[0] > 0 else { return invalid }

        func residualsAndJacobian(_ p: [Double], jacobian: inout [Double]?) -> [Double] {
            var r = [Double](repeating: 0, count: vs.count)
            for i in vs.indices {
                let dx = xs[i] - p[1], dy = ys[i] - p[2]
                let ex = dx / p[3], ey = dy / p[4]
                let e = exp(-0.5 * (ex * ex + ey * ey))
                r[i] = vs[i] - (p[0] * e + p[5])
                if jacobian != nil {
                    let a = p[0] * e
                    jacobian![i * 6 + 0] = e
                    jacobian![i * 6 + 1] = a * dx / (p[3] * p[3])
                    jacobian![i * 6 + 2] = a * dy / (p[4] * p[4])
                    jacobian![i * 6 + 3] = a * dx * dx / (p[3] * p[3] * p[3])
                    jacobian![i * 6 + 4] = a * dy * dy / (p[4] * p[4] * p[4])
                    jacobian![i * 6 + 5] = 1
                }
            }
            return r
        }
        func cost(_ r: [Double]) -> Double { r.reduce(0) { $0 + $1 * $1 } }

        var lambda = 1e-3
        var jac: [Double]? = [Double](repeating: 0, count: vs.count * 6)
        var r = residualsAndJacobian(p, jacobian: &jac)
        var c = cost(r)
        var noJacobian: [Double]? = nil
        for _ in 0..<100 {
            // Normal equations JᵀJ δ = Jᵀr (r = data − model, so δ moves the model towards the data).
            var a = [Double](repeating: 0, count: 36), g = [Double](repeating: 0, count: 6)
            let j = jac!
            for i in vs.indices {
                for m in 0..<6 {
                    let jm = j[i * 6 + m]
                    g[m] += jm * r[i]
                    for n in m..<6 { a[m * 6 + n] += jm * j[i * 6 + n] }
                }
            }
            for m in 0..<6 { for n in 0..<m { a[m * 6 + n] = a[n * 6 + m] } }
            var improved = false
            for _ in 0..<12 {
                var damped = a
                for m in 0..<6 { damped[m * 6 + m] *= 1 + lambda }
                guard let delta = solve6(damped, g) else { lambda *= 10; continue }
                var trial = p
                for m in 0..<6 { trial[m] += delta[m] }
                trial[3] = abs(trial[3]); trial[4] = abs(trial[4])
                if trial[3] < 0.05 || trial[4] < 0.05 { lambda *= 10; continue }
                let rt = residualsAndJacobian(trial, jacobian: &noJacobian)
                let ct = cost(rt)
                if ct < c {
                    let relative = (c - ct) / max(c, 1e-300)
                    p = trial; c = ct
                    lambda = max(lambda / 10, 1e-9)
                    r = residualsAndJacobian(p, jacobian: &jac)
                    improved = relative > 1e-10
                    break
                }
                lambda *= 10
            }
            if !improved { break }
        }
        let hw = Double(halfWidthPixels)
        let valid = p[0] > 0 && abs(p[1]) < hw && abs(p[2]) < hw
            && p[3] > 0.3 && p[4] > 0.3 && p[3] < hw && p[4] < hw
        return Result(gaussian: Gaussian2D(amplitude: p[0], centreX: p[1] + Double(cx), centreY: p[2] + Double(cy),
                                           sigmaX: p[3], sigmaY: p[4], offset: p[5]),
                      isValid: valid, rmsResidual: (c / Double(vs.count)).squareRoot())
    }

    /// Solves a 6×6 system by Gaussian elimination with partial pivoting; nil when singular.
    static func solve6(_ a: [Double], _ b: [Double]) -> [Double]? {
        var m = a, x = b
        let n = 6
        for col in 0..<n {
            var pivot = col
            for row in (col + 1)..<n where abs(m[row * n + col]) > abs(m[pivot * n + col]) { pivot = row }
            guard abs(m[pivot * n + col]) > 1e-300 else { return nil }
            if pivot != col {
                for k in 0..<n { m.swapAt(col * n + k, pivot * n + k) }
                x.swapAt(col, pivot)
            }
            for row in (col + 1)..<n {
                let f = m[row * n + col] / m[col * n + col]
                if f == 0 { continue }
                for k in col..<n { m[row * n + k] -= f * m[col * n + k] }
                x[row] -= f * x[col]
            }
        }
        for col in stride(from: n - 1, through: 0, by: -1) {
            var s = x[col]
            for k in (col + 1)..<n { s -= m[col * n + k] * x[k] }
            x[col] = s / m[col * n + col]
        }
        return x.allSatisfy { $0.isFinite } ? x : nil
    }
}
