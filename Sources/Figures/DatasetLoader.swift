import Dataset
import Foundation
import ParticleModel

extension ReportInputs {
    /// Reads a dataset's report inputs through `Dataset`: the electrochemistry, the analysis (metrics,
    /// profiles, the SDC drop time of its summary, contrast frames) and the calibration (result, error
    /// map, centre fit, the model run). Contrast frames come from `frameSource` when given, else from
    /// the analysis' contrast stack. Missing (or empty) analysis and calibration files leave their piece `nil`.
    /// - Throws: `FigureError.dataset` when `dir` is not a dataset (no such directory, no run.json) or a
    ///   present file is malformed (the message names the file, line and column).
    /// The parameter set defaults to `ParameterSet.nmc87` with the calibrated scale, if any.
    public static func load(datasetDirectory dir: String, frameSource: ContrastFrameSource? = nil,
                            parameters: ParameterSet? = .nmc87) throws -> ReportInputs {
        do {
            return try read(dir, frameSource: frameSource, parameters: parameters)
        } catch let e as DatasetError {
            throw FigureError.dataset(e)
        }
    }

    static func read(_ dir: String, frameSource: ContrastFrameSource?, parameters: ParameterSet?) throws -> ReportInputs {
        let dataset = try DatasetReader(dir)
        var name = ((dir as NSString).standardizingPath as NSString).lastPathComponent
        if name.hasSuffix(".operando") { name = String(name.dropLast(".operando".count)) }
        var inp = ReportInputs(datasetName: name)

        let echem = try dataset.echem()
        if !echem.isEmpty {
            inp.echem = EchemSeries(timeSeconds: echem.map(\.timeSeconds), voltageVolts: echem.map(\.voltageVolts),
                                    currentAmps: echem.map(\.currentAmps), stepKind: echem.map(\.stepKind), step: echem.map(\.step))
        }
        let analysis = dataset.analysis()
        if let m = try analysis.metrics(), !m.isEmpty {
            let time = m.map(\.timeSeconds)
            inp.intensityChange = TimeSeries(timeSeconds: time, values: m.map(\.intensityChange))
            inp.sdcStd = TimeSeries(timeSeconds: time, values: m.map(\.sdcStd))
            inp.measuredCentre = TimeSeries(timeSeconds: time, values: m.map(\.contrastCentre))
        }
        if let p = try analysis.profiles(), !p.isEmpty {
            inp.measuredProfiles = profiles(time: p.map(\.timeSeconds), position: p.map(\.positionMicrometres), value: p.map(\.contrast))
        }
        // The analysis found the SDC drop; the report draws it, it does not look for it again.
        inp.sdcDropTimeSeconds = try analysis.summary()?.sdcDropTimeSeconds

        let calibration = dataset.calibration()
        if let p = try calibration.modelProfiles(), !p.isEmpty {
            inp.modelProfiles = profiles(time: p.map(\.timeSeconds), position: p.map(\.positionMicrometres), value: p.map(\.theta))
        }
        if let t = try calibration.modelTrace(), !t.isEmpty {
            inp.modelTrace = ModelTrace(timeSeconds: t.map(\.timeSeconds), thetaCentre: t.map(\.thetaCentre), thetaMean: t.map(\.thetaMean))
        }
        if let c = try calibration.centreFit(), !c.isEmpty {
            inp.centreTrace = CentreTrace(timeSeconds: c.map(\.timeSeconds), measured: c.map(\.measured), model: c.map(\.model))
        }
        if let r = try calibration.result() {
            inp.calibration = CalibrationResult(scale: r.scale, gain: r.gain, rmse: r.rmse, theta0: r.theta0)
        }
        if let rows = try calibration.errorMap(), !rows.isEmpty {
            var map = ErrorMap(rows: rows.map { ($0.scale, $0.gain, $0.rmse) })
            if let c = inp.calibration { map.optimum = (c.scale, c.gain, c.rmse) }
            inp.errorMap = map
        }
        if var p = parameters {
            if let c = inp.calibration { p.scale = c.scale }
            inp.parameters = p
        }
        let contrastName = analysis.path(DatasetFormat.AnalysisFile.contrast)
        if let src = frameSource {
            if let stack = try src.contrastFrames(datasetDirectory: dir) {
                try stack.validate(name: contrastName)
                inp.contrast = stack
            }
        } else if let c = try analysis.sampledContrast() {
            let stack = ImageStack(width: c.width, height: c.height, pixelSizeMicrometres: c.pixelSizeMicrometres ?? dataset.runInfo.pixelSizeMicrometres,
                                   timesSeconds: c.timesSeconds, frames: c.frames.map(\.pixels))
            try stack.validate(name: contrastName)
            inp.contrast = stack
        }
        return inp
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
}
