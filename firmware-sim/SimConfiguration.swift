import Foundation
import ParticleModel
import TOMLKit

/// A bad `[sim]` table: names the file, the key and what was expected.
public struct SimConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rig file (or `protocol` for the cell's mass and capacity).
    public var file: String
    /// The offending key, with its path inside `[sim]` (e.g. `faults[0].kind`).
    public var key: String
    /// What was wrong and what was expected.
    public var problem: String
    public init(file: String, key: String, problem: String) { self.file = file; self.key = key; self.problem = problem }
    public var description: String { "\(file): [sim] \(key): \(problem)" }
}

/// What the simulated world is: the `[sim]` table of a rig file (docs/firmware-sim.md lists the keys).
/// Units are in the key names; unknown keys are errors; the same seed gives identical output.
public struct SimConfiguration: Sendable, Equatable {
    /// Particle specification (`ellipse:3.04x2.04um`, `circle:2.5um`, `hexagon:2.4um`, `polygon:FILE.csv`).
    public var particle = "ellipse:3.04x2.04um"
    /// Rescale the particle so its longest extent is this, µm (nil: as specified).
    public var particleSizeMicrometres: Double?
    /// Initial uniform occupancy of every particle.
    public var theta0 = 0.95
    /// S in D_eff = D_Li / S.
    public var scale = 3.5
    /// Butler–Volmer exchange current density at θ = 0.5, A/cm² (nil: the parameter set's).
    public var exchangeCurrentAmpsPerCm2: Double?
    /// A of seed Eq. 17.
    public var opticalGain = 1 / 0.95
    /// θ at which the particle has its reference reflectance (seed Eq. 17: θ0 = 0.95).
    public var referenceTheta = 0.95
    /// Linear stage drift, nm/min, and its direction in the image (degrees from +x towards +y).
    public var driftNanometresPerMinute = 5.0
    public var driftDirectionDegrees = 30.0
    /// Random-walk part of the drift: rms displacement per axis after one minute, nm.
    public var driftWalkNanometresPerSqrtMinute = 2.0
    /// Multiplier of every noise source (0: noiseless).
    public var noise = 1.0
    /// Seed of every random stream.
    public var seed: UInt64 = 1
    /// Series resistance of the cell, Ω.
    public var seriesResistanceOhms = 20.0
    /// Particles in the electrode population besides the imaged one (0: the imaged one stands for all).
    public var populationCount = 0
    /// Median longest extent of population particles, µm, and the σ of its logarithm.
    public var populationMedianMicrometres = 2.0
    public var populationLogSigma = 0.3
    /// Longest step of the cell model, s.
    public var modelStepSeconds = 1.0
    /// Interval of the potentiostat's recorded samples, s.
    public var sampleIntervalSeconds = 1.0
    /// Potentiostat noise, 1 σ: voltage in mV, current in nA.
    public var voltageNoiseMillivolts = 0.2
    public var currentNoiseNanoamps = 5.0
    /// Electrons per ms of lit exposure from the particle at θ_ref.
    public var particleElectronsPerMillisecond = 4800.0
    /// Hot pixels per megapixel.
    public var hotPixelsPerMegapixel = 60.0
    /// Faults to inject, at run times.
    public var faults: [ScheduledFault] = []

    public init() {}

    /// Every key the `[sim]` table may hold.
    public static let keys: [String] = [
        "particle", "particle_size_um", "theta0", "scale", "exchange_current_A_per_cm2", "optical_gain",
        "reference_theta", "drift_nm_per_min", "drift_direction_deg", "drift_walk_nm_per_sqrt_min", "noise",
        "seed", "series_resistance_ohm", "population_count", "population_median_um", "population_log_sigma",
        "model_step_s", "sample_interval_s", "voltage_noise_mV", "current_noise_nA", "particle_electrons_per_ms",
        "hot_pixels_per_megapixel", "faults",
    ]
    /// Keys of one `[[sim.faults]]` entry.
    public static let faultKeys = ["kind", "at_s", "count", "duration_s", "ohm", "line"]
    /// Fault kinds.
    public static let faultKinds = ["potentiostat_disconnect", "potentiostat_timeout", "compliance_hit",
                                    "camera_timeout", "camera_drop", "gpio_io_error"]

    /// Reads the `[sim]` table of a rig file's text (other top-level tables are the rig loader's).
    /// A file without `[sim]` gives the defaults.
    public static func parse(rigFileText text: String, file: String) throws -> SimConfiguration {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch {
            throw SimConfigurationError(file: file, key: "(file)", problem: "not valid TOML: \(error)")
        }
        guard let value = root["sim"] else { return SimConfiguration() }
        guard let table = value.table else {
            throw SimConfigurationError(file: file, key: "sim", problem: "expected a table [sim]")
        }
        return try parse(simTable: table, file: file)
    }

