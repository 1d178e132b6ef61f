import Calibration
import Dataset
import Foundation

/// The demo's calibration stage: S and A from the C/3 charge, as the seed calibrates (Fig. S2).
enum DemoCalibration {
    static func run(dataset: String, stage: (String) -> Void) throws -> CalibrationSummary {
        var options = CalibrationOptions()
        // The seed fits its C/3 charge; the end of the first step bounds the fit (and its cost).
        let events = (try? DatasetReader(dataset).events()) ?? []
        if let end = events.first(where: { $0.event == "step_ended" && $0.timeSeconds.isFinite }) {
            options.endSeconds = end.timeSeconds
        }
        // The library's lines already name their stage ("calibrate: …"): no second prefix.
        let s = try CalibrationRun.run(dataset: dataset, options: options) { stage(ProgressLines.prefixed("calibrate", $0)) }
        stage("calibration: " + s.centreFitDescription)
        return s
    }
}
