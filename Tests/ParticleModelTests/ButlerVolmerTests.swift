import Electrochemistry
import Foundation
import Testing
@testable import ParticleModel

// Butler–Volmer surface kinetics with the particle potential (docs/model.md "Surface kinetics"):
// the seed's end of discharge (Fig. 4) — a 1C CC discharge stops at 3.0 V short of full with a
// lithium-rich rim, and a 2 h CV hold at 3.0 V recovers ~24 mAh/g (≈ 0.09 in θ).

private func runBV(_ steps: [String], theta0: Double? = nil) throws -> SimulationResult {
    var o = SimulationOptions()
    o.kinetics = .butlerVolmer
    o.theta0 = theta0
    let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: o)
    return try sim.run(steps: steps.map { try StepParser.parse($0) })
}

@Test func oneCDischargeThenHoldRecoversShortfall() throws {
    let r = try runBV(["Discharge at 1C until 3.0 V", "Hold at 3.0 V for 2 hours"])
    #expect(r.theta0 == 0.2)
    let cc = r.steps[0], cv = r.steps[1]
    #expect(cc.reason.contains("3 V"))
    #expect(cc.endSeconds > 50 * 60 && cc.endSeconds < 60 * 60, "cut-off at \(cc.endSeconds / 60) min")
    let atCutoff = r.trace.last { $0.step == 0 }!
    #expect(abs(atCutoff.voltageVolts - 3.0) < 1e-4)
    #expect(atCutoff.thetaMean < 0.94, "mean θ at cut-off \(atCutoff.thetaMean) should be clearly short of full")
    #expect(atCutoff.thetaMax > 0.99 && atCutoff.thetaCentre < atCutoff.thetaMean, "lithium-rich rim, poorer core")
    let recoveredMilliampHoursPerGram = (cv.thetaMeanAtEnd - cc.thetaMeanAtEnd) * 275
    #expect(recoveredMilliampHoursPerGram > 18 && recoveredMilliampHoursPerGram < 30,
            "hold recovered \(recoveredMilliampHoursPerGram) mAh/g (seed ≈ 24)")
    let end = r.trace.last!
    #expect(end.thetaMax - end.thetaMin < 0.005 && end.thetaMean > 0.99)
    // CV: potential held, current (negative, lithiation) decays in magnitude.
    let hold = r.trace.filter { $0.step == 1 }
    for row in hold { #expect(abs(row.voltageVolts - 3.0) < 1e-12) }
    let magnitudes = hold.map { abs($0.currentAmps) }
    for k in 1..<magnitudes.count { #expect(magnitudes[k] <= magnitudes[k - 1] * (1 + 1e-6) + 1e-18) }
    #expect(magnitudes.last! < 0.02 * magnitudes.first!)
    #expect(r.massBalanceWorstRelativeError < 1e-9)
    // Constant current: the boundary flux stays close to uniform (the seed's assumption).
    let ratio = try #require(r.boundaryFluxMaxMinRatio)
    #expect(ratio < 1.6, "boundary flux max/min \(ratio)")
}

@Test func constantCurrentUnderButlerVolmerCarriesTheImposedCurrent() throws {
    let r = try runBV(["Charge at C/3 for 30 minutes"])
    // Mean θ follows the current exactly, as under constant flux.
    for row in r.trace {
        let expected = 0.95 - (1.0 / 3) * (210.0 / 275.0) * row.timeSeconds / 3600
        #expect(abs(row.thetaMean - expected) < 1e-9)
    }
    // Current in amperes: C/3 of a 1 µm thick prism of the default cross-section.
    let massGrams = 4.78 * r.meshAreaMicrometres2 * 1e-12
    let expectedAmps = 210e-3 / 3 * massGrams
    for row in r.trace.dropFirst() { #expect(abs(row.currentAmps - expectedAmps) < 1e-9 * expectedAmps) }
    // Overpotential positive on charge: φ above V_oc of the surface.
    let last = r.trace.last!
    #expect(last.voltageVolts > ParameterSet.nmc87.ocvTable(last.thetaMin))
}

@Test func holdEndsOnCurrentAndRestRelaxes() throws {
    let r = try runBV(["Charge at 1C for 20 minutes", "Rest for 30 minutes", "Hold at 3.9 V for 5 hours or until C/20"])
    // Rest: zero current, voltage relaxes downwards as the surface refills from the core.
    let rest = r.trace.filter { $0.step == 1 }
    for row in rest { #expect(abs(row.currentAmps) < 1e-15) }
    for k in 1..<rest.count { #expect(rest[k].voltageVolts <= rest[k - 1].voltageVolts + 1e-9) }
    #expect(rest.first!.voltageVolts - rest.last!.voltageVolts > 0.002)
    // The hold ends when |I| falls to C/20, landing on it.
    #expect(r.steps[2].reason.contains("C/20"), "\(r.steps[2].reason)")
    let last = r.trace.last!
    let oneC = 210e-3 * 4.78 * r.meshAreaMicrometres2 * 1e-12
    #expect(abs(abs(last.currentAmps) / oneC - 1.0 / 20) < 1e-3 / 20)
}
