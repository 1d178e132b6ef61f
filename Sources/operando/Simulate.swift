import ArgumentParser
import Electrochemistry
import Foundation
import ParticleModel

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the 2D particle diffusion model (finite elements) on protocol steps.",
        discussion: """
        Example: operando simulate "Charge at C/3 for 60 minutes" --out runs/c3
        Writes trace.csv, profiles.csv and summary.json into --out. The default parameter set
        "nmc87" is a reconstruction that reproduces the seed paper's statements (docs/model.md).
        """)

    @Argument(help: "Protocol step strings, e.g. \"Charge at C/3 until 4.3 V\" \"Rest for 10 minutes\", or one protocol file (.toml).")
    var steps: [String]

    @Option(help: "Particle: ellipse:AxBum (full axes), circle:Dum, hexagon:Wum[,corner=Rum], polygon:FILE.csv.")
    var particle: String = "ellipse:3.04x2.04um"

    @Option(help: "Rescale the particle so its longest extent is this many µm.")
    var size: Double?

    @Option(help: "Parameter-set file (TOML) replacing the default set nmc87.")
    var params: String?

    @Option(help: "S in D_eff = D_Li/S (default: the parameter set's, 3.5).")
    var scale: Double?

    @Option(name: .customLong("diffusivity-constant"), help: "Replace D_Li/S by a constant D0 in cm²/s.")
    var diffusivityConstant: Double?

    @Option(help: "Boundary condition: flux (seed, default) or butler-volmer (default when a step holds a voltage).")
    var kinetics: String?

    @Option(name: .customLong("profile-times"), help: "Times of line profiles, e.g. 5,15,25,35min (units s, min, h; default every 5 min).")
    var profileTimes: String?

    @Option(name: .customLong("theta0"), help: "Initial occupancy (default 0.95 for charge, 0.2 for discharge).")
    var theta0: Double?

    @Option(name: .customLong("element-size"), help: "Mesh element size in µm (default: longest extent / 30).")
    var elementSize: Double?

    @Option(name: .customLong("output-interval"), help: "Seconds between trace rows (default 10).")
    var outputInterval: Double = 10

    @Option(help: "Output directory.")
    var out: String = "simulation"

    func run() throws {
        do {
            try execute()
        } catch let e as ProtocolError {
            printError(e.description); throw ExitCode(2)
        } catch let e as ParameterError {
            printError(e.description); throw ExitCode(2)
        } catch let e as GeometryError {
            printError("--particle \(e.description)"); throw ExitCode(2)
        } catch let e as SolverError {
            printError(e.description); throw ExitCode(1)
        }
    }

    func execute() throws {
        let parsed: [Step]
        if steps.count == 1, steps[0].hasSuffix(".toml") {
            // One path to a protocol file: its steps, repeats unrolled (imaging and limits do not apply).
            parsed = try ProtocolFile.load(path: steps[0]).plannedSteps.map(\.step)
        } else {
            parsed = try steps.enumerated().map { k, text in
                try StepParser.parse(text, location: SourceLocation(file: "command line argument", line: k + 1))
            }
        }
        let parameters = try params.map { try ParameterSet.load(path: $0) } ?? .nmc87
        var shape = try ParticleShape.parse(particle)
        if let size {
            guard size.isFinite, size > 0 else { throw GeometryError(input: "--size \(size)", problem: "expected a positive length in µm") }
            shape = shape.rescaled(toLongestExtent: size)
        }
        var options = SimulationOptions()
        if let kinetics {
            guard let k = SurfaceKinetics(rawValue: kinetics) else {
                throw SolverError.invalidInput("--kinetics \(kinetics): expected flux or butler-volmer")
            }
            options.kinetics = k
        }
        options.scale = scale
        options.diffusivityConstantCm2PerS = diffusivityConstant
        options.theta0 = theta0
        options.elementSizeMicrometres = elementSize
        options.outputIntervalSeconds = outputInterval
        let total = parsed.compactMap(\.durationSeconds).reduce(0, +)
        if let profileTimes {
            options.profileTimesSeconds = try TimeList.parse(profileTimes, option: "--profile-times")
        } else {
            let horizon = total > 0 ? total : 4 * 3600
            options.profileTimesSeconds = stride(from: 0.0, through: horizon, by: 300).map { $0 }
        }
        let sim = try ParticleSimulation(parameters: parameters, shape: shape, options: options)
        let progress = ProgressLine()
        let result = try sim.run(steps: parsed) { progress.update($0, $1) }
        progress.finish()
        var inputs = [
            "steps": steps.joined(separator: " | "), "particle": shape.specification,
            "params": parameters.source, "parameter_set": parameters.name,
            "scale": "\(scale ?? parameters.scale)",
            "exchange_current_ref_A_per_cm2": "\(parameters.exchangeCurrentRefAmpsPerCm2)",
        ]
        if let d = diffusivityConstant { inputs["diffusivity_constant_cm2_per_s"] = "\(d)" }
        try SimulationOutput.write(result, inputs: inputs, to: out)
        let last = result.trace.last!
        print(String(format: "%d nodes, %d steps (%d rejected), %d Newton iterations, %.3f s wall",
                     result.nodes, result.timeSteps, result.rejectedSteps, result.newtonIterations, result.wallSeconds))
        for s in result.steps {
            print(String(format: "step %d \"%@\": %.1f–%.1f s, ended by %@, mean θ %.4f",
                         s.step + 1, s.text, s.startSeconds, s.endSeconds, s.reason, s.thetaMeanAtEnd))
        }
        print(String(format: "final: t = %.1f s, θ centre %.4f, mean %.4f, min %.4f, max %.4f, V %.4f",
                     last.timeSeconds, last.thetaCentre, last.thetaMean, last.thetaMin, last.thetaMax, last.voltageVolts))
        if result.massBalanceWorstRelativeError > 1e-6 {
            FileHandle.standardError.write("WARNING: MASS BALANCE OFF: worst relative error \(result.massBalanceWorstRelativeError) > 1e-6\n".data(using: .utf8)!)
        } else {
            print(String(format: "mass balance: worst relative error %.2e", result.massBalanceWorstRelativeError))
        }
        print("wrote \(out)/trace.csv, profiles.csv, summary.json")
    }
}

/// Lists of times such as `5,15,25,35min` (the last part's unit applies to bare numbers), `300,600`
/// (seconds) or `1h,90min`; units are the step language's.
enum TimeList {
    static func parse(_ text: String, option: String) throws -> [Double] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let lastUnit = String(parts.last?.drop { $0.isNumber || $0 == "." } ?? "")
        let location = SourceLocation(file: option)
        return try parts.map { part in
            let withUnit = Double(part) != nil ? part + (lastUnit.isEmpty ? "s" : lastUnit) : part
            return try StepParser.duration(withUnit, location: location)
        }
    }
}
