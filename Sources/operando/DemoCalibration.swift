import Calibration
import Foundation

/// The demo's calibration stage: S and A from the C/3 charge, as the seed calibrates (Fig. S2).
enum DemoCalibration {
    static func run(dataset: String, stage: (String) -> Void) throws -> CalibrationSummary {
        var options = CalibrationOptions()
        // The seed fits its C/3 charge; the end of the first step bounds the fit (and its cost).
        let events = (try? String(contentsOfFile: dataset + "/events.jsonl", encoding: .utf8)) ?? ""
        for line in events.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  o["event"] as? String == "step_ended", let t = o["time_s"] as? Double else { continue }
            options.endSeconds = t
            break
        }
        let s = try CalibrationRun.run(dataset: dataset, options: options) { stage("calibrate: " + $0) }
        stage(String(format: "calibration: S = %.3f ± %.3f, A = %.4f ± %.4f, rmse %.2e",
                     s.centre.scale, s.scaleStandardError, s.centre.gain, s.gainStandardError, s.centre.rmse))
        return s
    }
}
