import Foundation
import Glibc

// The calibration folder (`DATASET/calibration/`, docs/calibrate.md): file names, the typed record of
// each CSV row and of calibration.json, one writer (all files renamed into place together) and one
// reader. Numbers have 9 significant digits; missing values are "nan".

extension DatasetFormat {
    /// File names inside a calibration folder.
    public enum CalibrationFile {
        public static let result = "calibration.json"
        public static let errorMap = "error_map.csv"
        public static let profileObjective = "profile_objective.csv"
        public static let centreFit = "centre_fit.csv"
        public static let profileFit = "profile_fit.csv"
        public static let diffusivityFit = "diffusivity_fit.csv"
        /// The model run at the optimum, in the columns of `operando simulate`.
        public static let modelTrace = "model/trace.csv"
        public static let modelProfiles = "model/profiles.csv"
        /// Every output, in commit order (calibration.json last).
        public static let all = [errorMap, profileObjective, centreFit, profileFit, diffusivityFit, modelTrace, modelProfiles, result]
    }
}

private func g(_ x: Double) -> String { CSVField.number(x) }

/// One point of an error map e(S, A) (`error_map.csv`, seed Fig. S2B; also `profile_objective.csv`,
/// each S with its own best A).
public struct ErrorMapRecord: Sendable, Equatable {
    public static let columns = ["scale", "gain", "rmse"]
    public var scale: Double
    public var gain: Double
    public var rmse: Double
    public init(scale: Double, gain: Double, rmse: Double) { self.scale = scale; self.gain = gain; self.rmse = rmse }
    var fields: [String] { [g(scale), g(gain), g(rmse)] }
}

/// Measured and modelled centre contrast at one frame (`centre_fit.csv`, seed Fig. S2C).
public struct CentreFitRecord: Sendable, Equatable {
    public static let columns = ["time_s", "measured", "model"]
    public var timeSeconds: Double
    public var measured: Double
    public var model: Double
    public init(timeSeconds: Double, measured: Double, model: Double) { self.timeSeconds = timeSeconds; self.measured = measured; self.model = model }
    var fields: [String] { [g(timeSeconds), g(measured), g(model)] }
}

/// Measured and modelled contrast at one point of one profile (`profile_fit.csv`).
public struct ProfileFitRecord: Sendable, Equatable {
    public static let columns = ["time_s", "position_um", "measured", "model"]
    public var timeSeconds: Double
    public var positionMicrometres: Double
    public var measured: Double
    public var model: Double
    public init(timeSeconds: Double, positionMicrometres: Double, measured: Double, model: Double) {
        self.timeSeconds = timeSeconds; self.positionMicrometres = positionMicrometres; self.measured = measured; self.model = model
    }
    var fields: [String] { [g(timeSeconds), g(positionMicrometres), g(measured), g(model)] }
}

/// One point of the fitted D_Li(θ) curve (`diffusivity_fit.csv`).
public struct DiffusivityFitRecord: Sendable, Equatable {
    public static let columns = ["x", "theta", "d_initial_cm2_per_s", "d_fit_cm2_per_s", "d_fit_low_cm2_per_s",
                                 "d_fit_high_cm2_per_s", "d_eff_fit_cm2_per_s", "resolved"]
    /// Delithiation x = 1 − θ.
    public var x: Double
    public var theta: Double
    public var initialCm2PerS: Double
    public var fittedCm2PerS: Double
    public var fittedLowCm2PerS: Double
    public var fittedHighCm2PerS: Double
    /// D_fit / S.
    public var effectiveCm2PerS: Double
    /// x lies inside the range the data visited.
    public var resolved: Bool
    public init(x: Double, theta: Double, initialCm2PerS: Double, fittedCm2PerS: Double, fittedLowCm2PerS: Double,
                fittedHighCm2PerS: Double, effectiveCm2PerS: Double, resolved: Bool) {
        self.x = x; self.theta = theta; self.initialCm2PerS = initialCm2PerS; self.fittedCm2PerS = fittedCm2PerS
        self.fittedLowCm2PerS = fittedLowCm2PerS; self.fittedHighCm2PerS = fittedHighCm2PerS
        self.effectiveCm2PerS = effectiveCm2PerS; self.resolved = resolved
    }
    var fields: [String] {
        [g(x), g(theta), g(initialCm2PerS), g(fittedCm2PerS), g(fittedLowCm2PerS), g(fittedHighCm2PerS), g(effectiveCm2PerS),
         resolved ? "1" : "0"]
    }
}

