@testable import Calibration
import Foundation
import Testing

/// Seed Eq. 18: for fixed θ the best A is closed-form and e(S, A) is zero at the true A.
@Test func closedFormGainIsExactForNoiselessContrast() {
    let theta = (0..<50).map { 0.95 - 0.002 * Double($0) }
    let measured = theta.map { 1.2 * (0.95 - $0) }
    let sums = GainSums(measured: measured, theta: theta, theta0: 0.95)
    #expect(abs(sums.bestGain - 1.2) < 1e-12)
    #expect(sums.bestRMSE < 1e-9)
    #expect(sums.rmse(gain: 1.0) > 0.01)
}

/// Brent's minimiser finds a parabola's minimum to its tolerance.
@Test func brentFindsMinimum() {
    var evaluations = 0
    let r = brentMinimise(0, 4, start: 1, fStart: (1 - 2.7) * (1 - 2.7), tolerance: 1e-6, maxEvaluations: 50) { x -> Double in
        evaluations += 1
        return (x - 2.7) * (x - 2.7)
    }
    #expect(abs(r.x - 2.7) < 1e-4)
    #expect(evaluations < 15)
}
