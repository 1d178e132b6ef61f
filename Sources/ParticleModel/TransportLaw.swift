import Foundation

// Units: lengths µm, time s, diffusivities µm²/s inside; cm²/s only at the API edge.

/// The material functions the solver needs, precomputed from a parameter set:
/// chemical diffusivity D_chem(θ) = D_eff(θ)·θ·(F/RT)·(−dV_oc/dθ) (seed Eq. 12) and its Kirchhoff
/// potential Φ(θ) = ∫ D_chem dθ, so that ∇·(D_chem ∇θ) = ΔΦ(θ). Φ is tabulated on a fine uniform
/// θ grid as a cubic Hermite spline whose knot slopes are D_chem itself, so Φ and dΦ/dθ are
/// consistent (Newton converges quadratically) and accurate to O(Δθ⁴).
public struct TransportLaw: Sendable {
    /// θ range the tables cover: the V_oc table's first knot to 1.
    public let thetaLow: Double
    public let thetaHigh: Double
    let grid: [Double]
    let segmentKnots: [Double]   // V_oc knots in [thetaLow, thetaHigh]
    let segmentStart: [Int]      // first grid index of each segment
    let segmentStep: [Double]    // uniform cell width inside each segment
    let constantChemical: Double?
    let potential: [Double]      // Φ at grid nodes, µm²/s
    let diffusivity: [Double]    // D_chem at grid nodes, µm²/s
    public let ocv: MonotoneTable
    let log10D: MonotoneTable
    let scale: Double
    let constantEffectiveDiffusivity: Double?   // µm²/s, replaces D_Li/S when set
    /// Segment of each of `bucketCount` uniform θ buckets' start: the Newton loop's table look-up
    /// starts there instead of bisecting the knots (callgrind: the bisection was the largest part
    /// of evaluating Φ at every node).
    let bucketSegment: [Int32]
    let bucketsPerTheta: Double
    static let bucketCount = 4096
    let thermalVoltageInverse: Double           // F/RT, 1/V
    /// The Newton loop's tables, per Hermite cell k = [grid[k], grid[k+1]]: Φ and dΦ/dθ as cubics in
    /// the local s = (θ − grid[k])·cellInverseStep[k] (`cellPolynomial[8k ..< 8k+8]`: Φ's four
    /// coefficients, then dΦ/dθ's three and a pad), and the first cell of each of `cellBucketCount`
    /// uniform θ buckets. Callgrind (issue 17): the segment search, the division and the Hermite
    /// basis were ~120 instructions per node per Newton iteration; these make it a bucket read, at
    /// most a step or two along the cells, and two Horner polynomials.
    let cellPolynomial: [Double]
    let cellInverseStep: [Double]
    let cellBucket: [Int32]
    let cellBucketsPerTheta: Double