/// One output step of the model run (`model/trace.csv`, the columns of `operando simulate`'s trace).
public struct ModelTraceRecord: Sendable, Equatable {
    public static let columns = ["time_s", "theta_centre", "theta_mean", "theta_min", "theta_max", "voltage_V", "current_A"]
    public var timeSeconds: Double
    public var thetaCentre: Double
    public var thetaMean: Double
    public var thetaMin: Double
    public var thetaMax: Double
    public var voltageVolts: Double
    public var currentAmps: Double
    public init(timeSeconds: Double, thetaCentre: Double, thetaMean: Double, thetaMin: Double, thetaMax: Double,
                voltageVolts: Double, currentAmps: Double) {
        self.timeSeconds = timeSeconds; self.thetaCentre = thetaCentre; self.thetaMean = thetaMean; self.thetaMin = thetaMin
        self.thetaMax = thetaMax; self.voltageVolts = voltageVolts; self.currentAmps = currentAmps
    }
    var fields: [String] { [g(timeSeconds), g(thetaCentre), g(thetaMean), g(thetaMin), g(thetaMax), g(voltageVolts), g(currentAmps)] }
}

/// θ at one point of one model profile (`model/profiles.csv`).
public struct ModelProfileRecord: Sendable, Equatable {
    public static let columns = ["time_s", "position_um", "theta"]
    public var timeSeconds: Double
    public var positionMicrometres: Double
    public var theta: Double
    public init(timeSeconds: Double, positionMicrometres: Double, theta: Double) {
        self.timeSeconds = timeSeconds; self.positionMicrometres = positionMicrometres; self.theta = theta
    }
    var fields: [String] { [g(timeSeconds), g(positionMicrometres), g(theta)] }
}

/// `calibration.json`: the calibrated S and A (seed Eq. 16–18) and how they were found.
public struct CalibrationRecord: Sendable, Equatable {
    /// The line-profile objective beside the centre fit.
    public struct ProfileObjective: Sendable, Equatable {
        public var scale: Double, gain: Double, rmse: Double, points: Int
        public var rmseAtCentreFit: Double
        public var edgeMarginMicrometres: Double
        public var profiles: Int
        public var note: String
        public init(scale: Double, gain: Double, rmse: Double, points: Int, rmseAtCentreFit: Double, edgeMarginMicrometres: Double,
                    profiles: Int, note: String) {
            self.scale = scale; self.gain = gain; self.rmse = rmse; self.points = points; self.rmseAtCentreFit = rmseAtCentreFit
            self.edgeMarginMicrometres = edgeMarginMicrometres; self.profiles = profiles; self.note = note
        }
    }
    /// The model the calibration ran.
    public struct Model: Sendable, Equatable {
        public var kinetics: String, parameterSet: String, particle: String
        public var areaMicrometres2: Double, perimeterMicrometres: Double, elementSizeMicrometres: Double
        public var driveSegments: Int
        public var oneCAmps: Double
        public init(kinetics: String, parameterSet: String, particle: String, areaMicrometres2: Double, perimeterMicrometres: Double,
                    elementSizeMicrometres: Double, driveSegments: Int, oneCAmps: Double) {
            self.kinetics = kinetics; self.parameterSet = parameterSet; self.particle = particle; self.areaMicrometres2 = areaMicrometres2
            self.perimeterMicrometres = perimeterMicrometres; self.elementSizeMicrometres = elementSizeMicrometres
            self.driveSegments = driveSegments; self.oneCAmps = oneCAmps
        }
    }
    /// The D(θ) fit (`--fit-diffusivity`).
    public struct DiffusivityFit: Sendable, Equatable {
        public var knotsX: [Double], initialCm2PerS: [Double], fittedCm2PerS: [Double], log10StandardError: [Double]
        public var freeKnots: [Int]
        public var visitedX: [Double]
        public var scale: Double, gain: Double, rmse: Double, rmseScaleOnly: Double
        public var iterations: Int, modelRuns: Int
        public var smoothness: Double
        public init(knotsX: [Double], initialCm2PerS: [Double], fittedCm2PerS: [Double], log10StandardError: [Double], freeKnots: [Int],
                    visitedX: [Double], scale: Double, gain: Double, rmse: Double, rmseScaleOnly: Double, iterations: Int,
                    modelRuns: Int, smoothness: Double) {
            self.knotsX = knotsX; self.initialCm2PerS = initialCm2PerS; self.fittedCm2PerS = fittedCm2PerS
            self.log10StandardError = log10StandardError; self.freeKnots = freeKnots; self.visitedX = visitedX; self.scale = scale
            self.gain = gain; self.rmse = rmse; self.rmseScaleOnly = rmseScaleOnly; self.iterations = iterations
            self.modelRuns = modelRuns; self.smoothness = smoothness
        }
    }

