import Foundation
import ParticleModel

// Plain input structs for the report, decoupled from other modules' file formats.
// Units: time in seconds, voltage in volts, current in amperes, lengths in µm; contrast is the
// fractional total contrast Ī = I/I₀ − 1 (seed Eq. 16), intensity change likewise fractional.

/// Electrochemistry time series (from `echem.csv`).
public struct EchemSeries: Sendable {
    /// Time since the first step, seconds.
    public var timeSeconds: [Double]
    /// Cell voltage, volts.
    public var voltageVolts: [Double]
    /// Positive on charge.
    public var currentAmps: [Double]
    /// Step kind per row: "charge", "discharge", "hold", "rest" (empty when unknown).
    public var stepKind: [String]
    /// Step index per row (−1 when unknown).
    public var step: [Int]

    /// A series; missing step kinds/indices are filled with "" and −1.
    public init(timeSeconds: [Double], voltageVolts: [Double], currentAmps: [Double],
                stepKind: [String] = [], step: [Int] = []) {
        self.timeSeconds = timeSeconds; self.voltageVolts = voltageVolts; self.currentAmps = currentAmps
        self.stepKind = stepKind.count == timeSeconds.count ? stepKind : Array(repeating: "", count: timeSeconds.count)
        self.step = step.count == timeSeconds.count ? step : Array(repeating: -1, count: timeSeconds.count)
    }
}

extension EchemSeries {
    /// Step kind of row `i`, "" when unknown (tolerates arrays edited to different lengths).
    func kind(_ i: Int) -> String { i >= 0 && i < stepKind.count ? stepKind[i] : "" }
}

/// A scalar series against time, e.g. the intensity change or the SDC standard deviation.
public struct TimeSeries: Sendable {
    /// Time since the first step, seconds.
    public var timeSeconds: [Double]
    /// Values (units as the field that holds the series says).
    public var values: [Double]

    /// A series of `values` at `timeSeconds`.
    public init(timeSeconds: [Double], values: [Double]) {
        self.timeSeconds = timeSeconds; self.values = values
    }
}

/// A stack of single-precision maps (contrast or model θ), row-major from the top row, NaN = masked.
public struct ImageStack: Sendable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// µm per pixel.
    public var pixelSizeMicrometres: Double
    /// Time of each frame, seconds.
    public var timesSeconds: [Double]
    /// One `width × height` array per frame.
    public var frames: [[Float]]

    /// A stack; call `validate(name:)` before use on untrusted data.
    public init(width: Int, height: Int, pixelSizeMicrometres: Double, timesSeconds: [Double], frames: [[Float]]) {
        self.width = width; self.height = height; self.pixelSizeMicrometres = pixelSizeMicrometres
        self.timesSeconds = timesSeconds; self.frames = frames
    }

    /// Checks that every frame has `width × height` values and there is one time per frame.
    public func validate(name: String) throws {
        guard width > 0, height > 0 else { throw FigureError.invalidData(input: name, reason: "image size \(width)×\(height) is empty") }
        guard frames.count == timesSeconds.count else {
            throw FigureError.invalidData(input: name, reason: "\(frames.count) frames but \(timesSeconds.count) times")
        }
        for (k, f) in frames.enumerated() where f.count != width * height {
            throw FigureError.invalidData(input: name, reason: "frame \(k) has \(f.count) pixels, expected \(width)×\(height) = \(width * height)")
        }
    }

    /// Index of the frame nearest to `t` seconds.
    public func nearestFrame(to t: Double) -> Int? {
        timesSeconds.indices.min(by: { abs(timesSeconds[$0] - t) < abs(timesSeconds[$1] - t) })
    }
}

/// Line profiles: one curve per time.
public struct ProfileSet: Sendable {
    /// One profile at one time.
    public struct Curve: Sendable {
        /// Time of the profile, seconds.
        public var timeSeconds: Double
        /// Position along the line from the centroid, µm.
        public var positionMicrometres: [Double]
        /// Values at the positions (θ or total contrast).
        public var values: [Double]

        /// A profile.
        public init(timeSeconds: Double, positionMicrometres: [Double], values: [Double]) {
            self.timeSeconds = timeSeconds; self.positionMicrometres = positionMicrometres; self.values = values
        }
    }
    /// Profiles in time order.
    public var curves: [Curve]

    /// Profiles from curves.
    public init(curves: [Curve]) { self.curves = curves }

