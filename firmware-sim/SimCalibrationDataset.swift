import Electrochemistry
import Foundation
import ParticleModel
import Rig

/// A firmware-sim dataset recorded for calibration with a known truth, as `operando run` records one:
/// 1.5 mg of active material (210 mAh/g), exposures at 10 Hz binned 30×, noise and drift on, the
/// particle and the drift fiducial in a 160 × 160 ROI. CalibrationTests check fits on it; the coverage
/// benchmark repeats it over noise seeds.
public enum SimCalibrationDataset {
    /// The protocol file's text for `steps`.
    public static func protocolText(steps: [String]) -> String {
        var text = """
        [cell]
        active_mass_mg = 1.5
        practical_capacity_mAh_per_g = 210
        [limits]
        voltage_min_V = 2.8
        voltage_max_V = 4.4
        [imaging]
        frame_rate_Hz = 10
        exposure_ms = 2.5
        bin = 30
        led_lead_ms = 0.2

        """
        for s in steps { text += "[[steps]]\ndo = \"\(s)\"\n" }
        return text
    }

    /// Records `steps` into `directory` on a world whose truth is `scale` (S) and `gain` (A).
    /// - Parameters:
    ///   - seed: firmware-sim's noise seed; `noise`: its noise factor (1: the camera's and the cell's).
    public static func record(directory: String, scale: Double, gain: Double, steps: [String], seed: Int = 7,
                              noise: Double = 1.0, parameters: ParameterSet = .nmc87) throws {
        let proto = try ProtocolFile.parse(text: protocolText(steps: steps), path: "calibration-dataset.toml")
        let rig = "[sim]\nscale = \(scale)\noptical_gain = \(gain)\nnoise = \(noise)\ndrift_nm_per_min = 5\nseed = \(seed)\n"
        let (_, hw) = try SimRig.hardware(rigText: rig, rigFile: "calibration-rig.toml", protocolFile: proto, parameters: parameters)
        var options = RunOptions(outputDirectory: directory)
        options.roi = RegionOfInterest(x: 880, y: 500, width: 160, height: 160)   // the particle and the drift fiducial
        _ = try RunEngine(protocolFile: proto, hardware: hw, options: options).run()
    }
}
