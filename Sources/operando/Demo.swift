import ArgumentParser
import Electrochemistry
import Foundation
import ParticleModel

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the demo: the seed's protocol (C/3 charge to 4.3 V, C/3 discharge to 3.0 V, 2 h hold at 3.0 V) end to end.",
        discussion: "Writes into --out: model/ (trace.csv, profiles.csv, summary.json) and summary.txt.")

    @Option(help: "Output directory.")
    var out: String = "reports/demo"

    static let protocolSteps = [
        "Charge at C/3 until 4.3 V",
        "Discharge at C/3 until 3.0 V",
        "Hold at 3.0 V for 2 hours",
    ]

    func run() throws {
        let start = Date()
        let steps = try Self.protocolSteps.enumerated().map {
            try StepParser.parse($1, location: SourceLocation(file: "demo protocol", line: $0 + 1))
        }
        FileHandle.standardError.write("demo: particle model, default particle, Butler–Volmer kinetics\n".data(using: .utf8)!)
        var options = SimulationOptions()
        options.kinetics = .butlerVolmer
        options.profileTimesSeconds = stride(from: 0.0, through: 12 * 3600, by: 600).map { $0 }
        let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: options)
        let progress = ProgressLine()
        let result = try sim.run(steps: steps) { progress.update($0, $1) }
        progress.finish()
        let modelDir = (out as NSString).appendingPathComponent("model")
        try SimulationOutput.write(result, inputs: ["steps": Self.protocolSteps.joined(separator: " | "),
                                                     "particle": "ellipse:3.04x2.04um", "parameter_set": "nmc87"],
                                   to: modelDir)
        var text = "operando demo — particle model of the demo protocol\n"
        text += "parameter set nmc87 (a reconstruction that reproduces the seed's statements; docs/model.md)\n"
        text += String(format: "mesh: %d nodes, %d triangles, min angle %.1f°\n", result.nodes, result.triangles, result.minAngleDegrees)
        for s in result.steps {
            text += String(format: "step %d  %-32@ %8.1f → %8.1f s  ended by %@  mean θ %.4f\n",
                           s.step + 1, s.text as NSString, s.startSeconds, s.endSeconds, s.reason as NSString, s.thetaMeanAtEnd)
        }
        text += String(format: "mass balance: worst relative error %.2e\n", result.massBalanceWorstRelativeError)
        text += String(format: "wall time: %.2f s\n", Date().timeIntervalSince(start))
        try text.write(toFile: (out as NSString).appendingPathComponent("summary.txt"), atomically: true, encoding: .utf8)
        print(text, terminator: "")
        print("report: \(out)/summary.txt, model outputs in \(modelDir)/")
    }
}