    /// - Parameters:
    ///   - parameters: the material.
    ///   - scale: S in D_eff = D_Li/S (nil: the parameter set's).
    ///   - constantDiffusivityCm2PerS: replaces D_Li/S by a constant D0 (seed Fig. S17), keeping the
    ///     thermodynamic factor.
    ///   - constantChemicalDiffusivityMicrometres2PerS: verification only — D_chem itself constant.
    public init(parameters: ParameterSet, scale: Double? = nil, constantDiffusivityCm2PerS: Double? = nil,
                constantChemicalDiffusivityMicrometres2PerS: Double? = nil, gridIntervals: Int = 20000) {
        self.ocv = parameters.ocvTable
        self.log10D = parameters.log10DiffusivityTable
        self.scale = scale ?? parameters.scale
        self.constantEffectiveDiffusivity = constantDiffusivityCm2PerS.map { $0 * 1e8 }
        self.thermalVoltageInverse = PhysicalConstants.faraday / (PhysicalConstants.gas * parameters.temperatureKelvin)
        let top = 1.0
        thetaLow = parameters.ocvTheta[0]
        thetaHigh = top
        // The grid is uniform inside each V_oc interval and has nodes on the V_oc knots: D_chem ∝ V_oc'
        // has kinks there (PCHIP is C¹), and a kink inside a Hermite cell would cost accuracy.
        var knots = parameters.ocvTheta.filter { $0 < top }
        knots.append(top)
        var starts: [Int] = []
        var steps: [Double] = []
        var grid: [Double] = []
        let span = top - parameters.ocvTheta[0]
        for k in 0..<(knots.count - 1) {
            let cells = max(4, Int((Double(gridIntervals) * (knots[k + 1] - knots[k]) / span).rounded()))
            starts.append(grid.count)
            steps.append((knots[k + 1] - knots[k]) / Double(cells))
            for c in 0..<cells { grid.append(knots[k] + Double(c) * (knots[k + 1] - knots[k]) / Double(cells)) }
        }
        grid.append(top)
        starts.append(grid.count - 1)
        segmentKnots = knots
        segmentStart = starts
        segmentStep = steps
        var d = [Double](repeating: 0, count: grid.count)
        var phi = [Double](repeating: 0, count: grid.count)
        let law = (ocv, log10D, self.scale, constantEffectiveDiffusivity, thermalVoltageInverse)
        func dchem(_ t: Double) -> Double {
            if let d = constantChemicalDiffusivityMicrometres2PerS { return d }
            return TransportLaw.chemicalDiffusivity(t, ocv: law.0, log10D: law.1, scale: law.2,
                                                    constant: law.3, fOverRT: law.4)
        }
        let gl = [(-sqrt(0.6), 5.0 / 9), (0.0, 8.0 / 9), (sqrt(0.6), 5.0 / 9)]
        for k in grid.indices {
            d[k] = dchem(grid[k])
            if k > 0 {
                let h = grid[k] - grid[k - 1]
                let mid = grid[k - 1] + h / 2
                var integral = 0.0
                for (x, w) in gl { integral += w * dchem(mid + x * h / 2) }
                phi[k] = phi[k - 1] + integral * h / 2
            }
        }
        self.grid = grid
        diffusivity = d
        potential = phi
        constantChemical = constantChemicalDiffusivityMicrometres2PerS
        let perTheta = Double(Self.bucketCount) / (thetaHigh - thetaLow)
        bucketsPerTheta = perTheta
        let lowKnot = thetaLow
        // Per-cell polynomials of the same Hermite cubic (coefficients of s⁰…s³).
        let cells = grid.count - 1
        var poly = [Double](repeating: 0, count: 8 * max(1, cells))
        var inverse = [Double](repeating: 0, count: max(1, cells))
        var segment = 0
        var narrowest = Double.infinity
        for k in 0..<cells {
            while segment + 1 < starts.count - 1 && starts[segment + 1] <= k { segment += 1 }
            let h = steps[segment]
            narrowest = min(narrowest, grid[k + 1] - grid[k])
            let y0 = phi[k], y1 = phi[k + 1], m0 = h * d[k], m1 = h * d[k + 1]
            let c0 = y0, c1 = m0, c2 = -3 * y0 - 2 * m0 + 3 * y1 - m1, c3 = 2 * y0 + m0 - 2 * y1 + m1
            inverse[k] = 1 / h
            poly[8 * k] = c0; poly[8 * k + 1] = c1; poly[8 * k + 2] = c2; poly[8 * k + 3] = c3
            poly[8 * k + 4] = c1 / h; poly[8 * k + 5] = 2 * c2 / h; poly[8 * k + 6] = 3 * c3 / h
        }
        cellPolynomial = poly
        cellInverseStep = inverse
        // Buckets no wider than the narrowest cell (at most 2¹⁶ of them; a table with an extremely
        // short V_oc interval only walks a few more cells).
        let bucketTotal = max(1, min(1 << 16, Int((span / max(narrowest, 1e-300)).rounded(.up)) + 1))
        let bucketsPer = Double(bucketTotal) / span
        cellBucketsPerTheta = bucketsPer
        var cellStarts = [Int32](repeating: 0, count: bucketTotal)
        var k = 0
        for b in 0..<bucketTotal {
            let start = thetaLow + Double(b) / bucketsPer
            while k + 1 < cells && grid[k + 1] <= start { k += 1 }
            cellStarts[b] = Int32(k)
        }
        cellBucket = cellStarts
        bucketSegment = (0..<Self.bucketCount).map { b in
            let start = lowKnot + Double(b) / perTheta
            var lo = 0, hi = knots.count - 1
            while hi - lo > 1 {
                let mid = (lo + hi) >> 1
                if knots[mid] <= start { lo = mid } else { hi = mid }
            }
            return Int32(lo)
        }
    }

    static func chemicalDiffusivity(_ theta: Double, ocv: MonotoneTable, log10D: MonotoneTable, scale: Double,
                                    constant: Double?, fOverRT: Double) -> Double {
        let deff = constant ?? (pow(10, log10D(1 - theta)) * 1e8 / scale)
        let slope = max(-ocv.evaluate(theta).derivative, 1e-4)   // V per unit θ; floor keeps D_chem > 0
        return deff * theta * fOverRT * slope
    }

    /// D_chem(θ), µm²/s (exact, not tabulated).
    public func chemicalDiffusivityMicrometres2PerS(_ theta: Double) -> Double {
        if let d = constantChemical { return d }
        return TransportLaw.chemicalDiffusivity(theta, ocv: ocv, log10D: log10D, scale: scale,
                                         constant: constantEffectiveDiffusivity, fOverRT: thermalVoltageInverse)
    }

    /// D_eff(θ) = D_Li/S (or the constant D0), cm²/s.
    public func effectiveDiffusivityCm2PerS(_ theta: Double) -> Double {
        (constantEffectiveDiffusivity ?? (pow(10, log10D(1 - theta)) * 1e8 / scale)) * 1e-8
    }

