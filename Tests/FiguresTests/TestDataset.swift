import Dataset
import Foundation
import Imaging

/// A dataset written the way operando writes one — through `Dataset`'s writers — for the loader and
/// report tests. `remove()` deletes it (call it in a `defer`).
struct TestDataset {
    let path: String

    init(_ label: String = #function, echem: [EchemRecord] = []) throws {
        path = (NSTemporaryDirectory() as NSString)
            .appendingPathComponent("operando-test-figds-\(label.filter { $0.isLetter })-\(UUID().uuidString).operando")
        let info = RunInfo(softwareVersion: "test", protocolPath: "p.toml", protocolText: "", rig: .null, backend: "test",
                           startTimeUTC: "2026-12-01T00:00:00Z", pixelSizeMicrometres: 0.0347, roi: (0, 0, 8, 8), binning: 30,
                           frameRateHz: 10, exposureMilliseconds: 2.5, ledLeadMilliseconds: 0.2, ledWavelengthNanometres: 740,
                           blackLevelSubtractedCounts: 0, activeMassMilligrams: 1.5, practicalCapacityMilliampHoursPerGram: 210)
        let w = try RunWriter(creating: path, runInfo: info)
        for e in echem { try w.append(e) }
        try w.close()
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Writes `analysis/` with these metrics (and no profiles, unless given).
    func writeAnalysis(metrics: [MetricsRecord], profiles: [ProfileRecord] = [], sdcDropTimeSeconds: Double? = nil) throws {
        let w = AnalysisWriter(directory: file("analysis"))
        try w.begin(pixelSizeMicrometres: 0.0347)
        try w.writeMask(BinnedFrame(width: 4, height: 4, repeating: 1))
        for m in metrics { try w.append(m) }
        try w.append(profiles)
        try w.commit(AnalysisSummaryRecord(input: path, frames: metrics.count, droppedFrames: [], pixelSizeMicrometres: 0.0347,
                                           threshold: 1, particleAreaPixels: 16, particleAreaMicrometres2: 0.02,
                                           particlePerimeterMicrometres: 0.5, centroidPixels: [1.5, 1.5], outlineMicrometres: [],
                                           sdcLagFrames: 1, binFrames: 1, sdcDropTimeSeconds: sdcDropTimeSeconds, driftMethod: "fiducial",
                                           fiducialPixels: [0, 0], failedDriftFits: 0, maximumDriftPixels: 0, notes: [],
                                           wallTimeSeconds: 0, particles: nil))
    }

    /// Writes `calibration/` with these pieces (the others empty).
    func writeCalibration(scale: Double, gain: Double, rmse: Double, theta0: Double, errorMap: [ErrorMapRecord] = [],
                          modelProfiles: [ModelProfileRecord] = []) throws {
        let result = CalibrationRecord(dataset: path, scale: scale, gain: gain, rmse: rmse, theta0: theta0, scaleStandardError: .nan,
                                       gainStandardError: .nan, scaleInterval95: (nil, nil), uncertaintyMethod: "", residualAutocorrelation: 0,
                                       points: 0, objective: "", profileObjective: nil, scaleRange: [1, 10], scaleGrid: [],
                                       model: nil, modelRuns: 0, wallTimeSeconds: 0, notes: [], diffusivityFit: nil)
        try CalibrationWriter.write(CalibrationOutputs(result: result, errorMap: errorMap, profileObjective: [], centreFit: [], profileFit: [],
                                                       diffusivityFit: nil, modelTrace: [], modelProfiles: modelProfiles),
                                    to: file("calibration"))
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func echem(_ t: Double, _ step: Int, _ kind: String, _ v: Double, _ i: Double) -> EchemRecord {
    EchemRecord(timeSeconds: t, step: step, stepKind: kind, voltageVolts: v, currentAmps: i, capacityMilliampHoursPerGram: 0)
}