    /// How the intervals of S and A were made (issue 16: residuals correlated in time).
    public struct Uncertainty: Sendable, Equatable {
        /// "circular block bootstrap" (or "curvature" when no bootstrap could be made).
        public var method: String
        public var blockLengthFrames: Int
        /// First lag where the residuals' autocorrelation falls below 1/e (nil: not within half the run).
        public var correlationLagFrames: Int?
        public var replicates: Int, failedReplicates: Int, samples: Int
        /// Standard errors beside the bootstrap's: Newey–West sandwich, as if the residuals were
        /// independent, and the earlier curvature estimate with lag-1 widening.
        public var neweyWestScaleStandardError: Double, neweyWestGainStandardError: Double
        public var independentScaleStandardError: Double, independentGainStandardError: Double
        public var curvatureScaleStandardError: Double, curvatureGainStandardError: Double
        public init(method: String, blockLengthFrames: Int, correlationLagFrames: Int?, replicates: Int, failedReplicates: Int,
                    samples: Int, neweyWestScaleStandardError: Double, neweyWestGainStandardError: Double,
                    independentScaleStandardError: Double, independentGainStandardError: Double,
                    curvatureScaleStandardError: Double, curvatureGainStandardError: Double) {
            self.method = method; self.blockLengthFrames = blockLengthFrames; self.correlationLagFrames = correlationLagFrames
            self.replicates = replicates; self.failedReplicates = failedReplicates; self.samples = samples
            self.neweyWestScaleStandardError = neweyWestScaleStandardError; self.neweyWestGainStandardError = neweyWestGainStandardError
            self.independentScaleStandardError = independentScaleStandardError
            self.independentGainStandardError = independentGainStandardError
            self.curvatureScaleStandardError = curvatureScaleStandardError; self.curvatureGainStandardError = curvatureGainStandardError
        }
    }

    public var formatVersion: String = DatasetFormat.version
    /// The calibrated dataset's path.
    public var dataset: String
    /// S (D_eff = D_Li / S), A (Ī = A(θ0 − θ)), e(S, A) and θ0.
    public var scale: Double
    public var gain: Double
    public var rmse: Double
    public var theta0: Double
    /// 1σ standard errors (NaN: not available).
    public var scaleStandardError: Double
    public var gainStandardError: Double
    /// 95 % interval of S (nil ends: not bracketed).
    public var scaleInterval95: (low: Double?, high: Double?)
    public var uncertaintyMethod: String
    public var residualAutocorrelation: Double
    public var points: Int
    public var objective: String
    public var profileObjective: ProfileObjective?
    public var scaleRange: [Double]
    public var scaleGrid: [Double]
    public var model: Model?
    public var modelRuns: Int
    public var wallTimeSeconds: Double
    public var notes: [String]
    public var diffusivityFit: DiffusivityFit?
    /// 68 % intervals of S and A and the 95 % interval of A, [low, high] (nil: not computed).
    public var scaleInterval68: [Double]? = nil
    public var gainInterval68: [Double]? = nil
    public var gainInterval95: [Double]? = nil
    /// How the intervals were made (nil: an older calibration).
    public var uncertainty: Uncertainty? = nil
    /// The centre fit's offset c (Ī = (1 + c)·A(θ0 − θ) + c: the reference frame's noise, shared by
    /// every frame); nil: not fitted (an older calibration, or the offset switched off).
    public var centreOffset: Double? = nil
    /// The particle's area as modelled: the analysis mask's, the one measured on the first frame, and
    /// that measurement's relative standard error (which enters S's interval). nil: not measured.
    public var outline: Outline? = nil