    /// Reads a rig file from disk.
    public static func load(rigFile path: String) throws -> SimConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw SimConfigurationError(file: path, key: "(file)", problem: "cannot read: \(error.localizedDescription)")
        }
        return try parse(rigFileText: text, file: path)
    }

    /// Reads an already parsed `[sim]` table.
    public static func parse(simTable t: TOMLTable, file: String) throws -> SimConfiguration {
        func fail(_ key: String, _ problem: String) -> SimConfigurationError {
            SimConfigurationError(file: file, key: key, problem: problem)
        }
        for key in t.keys where !keys.contains(key) {
            throw fail(key, "unknown key; expected one of " + keys.joined(separator: ", "))
        }
        func number(_ key: String, in table: TOMLTable, path: String, _ check: (Double) -> Bool, _ expected: String) throws -> Double? {
            guard let v = table[key] else { return nil }
            let d: Double
            if let x = v.double { d = x } else if let i = v.int { d = Double(i) } else {
                throw fail(path, "\(v) is not a number; expected \(expected)")
            }
            guard d.isFinite, check(d) else { throw fail(path, "\(d): expected \(expected)") }
            return d
        }
        func num(_ key: String, _ check: (Double) -> Bool, _ expected: String) throws -> Double? {
            try number(key, in: t, path: key, check, expected)
        }
        let positive: (Double) -> Bool = { $0 > 0 }
        let nonNegative: (Double) -> Bool = { $0 >= 0 }
        var c = SimConfiguration()
        if let v = t["particle"] {
            guard let s = v.string else { throw fail("particle", "expected a string such as \"ellipse:3.04x2.04um\"") }
            do { _ = try ParticleShape.parse(s) } catch { throw fail("particle", "\(error)") }
            c.particle = s
        }
        c.particleSizeMicrometres = try num("particle_size_um", positive, "a positive length in µm")
        if let v = try num("theta0", { $0 > 0.1 && $0 < 1 }, "an occupancy between 0.1 and 1") { c.theta0 = v }
        if let v = try num("scale", positive, "a positive factor S") { c.scale = v }
        c.exchangeCurrentAmpsPerCm2 = try num("exchange_current_A_per_cm2", positive, "a positive current density in A/cm²")
        if let v = try num("optical_gain", { _ in true }, "a finite number A") { c.opticalGain = v }
        if let v = try num("reference_theta", { $0 > 0 && $0 < 1 }, "an occupancy between 0 and 1") { c.referenceTheta = v }
        if let v = try num("drift_nm_per_min", nonNegative, "a speed ≥ 0 in nm/min") { c.driftNanometresPerMinute = v }
        if let v = try num("drift_direction_deg", { _ in true }, "an angle in degrees") { c.driftDirectionDegrees = v }
        if let v = try num("drift_walk_nm_per_sqrt_min", nonNegative, "≥ 0 nm per √min") { c.driftWalkNanometresPerSqrtMinute = v }
        if let v = try num("noise", nonNegative, "a multiplier ≥ 0 (1 = realistic, 0 = noiseless)") { c.noise = v }
        if let v = t["seed"] {
            guard let i = v.int, i >= 0 else { throw fail("seed", "\(v): expected a non-negative integer") }
            c.seed = UInt64(i)
        }
        if let v = try num("series_resistance_ohm", nonNegative, "a resistance ≥ 0 in Ω") { c.seriesResistanceOhms = v }
        if let v = try num("population_count", { $0 >= 0 && $0 <= 64 && $0 == $0.rounded() }, "an integer 0…64") {
            c.populationCount = Int(v)
        }
        if let v = try num("population_median_um", positive, "a positive length in µm") { c.populationMedianMicrometres = v }
        if let v = try num("population_log_sigma", nonNegative, "≥ 0") { c.populationLogSigma = v }
        if let v = try num("model_step_s", { $0 >= 0.001 && $0 <= 60 }, "a step between 0.001 and 60 s") { c.modelStepSeconds = v }
        if let v = try num("sample_interval_s", { $0 >= 0.001 && $0 <= 3600 }, "an interval between 0.001 and 3600 s") { c.sampleIntervalSeconds = v }
        if let v = try num("voltage_noise_mV", nonNegative, "≥ 0 mV") { c.voltageNoiseMillivolts = v }
        if let v = try num("current_noise_nA", nonNegative, "≥ 0 nA") { c.currentNoiseNanoamps = v }
        if let v = try num("particle_electrons_per_ms", positive, "a positive rate in e⁻/ms") { c.particleElectronsPerMillisecond = v }
        if let v = try num("hot_pixels_per_megapixel", nonNegative, "≥ 0") { c.hotPixelsPerMegapixel = v }
        if let v = t["faults"] {
            guard let array = v.array else { throw fail("faults", "expected an array of tables [[sim.faults]]") }
            for (k, element) in array.enumerated() {
                let path = "faults[\(k)]"
                guard let f = element.table else { throw fail(path, "expected a table with kind and at_s") }
                for key in f.keys where !faultKeys.contains(key) {
                    throw fail("\(path).\(key)", "unknown key; expected one of " + faultKeys.joined(separator: ", "))
                }
                guard let kind = f["kind"]?.string else {
                    throw fail("\(path).kind", "missing; expected one of " + faultKinds.joined(separator: ", "))
                }
                let at = try number("at_s", in: f, path: "\(path).at_s", nonNegative, "a run time ≥ 0 in s") ?? 0
                let fault: SimFault
                switch kind {
                case "potentiostat_disconnect": fault = .potentiostatDisconnect
                case "potentiostat_timeout": fault = .potentiostatTimeout
                case "compliance_hit":
                    fault = .complianceHit(ohms: try number("ohm", in: f, path: "\(path).ohm", positive, "a resistance in Ω") ?? 1e6)
                case "camera_timeout":
                    fault = .cameraTimeout(seconds: try number("duration_s", in: f, path: "\(path).duration_s", positive, "a duration in s") ?? 1e9)
                case "camera_drop":
                    let n = try number("count", in: f, path: "\(path).count", { $0 >= 1 && $0 == $0.rounded() }, "an integer ≥ 1") ?? 1
                    fault = .cameraDrop(count: Int(n))
                case "gpio_io_error":
                    guard let line = f["line"]?.string ?? Optional("led"), ["led", "trigger"].contains(line) else {
                        throw fail("\(path).line", "expected \"led\" or \"trigger\"")
                    }
                    fault = .gpioIOError(line: line)
                default:
                    throw fail("\(path).kind", "\"\(kind)\": expected one of " + faultKinds.joined(separator: ", "))
                }
                c.faults.append(ScheduledFault(atSeconds: at, fault: fault))
            }
        }
        return c
    }
}
