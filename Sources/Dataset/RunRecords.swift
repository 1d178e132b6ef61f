// The typed records of a run's files (docs/interfaces.md "Dataset"). Times are seconds of run time
// (0 at the run's start); currents in A, positive on charge; voltages in V.

/// The format of a dataset directory. Minor versions add files or columns (old readers ignore them);
/// a new major version changes what existing files mean, and older readers refuse it. 1.2: echem.csv
/// gained `cycle`, `charge_capacity_mAh_per_g`, `discharge_capacity_mAh_per_g`.
public enum DatasetFormat {
    /// Written by this operando.
    public static let version = "1.2"
    /// The major version this operando reads.
    public static let major = 1
    /// The file names of a run, relative to the dataset directory.
    public enum File {
        public static let runInfo = "run.json"
        public static let echem = "echem.csv"
        public static let frames = "frames.csv"
        public static let framesDirectory = "frames"
        public static let monitor = "monitor.csv"
        public static let edges = "edges.csv"
        public static let events = "events.jsonl"
        public static let timing = "timing.json"
        public static let lock = ".operando-lock"
        public static let analysisDirectory = "analysis"
        public static let calibrationDirectory = "calibration"
        /// Chunk `n` of recorded frames: `frames/NNNNNN.tif`.
        public static func chunk(_ n: Int) -> String {
            let digits = String(n)
            return framesDirectory + "/" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".tif"
        }
    }
}

/// One electrochemical sample (`echem.csv`). Every column name carries its unit (`_s`, `_V`, `_A`,
/// `_mAh_per_g`); `step` and `cycle` are 0-based (docs/run.md).
///
/// Format 1.2 added `cycle`, `charge_capacity_mAh_per_g` and `discharge_capacity_mAh_per_g` after the
/// 1.1 columns: a reader of the old columns reads new files unchanged, and an old file without them
/// reads with `cycle` −1 and the two capacities NaN (unknown).
public struct EchemRecord: Sendable, Equatable {
    public static let columns = ["time_s", "step", "step_kind", "voltage_V", "current_A", "capacity_mAh_per_g",
                                 "cycle", "charge_capacity_mAh_per_g", "discharge_capacity_mAh_per_g"]
    /// `step_kind` of the sample recorded after a safe stop: the cell at open circuit.
    public static let safeStopKind = "safe_stop"
    public var timeSeconds: Double
    /// 0-based index into the protocol's planned steps (−1: none).
    public var step: Int
    /// `charge`, `discharge`, `hold`, `rest`, or `safe_stop`.
    public var stepKind: String
    public var voltageVolts: Double
    public var currentAmps: Double
    /// Running capacity, mAh per gram of active material (signed: up on charge, down on discharge;
    /// never reset).
    public var capacityMilliampHoursPerGram: Double
    /// 0-based cycle number (`HalfCycleCapacity` defines it; −1: unknown).
    public var cycle: Int
    /// Charge passed in this cycle's charge half-cycle, mAh/g (EC-Lab's `Q charge`, per gram): 0 at the
    /// start of a cycle, rising during the charge, held through the discharge (NaN: unknown).
    public var chargeCapacityMilliampHoursPerGram: Double
    /// Charge passed in this cycle's discharge half-cycle, mAh/g, positive (EC-Lab's `Q discharge`, per
    /// gram): 0 until the discharge starts, then rising (NaN: unknown).
    public var dischargeCapacityMilliampHoursPerGram: Double

    public init(timeSeconds: Double, step: Int, stepKind: String, voltageVolts: Double, currentAmps: Double,
                capacityMilliampHoursPerGram: Double, cycle: Int = -1, chargeCapacityMilliampHoursPerGram: Double = .nan,
                dischargeCapacityMilliampHoursPerGram: Double = .nan) {
        self.timeSeconds = timeSeconds
        self.step = step
        self.stepKind = stepKind
        self.voltageVolts = voltageVolts
        self.currentAmps = currentAmps
        self.capacityMilliampHoursPerGram = capacityMilliampHoursPerGram
        self.cycle = cycle
        self.chargeCapacityMilliampHoursPerGram = chargeCapacityMilliampHoursPerGram
        self.dischargeCapacityMilliampHoursPerGram = dischargeCapacityMilliampHoursPerGram
    }

