import ArgumentParser
import Dataset
import ConfigFile
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

    // Numeric options parse their value unconditionally, so `--size -2` is read as a value and refused
    // as negative (not taken for a flag); they accept units as the protocol language does.
    @Option(parsing: .unconditional, help: "Rescale the particle so its longest extent is this length (µm, or with a unit: 0.6um, 600nm).")
    var size: String?

    @Option(help: "Parameter-set file (TOML) replacing the default set nmc87.")
    var params: String?

    @Option(parsing: .unconditional, help: "S in D_eff = D_Li/S (default: the parameter set's, 3.5).")
    var scale: String?

    @Option(name: .customLong("diffusivity-constant"), parsing: .unconditional, help: "Replace D_Li/S by a constant D0 in cm²/s.")
    var diffusivityConstant: String?

    @Option(help: "Boundary condition: flux (seed, default) or butler-volmer (default when a step holds a voltage).")
    var kinetics: String?

    @Option(name: .customLong("profile-times"), help: "Times of line profiles, e.g. 5,15,25,35min (units s, min, h; default every 5 min).")
    var profileTimes: String?

    @Option(name: .customLong("theta0"), parsing: .unconditional, help: "Initial occupancy (default 0.95 for charge, 0.2 for discharge).")
    var theta0: String?

    @Option(name: .customLong("element-size"), parsing: .unconditional, help: "Mesh element size (µm, or with a unit; default: longest extent / 30).")
    var elementSize: String?

    @Option(name: .customLong("output-interval"), parsing: .unconditional, help: "Time between trace rows (s, or with a unit: 10s, 1min; default 10 s).")
    var outputInterval: String = "10"

    @Option(name: .customLong("cell-mass"), parsing: .unconditional,
            help: "Active mass of the cell the protocol is written for (mg, or 1.5mg, 0.0015g): absolute currents are converted to C-rates with it, as `run` does. A protocol file's [cell] active_mass_mg is used when this is not given.")
    var cellMass: String?

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
        } catch let e as FlagValueError {
            printError(e.description); throw ExitCode(2)
        }
    }

    func execute() throws {
        var planned: [(step: Step, repeatUntil: EndCondition?, block: Int?)]
        var cell = CellSettings()
        var cellFromFile = false
        if steps.count == 1, steps[0].hasSuffix(".toml") {
            // One path to a protocol file: its steps with their repeats and its [cell] (imaging and
            // limits do not apply to the model).
            let file = try ProtocolFile.load(path: steps[0])
            planned = file.plannedSteps
            cell = file.cell
            cellFromFile = true
        } else {
            planned = try steps.enumerated().map { k, text in
                (try StepParser.parse(text, location: SourceLocation(file: "command line argument", line: k + 1)), nil, nil)
            }
        }
        let parameters = try params.map { try ParameterSet.load(path: $0) } ?? .nmc87
        if !cellFromFile { cell.practicalCapacityMilliampHoursPerGram = parameters.practicalCapacityMilliampHoursPerGram }
        if let cellMass { cell.activeMassMilligrams = try FlagValue.massMilligrams(cellMass, flag: "--cell-mass") }
        let program = try StepProgram.compile(planned: planned, cell: cell, resolution: .cRate)
        let parsed = program.steps.map(\.step)
        var shape = try ParticleShape.parse(particle)
        if let size {
            let v = try FlagValue.lengthMicrometres(size, flag: "--size")
            guard v <= ParticleShape.maximumLengthMicrometres else {
                throw GeometryError(input: "--size \(size)", problem: "expected a particle length up to \(Int(ParticleShape.maximumLengthMicrometres)) µm")
            }
            shape = shape.rescaled(toLongestExtent: v)
        }
        var options = SimulationOptions()
        if let kinetics {
            guard let k = SurfaceKinetics(rawValue: kinetics) else {
                throw SolverError.invalidInput("--kinetics \(kinetics): expected flux or butler-volmer")
            }
            options.kinetics = k
        }
        options.scale = try scale.map { try FlagValue.positiveNumber($0, flag: "--scale") }
        options.diffusivityConstantCm2PerS = try diffusivityConstant.map { try FlagValue.positiveNumber($0, flag: "--diffusivity-constant") }
        options.theta0 = try theta0.map { try FlagValue.positiveNumber($0, flag: "--theta0") }
        options.elementSizeMicrometres = try elementSize.map { try FlagValue.lengthMicrometres($0, flag: "--element-size") }
        options.outputIntervalSeconds = try FlagValue.durationSeconds(outputInterval, flag: "--output-interval")
        let total = parsed.compactMap(\.durationSeconds).reduce(0, +)
        if let profileTimes {
            options.profileTimesSeconds = try TimeList.parse(profileTimes, option: "--profile-times")
        } else {
            let horizon = total > 0 ? min(total, 30 * 86400) : 4 * 3600
            options.profileTimesSeconds = stride(from: 0.0, through: horizon, by: max(300, horizon / 1000)).map { $0 }
        }
        let sim = try ParticleSimulation(parameters: parameters, shape: shape, options: options)
        let progress = ProgressLine()
        let result = try sim.run(program: program) { progress.update($0, $1) }
        progress.finish()
        var inputs = [
            "steps": steps.joined(separator: " | "), "particle": shape.specification,
            "params": parameters.source, "parameter_set": parameters.name,
            "scale": "\(options.scale ?? parameters.scale)",
            "exchange_current_ref_A_per_cm2": "\(parameters.exchangeCurrentRefAmpsPerCm2)",
        ]
        if let d = options.diffusivityConstantCm2PerS { inputs["diffusivity_constant_cm2_per_s"] = "\(d)" }
        if let m = cell.activeMassMilligrams { inputs["cell_active_mass_mg"] = "\(m)" }
        try SimulationFiles.write(
            trace: result.trace.map { ModelTraceRecord(timeSeconds: $0.timeSeconds, thetaCentre: $0.thetaCentre, thetaMean: $0.thetaMean,
                                                       thetaMin: $0.thetaMin, thetaMax: $0.thetaMax, voltageVolts: $0.voltageVolts,
                                                       currentAmps: $0.currentAmps) },
            profiles: result.profiles.flatMap { p in
                zip(p.positionsMicrometres, p.theta).map { ModelProfileRecord(timeSeconds: p.timeSeconds, positionMicrometres: $0, theta: $1) }
            },
            summary: JSONValue(result.summaryObject(inputs: inputs)), to: out)
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
            Terminal.write("WARNING: MASS BALANCE OFF: worst relative error \(result.massBalanceWorstRelativeError) > 1e-6\n")
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

/// A flag's value that is not what it should be: names the flag, the value and what was expected.
struct FlagValueError: Error, CustomStringConvertible {
    var flag: String
    var value: String
    var expected: String
    var description: String { "\(flag) \(ConfigError.displayText(value)): expected \(expected)" }
}

/// Flag values with units, as the protocol language writes quantities (a plain number keeps the
/// flag's documented unit).
enum FlagValue {
    static func positiveNumber(_ text: String, flag: String) throws -> Double {
        guard let v = Double(text.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0 else {
            throw FlagValueError(flag: flag, value: text, expected: "a finite positive number")
        }
        return v
    }

    static func lengthMicrometres(_ text: String, flag: String) throws -> Double {
        guard let v = ParticleShape.lengthMicrometres(text) else {
            throw FlagValueError(flag: flag, value: text, expected: "a positive length in µm (e.g. 0.6, 0.6um, 600nm)")
        }
        return v
    }

    static func durationSeconds(_ text: String, flag: String) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let v = Double(t) {
            guard v.isFinite, v > 0 else { throw FlagValueError(flag: flag, value: text, expected: "a positive duration (e.g. 10, 10s, 1min)") }
            return v
        }
        do { return try StepParser.duration(t, location: SourceLocation(file: flag)) } catch {
            throw FlagValueError(flag: flag, value: text, expected: "a positive duration (e.g. 10, 10s, 1min)")
        }
    }

    static func massMilligrams(_ text: String, flag: String) throws -> Double {
        var t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "")
        var factor = 1.0
        for (unit, f) in [("mg", 1.0), ("µg", 1e-3), ("μg", 1e-3), ("ug", 1e-3), ("g", 1e3)] where t.hasSuffix(unit) {
            t = String(t.dropLast(unit.count)); factor = f; break
        }
        guard let v = Double(t), v.isFinite, v > 0, ProtocolFile.Ranges.activeMassMilligrams.contains(v * factor) else {
            throw FlagValueError(flag: flag, value: text, expected: "a positive mass up to 10 g (e.g. 1.5, 1.5mg, 0.0015g)")
        }
        return v * factor
    }
}
