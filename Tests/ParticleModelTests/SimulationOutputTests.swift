import Electrochemistry
import Foundation
import Testing
@testable import ParticleModel

// The simulation's own account of itself (summary.json's content; Dataset's SimulationFiles writes
// the files, tested in DatasetTests and through the binary in SimulateInputTests).
@Test func summaryCarriesMeshSolverAndMassBalance() throws {
    var o = SimulationOptions()
    o.profileTimesSeconds = [0, 300, 600]
    let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: o)
    let r = try sim.run(steps: [try StepParser.parse("Charge at C/3 for 10 minutes")])
    #expect(r.trace.count == 61)
    #expect(r.profiles.count == 3 && r.profiles.allSatisfy { $0.theta.count == 101 })
    // Positions run from rim to rim through the centroid (default particle: ±1.52 µm).
    #expect(abs(r.profiles[0].positionsMicrometres[0] + 1.52) < 0.02)
    let summary = r.summaryObject(inputs: ["steps": "Charge at C/3 for 10 minutes"])
    let balance = summary["mass_balance"] as! [String: Any]
    #expect(balance["ok"] as? Bool == true)
    let mesh = summary["mesh"] as! [String: Any]
    #expect((mesh["nodes"] as! Int) == r.nodes)
    #expect(summary["solver"] != nil && (summary["inputs"] as? [String: String])?["steps"] != nil)
}
