@testable import Calibration
import Dataset
import Electrochemistry
import FirmwareSim
import Foundation
import Imaging
import ParticleModel
import Rig

func temporaryDirectory(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "operando-calibtest-\(getpid())-\(name)"
    try? FileManager.default.removeItem(atPath: dir)
    return dir
}

/// A firmware-sim dataset of `steps` with the given S and A, noise and drift on (the sim's defaults).
func makeSimDataset(name: String, scale: Double, gain: Double, steps: [String],
                    parameters: ParameterSet = .nmc87) throws -> String {
    let dir = temporaryDirectory(name + ".operando")
    try SimCalibrationDataset.record(directory: dir, scale: scale, gain: gain, steps: steps, parameters: parameters)
    return dir
}

/// A dataset whose contrast is the model's own (no images): an ellipse mask, the measured current of a
/// constant-current charge, and metrics/profiles from `ParticleCell` with `parameters` through the same
/// blur and averaging the calibration applies, so a fit can be checked against a known truth.
func makeSyntheticDataset(name: String, parameters: ParameterSet, scale: Double, gain: Double, cRate: Double,
                          chargeSeconds: Double, frameSeconds: Double, elementSize: Double) throws -> String {
    let dir = temporaryDirectory(name + ".operando")
    let pixel = 0.0347, mass = 1.5, capacity = 210.0
    let amps = cRate * mass * 1e-3 * capacity * 1e-3
    let run = try RunWriter(creating: dir, runInfo: calibrationTestRunInfo(pixelSizeMicrometres: pixel, activeMassMilligrams: mass,
                                                                           practicalCapacityMilliampHoursPerGram: capacity))
    for t in stride(from: 0.0, through: chargeSeconds, by: 1) {
        try run.append(EchemRecord(timeSeconds: t, step: 0, stepKind: "charge", voltageVolts: 3.8, currentAmps: amps, capacityMilliampHoursPerGram: 0))
    }
    try run.close()
    // Ellipse mask 3.04 × 2.04 µm, centred on a pixel centre.
    let w = 121, h = 91
    var pixels = [Float](repeating: 0, count: w * h)
    let cx = 60.0, cy = 45.0
    for r in 0..<h { for c in 0..<w {
        let x = (Double(c) - cx) * pixel / 1.52, y = (Double(r) - cy) * pixel / 1.02
        if x * x + y * y <= 1 { pixels[r * w + c] = 1 }
    } }
    // Placeholder metrics/profiles give the times and positions; then the model fills them in.
    let times = Array(stride(from: frameSeconds / 2, to: chargeSeconds, by: frameSeconds))
    let positions = (-48...48).map { Double($0) * pixel }
    func writeData(centre: [Double], profiles: [[Double]]) throws {
        try writeTestAnalysis(dataset: dir, mask: BinnedFrame(width: w, height: h, pixels: pixels), pixelSizeMicrometres: pixel,
                              metrics: times.enumerated().map { k, t in
                                  MetricsRecord(frame: k, timeSeconds: t, intensityChange: 0, sdcStd: 0, contrastCentre: centre[k])
                              },
                              profiles: times.enumerated().flatMap { k, t in
                                  positions.enumerated().map { j, x in
                                      ProfileRecord(frame: k, timeSeconds: t, positionMicrometres: x, contrast: profiles[k][j])
                                  }
                              })
    }
    try writeData(centre: times.map { _ in 0 }, profiles: times.map { _ in positions.map { _ in 0 } })
    var options = CalibrationOptions()
    options.elementSizeMicrometres = elementSize
    options.edgeMarginMicrometres = 0
    let data = try CalibrationDataset.load(path: dir)
    let problem = try CalibrationProblem(data: data, options: options)
    var request = problem.request(scale: scale, parameters: parameters)
    request.profilePositions = positions
    request.profileStencil = Stencil.profile(positions: positions, pixelSizeMicrometres: pixel,
                                             widthPixels: options.profileWidthPixels,
                                             sigma: options.psfFWHMMicrometres / (8 * log(2)).squareRoot())
    request.profileTimes = times
    let m = try runModel(request)
    let contrast = { (th: Double) -> Double in th.isFinite ? gain * (options.theta0 - th) : .nan }
    try writeData(centre: m.centreTheta.map(contrast), profiles: m.profileTheta.map { $0.map(contrast) })
    return dir
}

/// run.json of a hand-built calibration dataset.
func calibrationTestRunInfo(pixelSizeMicrometres: Double, activeMassMilligrams: Double?, practicalCapacityMilliampHoursPerGram: Double) -> RunInfo {
    RunInfo(softwareVersion: "test", protocolPath: "calibration-test.toml", protocolText: "", rig: .null, backend: "test",
            startTimeUTC: "2026-12-01T00:00:00Z", pixelSizeMicrometres: pixelSizeMicrometres, roi: (0, 0, 121, 91), binning: 30,
            frameRateHz: 10, exposureMilliseconds: 2.5, ledLeadMilliseconds: 0.2, ledWavelengthNanometres: 740,
            blackLevelSubtractedCounts: 0, activeMassMilligrams: activeMassMilligrams,
            practicalCapacityMilliampHoursPerGram: practicalCapacityMilliampHoursPerGram)
}

/// Writes `dataset/analysis/` through `Dataset`'s analysis writer: the mask, metrics and profiles.
func writeTestAnalysis(dataset: String, mask: BinnedFrame, pixelSizeMicrometres: Double, metrics: [MetricsRecord],
                       profiles: [ProfileRecord]) throws {
    let w = AnalysisWriter(directory: (dataset as NSString).appendingPathComponent(DatasetFormat.File.analysisDirectory))
    try w.begin(pixelSizeMicrometres: pixelSizeMicrometres)
    try w.writeMask(mask)
    for m in metrics { try w.append(m) }
    try w.append(profiles)
    try w.commit(AnalysisSummaryRecord(input: dataset, frames: metrics.count, droppedFrames: [], pixelSizeMicrometres: pixelSizeMicrometres,
                                       threshold: 0.5, particleAreaPixels: Int(mask.pixels.reduce(0, +)), particleAreaMicrometres2: .nan,
                                       particlePerimeterMicrometres: .nan, centroidPixels: [], outlineMicrometres: [], sdcLagFrames: 1,
                                       binFrames: 1, sdcDropTimeSeconds: nil, driftMethod: "none", fiducialPixels: nil, failedDriftFits: 0,
                                       maximumDriftPixels: 0, notes: [], wallTimeSeconds: 0, particles: nil))
}