    /// The area the model used and where it came from.
    public struct Outline: Sendable, Equatable {
        public var maskAreaMicrometres2: Double
        public var measuredAreaMicrometres2: Double
        public var relativeStandardError: Double
        public init(maskAreaMicrometres2: Double, measuredAreaMicrometres2: Double, relativeStandardError: Double) {
            self.maskAreaMicrometres2 = maskAreaMicrometres2
            self.measuredAreaMicrometres2 = measuredAreaMicrometres2
            self.relativeStandardError = relativeStandardError
        }
    }
    /// Keys a newer writer added.
    public var extra: [String: JSONValue] = [:]

    public init(dataset: String, scale: Double, gain: Double, rmse: Double, theta0: Double, scaleStandardError: Double,
                gainStandardError: Double, scaleInterval95: (low: Double?, high: Double?), uncertaintyMethod: String,
                residualAutocorrelation: Double, points: Int, objective: String, profileObjective: ProfileObjective?,
                scaleRange: [Double], scaleGrid: [Double], model: Model?, modelRuns: Int, wallTimeSeconds: Double, notes: [String],
                diffusivityFit: DiffusivityFit?) {
        self.dataset = dataset; self.scale = scale; self.gain = gain; self.rmse = rmse; self.theta0 = theta0
        self.scaleStandardError = scaleStandardError; self.gainStandardError = gainStandardError; self.scaleInterval95 = scaleInterval95
        self.uncertaintyMethod = uncertaintyMethod; self.residualAutocorrelation = residualAutocorrelation; self.points = points
        self.objective = objective; self.profileObjective = profileObjective; self.scaleRange = scaleRange; self.scaleGrid = scaleGrid
        self.model = model; self.modelRuns = modelRuns; self.wallTimeSeconds = wallTimeSeconds; self.notes = notes
        self.diffusivityFit = diffusivityFit
    }

    /// Equal when their JSON is (NaN and null alike: the file cannot tell them apart).
    public static func == (a: CalibrationRecord, b: CalibrationRecord) -> Bool { sameJSON(a.json, b.json) }

    static let known: Set<String> = ["format_version", "dataset", "scale", "gain", "rmse", "theta0", "scale_standard_error",
                                     "gain_standard_error", "scale_interval_95", "uncertainty_method", "residual_autocorrelation",
                                     "points", "objective", "profile_objective", "scale_range", "scale_grid", "model", "model_runs",
                                     "wall_time_s", "notes", "diffusivity_fit", "scale_interval_68", "gain_interval_68",
                                     "gain_interval_95", "uncertainty", "centre_offset", "outline"]

