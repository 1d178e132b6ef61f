// The particle solver's benchmark on its own (`make bench-solver`): issue 17's solver rows, operando
// beside the scikit-fem reference when `OPERANDO_BENCH_REFERENCE=1` and the reference's virtual
// environment exists. `SolverBench profile-c3` runs the C/3 case once: the callgrind workload.
import Foundation
import ParticleModel

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "profile-c3" {
    let run = try SolverBenchmark.c3Charge()
    let r = run.result
    print("nodes \(r.nodes) steps \(r.timeSteps) newton \(r.newtonIterations) factorisations \(r.factorisations) centre \(r.trace.last!.thetaCentre)")
    exit(0)
}
if arguments.first == "c3-trace", arguments.count == 2 {
    // The default C/3 run's centre trace as CSV (to compare solver changes sample by sample).
    let r = try SolverBenchmark.c3Charge().result
    try SolverBenchmark.traceCSV(r.trace.map { (time: $0.timeSeconds, theta: $0.thetaCentre) })
        .write(toFile: arguments[1], atomically: true, encoding: .utf8)
    print("thetaMax − θ0 worst \(r.trace.map { $0.thetaMax - r.theta0 }.max()!), mass balance \(r.massBalanceWorstRelativeError)")
    exit(0)
}
if arguments.first == "reference-trace", arguments.count == 2 {
    // The converged reference trace as CSV, for running bench/skfem_reference.py by hand.
    try SolverBenchmark.traceCSV(SolverBenchmark.convergedReference()).write(toFile: arguments[1], atomically: true, encoding: .utf8)
    exit(0)
}
let withReference = ProcessInfo.processInfo.environment["OPERANDO_BENCH_REFERENCE"] == "1"
let repeats = Int(ProcessInfo.processInfo.environment["OPERANDO_BENCH_REPEATS"] ?? "") ?? 5
let cache = FileManager.default.currentDirectoryPath + "/.build"
try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
print("== ParticleModel: issue 17's solver rows (median of \(repeats) alternating runs) ==")
for line in SolverBenchmark.lines(try SolverBenchmark.rows(repeats: repeats, withReference: withReference, cacheDirectory: cache),
                                  referenceRequested: withReference) {
    print(line)
}