    /// Φ(θ) and dΦ/dθ from the Hermite table (θ clamped to the covered range).
    @inline(__always)
    func kirchhoff(_ theta: Double) -> (phi: Double, dphi: Double) {
        let t = min(max(theta, thetaLow), thetaHigh)
        var lo = 0, hi = segmentKnots.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) >> 1
            if segmentKnots[mid] <= t { lo = mid } else { hi = mid }
        }
        let h = segmentStep[lo]
        var k = segmentStart[lo] + Int((t - segmentKnots[lo]) / h)
        if k >= segmentStart[lo + 1] { k = segmentStart[lo + 1] - 1 }
        let s = (t - grid[k]) / h
        let s2 = s * s, s3 = s2 * s
        let y0 = potential[k], y1 = potential[k + 1], m0 = diffusivity[k], m1 = diffusivity[k + 1]
        let phi = (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * h * m0 + (-2 * s3 + 3 * s2) * y1 + (s3 - s2) * h * m1
        let dphi = ((6 * s2 - 6 * s) * y0 + (-6 * s2 + 6 * s) * y1) / h + (3 * s2 - 4 * s + 1) * m0 + (3 * s2 - 2 * s) * m1
        return (phi, dphi)
    }

    /// Φ(θ) and dΦ/dθ at every node at once: the same Hermite cubic as `kirchhoff(_:)` in per-cell
    /// polynomial form, the cell found from a bucket table, every table read unchecked.
    func kirchhoff(_ theta: UnsafeMutableBufferPointer<Double>, phi: UnsafeMutableBufferPointer<Double>,
                   dphi: UnsafeMutableBufferPointer<Double>) {
        let low = thetaLow, high = thetaHigh, perTheta = cellBucketsPerTheta
        let lastBucket = cellBucket.count - 1
        let lastCell = grid.count - 2
        grid.withUnsafeBufferPointer { grid in
        cellBucket.withUnsafeBufferPointer { buckets in
        cellInverseStep.withUnsafeBufferPointer { inverse in
        cellPolynomial.withUnsafeBufferPointer { poly in
            for i in 0..<theta.count {
                let t = min(max(theta[i], low), high)
                var k = Int(buckets[min(lastBucket, max(0, Int((t - low) * perTheta)))])
                while k < lastCell && grid[k &+ 1] <= t { k &+= 1 }
                while k > 0 && grid[k] > t { k &-= 1 }
                let s = (t - grid[k]) * inverse[k]
                let c = 8 &* k
                phi[i] = poly[c] + s * (poly[c &+ 1] + s * (poly[c &+ 2] + s * poly[c &+ 3]))
                dphi[i] = poly[c &+ 4] + s * (poly[c &+ 5] + s * poly[c &+ 6])
            }
        }}}}
    }

    /// The Hermite-basis form of `kirchhoff(_:phi:dphi:)` (the form before issue 17), kept to check
    /// the polynomial tables against.
    func kirchhoffHermite(_ theta: UnsafeMutableBufferPointer<Double>, phi: UnsafeMutableBufferPointer<Double>,
                          dphi: UnsafeMutableBufferPointer<Double>) {
        let low = thetaLow, high = thetaHigh, perTheta = bucketsPerTheta
        let lastBucket = Self.bucketCount - 1
        segmentKnots.withUnsafeBufferPointer { knots in
        segmentStart.withUnsafeBufferPointer { starts in
        segmentStep.withUnsafeBufferPointer { steps in
        grid.withUnsafeBufferPointer { grid in
        potential.withUnsafeBufferPointer { pot in
        diffusivity.withUnsafeBufferPointer { dif in
        bucketSegment.withUnsafeBufferPointer { buckets in
            let lastSegment = knots.count - 2
            for i in 0..<theta.count {
                let t = min(max(theta[i], low), high)
                // The bisection's answer: the last knot ≤ t (never past the second-to-last).
                var lo = Int(buckets[min(lastBucket, max(0, Int((t - low) * perTheta)))])
                while lo < lastSegment && knots[lo + 1] <= t { lo += 1 }
                while lo > 0 && knots[lo] > t { lo -= 1 }
                let h = steps[lo]
                var k = starts[lo] + Int((t - knots[lo]) / h)
                if k >= starts[lo + 1] { k = starts[lo + 1] - 1 }
                let s = (t - grid[k]) / h
                let s2 = s * s, s3 = s2 * s
                let y0 = pot[k], y1 = pot[k + 1], m0 = dif[k], m1 = dif[k + 1]
                phi[i] = (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * h * m0 + (-2 * s3 + 3 * s2) * y1 + (s3 - s2) * h * m1
                dphi[i] = ((6 * s2 - 6 * s) * y0 + (-6 * s2 + 6 * s) * y1) / h + (3 * s2 - 4 * s + 1) * m0 + (3 * s2 - 2 * s) * m1
            }
        }}}}}}}
    }
}
