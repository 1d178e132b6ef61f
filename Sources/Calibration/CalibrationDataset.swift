import Foundation
import Imaging
import ParticleModel

// Units: times s from the first protocol step, lengths µm, currents A (positive on charge), C-rates h⁻¹.

/// One row of a dataset's `echem.csv`.
public struct EchemSample: Sendable, Equatable {
    public var timeSeconds: Double
    public var step: Int
    public var stepKind: String
    public var voltageVolts: Double
    public var currentAmps: Double
}

/// One measured line profile (analysis `profiles.csv`, one frame).
public struct MeasuredProfile: Sendable {
    public var frame: Int
    public var timeSeconds: Double
    /// Positions from the centroid along the horizontal line, µm (x to the right).
    public var positionsMicrometres: [Double]
    /// Total contrast Ī = I/I0 − 1 (seed Eq. 1) at those positions.
    public var contrast: [Double]
}

/// What the calibration reads from a dataset (docs/interfaces.md "Dataset" and "analyse outputs").
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
    /// The particle outline from `analysis/mask.tif`, origin at the mask centroid, y up.
    public var shape: ParticleShape
    /// Notes for the user (e.g. "ran the analysis first").
    public var notes: [String]

    /// 1C current of the imaged electrode, A: active mass × practical capacity.
    public var oneCAmps: Double { activeMassMilligrams * 1e-3 * practicalCapacityMilliampHoursPerGram * 1e-3 }

    /// Loads a dataset, running the image analysis first when `analysis/` lacks what is needed.
    public static func load(path: String, analysisDirectory: String? = nil,
                            progress: (String) -> Void = { _ in }) throws -> CalibrationDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CalibrationError.cannotRead(path: path, reason: "no such dataset directory (expected NAME.operando/)")
        }
        let dir = URL(fileURLWithPath: path)
        var notes: [String] = []
        // run.json: pixel size and the electrode's 1C.
        let runJSON = dir.appendingPathComponent("run.json").path
        guard let data = FileManager.default.contents(atPath: runJSON) else {
            throw CalibrationError.cannotRead(path: runJSON, reason: "missing; a dataset records its pixel size and cell there")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) else {
            throw CalibrationError.badFile(path: runJSON, line: 0, text: "not JSON", expected: "a JSON object")
        }
        func number(_ key: String, _ expected: String) throws -> Double {
            guard let v = findNumber(key, in: object), v.isFinite, v > 0 else {
                throw CalibrationError.badFile(path: runJSON, line: 0, text: "no usable \"\(key)\"", expected: expected)
            }
            return v
        }
        let pixel = try number("pixel_size_um", "a positive pixel size in µm")
        let mass = try number("active_mass_mg", "a positive active mass in mg")
        let capacity = try number("practical_capacity_mAh_per_g", "a positive practical capacity in mAh/g")

        let echem = try readEchem(dir.appendingPathComponent("echem.csv").path)

        // The analysis: run it when its outputs are missing.
        let analysis = analysisDirectory ?? dir.appendingPathComponent("analysis").path
        let needed = ["metrics.csv", "profiles.csv", "mask.tif"].map { (analysis as NSString).appendingPathComponent($0) }
        if needed.contains(where: { !FileManager.default.fileExists(atPath: $0) }) {
            let framesCSV = dir.appendingPathComponent("frames.csv").path
            guard FileManager.default.fileExists(atPath: framesCSV) else {
                throw CalibrationError.noData(path: framesCSV, reason: "missing, and \(analysis) has no analysis to use instead; a dataset without frames cannot be calibrated")
            }
            progress("calibrate: no analysis in \(analysis); running it first")
            notes.append("ran the image analysis first (\(analysis))")
            var o = AnalysisOptions()
            o.outputDirectory = analysis
            do { _ = try Analysis.run(input: path, options: o, progress: progress) } catch {
                throw CalibrationError.analysisFailed(dataset: path, reason: "\(error)")
            }
        }
        let (times, centre) = try readMetrics(needed[0])
        let profiles = try readProfiles(needed[1])
        let outline: ParticleOutline
        do { outline = try ParticleOutline(maskTIFF: needed[2], pixelSizeMicrometres: pixel) } catch {
            throw CalibrationError.badFile(path: needed[2], line: 0, text: "\(error)", expected: "a particle mask (nonzero = particle)")
        }
        guard outline.verticesMicrometres.count >= 3, outline.areaMicrometres2 > 0 else {
            throw CalibrationError.noData(path: needed[2], reason: "the mask holds no particle outline")
        }
        let shape = ParticleShape(boundary: outline.verticesMicrometres.map { Point2($0.x, $0.y) }, isSmooth: false,
                                  specification: "mask:\(needed[2]),pixel=\(pixel)um")
        return CalibrationDataset(path: path, pixelSizeMicrometres: pixel, activeMassMilligrams: mass,
                                  practicalCapacityMilliampHoursPerGram: capacity, echem: echem,
                                  centreTimesSeconds: times, centreContrast: centre, profiles: profiles,
                                  shape: shape, notes: notes)
    }

    static func findNumber(_ key: String, in object: Any) -> Double? {
        if let d = object as? [String: Any] {
            if let v = d[key] as? NSNumber { return v.doubleValue }
            for k in d.keys.sorted() { if let v = findNumber(key, in: d[k]!) { return v } }
        } else if let a = object as? [Any] {
            for v in a { if let x = findNumber(key, in: v) { return x } }
        }
        return nil
    }

    /// Lines of a CSV file with its header's column indices.
    static func csv(_ path: String, required: [String]) throws -> (columns: [String: Int], lines: [Substring]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CalibrationError.cannotRead(path: path, reason: "missing or unreadable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CalibrationError.badFile(path: path, line: 0, text: "not UTF-8 text", expected: "a CSV file")
        }
        let lines = text.split(whereSeparator: \.isNewline)
        guard let header = lines.first else {
            throw CalibrationError.noData(path: path, reason: "empty file (expected a header \(required.joined(separator: ",")))")
        }
        var columns: [String: Int] = [:]
        for (i, name) in header.split(separator: ",").enumerated() {
            columns[name.trimmingCharacters(in: .whitespaces)] = i
        }
        for r in required where columns[r] == nil {
            throw CalibrationError.badFile(path: path, line: 1, text: String(header),
                                           expected: "a header with the columns \(required.joined(separator: ","))")
        }
        return (columns, Array(lines.dropFirst()))
    }

    static func readEchem(_ path: String) throws -> [EchemSample] {
        let required = ["time_s", "step", "step_kind", "voltage_V", "current_A"]
        let (c, lines) = try csv(path, required: required)
        var rows: [EchemSample] = []
        for (n, line) in lines.enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            func field(_ k: String) -> String { c[k]! < f.count ? f[c[k]!] : "" }
            guard let t = Double(field("time_s")), t.isFinite, let i = Double(field("current_A")), i.isFinite else {
                throw CalibrationError.badFile(path: path, line: n + 2, text: String(line),
                                               expected: "finite time_s and current_A")
            }
            if let last = rows.last, t < last.timeSeconds {
                throw CalibrationError.badFile(path: path, line: n + 2, text: String(line), expected: "time_s not decreasing")
            }
            rows.append(EchemSample(timeSeconds: t, step: Int(field("step")) ?? -1, stepKind: field("step_kind"),
                                    voltageVolts: Double(field("voltage_V")) ?? .nan, currentAmps: i))
        }
        guard rows.count >= 2 else {
            throw CalibrationError.noData(path: path, reason: "fewer than two samples; the model needs the measured current over time")
        }
        return rows
    }

    static func readMetrics(_ path: String) throws -> ([Double], [Double]) {
        let (c, lines) = try csv(path, required: ["time_s", "contrast_centre"])
        var times: [Double] = [], values: [Double] = []
        for (n, line) in lines.enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard c["time_s"]! < f.count, c["contrast_centre"]! < f.count, let t = Double(f[c["time_s"]!]) else {
                throw CalibrationError.badFile(path: path, line: n + 2, text: String(line), expected: "a time_s and a contrast_centre")
            }
            // Dropped frames are "nan".
            if let v = Double(f[c["contrast_centre"]!]), v.isFinite, t.isFinite { times.append(t); values.append(v) }
        }
        guard times.count >= 3 else {
            throw CalibrationError.noData(path: path, reason: "fewer than three frames with a finite contrast_centre")
        }
        return (times, values)
    }

    static func readProfiles(_ path: String) throws -> [MeasuredProfile] {
        let (c, lines) = try csv(path, required: ["frame", "time_s", "position_um", "contrast"])
        var out: [MeasuredProfile] = []
        for (n, line) in lines.enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count > max(c["frame"]!, c["time_s"]!, c["position_um"]!, c["contrast"]!),
                  let frame = Int(f[c["frame"]!]), let t = Double(f[c["time_s"]!]), let x = Double(f[c["position_um"]!]) else {
                throw CalibrationError.badFile(path: path, line: n + 2, text: String(line), expected: "frame,time_s,position_um,contrast")
            }
            let v = Double(f[c["contrast"]!]) ?? .nan
            if out.last?.frame != frame {
                out.append(MeasuredProfile(frame: frame, timeSeconds: t, positionsMicrometres: [], contrast: []))
            }
            out[out.count - 1].positionsMicrometres.append(x)
            out[out.count - 1].contrast.append(v)
        }
        return out
    }
}
