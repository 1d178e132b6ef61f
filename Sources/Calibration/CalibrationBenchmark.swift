import Foundation

/// Benchmark hook: times one calibration.
public enum CalibrationBenchmark {
    /// Calibrates `dataset` (e.g. a demo-sized firmware-sim C/3 charge) into a temporary directory and
    /// returns the wall time in seconds with the summary.
    public static func timeOneCalibration(dataset: String, options: CalibrationOptions = CalibrationOptions())
        throws -> (seconds: Double, summary: CalibrationSummary) {
        var o = options
        if o.outputDirectory == nil {
            o.outputDirectory = NSTemporaryDirectory() + "operando-calibration-benchmark-\(getpid())"
        }
        let start = Date()
        let summary = try CalibrationRun.run(dataset: dataset, options: o)
        return (Date().timeIntervalSince(start), summary)
    }
}