    /// The curve nearest in time to `t` seconds.
    public func nearest(to t: Double) -> Curve? {
        curves.min(by: { abs($0.timeSeconds - t) < abs($1.timeSeconds - t) })
    }
}

/// Measured and model total contrast at the particle centre (seed Fig. 3F, S2C).
public struct CentreTrace: Sendable {
    /// Time, seconds.
    public var timeSeconds: [Double]
    /// Measured centre contrast.
    public var measured: [Double]
    /// Model centre contrast A·(θ₀ − θ).
    public var model: [Double]

    /// Centre traces at `timeSeconds`.
    public init(timeSeconds: [Double], measured: [Double], model: [Double]) {
        self.timeSeconds = timeSeconds; self.measured = measured; self.model = model
    }
}

/// The calibration error map e(S, A) on its scanned grid (seed Fig. S2B), with the optimum.
public struct ErrorMap: Sendable {
    /// Distinct scales S (increasing), the x axis.
    public var scales: [Double]
    /// Distinct gains A (increasing), the y axis.
    public var gains: [Double]
    /// RMSE, row-major over gains: `rmse[gainIndex * scales.count + scaleIndex]`, NaN where not scanned.
    public var rmse: [Double]
    /// Best (S, A) and its error; `nil` → the grid minimum is used.
    public var optimum: (scale: Double, gain: Double, rmse: Double)?

    /// A grid map; see the properties for the layout.
    public init(scales: [Double], gains: [Double], rmse: [Double], optimum: (scale: Double, gain: Double, rmse: Double)? = nil) {
        self.scales = scales; self.gains = gains; self.rmse = rmse; self.optimum = optimum
    }

    /// Builds the grid from scattered (scale, gain, rmse) rows.
    public init(rows allRows: [(scale: Double, gain: Double, rmse: Double)]) {
        let rows = allRows.filter { $0.scale.isFinite && $0.gain.isFinite }
        let s = Array(Set(rows.map(\.scale))).sorted(), g = Array(Set(rows.map(\.gain))).sorted()
        var v = [Double](repeating: .nan, count: s.count * g.count)
        let si = Dictionary(uniqueKeysWithValues: s.enumerated().map { ($1, $0) })
        let gi = Dictionary(uniqueKeysWithValues: g.enumerated().map { ($1, $0) })
        for r in rows { if let a = si[r.scale], let b = gi[r.gain] { v[b * s.count + a] = r.rmse } }
        self.init(scales: s, gains: g, rmse: v)
    }

    /// The optimum, or the grid's smallest finite error.
    public var best: (scale: Double, gain: Double, rmse: Double)? {
        if let o = optimum { return o }
        var bi = -1
        for i in rmse.indices where rmse[i].isFinite && (bi < 0 || rmse[i] < rmse[bi]) { bi = i }
        guard bi >= 0, !scales.isEmpty else { return nil }
        return (scales[bi % scales.count], gains[bi / scales.count], rmse[bi])
    }
}

/// Calibrated constants (from `calibration/calibration.json`).
public struct CalibrationResult: Sendable {
    /// S in D_eff = D_Li / S.
    public var scale: Double
    /// A in Ī = A·(θ0 − θ) (seed Eq. 17).
    public var gain: Double
    /// RMSE e(S, A) at the optimum.
    public var rmse: Double
    /// Initial occupancy θ0.
    public var theta0: Double

    /// Calibrated constants.
    public init(scale: Double, gain: Double, rmse: Double, theta0: Double) {
        self.scale = scale; self.gain = gain; self.rmse = rmse; self.theta0 = theta0
    }
}

/// Model output at the centroid and over the particle (from `model/trace.csv`).
public struct ModelTrace: Sendable {
    /// Time since the start of the model run, seconds: the dataset's time (calibrate runs the model from the first sample).
    public var timeSeconds: [Double]
    /// θ at the particle centroid.
    public var thetaCentre: [Double]
    /// θ averaged over the particle.
    public var thetaMean: [Double]

    /// A model trace.
    public init(timeSeconds: [Double], thetaCentre: [Double], thetaMean: [Double]) {
        self.timeSeconds = timeSeconds; self.thetaCentre = thetaCentre; self.thetaMean = thetaMean
    }
}