    var fields: [String] {
        [CSVField.number(timeSeconds), String(step), CSVField.text(stepKind), CSVField.number(voltageVolts),
         CSVField.number(currentAmps), CSVField.number(capacityMilliampHoursPerGram),
         cycle < 0 ? "" : String(cycle), CSVField.number(chargeCapacityMilliampHoursPerGram),
         CSVField.number(dischargeCapacityMilliampHoursPerGram)]
    }

    init(_ r: CSVRow) throws {
        self.init(timeSeconds: try r.finite("time_s"), step: try r.int("step", default: -1), stepKind: r.string("step_kind"),
                  voltageVolts: try r.double("voltage_V"), currentAmps: try r.double("current_A"),
                  capacityMilliampHoursPerGram: try r.optionalDouble("capacity_mAh_per_g") ?? .nan,
                  cycle: try r.int("cycle", default: -1),
                  chargeCapacityMilliampHoursPerGram: try r.optionalDouble("charge_capacity_mAh_per_g") ?? .nan,
                  dischargeCapacityMilliampHoursPerGram: try r.optionalDouble("discharge_capacity_mAh_per_g") ?? .nan)
    }

    /// Equal when every field is, NaN matching NaN (unknown capacities compare equal).
    public static func == (a: EchemRecord, b: EchemRecord) -> Bool {
        func same(_ x: Double, _ y: Double) -> Bool { x == y || (x.isNaN && y.isNaN) }
        return same(a.timeSeconds, b.timeSeconds) && a.step == b.step && a.stepKind == b.stepKind
            && same(a.voltageVolts, b.voltageVolts) && same(a.currentAmps, b.currentAmps)
            && same(a.capacityMilliampHoursPerGram, b.capacityMilliampHoursPerGram) && a.cycle == b.cycle
            && same(a.chargeCapacityMilliampHoursPerGram, b.chargeCapacityMilliampHoursPerGram)
            && same(a.dischargeCapacityMilliampHoursPerGram, b.dischargeCapacityMilliampHoursPerGram)
    }
}

/// Per-half-cycle capacities and the cycle number of a commanded run, as EC-Lab users read them
/// (`Q charge/mA.h`, `Q discharge/mA.h`, `cycle number`), per gram of active material.
///
/// - A **half-cycle** is a stretch of the run passing charge one way: a *charge* half-cycle begins at
///   a Charge step when the run is not already charging, a *discharge* half-cycle at a Discharge step
///   when it is not already discharging. Holds and rests continue the half-cycle in progress (the CV
///   part of a CC–CV charge belongs to the charge); a Hold before any Charge or Discharge starts the
///   half-cycle its current's sign says.
/// - A **cycle** (0-based) is a charge half-cycle and the discharge half-cycle after it: a new cycle
///   begins at each charge half-cycle that follows a discharge one. A run that starts with a
///   discharge has that discharge alone as cycle 0.
/// - Both capacities are 0 at the start of a cycle. The charge capacity grows with the net charge
///   passed in the charge half-cycle and keeps its value through the discharge; the discharge
///   capacity (positive) grows in the discharge half-cycle. So the last row of a cycle carries both,
///   and `groupby("cycle").max()` gives each cycle's charge and discharge capacity.
///
/// The signed running total (`capacity_mAh_per_g`) is kept beside these, never reset.
public struct HalfCycleCapacity: Sendable, Equatable {
    /// The direction of a half-cycle.
    public enum Direction: Sendable, Equatable { case charge, discharge }

    public private(set) var cycle = 0
    /// The half-cycle in progress (nil before the first charge or discharge).
    public private(set) var direction: Direction?
    public private(set) var chargeMilliampHoursPerGram = 0.0
    public private(set) var dischargeMilliampHoursPerGram = 0.0
    /// Half-cycles begun so far.
    public private(set) var halfCycles = 0

    public init() {}

