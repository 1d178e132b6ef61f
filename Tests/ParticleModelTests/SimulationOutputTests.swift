import Electrochemistry
import Foundation
import Testing
@testable import ParticleModel

@Test func writesTheThreeFilesOfInterfacesDoc() throws {
    var o = SimulationOptions()
    o.profileTimesSeconds = [0, 300, 600]
    let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: o)
    let r = try sim.run(steps: [try StepParser.parse("Charge at C/3 for 10 minutes")])
    let dir = NSTemporaryDirectory() + "operando-sim-\(getpid())"
    try SimulationOutput.write(r, inputs: ["steps": "Charge at C/3 for 10 minutes"], to: dir)
    let trace = try String(contentsOfFile: dir + "/trace.csv", encoding: .utf8).split(separator: "\n")
    #expect(trace[0] == "time_s,theta_centre,theta_mean,theta_min,theta_max,voltage_V,current_A")
    #expect(trace.count == 1 + 61)
    let profiles = try String(contentsOfFile: dir + "/profiles.csv", encoding: .utf8).split(separator: "\n")
    #expect(profiles[0] == "time_s,position_um,theta")
    #expect(profiles.count == 1 + 3 * 101)
    // Positions run from rim to rim through the centroid (default particle: ±1.52 µm).
    let first = profiles[1].split(separator: ",").map { Double($0)! }
    #expect(abs(first[1] + 1.52) < 0.02)
    let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
    let balance = summary["mass_balance"] as! [String: Any]
    #expect(balance["ok"] as? Bool == true)
    let mesh = summary["mesh"] as! [String: Any]
    #expect((mesh["nodes"] as! Int) == r.nodes)
    #expect(summary["solver"] != nil && summary["inputs"] != nil)
}

@Test func unwritableOutputIsNamed() throws {
    let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04))
    let r = try sim.run(steps: [try StepParser.parse("Rest for 1 minute")])
    do {
        try SimulationOutput.write(r, inputs: [:], to: "/proc/operando-cannot-write")
        Issue.record("wrote into /proc")
    } catch {
        #expect("\(error)".contains("/proc/operando-cannot-write"))
    }
}
