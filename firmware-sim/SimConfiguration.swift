import Foundation
import ParticleModel
import ConfigFile

/// A bad `[sim]` table: names the file, the key and what was expected.
public struct SimConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rig file (or `protocol` for the cell's mass and capacity).
    public var file: String
    /// The offending key, with its path inside `[sim]` (e.g. `faults[0].kind`).
    public var key: String
    /// What was wrong and what was expected.
    public var problem: String
    /// 1-based line of the key, when known.
    public var line: Int?
    public init(file: String, key: String, problem: String, line: Int? = nil) {
        self.file = file; self.key = key; self.problem = problem; self.line = line
    }
    public var description: String {
        let at = line.map { "\(file):\($0)" } ?? file
        return ConfigError.displayText("\(at): [sim] \(key): \(problem)", limit: 800, escapeQuotes: false)
    }
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
    /// `[sim.instrument]`: the instrument run by its own software that follow mode follows (nil: the
    /// defaults when the rig is in follow mode).
    public var instrument: SimInstrumentSettings?

    public init() {}

    /// Every key the `[sim]` table may hold.
    public static let keys: [String] = [
        "particle", "particle_size_um", "theta0", "scale", "exchange_current_A_per_cm2", "optical_gain",
        "reference_theta", "drift_nm_per_min", "drift_direction_deg", "drift_walk_nm_per_sqrt_min", "noise",
        "seed", "series_resistance_ohm", "population_count", "population_median_um", "population_log_sigma",
        "model_step_s", "sample_interval_s", "voltage_noise_mV", "current_noise_nA", "particle_electrons_per_ms",
        "hot_pixels_per_megapixel", "faults", "instrument",
    ]
    /// Keys of one `[[sim.faults]]` entry.
    public static let faultKeys = ["kind", "at_s", "count", "duration_s", "ohm", "line"]
    /// Fault kinds.
    public static let faultKinds = ["potentiostat_disconnect", "potentiostat_timeout", "compliance_hit",
                                    "camera_timeout", "camera_drop", "gpio_io_error"]

    /// Physical ranges of the `[sim]` keys (docs/firmware-sim.md and docs/protocol.md list them).
    public enum Ranges {
        public static let particleSizeMicrometres = NumberRange.positive(upTo: 100)
        public static let theta0 = NumberRange.open(0.1, 1)
        public static let scale = NumberRange.positive(upTo: 1e6)
        public static let exchangeCurrentAmpsPerCm2 = NumberRange.positive(upTo: 1)
        public static let opticalGain = NumberRange(-1000...1000)
        public static let referenceTheta = NumberRange.open(0, 1)
        public static let driftNanometresPerMinute = NumberRange(0...10_000)
        public static let driftDirectionDegrees = NumberRange(-360...360)
        public static let driftWalk = NumberRange(0...10_000)
        public static let noise = NumberRange(0...1000)
        public static let seriesResistanceOhms = NumberRange(0...1e9)
        public static let populationCount = 0...64
        public static let populationMedianMicrometres = NumberRange.positive(upTo: 100)
        public static let populationLogSigma = NumberRange(0...3)
        public static let modelStepSeconds = NumberRange(0.001...60)
        public static let sampleIntervalSeconds = NumberRange(0.001...3600)
        public static let voltageNoiseMillivolts = NumberRange(0...1000)
        public static let currentNoiseNanoamps = NumberRange(0...1e9)
        public static let particleElectronsPerMillisecond = NumberRange.positive(upTo: 1e9)
        public static let hotPixelsPerMegapixel = NumberRange(0...1e5)
        /// Fault times: within one year of run time (the run clock is integer nanoseconds).
        public static let faultAtSeconds = NumberRange(0...3.2e7)
        public static let faultDurationSeconds = NumberRange.positive(upTo: 3.2e7)
        public static let faultOhms = NumberRange.positive(upTo: 1e12)
        public static let faultCount = 1...1_000_000
    }

    /// Reads the `[sim]` table of a rig file's text (other top-level tables are the rig loader's).
    /// A file without `[sim]` gives the defaults.
    public static func parse(rigFileText text: String, file: String) throws -> SimConfiguration {
        let config: ConfigFile
        do { config = try ConfigFile.parse(text: text, path: file) } catch let e as ConfigError {
            throw SimConfigurationError(e, file: file)
        }
        return try parse(rigFile: config)
    }

    /// Reads a rig file from disk.
    public static func load(rigFile path: String) throws -> SimConfiguration {
        let config: ConfigFile
        do { config = try ConfigFile.load(path: path) } catch let e as ConfigError {
            throw SimConfigurationError(e, file: path)
        }
        return try parse(rigFile: config)
    }

    /// Reads the `[sim]` table of a parsed rig file; only `[sim]` is checked for unread keys.
    public static func parse(rigFile config: ConfigFile) throws -> SimConfiguration {
        do {
            guard config.root.contains("sim") else { return SimConfiguration() }
            guard let table = try config.root.table("sim") else { return SimConfiguration() }
            return try parse(simTable: table)
        } catch let e as ConfigError {
            throw SimConfigurationError(e, file: config.path)
        }
    }

    /// Reads an already parsed `[sim]` table and checks that every key in it was read.
    /// - Throws: `ConfigError` naming file, line and key.
    public static func parse(simTable t: ConfigTable) throws -> SimConfiguration {
        try t.checkKeys(allowed: keys)
        var c = SimConfiguration()
        if let s = try t.string("particle", maxLength: 4096) {
            do { _ = try ParticleShape.parse(s) } catch { throw t.error("particle", "\(error)") }
            c.particle = s
        }
        c.particleSizeMicrometres = try t.number("particle_size_um", unit: "µm", range: Ranges.particleSizeMicrometres)
        c.theta0 = try t.number("theta0", range: Ranges.theta0, default: c.theta0)
        c.scale = try t.number("scale", range: Ranges.scale, default: c.scale)
        c.exchangeCurrentAmpsPerCm2 = try t.number("exchange_current_A_per_cm2", unit: "A/cm²", range: Ranges.exchangeCurrentAmpsPerCm2)
        c.opticalGain = try t.number("optical_gain", range: Ranges.opticalGain, default: c.opticalGain)
        c.referenceTheta = try t.number("reference_theta", range: Ranges.referenceTheta, default: c.referenceTheta)
        c.driftNanometresPerMinute = try t.number("drift_nm_per_min", unit: "nm/min", range: Ranges.driftNanometresPerMinute, default: c.driftNanometresPerMinute)
        c.driftDirectionDegrees = try t.number("drift_direction_deg", unit: "°", range: Ranges.driftDirectionDegrees, default: c.driftDirectionDegrees)
        c.driftWalkNanometresPerSqrtMinute = try t.number("drift_walk_nm_per_sqrt_min", unit: "nm/√min", range: Ranges.driftWalk, default: c.driftWalkNanometresPerSqrtMinute)
        c.noise = try t.number("noise", range: Ranges.noise, default: c.noise)
        if let seed = try t.integer("seed", range: 0...Int.max) { c.seed = UInt64(seed) }
        c.seriesResistanceOhms = try t.number("series_resistance_ohm", unit: "Ω", range: Ranges.seriesResistanceOhms, default: c.seriesResistanceOhms)
        c.populationCount = try t.integer("population_count", range: Ranges.populationCount, default: c.populationCount)
        c.populationMedianMicrometres = try t.number("population_median_um", unit: "µm", range: Ranges.populationMedianMicrometres, default: c.populationMedianMicrometres)
        c.populationLogSigma = try t.number("population_log_sigma", range: Ranges.populationLogSigma, default: c.populationLogSigma)
        c.modelStepSeconds = try t.number("model_step_s", unit: "s", range: Ranges.modelStepSeconds, default: c.modelStepSeconds)
        c.sampleIntervalSeconds = try t.number("sample_interval_s", unit: "s", range: Ranges.sampleIntervalSeconds, default: c.sampleIntervalSeconds)
        c.voltageNoiseMillivolts = try t.number("voltage_noise_mV", unit: "mV", range: Ranges.voltageNoiseMillivolts, default: c.voltageNoiseMillivolts)
        c.currentNoiseNanoamps = try t.number("current_noise_nA", unit: "nA", range: Ranges.currentNoiseNanoamps, default: c.currentNoiseNanoamps)
        c.particleElectronsPerMillisecond = try t.number("particle_electrons_per_ms", unit: "e⁻/ms", range: Ranges.particleElectronsPerMillisecond, default: c.particleElectronsPerMillisecond)
        c.hotPixelsPerMegapixel = try t.number("hot_pixels_per_megapixel", range: Ranges.hotPixelsPerMegapixel, default: c.hotPixelsPerMegapixel)
        if let faults = try t.tables("faults") {
            if faults.count > 10_000 { throw t.error("faults", "at most 10000 faults", kind: .outOfRange, text: "\(faults.count) faults") }
            for f in faults {
                try f.checkKeys(allowed: faultKeys)
                guard let kind = try f.string("kind", oneOf: faultKinds) else {
                    throw f.error(nil, "kind is missing; expected one of " + faultKinds.joined(separator: ", "), kind: .missing)
                }
                let at = try f.number("at_s", unit: "s", range: Ranges.faultAtSeconds, default: 0)
                let fault: SimFault
                switch kind {
                case "potentiostat_disconnect": fault = .potentiostatDisconnect
                case "potentiostat_timeout": fault = .potentiostatTimeout
                case "compliance_hit": fault = .complianceHit(ohms: try f.number("ohm", unit: "Ω", range: Ranges.faultOhms, default: 1e6))
                case "camera_timeout":
                    fault = .cameraTimeout(seconds: try f.number("duration_s", unit: "s", range: Ranges.faultDurationSeconds, default: 1e7))
                case "camera_drop": fault = .cameraDrop(count: try f.integer("count", range: Ranges.faultCount, default: 1))
                default:
                    fault = .gpioIOError(line: try f.string("line", oneOf: ["led", "trigger"], default: "led"))
                }
                c.faults.append(ScheduledFault(atSeconds: at, fault: fault))
            }
        }
        if let i = try t.table("instrument") {
            try i.checkKeys(allowed: SimInstrumentSettings.keys)
            var s = SimInstrumentSettings()
            s.startSeconds = try i.number("start_s", unit: "s", range: NumberRange(0...86_400), default: s.startSeconds)
            s.driftPPM = try i.number("drift_ppm", unit: "ppm", range: NumberRange(-1000...1000), default: s.driftPPM)
            s.recordIntervalSeconds = try i.number("record_interval_s", unit: "s", range: Ranges.sampleIntervalSeconds)
            s.triggerWidthMilliseconds = try i.number("trigger_width_ms", unit: "ms", range: NumberRange(0.01...1000),
                                                      default: s.triggerWidthMilliseconds)
            s.recordPath = try i.string("record", maxLength: 4096)
            c.instrument = s
        }
        try t.checkAllKeysRead(recursive: true)
        return c
    }
}

extension SimConfigurationError {
    /// The configuration reader's error, with the key relative to `[sim]`.
    init(_ e: ConfigError, file: String) {
        var key = e.key ?? "(file)"
        if key.hasPrefix("sim.") { key.removeFirst(4) }
        if e.kind == .syntax { key = "(file)" }
        self.init(file: e.file.isEmpty ? file : e.file, key: key, problem: e.problem, line: e.line)
    }
}
