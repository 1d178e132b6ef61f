// operando benchmarks (`make bench`): release build, printed figures, not timed tests.
import Electrochemistry
import Foundation
import ParticleModel

func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = try body()
    return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

func line(_ s: String) { FileHandle.standardOutput.write((s + "\n").data(using: .utf8)!) }
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

line("== ParticleModel: default particle (ellipse 3.04 × 2.04 µm, default mesh), release build ==")
line(pad("case", 40) + " nodes  steps  rejected  newton   wall_s  target")
let cases: [(String, [String], SurfaceKinetics?, Double?)] = [
    ("C/3 charge 60 min (flux)", ["Charge at C/3 for 60 minutes"], .flux, 0.3),
    ("2C charge to 4.3 V (flux)", ["Charge at 2C until 4.3 V"], .flux, 0.3),
    ("C/3 discharge 60 min (flux)", ["Discharge at C/3 for 60 minutes"], .flux, 0.3),
    ("2C discharge to 3.0 V (flux)", ["Discharge at 2C until 3.0 V"], .flux, 0.3),
    ("C/3 discharge to 3.0 V, 3.1 h (flux)", ["Discharge at C/3 until 3.0 V"], .flux, nil),
    ("1C discharge + 2 h hold at 3.0 V (BV)", ["Discharge at 1C until 3.0 V", "Hold at 3.0 V for 2 hours"], .butlerVolmer, nil),
]
for (name, steps, kinetics, target) in cases {
    var options = SimulationOptions()
    options.kinetics = kinetics
    do {
        let parsed = try steps.map { try StepParser.parse($0) }
        // Best of 3 wall times, each including meshing and table set-up.
        var best = Double.infinity
        var result: SimulationResult? = nil
        for _ in 0..<3 {
            let (r, t) = try time {
                try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: options).run(steps: parsed)
            }
            if t < best { best = t; result = r }
        }
        let r = result!
        let verdict = target.map { best <= $0 ? "≤ \($0) s met" : "≤ \($0) s MISSED" } ?? "-"
        line(pad(name, 40) + String(format: " %5d  %5d  %8d  %6d  %7.3f  ", r.nodes, r.timeSteps, r.rejectedSteps,
                                    r.newtonIterations, best) + verdict)
    } catch {
        line("\(name): FAILED: \(error)")
    }
}