    var json: JSONValue {
        func n(_ x: Double) -> JSONValue { .number(x) }
        func i(_ x: Int) -> JSONValue { .number(Double(x)) }
        func a(_ x: [Double]) -> JSONValue { .array(x.map(n)) }
        var o = extra
        o["format_version"] = .string(formatVersion)
        o["dataset"] = .string(dataset)
        o["scale"] = n(scale); o["gain"] = n(gain); o["rmse"] = n(rmse); o["theta0"] = n(theta0)
        o["scale_standard_error"] = n(scaleStandardError)
        o["gain_standard_error"] = n(gainStandardError)
        o["scale_interval_95"] = .array([scaleInterval95.low.map(n) ?? .null, scaleInterval95.high.map(n) ?? .null])
        o["uncertainty_method"] = .string(uncertaintyMethod)
        o["residual_autocorrelation"] = n(residualAutocorrelation)
        o["points"] = i(points)
        if let r = scaleInterval68 { o["scale_interval_68"] = a(r) }
        if let r = gainInterval68 { o["gain_interval_68"] = a(r) }
        if let r = gainInterval95 { o["gain_interval_95"] = a(r) }
        if let u = uncertainty {
            o["uncertainty"] = .object([
                "method": .string(u.method), "block_length_frames": i(u.blockLengthFrames),
                "correlation_lag_frames": u.correlationLagFrames.map(i) ?? .null, "replicates": i(u.replicates),
                "failed_replicates": i(u.failedReplicates), "samples": i(u.samples),
                "newey_west_scale_standard_error": n(u.neweyWestScaleStandardError),
                "newey_west_gain_standard_error": n(u.neweyWestGainStandardError),
                "independent_scale_standard_error": n(u.independentScaleStandardError),
                "independent_gain_standard_error": n(u.independentGainStandardError),
                "curvature_scale_standard_error": n(u.curvatureScaleStandardError),
                "curvature_gain_standard_error": n(u.curvatureGainStandardError),
            ])
        }
        if let c = centreOffset { o["centre_offset"] = n(c) }
        if let l = outline {
            o["outline"] = .object(["mask_area_um2": n(l.maskAreaMicrometres2), "measured_area_um2": n(l.measuredAreaMicrometres2),
                                    "relative_standard_error": n(l.relativeStandardError)])
        }
        o["objective"] = .string(objective)
        if let p = profileObjective {
            o["profile_objective"] = .object(["scale": n(p.scale), "gain": n(p.gain), "rmse": n(p.rmse), "points": i(p.points),
                                              "rmse_at_centre_fit": n(p.rmseAtCentreFit), "edge_margin_um": n(p.edgeMarginMicrometres),
                                              "profiles": i(p.profiles), "note": .string(p.note)])
        }
        o["scale_range"] = a(scaleRange)
        o["scale_grid"] = a(scaleGrid)
        if let m = model {
            o["model"] = .object(["kinetics": .string(m.kinetics), "parameter_set": .string(m.parameterSet), "particle": .string(m.particle),
                                  "area_um2": n(m.areaMicrometres2), "perimeter_um": n(m.perimeterMicrometres),
                                  "element_size_um": n(m.elementSizeMicrometres), "drive_segments": i(m.driveSegments),
                                  "one_c_A": n(m.oneCAmps)])
        }
        o["model_runs"] = i(modelRuns)
        o["wall_time_s"] = n(wallTimeSeconds)
        o["notes"] = .array(notes.map { .string($0) })
        if let d = diffusivityFit {
            o["diffusivity_fit"] = .object([
                "knots_x": a(d.knotsX), "initial_cm2_per_s": a(d.initialCm2PerS), "fitted_cm2_per_s": a(d.fittedCm2PerS),
                "log10_standard_error": a(d.log10StandardError), "free_knots": .array(d.freeKnots.map(i)),
                "visited_x": a(d.visitedX), "scale": n(d.scale), "gain": n(d.gain), "rmse": n(d.rmse),
                "rmse_scale_only": n(d.rmseScaleOnly), "iterations": i(d.iterations), "model_runs": i(d.modelRuns),
                "smoothness": n(d.smoothness),
            ])
        }
        return .object(o)
    }