    /// Adds the charge passed over one sample interval: `dq` mAh/g, signed (positive on charge),
    /// during a step of kind `stepKind` (`charge`, `discharge`, `hold`, `rest`, `safe_stop`).
    public mutating func add(stepKind: String, signedMilliampHoursPerGram dq: Double) {
        let d: Direction?
        switch stepKind {
        case "charge": d = .charge
        case "discharge": d = .discharge
        case "hold": d = direction ?? (dq > 0 ? .charge : (dq < 0 ? .discharge : nil))
        default: d = direction
        }
        if let d, d != direction { begin(d) }
        guard dq.isFinite else { return }
        switch direction {
        case .charge?: chargeMilliampHoursPerGram += dq
        case .discharge?: dischargeMilliampHoursPerGram -= dq
        case nil: break
        }
    }

    /// Starts a new cycle here, by an instrument's own cycle numbering (an imported record whose
    /// file has a cycle column): both capacities restart at 0 and the half-cycle in progress goes on.
    public mutating func beginCycle(_ number: Int) {
        cycle = number
        chargeMilliampHoursPerGram = 0
        dischargeMilliampHoursPerGram = 0
    }

    private mutating func begin(_ d: Direction) {
        switch d {
        case .charge:
            if direction == .discharge {
                cycle += 1
                dischargeMilliampHoursPerGram = 0
            }
            chargeMilliampHoursPerGram = 0
        case .discharge:
            dischargeMilliampHoursPerGram = 0
        }
        direction = d
        halfCycles += 1
    }
}

/// One recorded (binned) frame (`frames.csv`): where its pixels are and what it belongs to.
public struct FrameRecord: Sendable, Equatable {
    public static let columns = ["frame", "chunk", "page", "t_start_s", "t_end_s", "exposures", "led_on_fraction", "step",
                                 "echem_time_s", "voltage_V", "current_A"]
    static let required = ["frame", "chunk", "page", "t_start_s", "t_end_s"]
    public var frame: Int
    /// Chunk file number (`frames/NNNNNN.tif`) and page inside it.
    public var chunk: Int
    public var page: Int
    /// First exposure's start and last exposure's end, s.
    public var startSeconds: Double
    public var endSeconds: Double
    /// Raw exposures binned into the frame (0: none arrived).
    public var exposures: Int
    /// Share of the exposures' time the LED was on (1: every exposure fully lit).
    public var ledOnFraction: Double
    /// Protocol step at the first exposure (0-based).
    public var step: Int
    /// The latest electrochemical sample at the first exposure.
    public var echemTimeSeconds: Double
    public var voltageVolts: Double
    public var currentAmps: Double

    public init(frame: Int, chunk: Int, page: Int, startSeconds: Double, endSeconds: Double, exposures: Int,
                ledOnFraction: Double, step: Int, echemTimeSeconds: Double = .nan, voltageVolts: Double = .nan,
                currentAmps: Double = .nan) {
        self.frame = frame
        self.chunk = chunk
        self.page = page
        self.startSeconds = startSeconds
        self.endSeconds = endSeconds
        self.exposures = exposures
        self.ledOnFraction = ledOnFraction
        self.step = step
        self.echemTimeSeconds = echemTimeSeconds
        self.voltageVolts = voltageVolts
        self.currentAmps = currentAmps
    }

    /// Mid-exposure time, s.
    public var timeSeconds: Double { 0.5 * (startSeconds + endSeconds) }

    var fields: [String] {
        [String(frame), String(chunk), String(page), CSVField.number(startSeconds), CSVField.number(endSeconds), String(exposures),
         CSVField.number(ledOnFraction), String(step), CSVField.number(echemTimeSeconds), CSVField.number(voltageVolts),
         CSVField.number(currentAmps)]
    }

    init(_ r: CSVRow) throws {
        self.init(frame: try r.int("frame"), chunk: try r.int("chunk"), page: try r.int("page"),
                  startSeconds: try r.finite("t_start_s"), endSeconds: try r.finite("t_end_s"),
                  exposures: try r.int("exposures", default: 1), ledOnFraction: try r.optionalDouble("led_on_fraction") ?? 1,
                  step: try r.int("step", default: -1), echemTimeSeconds: try r.optionalDouble("echem_time_s") ?? .nan,
                  voltageVolts: try r.optionalDouble("voltage_V") ?? .nan, currentAmps: try r.optionalDouble("current_A") ?? .nan)
        guard chunk >= 0, page >= 0, frame >= 0 else { throw r.bad("frame", "non-negative frame, chunk and page numbers") }
    }
}

