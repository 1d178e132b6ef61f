import Foundation
import ParticleModel

extension ReportInputs {
    /// Reads whatever report inputs a dataset directory holds: `echem.csv`, `analysis/metrics.csv`,
    /// `analysis/profiles.csv`, `calibration/error_map.csv`, `calibration/centre_fit.csv`,
    /// `calibration/calibration.json`, `calibration/model/` (or `model/`) `trace.csv`, `profiles.csv`; contrast frames come
    /// from `frameSource` (the Imaging TIFF reader, supplied by the caller). Missing files leave their
    /// piece `nil`; a present but malformed file is an error naming the file and line.
    /// The parameter set defaults to `ParameterSet.nmc87` with the calibrated scale, if any.
    public static func load(datasetDirectory dir: String, frameSource: ContrastFrameSource? = nil,
                            parameters: ParameterSet? = .nmc87) throws -> ReportInputs {
        func path(_ p: String) -> String { (dir as NSString).appendingPathComponent(p) }
        var name = (dir as NSString).lastPathComponent
        if name.hasSuffix(".operando") { name = String(name.dropLast(".operando".count)) }
        var inp = ReportInputs(datasetName: name)

        if let t = try CSVTable.read(path("echem.csv")) {
            inp.echem = EchemSeries(timeSeconds: try t.numbers("time_s"), voltageVolts: try t.numbers("voltage_V"),
                                    currentAmps: try t.numbers("current_A"),
                                    stepKind: t.has("step_kind") ? try t.strings("step_kind") : [],
                                    step: t.has("step") ? try t.numbers("step").map { $0.isFinite ? Int($0) : -1 } : [])
        }
        if let t = try CSVTable.read(path("analysis/metrics.csv")) {
            let time = try t.numbers("time_s")
            if t.has("intensity_change") { inp.intensityChange = TimeSeries(timeSeconds: time, values: try t.numbers("intensity_change")) }
            if t.has("sdc_std") { inp.sdcStd = TimeSeries(timeSeconds: time, values: try t.numbers("sdc_std")) }
            if t.has("contrast_centre") { inp.measuredCentre = TimeSeries(timeSeconds: time, values: try t.numbers("contrast_centre")) }
        }
        if let t = try CSVTable.read(path("analysis/profiles.csv")) {
            inp.measuredProfiles = profiles(time: try t.numbers("time_s"), position: try t.numbers("position_um"),
                                            value: try t.numbers("contrast"))
        }
        // `operando calibrate` writes its model run under calibration/model/; a hand-made model/ also works.
        let modelDir = FileManager.default.fileExists(atPath: path("calibration/model/trace.csv")) ? "calibration/model" : "model"
        if let t = try CSVTable.read(path(modelDir + "/profiles.csv")) {
            inp.modelProfiles = profiles(time: try t.numbers("time_s"), position: try t.numbers("position_um"),
                                         value: try t.numbers("theta"))
        }
        if let t = try CSVTable.read(path(modelDir + "/trace.csv")) {
            inp.modelTrace = ModelTrace(timeSeconds: try t.numbers("time_s"), thetaCentre: try t.numbers("theta_centre"),
                                        thetaMean: t.has("theta_mean") ? try t.numbers("theta_mean") : [])
        }
        if let t = try CSVTable.read(path("calibration/centre_fit.csv")) {
            inp.centreTrace = CentreTrace(timeSeconds: try t.numbers("time_s"), measured: try t.numbers("measured"),
                                          model: try t.numbers("model"))
        }
        let calPath = path("calibration/calibration.json")
        if FileManager.default.fileExists(atPath: calPath) {
            inp.calibration = try calibration(calPath)
        }
        if let t = try CSVTable.read(path("calibration/error_map.csv")) {
            let s = try t.numbers("scale"), g = try t.numbers("gain"), e = try t.numbers("rmse")
            var map = ErrorMap(rows: (0..<s.count).map { (s[$0], g[$0], e[$0]) })
            if let c = inp.calibration { map.optimum = (c.scale, c.gain, c.rmse) }
            inp.errorMap = map
        }
        if var p = parameters {
            if let c = inp.calibration { p.scale = c.scale }
            inp.parameters = p
        }
        if let src = frameSource, let stack = try src.contrastFrames(datasetDirectory: dir) {
            try stack.validate(name: path("analysis/contrast.tif"))
            inp.contrast = stack
        }
        return inp
    }

    /// Frame times in seconds from `analysis/metrics.csv` (`frame,time_s,…`), indexed by frame number,
    /// for a `ContrastFrameSource` that reads `analysis/contrast.tif` (whose pages carry no times).
    /// `nil` when the file is missing.
    public static func frameTimesSeconds(datasetDirectory dir: String) throws -> [Double]? {
        guard let t = try CSVTable.read((dir as NSString).appendingPathComponent("analysis/metrics.csv")) else { return nil }
        return try t.numbers("time_s")
    }

    static func profiles(time: [Double], position: [Double], value: [Double]) -> ProfileSet {
        var curves: [ProfileSet.Curve] = []
        for i in 0..<min(time.count, position.count, value.count) {
            if let last = curves.last, last.timeSeconds == time[i] {
                curves[curves.count - 1].positionMicrometres.append(position[i])
                curves[curves.count - 1].values.append(value[i])
            } else {
                curves.append(ProfileSet.Curve(timeSeconds: time[i], positionMicrometres: [position[i]], values: [value[i]]))
            }
        }
        return ProfileSet(curves: curves)
    }

    static func calibration(_ path: String) throws -> CalibrationResult {
        let obj: Any
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            obj = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw FigureError.unreadableInput(file: path, line: 0, reason: "not valid JSON (\(error.localizedDescription))",
                                              expected: "a JSON object with scale, gain, rmse, theta0")
        }
        guard let d = obj as? [String: Any] else {
            throw FigureError.unreadableInput(file: path, line: 0, reason: "top level is not an object",
                                              expected: "a JSON object with scale, gain, rmse, theta0")
        }
        func num(_ k: String, required: Bool = true) throws -> Double {
            if let v = d[k] as? Double { return v }
            if let v = d[k] as? Int { return Double(v) }
            if !required { return .nan }
            throw FigureError.unreadableInput(file: path, line: 0, reason: "no number '\(k)'", expected: "keys scale, gain, rmse, theta0")
        }
        return CalibrationResult(scale: try num("scale"), gain: try num("gain"), rmse: try num("rmse", required: false),
                                 theta0: try num("theta0", required: false))
    }
}
