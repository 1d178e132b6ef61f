import Dataset
import Foundation
import Imaging
import ParticleModel

// Units: times s from the first protocol step, lengths µm, currents A (positive on charge), C-rates h⁻¹.

/// One electrochemical sample, as the model's drive needs it.
public struct EchemSample: Sendable, Equatable {
    public var timeSeconds: Double
    public var step: Int
    public var stepKind: String
    public var voltageVolts: Double
    public var currentAmps: Double
}

/// One measured line profile (one frame of the analysis' profiles).
public struct MeasuredProfile: Sendable {
    public var frame: Int
    public var timeSeconds: Double
    /// Positions from the centroid along the horizontal line, µm (x to the right).
    public var positionsMicrometres: [Double]
    /// Total contrast Ī = I/I0 − 1 (seed Eq. 1) at those positions.
    public var contrast: [Double]
}

/// What the calibration reads from a dataset (through `Dataset`: run information, echem, the analysis).
public struct CalibrationDataset: Sendable {
    /// The dataset directory.
    public var path: String
    public var pixelSizeMicrometres: Double
    public var activeMassMilligrams: Double
    public var practicalCapacityMilliampHoursPerGram: Double
    public var echem: [EchemSample]
    /// Centre trace: frame times (s) and contrast_centre (finite frames only).
    public var centreTimesSeconds: [Double]
    public var centreContrast: [Double]
    public var profiles: [MeasuredProfile]
    /// The particle outline from the analysis' mask, origin at the mask centroid, y up.
    public var shape: ParticleShape
    /// Notes for the user (e.g. "ran the analysis first").
    public var notes: [String]
    /// The file the centre trace came from (for messages).
    public var centreTraceSource: String = ""
    /// The analysis mask the outline was traced from (the particle's component, holes filled).
    public var mask: Mask?

    /// 1C current of the imaged electrode, A: active mass × practical capacity.
    public var oneCAmps: Double { activeMassMilligrams * 1e-3 * practicalCapacityMilliampHoursPerGram * 1e-3 }

    /// Loads a dataset through `Dataset` (run.json, echem.csv, the analysis' metrics, profiles and
    /// mask), running the image analysis first when the analysis folder lacks what is needed.
    /// A mask with more than one particle is refused: the model is of one particle, and fitting it to
    /// two would put S at the edge of its range without saying why (issue 11).
    public static func load(path: String, analysisDirectory: String? = nil,
                            progress: (String) -> Void = { _ in }) throws -> CalibrationDataset {
        do {
            return try read(path: path, analysisDirectory: analysisDirectory, progress: progress)
        } catch let e as DatasetError {
            throw CalibrationError.dataset(e)
        }
    }