/// The on-line monitor's metrics of one recorded frame (`monitor.csv`).
public struct MonitorRecord: Sendable, Equatable {
    public static let columns = ["frame", "time_s", "intensity_change", "sdc_std", "drift_x_px", "drift_y_px", "heterogeneous"]
    public var frame: Int
    public var timeSeconds: Double
    /// ΔI/I₀ over the particle, a fraction (0.01 is 1 %; figures and the status line show %).
    public var intensityChange: Double
    /// Standard deviation of the sequential difference contrast over the particle, a fraction of the
    /// intensity (dimensionless, like `intensity_change`).
    public var sdcStd: Double
    public var driftXPixels: Double
    public var driftYPixels: Double
    /// SDC σ above twice its early-run floor: a front inside the particle.
    public var heterogeneous: Bool

    public init(frame: Int, timeSeconds: Double, intensityChange: Double, sdcStd: Double, driftXPixels: Double,
                driftYPixels: Double, heterogeneous: Bool) {
        self.frame = frame
        self.timeSeconds = timeSeconds
        self.intensityChange = intensityChange
        self.sdcStd = sdcStd
        self.driftXPixels = driftXPixels
        self.driftYPixels = driftYPixels
        self.heterogeneous = heterogeneous
    }

    var fields: [String] {
        [String(frame), CSVField.number(timeSeconds), CSVField.number(intensityChange), CSVField.number(sdcStd),
         CSVField.number(driftXPixels), CSVField.number(driftYPixels), heterogeneous ? "1" : "0"]
    }

    init(_ r: CSVRow) throws {
        self.init(frame: try r.int("frame"), timeSeconds: try r.double("time_s"), intensityChange: try r.double("intensity_change"),
                  sdcStd: try r.double("sdc_std"), driftXPixels: try r.optionalDouble("drift_x_px") ?? .nan,
                  driftYPixels: try r.optionalDouble("drift_y_px") ?? .nan, heterogeneous: try r.int("heterogeneous", default: 0) != 0)
    }
}

/// One exposure's intended and actual edge times (`edges.csv`), µs of run time. An edge that did not
/// happen (a skipped frame, a failed line) is absent (`nil`, an empty field), never a made-up time.
public struct EdgeRecord: Sendable, Equatable {
    public static let columns = ["frame", "step", "skipped", "intended_led_on_us", "actual_led_on_us", "intended_trigger_us",
                                 "actual_trigger_us", "intended_led_off_us", "actual_led_off_us"]
    public var frame: Int64
    public var step: Int
    public var skipped: Bool
    public var intendedLedOnMicroseconds: Double
    public var actualLedOnMicroseconds: Double?
    public var intendedTriggerMicroseconds: Double
    public var actualTriggerMicroseconds: Double?
    public var intendedLedOffMicroseconds: Double
    public var actualLedOffMicroseconds: Double?

    public init(frame: Int64, step: Int, skipped: Bool, intendedLedOnMicroseconds: Double, actualLedOnMicroseconds: Double?,
                intendedTriggerMicroseconds: Double, actualTriggerMicroseconds: Double?, intendedLedOffMicroseconds: Double,
                actualLedOffMicroseconds: Double?) {
        self.frame = frame
        self.step = step
        self.skipped = skipped
        self.intendedLedOnMicroseconds = intendedLedOnMicroseconds
        self.actualLedOnMicroseconds = actualLedOnMicroseconds
        self.intendedTriggerMicroseconds = intendedTriggerMicroseconds
        self.actualTriggerMicroseconds = actualTriggerMicroseconds
        self.intendedLedOffMicroseconds = intendedLedOffMicroseconds
        self.actualLedOffMicroseconds = actualLedOffMicroseconds
    }

    static func us(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "" }

    var fields: [String] {
        [String(frame), String(step), skipped ? "1" : "0", Self.us(intendedLedOnMicroseconds), Self.us(actualLedOnMicroseconds),
         Self.us(intendedTriggerMicroseconds), Self.us(actualTriggerMicroseconds), Self.us(intendedLedOffMicroseconds),
         Self.us(actualLedOffMicroseconds)]
    }