    /// Parses calibration.json: `scale` and `gain` are required, everything else has a default.
    init(json: JSONValue, path: String) throws {
        guard let o = json.object else { throw DatasetError.badFile(path: path, line: 0, text: "not an object", expected: "a JSON object") }
        let version = try checkFormatVersion(o, path: path)
        func required(_ k: String) throws -> Double {
            guard let v = o[k]?.number, v.isFinite else {
                throw DatasetError.badFile(path: path, line: 0, text: "\"\(k)\": \(o[k].map { "\($0)" } ?? "missing")", expected: "a number")
            }
            return v
        }
        func num(_ v: JSONValue?) -> Double { v?.number ?? .nan }
        func int(_ v: JSONValue?) -> Int { v?.number.map { $0.isFinite ? Int($0) : 0 } ?? 0 }
        func arr(_ v: JSONValue?) -> [Double] { v?.array?.map { $0.number ?? .nan } ?? [] }
        let interval = o["scale_interval_95"]?.array ?? []
        let p = o["profile_objective"]?.object
        let m = o["model"]?.object
        let d = o["diffusivity_fit"]?.object
        self.init(dataset: o["dataset"]?.string ?? "", scale: try required("scale"), gain: try required("gain"), rmse: num(o["rmse"]),
                  theta0: num(o["theta0"]), scaleStandardError: num(o["scale_standard_error"]),
                  gainStandardError: num(o["gain_standard_error"]),
                  scaleInterval95: (interval.first?.number, interval.count > 1 ? interval[1].number : nil),
                  uncertaintyMethod: o["uncertainty_method"]?.string ?? "", residualAutocorrelation: num(o["residual_autocorrelation"]),
                  points: int(o["points"]), objective: o["objective"]?.string ?? "",
                  profileObjective: p.map { p in
                      ProfileObjective(scale: num(p["scale"]), gain: num(p["gain"]), rmse: num(p["rmse"]), points: int(p["points"]),
                                       rmseAtCentreFit: num(p["rmse_at_centre_fit"]), edgeMarginMicrometres: num(p["edge_margin_um"]),
                                       profiles: int(p["profiles"]), note: p["note"]?.string ?? "")
                  },
                  scaleRange: arr(o["scale_range"]), scaleGrid: arr(o["scale_grid"]),
                  model: m.map { m in
                      Model(kinetics: m["kinetics"]?.string ?? "", parameterSet: m["parameter_set"]?.string ?? "",
                            particle: m["particle"]?.string ?? "", areaMicrometres2: num(m["area_um2"]),
                            perimeterMicrometres: num(m["perimeter_um"]), elementSizeMicrometres: num(m["element_size_um"]),
                            driveSegments: int(m["drive_segments"]), oneCAmps: num(m["one_c_A"]))
                  },
                  modelRuns: int(o["model_runs"]), wallTimeSeconds: num(o["wall_time_s"]),
                  notes: o["notes"]?.array?.compactMap(\.string) ?? [],
                  diffusivityFit: d.map { d in
                      DiffusivityFit(knotsX: arr(d["knots_x"]), initialCm2PerS: arr(d["initial_cm2_per_s"]),
                                     fittedCm2PerS: arr(d["fitted_cm2_per_s"]), log10StandardError: arr(d["log10_standard_error"]),
                                     freeKnots: arr(d["free_knots"]).map { $0.isFinite ? Int($0) : 0 }, visitedX: arr(d["visited_x"]),
                                     scale: num(d["scale"]), gain: num(d["gain"]), rmse: num(d["rmse"]),
                                     rmseScaleOnly: num(d["rmse_scale_only"]), iterations: int(d["iterations"]),
                                     modelRuns: int(d["model_runs"]), smoothness: num(d["smoothness"]))
                  })
        formatVersion = version
        func pair(_ k: String) -> [Double]? { o[k]?.array.map { $0.map { $0.number ?? .nan } } }
        scaleInterval68 = pair("scale_interval_68")
        gainInterval68 = pair("gain_interval_68")
        gainInterval95 = pair("gain_interval_95")
        if let u = o["uncertainty"]?.object {
            uncertainty = Uncertainty(method: u["method"]?.string ?? "", blockLengthFrames: int(u["block_length_frames"]),
                                      correlationLagFrames: u["correlation_lag_frames"]?.number.flatMap { $0.isFinite ? Int($0) : nil },
                                      replicates: int(u["replicates"]), failedReplicates: int(u["failed_replicates"]),
                                      samples: int(u["samples"]),
                                      neweyWestScaleStandardError: num(u["newey_west_scale_standard_error"]),
                                      neweyWestGainStandardError: num(u["newey_west_gain_standard_error"]),
                                      independentScaleStandardError: num(u["independent_scale_standard_error"]),
                                      independentGainStandardError: num(u["independent_gain_standard_error"]),
                                      curvatureScaleStandardError: num(u["curvature_scale_standard_error"]),
                                      curvatureGainStandardError: num(u["curvature_gain_standard_error"]))
        }
        centreOffset = o["centre_offset"]?.number
        if let l = o["outline"]?.object {
            outline = Outline(maskAreaMicrometres2: num(l["mask_area_um2"]), measuredAreaMicrometres2: num(l["measured_area_um2"]),
                              relativeStandardError: num(l["relative_standard_error"]))
        }
        extra = o.filter { !Self.known.contains($0.key) }
    }
}

