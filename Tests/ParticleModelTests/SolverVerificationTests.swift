import Electrochemistry
import Foundation
import Testing
@testable import ParticleModel

/// Crank, *The Mathematics of Diffusion*, cylinder with constant surface flux: with outward θ-flux q,
/// θ = θ0 − (q·a/D)·[2Dt/a² + r²/(2a²) − 1/4 − 2 Σ exp(−D α_n² t/a²) J0(α_n r/a) / (α_n² J0(α_n))],
/// α_n the positive roots of J1.
func diskConstantFluxTheta(r: Double, t: Double, a: Double, d: Double, q: Double, theta0: Double) -> Double {
    var sum = 0.0
    var guess = 3.8317
    for _ in 0..<300 {
        var x = guess
        for _ in 0..<50 {  // Newton on J1, J1' = J0 − J1/x
            let f = j1(x), df = j0(x) - j1(x) / x
            let step = f / df
            x -= step
            if abs(step) < 1e-14 { break }
        }
        sum += exp(-d * x * x * t / (a * a)) * j0(x * r / a) / (x * x * j0(x))
        guess = x + Double.pi
    }
    return theta0 - q * a / d * (2 * d * t / (a * a) + r * r / (2 * a * a) - 0.25 - 2 * sum)
}

@Test func constantDiffusivityDiskMatchesCrankSeries() throws {
    let a = 1.0, d = 0.01, q = 2e-3, theta0 = 0.9
    var options = SimulationOptions()
    options.constantChemicalDiffusivityMicrometres2PerS = d
    options.kinetics = .flux
    options.theta0 = theta0
    options.elementSizeMicrometres = 0.04
    options.outputIntervalSeconds = 5
    options.timeTolerance = 1e-5
    options.profileTimesSeconds = [10, 25, 50]
    let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 2 * a, height: 2 * a), options: options)
    // q·Γ = n·(Qp/Qt)·A/3600 → n = q·(2/a)·3600/(Qp/Qt)
    let n = q * 2 / a * 3600 / (210.0 / 275.0)
    let step = try StepParser.parse("Charge at \(n)C for 50 s")
    let result = try sim.run(steps: [step])
    // The discrete disk is a polygon; rescale q to its own A/Γ as the solver does.
    let qEff = n * (210.0 / 275.0) * result.meshAreaMicrometres2 / result.meshPerimeterMicrometres / 3600
    var worstCentre = 0.0, worstRim = 0.0
    for row in result.trace where row.timeSeconds > 0 {
        let centre = diskConstantFluxTheta(r: 0, t: row.timeSeconds, a: a, d: d, q: qEff, theta0: theta0)
        let rim = diskConstantFluxTheta(r: a, t: row.timeSeconds, a: a, d: d, q: qEff, theta0: theta0)
        worstCentre = max(worstCentre, abs(row.thetaCentre - centre))
        worstRim = max(worstRim, abs(row.thetaMin - rim))
    }
    #expect(worstCentre <= 2e-3, "centre error \(worstCentre)")
    #expect(worstRim <= 2e-3, "rim error \(worstRim)")
    // And along the profile at 25 s.
    let profile = try #require(result.profiles.first { abs($0.timeSeconds - 25) < 1e-9 })
    for (x, th) in zip(profile.positionsMicrometres, profile.theta) where abs(x) < 0.97 {
        #expect(abs(th - diskConstantFluxTheta(r: abs(x), t: 25, a: a, d: d, q: qEff, theta0: theta0)) <= 2e-3)
    }
}

@Test func meanThetaFollowsImposedCurrentExactly() throws {
    // Conservation: mean θ = θ0 − n·(Qp/Qt)·t/3600 to 1e-9 relative at every output step.
    let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04))
    let result = try sim.run(steps: [try StepParser.parse("Charge at C/3 for 60 minutes")])
    #expect(result.trace.count == 361)
    for row in result.trace {
        let expected = 0.95 - (1.0 / 3) * (210.0 / 275.0) * row.timeSeconds / 3600
        #expect(abs(row.thetaMean - expected) <= 1e-9 * expected, "t = \(row.timeSeconds)")
    }
    #expect(result.massBalanceWorstRelativeError <= 1e-9)
    // Discrete maximum principle: nothing outside [θ_min(t), θ0] and no ringing.
    for row in result.trace { #expect(row.thetaMax <= 0.95 + 1e-9 && row.thetaMin >= 0.1) }
}

@Test func centreTraceConvergesUnderMeshAndTimeRefinement() throws {
    // Halving h (and tightening the time tolerance) changes the default C/3 centre trace by ≤ 2e-3.
    func centre(h: Double, tol: Double) throws -> [Double] {
        var o = SimulationOptions()
        o.elementSizeMicrometres = h
        o.timeTolerance = tol
        o.outputIntervalSeconds = 60
        let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: o)
        return try sim.run(steps: [try StepParser.parse("Charge at C/3 for 60 minutes")]).trace.map(\.thetaCentre)
    }
    let base = try centre(h: 0.1, tol: 1e-4)
    let fine = try centre(h: 0.05, tol: 1e-4)
    let fineTime = try centre(h: 0.1, tol: 2.5e-5)
    #expect(base.count == fine.count)
    let dh = zip(base, fine).map { abs($0 - $1) }.max()!
    let dt = zip(base, fineTime).map { abs($0 - $1) }.max()!
    #expect(dh <= 2e-3, "mesh refinement changed the centre trace by \(dh)")
    #expect(dt <= 2e-3, "time refinement changed the centre trace by \(dt)")
}

@Test func lowThetaOutsideTableIsAClearError() throws {
    // Charging far beyond 4.3 V drives θ under the V_oc table (θ ≥ 0.10): the run says so.
    let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04))
    do {
        _ = try sim.run(steps: [try StepParser.parse("Charge at 1C for 2 hours")])
        Issue.record("ran past the V_oc table")
    } catch let e as SolverError {
        #expect(e.description.contains("lowest θ of the V_oc table"), "\(e)")
        #expect(e.description.contains("Charge at 1C for 2 hours"))
    }
}

@Test func holdNeedsButlerVolmer() throws {
    var o = SimulationOptions()
    o.kinetics = .flux
    let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: o)
    #expect(throws: SolverError.self) { try sim.run(steps: [try StepParser.parse("Hold at 3 V for 1 hour")]) }
}
