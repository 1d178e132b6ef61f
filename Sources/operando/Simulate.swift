import ArgumentParser
import Dataset
import ConfigFile
import Electrochemistry
import Foundation
import ParticleModel
import TerminalProgress

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the 2D particle diffusion model (finite elements) on protocol steps.",
        discussion: """
        Example: operando simulate "Charge at C/3 for 60 minutes" --out runs/c3
        Writes \(SimulationFiles.namesText) into --out. The default parameter set \
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

    @Option(name: .customLong("output-interval"), parsing: .unconditional, help: "Time between trace rows (s, or with a unit: 10s, 1min).")
    var outputInterval: String = "10"

    @Option(name: .customLong("cell-mass"), parsing: .unconditional,
            help: "Active mass of the cell the protocol is written for (mg, or 1.5mg, 0.0015g): absolute currents are converted to C-rates with it, as `run` does. A protocol file's [cell] active_mass_mg is used when this is not given.")
    var cellMass: String?

    @Option(help: "Output directory.")
    var out: String = "simulation"

    @OptionGroup var output: OutputOptions

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
        let out = CommandOutput(output, label: "simulate")
        let progress = out.progress()
        let estimate = ProtocolProgress(program: program)
        let result: SimulationResult
        do {
            result = try sim.run(program: program) { _, status in
                let (fraction, detail) = estimate.fraction(status: status)
                progress.update(fraction, detail)
            }
        } catch {
            progress.abandon()
            throw error
        }
        progress.finish(String(format: "model t %@", ProgressReporter.clock(result.trace.last?.timeSeconds ?? 0)))
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
            summary: JSONValue(result.summaryObject(inputs: inputs)), to: self.out)
        guard let last = result.trace.last else { throw SolverError.invalidInput("the simulation produced no trace rows") }
        out.summary(String(format: "%d nodes, %d steps (%d rejected), %d Newton iterations, %.3f s wall",
                           result.nodes, result.timeSteps, result.rejectedSteps, result.newtonIterations, result.wallSeconds))
        for s in result.steps {
            // Steps are numbered from 1 on screen, from 0 in files (docs/simulate.md).
            out.summary(String(format: "step %d \"%@\": %.1f–%.1f s, ended by %@, mean θ %.4f",
                               s.step + 1, s.text, s.startSeconds, s.endSeconds, s.reason, s.thetaMeanAtEnd))
        }
        out.summary(String(format: "final: t = %.1f s, θ centre %.4f, mean %.4f, min %.4f, max %.4f, V %.4f",
                           last.timeSeconds, last.thetaCentre, last.thetaMean, last.thetaMin, last.thetaMax, last.voltageVolts))
        let massBalanceOK = result.massBalanceWorstRelativeError <= 1e-6
        if !massBalanceOK {
            Terminal.write("WARNING: MASS BALANCE OFF: worst relative error \(result.massBalanceWorstRelativeError) > 1e-6\n")
        } else {
            out.summary(String(format: "mass balance: worst relative error %.2e", result.massBalanceWorstRelativeError))
        }
        out.summary("wrote \(SimulationFiles.namesText) in \(self.out)")
        out.json([
            "command": "simulate", "output_directory": self.out,
            "nodes": result.nodes, "time_steps": result.timeSteps, "rejected_steps": result.rejectedSteps,
            "newton_iterations": result.newtonIterations, "wall_s": result.wallSeconds,
            "steps": result.steps.map { s -> [String: Any] in
                ["step": s.step, "text": s.text, "start_s": s.startSeconds, "end_s": s.endSeconds, "ended_by": s.reason,
                 "theta_mean_at_end": s.thetaMeanAtEnd]
            },
            "final": ["time_s": last.timeSeconds, "theta_centre": last.thetaCentre, "theta_mean": last.thetaMean,
                      "theta_min": last.thetaMin, "theta_max": last.thetaMax, "voltage_V": last.voltageVolts],
            "mass_balance_worst_relative_error": result.massBalanceWorstRelativeError, "mass_balance_ok": massBalanceOK,
            "files": SimulationFiles.names,
        ])
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