/// Everything a calibration writes.
public struct CalibrationOutputs: Sendable {
    public var result: CalibrationRecord
    public var errorMap: [ErrorMapRecord]
    public var profileObjective: [ErrorMapRecord]
    public var centreFit: [CentreFitRecord]
    public var profileFit: [ProfileFitRecord]
    /// Only with `--fit-diffusivity` (nil: no diffusivity_fit.csv).
    public var diffusivityFit: [DiffusivityFitRecord]?
    public var modelTrace: [ModelTraceRecord]
    public var modelProfiles: [ModelProfileRecord]

    public init(result: CalibrationRecord, errorMap: [ErrorMapRecord], profileObjective: [ErrorMapRecord], centreFit: [CentreFitRecord],
                profileFit: [ProfileFitRecord], diffusivityFit: [DiffusivityFitRecord]?, modelTrace: [ModelTraceRecord],
                modelProfiles: [ModelProfileRecord]) {
        self.result = result; self.errorMap = errorMap; self.profileObjective = profileObjective; self.centreFit = centreFit
        self.profileFit = profileFit; self.diffusivityFit = diffusivityFit; self.modelTrace = modelTrace; self.modelProfiles = modelProfiles
    }
}

/// Writes a calibration folder: every file under a temporary name, then all renamed into place
/// (calibration.json last); a failure leaves the previous calibration as it was.
public enum CalibrationWriter {
    /// Writes `outputs` into `directory` (created if needed); files of an earlier calibration that this
    /// one does not write (diffusivity_fit.csv without `--fit-diffusivity`) are removed.
    public static func write(_ outputs: CalibrationOutputs, to directory: String) throws {
        typealias F = DatasetFormat.CalibrationFile
        let files = StagedOutputs(directory: directory, outputs: F.all)
        do {
            func csv(_ name: String, _ columns: [String], _ rows: [[String]]) throws {
                let w = try CSVWriter(path: try files.stage(name), columns: columns, bufferBytes: 1 << 16)
                for r in rows { try w.append(r) }
                try w.close()
            }
            try csv(F.errorMap, ErrorMapRecord.columns, outputs.errorMap.map(\.fields))
            try csv(F.profileObjective, ErrorMapRecord.columns, outputs.profileObjective.map(\.fields))
            try csv(F.centreFit, CentreFitRecord.columns, outputs.centreFit.map(\.fields))
            try csv(F.profileFit, ProfileFitRecord.columns, outputs.profileFit.map(\.fields))
            if let d = outputs.diffusivityFit { try csv(F.diffusivityFit, DiffusivityFitRecord.columns, d.map(\.fields)) }
            try csv(F.modelTrace, ModelTraceRecord.columns, outputs.modelTrace.map(\.fields))
            try csv(F.modelProfiles, ModelProfileRecord.columns, outputs.modelProfiles.map(\.fields))
            let f = try AppendFile(path: try files.stage(F.result))
            try f.write(try JSONText.encode(outputs.result.json, pretty: true) + "\n")
            try f.close()
            try files.commit()
        } catch {
            files.abort()
            throw error
        }
    }
}

/// Reads a calibration folder; each reader returns nil when its file is absent.
public struct CalibrationReader: Sendable {
    /// The calibration folder.
    public let directory: String

    /// A reader of `directory` (nothing is read yet); finishes a commit interrupted in the folder first
    /// (as `AnalysisReader`).
    public init(directory: String) {
        self.directory = directory
        try? StagedOutputs.finishInterruptedCommit(in: directory)
    }

    /// The path of `name` in the folder (`DatasetFormat.CalibrationFile`).
    public func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    private func table(_ name: String, _ columns: [String]) throws -> CSVTable? {
        try CSVTable.readIfPresent(path(name), required: columns)
    }

