import Electrochemistry
import Foundation
import Testing
@testable import ParticleModel

@Test func steppedCellMatchesProtocolRun() throws {
    // Advancing in 1 s slices (as a potentiostat samples) gives the run's answer.
    let shape = ParticleShape.ellipse(width: 3.04, height: 2.04)
    let cell = try ParticleCell(parameters: .nmc87, shape: shape, theta0: 0.95, kinetics: .flux)
    for _ in 0..<1800 { try cell.advance(by: 1, drive: .current(cRate: 1.0 / 3)) }
    var o = SimulationOptions()
    o.kinetics = .flux
    let run = try ParticleSimulation(parameters: .nmc87, shape: shape, options: o)
        .run(steps: [try StepParser.parse("Charge at C/3 for 30 minutes")])
    let expectedMean = 0.95 - (1.0 / 3) * (210.0 / 275.0) * 0.5
    #expect(abs(cell.meanTheta - expectedMean) < 1e-9)
    let sampler = cell.sampler(points: [Point2(0, 0), Point2(5, 5)])
    var out = [Float](repeating: 0, count: 2)
    cell.sample(sampler, into: &out)
    #expect(abs(Double(out[0]) - run.trace.last!.thetaCentre) < 2e-3)
    #expect(out[1].isNaN)
    #expect(abs(cell.currentCRate - 1.0 / 3) < 1e-12)
}

@Test func heldPotentialDrivesCurrentToZero() throws {
    let cell = try ParticleCell(parameters: .nmc87, shape: .circle(diameter: 1.0), theta0: 0.6)
    let target = 3.8   // below V_oc(0.6) = 3.82 V: lithiation, negative current
    var currents: [Double] = []
    var gaps: [Double] = []
    for _ in 0..<12 {
        try cell.advance(by: 3600, drive: .potential(volts: target))
        currents.append(cell.currentCRate)
        gaps.append(abs(cell.openCircuitVolts(theta: cell.meanTheta) - target))
    }
    #expect(currents.allSatisfy { $0 < 0 })
    for k in 1..<currents.count {
        #expect(abs(currents[k]) < abs(currents[k - 1]))
        #expect(gaps[k] < gaps[k - 1])
    }
    #expect(abs(currents.last!) < 0.1 * abs(currents.first!))
    #expect(cell.potentialVolts == target)
}