/// Everything the report can draw; every piece is optional and a page whose inputs are missing is skipped.
public struct ReportInputs: Sendable {
    /// Dataset name shown in page titles.
    public var datasetName: String
    /// Electrochemistry (echem.csv).
    public var echem: EchemSeries?
    /// Whole-particle intensity change ΔI/I₀ (fraction) vs time.
    public var intensityChange: TimeSeries?
    /// Standard deviation of the sequential differential contrast vs time (seed Fig. S12E–H).
    public var sdcStd: TimeSeries?
    /// Time of the SDC drop (front reaches the centre), seconds, as the analysis found it; `nil` → no arrow.
    public var sdcDropTimeSeconds: Double?
    /// Total-contrast frames (NaN outside the particle).
    public var contrast: ImageStack?
    /// Model occupancy maps θ (NaN outside the particle), for seed Fig. 3C.
    public var modelThetaMaps: ImageStack?
    /// Measured total-contrast line profiles (seed Fig. 3E).
    public var measuredProfiles: ProfileSet?
    /// Model θ line profiles (seed Fig. 3D).
    public var modelProfiles: ProfileSet?
    /// Centre contrast measured vs model (seed Fig. 3F / S2C).
    public var centreTrace: CentreTrace?
    /// Measured centre contrast from the analysis (used when `centreTrace` is missing).
    public var measuredCentre: TimeSeries?
    /// Model centre trace (model/trace.csv).
    public var modelTrace: ModelTrace?
    /// Calibration error map (calibration/error_map.csv).
    public var errorMap: ErrorMap?
    /// Calibration result (calibration/calibration.json).
    public var calibration: CalibrationResult?
    /// Parameter set for seed Fig. S1 and D_eff (Fig. 3B).
    public var parameters: ParameterSet?
    /// Times (s from the start of the first charge) of the images on page 2; empty → 5, 15, 25, 35 min.
    public var beginningOfChargeTimesSeconds: [Double]
    /// Absolute times (s) of the images on page 4; empty → chosen from the discharge and CV hold.
    public var endOfDischargeTimesSeconds: [Double]

    /// Inputs; every piece optional.
    public init(datasetName: String = "dataset", echem: EchemSeries? = nil, intensityChange: TimeSeries? = nil,
                sdcStd: TimeSeries? = nil, sdcDropTimeSeconds: Double? = nil, contrast: ImageStack? = nil,
                modelThetaMaps: ImageStack? = nil, measuredProfiles: ProfileSet? = nil, modelProfiles: ProfileSet? = nil,
                centreTrace: CentreTrace? = nil, measuredCentre: TimeSeries? = nil, modelTrace: ModelTrace? = nil,
                errorMap: ErrorMap? = nil, calibration: CalibrationResult? = nil, parameters: ParameterSet? = nil,
                beginningOfChargeTimesSeconds: [Double] = [], endOfDischargeTimesSeconds: [Double] = []) {
        self.datasetName = datasetName; self.echem = echem; self.intensityChange = intensityChange
        self.sdcStd = sdcStd; self.sdcDropTimeSeconds = sdcDropTimeSeconds; self.contrast = contrast
        self.modelThetaMaps = modelThetaMaps; self.measuredProfiles = measuredProfiles; self.modelProfiles = modelProfiles
        self.centreTrace = centreTrace; self.measuredCentre = measuredCentre; self.modelTrace = modelTrace
        self.errorMap = errorMap; self.calibration = calibration; self.parameters = parameters
        self.beginningOfChargeTimesSeconds = beginningOfChargeTimesSeconds
        self.endOfDischargeTimesSeconds = endOfDischargeTimesSeconds
    }
}

/// A hook for contrast frames other than the analysis' own contrast stack (which `ReportInputs.load`
/// reads through `Dataset` when no source is given): conform a type to this protocol, or wrap a
/// closure in `ClosureFrameSource`. Return `nil` when there is no contrast stack.
public protocol ContrastFrameSource {
    /// Loads the total-contrast stack of the dataset at `datasetDirectory`, with frame times in seconds.
    func contrastFrames(datasetDirectory: String) throws -> ImageStack?
}

/// A `ContrastFrameSource` from a closure.
public struct ClosureFrameSource: ContrastFrameSource {
    let load: (String) throws -> ImageStack?
    /// Wraps `load`, called with the dataset directory.
    public init(_ load: @escaping (String) throws -> ImageStack?) { self.load = load }
    /// Calls the wrapped closure.
    public func contrastFrames(datasetDirectory: String) throws -> ImageStack? { try load(datasetDirectory) }
}