    /// calibration.json.
    public func result() throws -> CalibrationRecord? {
        let p = path(DatasetFormat.CalibrationFile.result)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        return try CalibrationRecord(json: try JSONText.read(p), path: p)
    }

    private func errorMap(_ name: String) throws -> [ErrorMapRecord]? {
        guard let t = try table(name, ErrorMapRecord.columns) else { return nil }
        let s = try t.doubles("scale"), a = try t.doubles("gain"), e = try t.doubles("rmse")
        return s.indices.map { ErrorMapRecord(scale: s[$0], gain: a[$0], rmse: e[$0]) }
    }

    /// error_map.csv.
    public func errorMap() throws -> [ErrorMapRecord]? { try errorMap(DatasetFormat.CalibrationFile.errorMap) }

    /// profile_objective.csv.
    public func profileObjective() throws -> [ErrorMapRecord]? { try errorMap(DatasetFormat.CalibrationFile.profileObjective) }

    /// centre_fit.csv.
    public func centreFit() throws -> [CentreFitRecord]? {
        guard let t = try table(DatasetFormat.CalibrationFile.centreFit, CentreFitRecord.columns) else { return nil }
        let time = try t.doubles("time_s"), m = try t.doubles("measured"), model = try t.doubles("model")
        return time.indices.map { CentreFitRecord(timeSeconds: time[$0], measured: m[$0], model: model[$0]) }
    }

    /// profile_fit.csv.
    public func profileFit() throws -> [ProfileFitRecord]? {
        guard let t = try table(DatasetFormat.CalibrationFile.profileFit, ProfileFitRecord.columns) else { return nil }
        let time = try t.doubles("time_s"), x = try t.doubles("position_um"), m = try t.doubles("measured"), model = try t.doubles("model")
        return time.indices.map { ProfileFitRecord(timeSeconds: time[$0], positionMicrometres: x[$0], measured: m[$0], model: model[$0]) }
    }

    /// diffusivity_fit.csv.
    public func diffusivityFit() throws -> [DiffusivityFitRecord]? {
        guard let t = try table(DatasetFormat.CalibrationFile.diffusivityFit, DiffusivityFitRecord.columns) else { return nil }
        let c = DiffusivityFitRecord.columns
        let v = try c.dropLast().map { try t.doubles($0) }
        let resolved = try t.doubles("resolved")
        return resolved.indices.map {
            DiffusivityFitRecord(x: v[0][$0], theta: v[1][$0], initialCm2PerS: v[2][$0], fittedCm2PerS: v[3][$0],
                                 fittedLowCm2PerS: v[4][$0], fittedHighCm2PerS: v[5][$0], effectiveCm2PerS: v[6][$0],
                                 resolved: resolved[$0] != 0)
        }
    }

    /// model/trace.csv.
    public func modelTrace() throws -> [ModelTraceRecord]? {
        guard let t = try table(DatasetFormat.CalibrationFile.modelTrace, ModelTraceRecord.columns) else { return nil }
        let v = try ModelTraceRecord.columns.map { try t.doubles($0) }
        return v[0].indices.map {
            ModelTraceRecord(timeSeconds: v[0][$0], thetaCentre: v[1][$0], thetaMean: v[2][$0], thetaMin: v[3][$0], thetaMax: v[4][$0],
                             voltageVolts: v[5][$0], currentAmps: v[6][$0])
        }
    }

    /// model/profiles.csv.
    public func modelProfiles() throws -> [ModelProfileRecord]? {
        guard let t = try table(DatasetFormat.CalibrationFile.modelProfiles, ModelProfileRecord.columns) else { return nil }
        let time = try t.doubles("time_s"), x = try t.doubles("position_um"), th = try t.doubles("theta")
        return time.indices.map { ModelProfileRecord(timeSeconds: time[$0], positionMicrometres: x[$0], theta: th[$0]) }
    }
}

extension DatasetReader {
    /// The dataset's calibration folder (`calibration/`), or `directory` when given.
    public func calibration(_ directory: String? = nil) -> CalibrationReader {
        CalibrationReader(directory: directory ?? path(DatasetFormat.File.calibrationDirectory))
    }
}
