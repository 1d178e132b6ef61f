import Foundation

/// The demo's calibration stage (filled in by the Calibration module).
enum DemoCalibration {
    static func run(dataset: String, stage: (String) -> Void) throws {
        stage("calibration: not available in this build")
    }
}