    static func read(path: String, analysisDirectory: String?, progress: (String) -> Void) throws -> CalibrationDataset {
        let dataset = try DatasetReader(path)
        let run = dataset.runInfo
        let runPath = dataset.path(DatasetFormat.File.runInfo)
        guard let mass = run.activeMassMilligrams, mass > 0, mass.isFinite else {
            throw CalibrationError.badFile(path: runPath, line: 0, text: "no usable \"active_mass_mg\"", expected: "a positive active mass in mg")
        }
        let capacity = run.practicalCapacityMilliampHoursPerGram
        guard capacity > 0, capacity.isFinite else {
            throw CalibrationError.badFile(path: runPath, line: 0, text: "\"practical_capacity_mAh_per_g\": \(capacity)",
                                           expected: "a positive practical capacity in mAh/g")
        }
        let pixel = run.pixelSizeMicrometres
        var notes: [String] = []

        let echemPath = dataset.path(DatasetFormat.File.echem)
        let records = try dataset.echem()
        for k in records.indices.dropFirst() where !(records[k].timeSeconds >= records[k - 1].timeSeconds) {
            throw CalibrationError.badFile(path: echemPath, line: k + 2, text: "time_s = \(records[k].timeSeconds)",
                                           expected: "time_s not decreasing")
        }
        if let k = records.firstIndex(where: { !$0.currentAmps.isFinite }) {
            throw CalibrationError.badFile(path: echemPath, line: k + 2, text: "current_A = \(records[k].currentAmps)", expected: "a finite current")
        }
        guard records.count >= 2 else {
            throw CalibrationError.noData(path: echemPath, reason: "fewer than two samples; the model needs the measured current over time")
        }
        let echem = records.map {
            EchemSample(timeSeconds: $0.timeSeconds, step: $0.step, stepKind: $0.stepKind, voltageVolts: $0.voltageVolts, currentAmps: $0.currentAmps)
        }

        // The analysis: run it when its outputs are missing.
        var analysis = dataset.analysis(analysisDirectory)
        if !analysis.hasResults {
            guard dataset.hasFrames else {
                throw CalibrationError.noData(path: dataset.path(DatasetFormat.File.frames),
                                              reason: "missing, and \(analysis.directory) has no analysis to use instead; a dataset without frames cannot be calibrated")
            }
            progress("calibrate: no analysis in \(analysis.directory); running it first")
            notes.append("ran the image analysis first (\(analysis.directory))")
            var o = AnalysisOptions()
            o.outputDirectory = analysis.directory
            do { _ = try DatasetAnalysis.run(input: path, options: o, progress: progress) } catch {
                throw CalibrationError.analysisFailed(dataset: path, reason: "\(error)")
            }
            analysis = AnalysisReader(directory: analysis.directory)
        }
        let metricsPath = analysis.path(DatasetFormat.AnalysisFile.metrics)
        var times: [Double] = [], centre: [Double] = []
        for m in try analysis.metrics() ?? [] where m.timeSeconds.isFinite && m.contrastCentre.isFinite {
            times.append(m.timeSeconds)
            centre.append(m.contrastCentre)
        }
        guard times.count >= 3 else {
            throw CalibrationError.noData(path: metricsPath, reason: "fewer than three frames with a finite contrast_centre")
        }
        var profiles: [MeasuredProfile] = []
        for r in try analysis.profiles() ?? [] {
            if profiles.last?.frame != r.frame {
                profiles.append(MeasuredProfile(frame: r.frame, timeSeconds: r.timeSeconds, positionsMicrometres: [], contrast: []))
            }
            profiles[profiles.count - 1].positionsMicrometres.append(r.positionMicrometres)
            profiles[profiles.count - 1].contrast.append(r.contrast)
        }
        let maskPath = analysis.path(DatasetFormat.AnalysisFile.mask)
        guard let (mask, _) = try analysis.mask() else {
            throw CalibrationError.cannotRead(path: maskPath, reason: "missing; the calibration models the particle the analysis masked")
        }
        let particles = mask.components()
        guard let particle = particles.first else {
            throw CalibrationError.noData(path: maskPath, reason: "the mask holds no particle")
        }
        if particles.count > 1 {
            throw CalibrationError.severalParticles(path: maskPath, areasPixels: particles.map(\.areaPixels))
        }
        let outline = ParticleOutline(mask: particle.holesFilled(), pixelSizeMicrometres: pixel)
        guard outline.verticesMicrometres.count >= 3, outline.areaMicrometres2 > 0 else {
            throw CalibrationError.noData(path: maskPath, reason: "the mask holds no particle outline")
        }
        let shape = ParticleShape(boundary: outline.verticesMicrometres.map { Point2($0.x, $0.y) }, isSmooth: false,
                                  specification: "mask:\(maskPath),pixel=\(pixel)um")
        return CalibrationDataset(path: path, pixelSizeMicrometres: pixel, activeMassMilligrams: mass,
                                  practicalCapacityMilliampHoursPerGram: capacity, echem: echem,
                                  centreTimesSeconds: times, centreContrast: centre, profiles: profiles,
                                  shape: shape, notes: notes, centreTraceSource: metricsPath, mask: particle.holesFilled())
    }
}
