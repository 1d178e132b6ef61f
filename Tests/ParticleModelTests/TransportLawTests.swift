import Foundation
import Testing
@testable import ParticleModel

/// The Newton loop's per-cell polynomial tables of Φ(θ) (issue 17) against the Hermite form they
/// were derived from and against D_chem itself (dΦ/dθ = D_chem, seed Eq. 12).
@Test func kirchhoffPolynomialTablesMatchTheHermiteForm() {
    let law = TransportLaw(parameters: .nmc87)
    // θ across the whole table, on and off the V_oc knots, the grid nodes and both ends (and outside).
    var thetas: [Double] = (0...20000).map { law.thetaLow + (law.thetaHigh - law.thetaLow) * Double($0) / 20000 }
    thetas += law.grid.prefix(5000) + [0.05, 0.1, 0.95, 0.97, 0.999999, 1, 1.2] + (0..<5000).map { 0.1 + 0.9 * sin(Double($0)) * sin(Double($0)) }
    var theta = thetas
    var phi = [Double](repeating: 0, count: thetas.count), dphi = phi
    var phiH = phi, dphiH = phi
    theta.withUnsafeMutableBufferPointer { t in
        phi.withUnsafeMutableBufferPointer { p in dphi.withUnsafeMutableBufferPointer { d in law.kirchhoff(t, phi: p, dphi: d) } }
        phiH.withUnsafeMutableBufferPointer { p in dphiH.withUnsafeMutableBufferPointer { d in law.kirchhoffHermite(t, phi: p, dphi: d) } }
    }
    let phiScale = law.potential.last!
    var worstPhi = 0.0, worstSlope = 0.0, worstExact = 0.0
    for k in thetas.indices {
        worstPhi = max(worstPhi, abs(phi[k] - phiH[k]) / phiScale)
        worstSlope = max(worstSlope, abs(dphi[k] - dphiH[k]) / max(abs(dphiH[k]), 1e-30))
        let t = min(max(thetas[k], law.thetaLow), law.thetaHigh)
        if t > 0.11 && t < 0.99 {
            let exact = law.chemicalDiffusivityMicrometres2PerS(t)
            worstExact = max(worstExact, abs(dphi[k] - exact) / exact)
        }
        // The single-node form agrees too.
        let single = law.kirchhoff(thetas[k])
        worstPhi = max(worstPhi, abs(single.phi - phi[k]) / phiScale)
    }
    #expect(worstPhi < 1e-12, "Φ: worst relative difference \(worstPhi)")
    // dΦ/dθ only steers Newton (the residual uses Φ); the polynomial form sums the cubic's terms in
    // another order, which costs up to ~1e-9 relative where D_chem is small against its neighbours.
    #expect(worstSlope < 1e-8, "dΦ/dθ: worst relative difference \(worstSlope)")
    #expect(worstExact < 1e-3, "dΦ/dθ against D_chem: worst relative error \(worstExact)")
}