    init(_ r: CSVRow) throws {
        func optional(_ c: String) throws -> Double? { let v = try r.double(c); return v.isFinite ? v : nil }
        self.init(frame: Int64(try r.int("frame")), step: try r.int("step", default: -1), skipped: try r.int("skipped", default: 0) != 0,
                  intendedLedOnMicroseconds: try r.double("intended_led_on_us"), actualLedOnMicroseconds: try optional("actual_led_on_us"),
                  intendedTriggerMicroseconds: try r.double("intended_trigger_us"), actualTriggerMicroseconds: try optional("actual_trigger_us"),
                  intendedLedOffMicroseconds: try r.double("intended_led_off_us"), actualLedOffMicroseconds: try optional("actual_led_off_us"))
    }
}

/// One line of `events.jsonl`: what happened, when (s of run time), and its fields.
public struct EventRecord: Sendable, Equatable {
    /// Run time, s.
    public var timeSeconds: Double
    /// `run_started`, `step_started`, `fault`, `run_ended`, … (docs/run.md lists them).
    public var event: String
    /// The other fields (without `time_s` and `event`).
    public var fields: [String: JSONValue]

    public init(timeSeconds: Double, event: String, fields: [String: JSONValue] = [:]) {
        self.timeSeconds = timeSeconds
        self.event = event
        self.fields = fields
    }

    var json: JSONValue {
        var o = fields
        o["time_s"] = .number(timeSeconds)
        o["event"] = .string(event)
        return .object(o)
    }
}

/// `run.json`: what was run, on what, with which settings.
public struct RunInfo: Sendable, Equatable {
    public var formatVersion: String = DatasetFormat.version
    public var softwareVersion: String
    public var protocolPath: String
    public var protocolText: String
    /// The rig configuration as given (backend, rig file path and text, resolved devices).
    public var rig: JSONValue
    /// A one-line description of the backend (e.g. "firmware-sim (virtual clock)").
    public var backend: String
    public var startTimeUTC: String
    public var pixelSizeMicrometres: Double
    /// Camera region of interest, sensor pixels.
    public var roi: (x: Int, y: Int, width: Int, height: Int)
    /// Raw exposures per recorded frame.
    public var binning: Int
    public var frameRateHz: Double
    public var exposureMilliseconds: Double
    public var ledLeadMilliseconds: Double
    public var ledWavelengthNanometres: Double
    /// The camera offset subtracted from every recorded pixel, counts.
    public var blackLevelSubtractedCounts: Double
    public var activeMassMilligrams: Double?
    public var practicalCapacityMilliampHoursPerGram: Double
    /// Anything else a writer adds (an import's instrument, follow mode's trigger line…).
    public var extra: [String: JSONValue] = [:]

    public init(softwareVersion: String, protocolPath: String, protocolText: String, rig: JSONValue, backend: String,
                startTimeUTC: String, pixelSizeMicrometres: Double, roi: (x: Int, y: Int, width: Int, height: Int), binning: Int,
                frameRateHz: Double, exposureMilliseconds: Double, ledLeadMilliseconds: Double, ledWavelengthNanometres: Double,
                blackLevelSubtractedCounts: Double, activeMassMilligrams: Double?, practicalCapacityMilliampHoursPerGram: Double) {
        self.softwareVersion = softwareVersion
        self.protocolPath = protocolPath
        self.protocolText = protocolText
        self.rig = rig
        self.backend = backend
        self.startTimeUTC = startTimeUTC
        self.pixelSizeMicrometres = pixelSizeMicrometres
        self.roi = roi
        self.binning = binning
        self.frameRateHz = frameRateHz
        self.exposureMilliseconds = exposureMilliseconds
        self.ledLeadMilliseconds = ledLeadMilliseconds
        self.ledWavelengthNanometres = ledWavelengthNanometres
        self.blackLevelSubtractedCounts = blackLevelSubtractedCounts
        self.activeMassMilligrams = activeMassMilligrams
        self.practicalCapacityMilliampHoursPerGram = practicalCapacityMilliampHoursPerGram
    }

    public static func == (a: RunInfo, b: RunInfo) -> Bool { a.json == b.json }

    /// 1C current of the electrode, A (nil without an active mass).
    public var oneCAmps: Double? { activeMassMilligrams.map { $0 * 1e-3 * practicalCapacityMilliampHoursPerGram * 1e-3 } }

