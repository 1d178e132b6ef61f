import Foundation
import Testing
@testable import ParticleModel

@Test func pchipReproducesKnotsAndStaysMonotone() {
    let p = ParameterSet.nmc87
    let table = p.ocvTable
    for (x, y) in zip(p.ocvTheta, p.ocvVolts) { #expect(abs(table(x) - y) < 1e-12) }
    // Strictly decreasing data → non-increasing interpolant, no overshoot between knots.
    var previous = Double.infinity
    for k in 0...9000 {
        let t = 0.1 + 0.9 * Double(k) / 9000
        let (v, d) = table.evaluate(t)
        #expect(v <= previous + 1e-12)
        #expect(d <= 1e-12)
        previous = v
    }
    for k in 0..<(p.ocvTheta.count - 1) {
        let lo = min(p.ocvVolts[k], p.ocvVolts[k + 1]), hi = max(p.ocvVolts[k], p.ocvVolts[k + 1])
        for s in stride(from: 0.0, through: 1.0, by: 0.05) {
            let v = table(p.ocvTheta[k] + s * (p.ocvTheta[k + 1] - p.ocvTheta[k]))
            #expect(v >= lo - 1e-12 && v <= hi + 1e-12)
        }
    }
}

@Test func pchipDerivativeMatchesFiniteDifference() {
    let table = ParameterSet.nmc87.log10DiffusivityTable
    for x in stride(from: 0.01, through: 0.99, by: 0.0123) {
        let h = 1e-6
        let fd = (table(x + h) - table(x - h)) / (2 * h)
        #expect(abs(table.evaluate(x).derivative - fd) < 1e-5 * max(1, abs(fd)))
    }
}

@Test func diffusivityIsConstantOutsideSeedRange() {
    // Seed: D_Li constant for x ≤ 0.07 at 0.016e-11 and for x ≥ 0.9 at 0.059e-11 cm²/s.
    let table = ParameterSet.nmc87.log10DiffusivityTable
    for x in [-0.5, 0.0, 0.03, 0.07] { #expect(abs(pow(10, table(x)) - 1.6e-13) < 1e-18) }
    for x in [0.9, 0.95, 1.0, 1.4] { #expect(abs(pow(10, table(x)) - 5.9e-13) < 1e-18) }
}

@Test func linearTableIsExact() {
    let t = MonotoneTable(x: [0, 1, 2, 3], y: [1, 3, 5, 7], extrapolation: .linear)
    for x in stride(from: -1.0, through: 4.0, by: 0.25) {
        #expect(abs(t(x) - (1 + 2 * x)) < 1e-12)
        #expect(abs(t.evaluate(x).derivative - 2) < 1e-12)
    }
}

@Test func flatSegmentHasNoOvershoot() {
    // Data with a plateau: PCHIP must not ring around it.
    let t = MonotoneTable(x: [0, 1, 2, 3, 4], y: [0, 1, 1, 1, 2], extrapolation: .constant)
    for x in stride(from: 1.0, through: 3.0, by: 0.01) { #expect(abs(t(x) - 1) < 1e-12) }
    for x in stride(from: 0.0, through: 1.0, by: 0.01) { #expect(t(x) >= -1e-12 && t(x) <= 1 + 1e-12) }
}
