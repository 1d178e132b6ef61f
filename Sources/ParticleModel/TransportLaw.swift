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

    /// Φ(θ) and dΦ/dθ at every node at once: the same Hermite evaluation as `kirchhoff(_:)`, with the
    /// segment found from a bucket table and every table read unchecked.
    func kirchhoff(_ theta: UnsafeMutableBufferPointer<Double>, phi: UnsafeMutableBufferPointer<Double>,
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
