// The particle solver's benchmark on its own: `SolverBench profile-c3` is the callgrind workload.
import Electrochemistry
import Foundation
import ParticleModel

if CommandLine.arguments.dropFirst().first == "profile-c3" {
    var options = SimulationOptions()
    options.kinetics = .flux
    let r = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: options)
        .run(steps: [try StepParser.parse("Charge at C/3 for 60 minutes")])
    print("nodes \(r.nodes) steps \(r.timeSteps) newton \(r.newtonIterations) factor \(r.factorisations) centre \(r.trace.last!.thetaCentre)")
    exit(0)
}
var options = SimulationOptions()
options.kinetics = .flux
var times: [Double] = []
for _ in 0..<7 {
    let start = DispatchTime.now().uptimeNanoseconds
    let r = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: options)
        .run(steps: [try StepParser.parse("Charge at C/3 for 60 minutes")])
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    if times.count == 1 { print("nodes \(r.nodes) steps \(r.timeSteps) newton \(r.newtonIterations) factor \(r.factorisations) centre \(r.trace.last!.thetaCentre)") }
}
print("median \(times.sorted()[3]) s; all \(times.map { String(format: "%.3f", $0) })")
for interval in [10.0, 60.0, 600.0, 3600.0] {
    var o = SimulationOptions()
    o.kinetics = .flux
    o.outputIntervalSeconds = interval
    var ru = rusage(); getrusage(RUSAGE_SELF.rawValue, &ru)
    let c0 = Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) * 1e-6
    let r = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: o)
        .run(steps: [try StepParser.parse("Charge at C/3 for 60 minutes")])
    getrusage(RUSAGE_SELF.rawValue, &ru)
    let c1 = Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) * 1e-6
    print("interval \(interval): steps \(r.timeSteps) rejected \(r.rejectedSteps) newton \(r.newtonIterations) centre \(r.trace.last!.thetaCentre) cpu \(c1 - c0)")
}