    var json: JSONValue {
        var o = extra
        o["format_version"] = .string(formatVersion)
        o["software_version"] = .string(softwareVersion)
        o["protocol_path"] = .string(protocolPath)
        o["protocol_text"] = .string(protocolText)
        o["rig"] = rig
        o["backend"] = .string(backend)
        o["start_time_utc"] = .string(startTimeUTC)
        o["pixel_size_um"] = .number(pixelSizeMicrometres)
        o["roi"] = .object(["x": .number(Double(roi.x)), "y": .number(Double(roi.y)),
                            "width": .number(Double(roi.width)), "height": .number(Double(roi.height))])
        o["binning"] = .number(Double(binning))
        o["frame_rate_Hz"] = .number(frameRateHz)
        o["exposure_ms"] = .number(exposureMilliseconds)
        o["led_lead_ms"] = .number(ledLeadMilliseconds)
        o["led_wavelength_nm"] = .number(ledWavelengthNanometres)
        o["black_level_subtracted_counts"] = .number(blackLevelSubtractedCounts)
        o["active_mass_mg"] = activeMassMilligrams.map { .number($0) } ?? .null
        o["practical_capacity_mAh_per_g"] = .number(practicalCapacityMilliampHoursPerGram)
        return .object(o)
    }

    static let known: Set<String> = ["format_version", "software_version", "protocol_path", "protocol_text", "rig", "backend",
                                     "start_time_utc", "pixel_size_um", "roi", "binning", "frame_rate_Hz", "exposure_ms",
                                     "led_lead_ms", "led_wavelength_nm", "black_level_subtracted_counts", "active_mass_mg",
                                     "practical_capacity_mAh_per_g"]

    /// Parses run.json; a dataset without `format_version` is format 1.0.
    init(json: JSONValue, path: String) throws {
        guard let o = json.object else { throw DatasetError.badFile(path: path, line: 0, text: "not an object", expected: "a JSON object") }
        let version = o["format_version"]?.string ?? "1.0"
        let major = Int(version.split(separator: ".").first ?? "") ?? -1
        guard major >= 0 else { throw DatasetError.badFile(path: path, line: 0, text: "format_version \(version)", expected: "MAJOR.MINOR") }
        if major > DatasetFormat.major {
            throw DatasetError.newerFormat(path: path, found: version, supported: String(DatasetFormat.major))
        }
        func number(_ k: String, positive: Bool = true) throws -> Double {
            guard let v = o[k]?.number, v.isFinite, !positive || v > 0 else {
                throw DatasetError.badFile(path: path, line: 0, text: "\"\(k)\": \(o[k].map { "\($0)" } ?? "missing")",
                                           expected: positive ? "a positive number" : "a number")
            }
            return v
        }
        func optionalNumber(_ k: String, _ fallback: Double) -> Double { o[k]?.number ?? fallback }
        let r = o["roi"]?.object ?? [:]
        func roiInt(_ k: String) -> Int { Int(r[k]?.number ?? 0) }
        self.init(softwareVersion: o["software_version"]?.string ?? "", protocolPath: o["protocol_path"]?.string ?? "",
                  protocolText: o["protocol_text"]?.string ?? "", rig: o["rig"] ?? .null, backend: o["backend"]?.string ?? "",
                  startTimeUTC: o["start_time_utc"]?.string ?? "", pixelSizeMicrometres: try number("pixel_size_um"),
                  roi: (roiInt("x"), roiInt("y"), roiInt("width"), roiInt("height")), binning: Int(optionalNumber("binning", 1)),
                  frameRateHz: optionalNumber("frame_rate_Hz", .nan), exposureMilliseconds: optionalNumber("exposure_ms", .nan),
                  ledLeadMilliseconds: optionalNumber("led_lead_ms", .nan), ledWavelengthNanometres: optionalNumber("led_wavelength_nm", 740),
                  blackLevelSubtractedCounts: optionalNumber("black_level_subtracted_counts", 0),
                  activeMassMilligrams: o["active_mass_mg"]?.number,
                  practicalCapacityMilliampHoursPerGram: optionalNumber("practical_capacity_mAh_per_g", 210))
        formatVersion = version
        extra = o.filter { !Self.known.contains($0.key) }
    }
}
