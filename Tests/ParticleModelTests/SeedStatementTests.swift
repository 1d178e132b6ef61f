import Electrochemistry
import Foundation
import Testing
@testable import ParticleModel

// The six seed statements of docs/model.md ("What the model must reproduce"), default set nmc87,
// the seed's constant-flux boundary condition (Supplementary Section 1, Eq. 15).

private func simulate(_ steps: [String], size: Double? = nil, diffusivityConstant: Double? = nil,
                      profileTimes: [Double] = []) throws -> SimulationResult {
    var shape = ParticleShape.ellipse(width: 3.04, height: 2.04)
    if let size { shape = shape.rescaled(toLongestExtent: size) }
    var o = SimulationOptions()
    o.kinetics = .flux
    o.diffusivityConstantCm2PerS = diffusivityConstant
    o.profileTimesSeconds = profileTimes
    let sim = try ParticleSimulation(parameters: .nmc87, shape: shape, options: o)
    return try sim.run(steps: steps.map { try StepParser.parse($0) })
}

private func spread(_ r: TraceRow) -> Double { r.thetaMax - r.thetaMin }

/// Largest ratio of the centre's rate of change to the mean's ("fast" centre when > 1).
private func peakCentreRateRatio(_ trace: [TraceRow]) -> Double {
    var best = 0.0
    for i in 1..<(trace.count - 1) {
        let dm = trace[i - 1].thetaMean - trace[i + 1].thetaMean
        guard abs(dm) > 1e-9 else { continue }
        best = max(best, (trace[i - 1].thetaCentre - trace[i + 1].thetaCentre) / dm)
    }
    return best
}

/// Depth (µm from the rim) of the region that has lost more than 0.01 in θ, along the profile.
private func frontDepth(_ p: ThetaProfile, theta0: Double) -> Double {
    let rim = p.positionsMicrometres.map(abs).max()!
    let inner = zip(p.positionsMicrometres, p.theta).filter { $0.1 > theta0 - 0.01 }.map { abs($0.0) }
    return rim - (inner.max() ?? 0)
}

@Test func statement1_C3ChargeFrontMovesInwardThenUniform() throws {
    let r = try simulate(["Charge at C/3 for 60 minutes"], profileTimes: [300, 900, 1500])
    let at5 = try #require(r.trace.first { $0.timeSeconds == 300 })
    #expect(at5.thetaMin < 0.95 - 0.05, "rim delithiated by 5 min: θ_min \(at5.thetaMin)")
    #expect(at5.thetaCentre > 0.949, "centre still at θ0 at 5 min: \(at5.thetaCentre)")
    let depths = r.profiles.map { frontDepth($0, theta0: 0.95) }
    #expect(depths[0] < depths[1] && depths[1] < depths[2], "front depths \(depths)")
    let uniform = try #require(r.trace.first { $0.timeSeconds > 600 && spread($0) < 0.02 })
    #expect(uniform.timeSeconds >= 35 * 60 && uniform.timeSeconds <= 45 * 60,
            "max − min θ < 0.02 first at \(uniform.timeSeconds / 60) min")
}

@Test(arguments: ["C/3", "1C", "2C"])
func statement2_centreDelayThenFast(rate: String) throws {
    let r = try simulate(["Charge at \(rate) until 4.3 V"])
    // Delay: when the mean has lost 0.05, the centre has lost almost nothing.
    let early = try #require(r.trace.first { $0.thetaMean < 0.90 })
    let earlyRatio = (0.95 - early.thetaCentre) / (0.95 - early.thetaMean)
    #expect(earlyRatio < 0.1, "centre drop / mean drop when the mean has lost 0.05: \(earlyRatio)")
    #expect(peakCentreRateRatio(r.trace) > 1.5, "centre never falls faster than the mean")
}

@Test func statement3_smallerParticlesLessHeterogeneous() throws {
    let full = try simulate(["Charge at C/3 until 4.3 V"]).trace.map(spread).max()!
    let small = try simulate(["Charge at C/3 until 4.3 V"], size: 1.2).trace.map(spread).max()!
    let tiny2C = try simulate(["Charge at 2C until 4.3 V"], size: 0.6).trace.map(spread).max()!
    #expect(small < 0.5 * full, "1.2 µm: \(small) vs 3.04 µm: \(full)")
    #expect(tiny2C < 0.05, "0.6 µm at 2C: max − min θ \(tiny2C)")
}

@Test func statement4_constantDiffusivity() throws {
    let fast = try simulate(["Charge at C/3 for 60 minutes"], diffusivityConstant: 1e-12)
    let mid = try simulate(["Charge at C/3 for 60 minutes"], diffusivityConstant: 1e-13)
    let slow = try simulate(["Charge at C/3 for 60 minutes"], diffusivityConstant: 5e-14)
    let s = [fast, mid, slow].map { $0.trace.map(spread).max()! }
    #expect(s[0] < 0.02, "D0 = 1e-12: \(s[0])")
    #expect(s[1] > 0.05 && s[2] > s[1], "growing heterogeneity \(s)")
    for r in [mid, slow] {
        #expect(peakCentreRateRatio(r.trace) < 1.1, "constant D0 should give no delay-then-fast centre")
    }
}

@Test(arguments: ["1C", "2C"])
func statement5_rimCoreDifferenceAtHighRates(rate: String) throws {
    let r = try simulate(["Charge at \(rate) until 4.3 V"])
    let worst = r.trace.map { $0.thetaCentre - $0.thetaMin }.max()!
    #expect(worst >= 0.15 && worst <= 0.3, "\(rate): rim–core θ difference \(worst)")
}

@Test func statement6_lithiationHeterogeneityLateAndRimSaturates() throws {
    var worst: [Double] = []
    for rate in ["C/3", "1C", "2C"] {
        let r = try simulate(["Discharge at \(rate) until 3.0 V"])
        let peak = r.trace.max { spread($0) < spread($1) }!
        #expect(peak.thetaMean > 0.8, "\(rate): heterogeneity peaks at mean θ \(peak.thetaMean)")
        let early = r.trace.filter { $0.thetaMean < 0.6 }.map(spread).max() ?? 0
        #expect(early < 0.5 * spread(peak), "\(rate): heterogeneity grows once θ > 0.8")
        let last = r.trace.last!
        #expect(last.thetaCentre < last.thetaMax - 0.001, "\(rate): centre lags the rim at the end")
        worst.append(spread(peak))
        if rate != "C/3" {
            // Under constant flux the rim fills up before the particle does.
            #expect(r.steps[0].reason.contains("rim saturated"))
            #expect(last.thetaMean < 0.95 + 0.02, "\(rate): mean θ \(last.thetaMean) when the rim saturated")
        }
    }
    #expect(worst[2] > worst[1] && worst[1] > worst[0], "largest at 2C: \(worst)")
}
