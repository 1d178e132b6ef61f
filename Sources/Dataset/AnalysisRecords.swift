import Foundation
import Glibc
import Imaging

// The analysis folder (`DATASET/analysis/` or `STACK.analysis/`, docs/analyse.md "Output"): its file
// names, the typed record of each CSV row and of summary.json. Times have 10 significant digits,
// other numbers 6 (as `operando analyse` has always written them); missing values are "nan".

extension DatasetFormat {
    /// File names inside an analysis folder.
    public enum AnalysisFile {
        public static let drift = "drift.csv"
        public static let metrics = "metrics.csv"
        public static let profiles = "profiles.csv"
        public static let contrast = "contrast.tif"
        public static let mask = "mask.tif"
        public static let labels = "labels.tif"
        public static let summary = "summary.json"
        /// Every output, in the order a commit renames them (summary.json last: it marks a finished set).
        public static let all = [drift, metrics, profiles, contrast, mask, labels, summary]
    }
}

/// One row of `drift.csv`: frame k's content relative to frame 0, pixels (x right, y down).
public struct DriftRecord: Sendable, Equatable {
    public static let columns = ["frame", "dx_px", "dy_px"]
    public var frame: Int
    public var dxPixels: Double
    public var dyPixels: Double

    public init(frame: Int, dxPixels: Double, dyPixels: Double) {
        self.frame = frame
        self.dxPixels = dxPixels
        self.dyPixels = dyPixels
    }

    var fields: [String] { [String(frame), CSVField.number(dxPixels, digits: 6), CSVField.number(dyPixels, digits: 6)] }
}

/// One row of `metrics.csv`.
public struct MetricsRecord: Sendable, Equatable {
    public static let columns = ["frame", "time_s", "intensity_change", "sdc_std", "contrast_centre"]
    public var frame: Int
    /// Middle of the frame's exposure window, s.
    public var timeSeconds: Double
    /// Mean total contrast over the mask (a fraction).
    public var intensityChange: Double
    /// Standard deviation of the sequential differential contrast (NaN for the first lag frames).
    public var sdcStd: Double
    /// Mean total contrast in the centre disk.
    public var contrastCentre: Double

    public init(frame: Int, timeSeconds: Double, intensityChange: Double, sdcStd: Double, contrastCentre: Double) {
        self.frame = frame
        self.timeSeconds = timeSeconds
        self.intensityChange = intensityChange
        self.sdcStd = sdcStd
        self.contrastCentre = contrastCentre
    }

    var fields: [String] {
        [String(frame), CSVField.number(timeSeconds, digits: 10), CSVField.number(intensityChange, digits: 6),
         CSVField.number(sdcStd, digits: 6), CSVField.number(contrastCentre, digits: 6)]
    }
}

/// One point of one frame's line profile (`profiles.csv`).
public struct ProfileRecord: Sendable, Equatable {
    public static let columns = ["frame", "time_s", "position_um", "contrast"]
    public var frame: Int
    public var timeSeconds: Double
    /// From the centroid along the horizontal line, µm, to the right positive.
    public var positionMicrometres: Double
    public var contrast: Double

    public init(frame: Int, timeSeconds: Double, positionMicrometres: Double, contrast: Double) {
        self.frame = frame
        self.timeSeconds = timeSeconds
        self.positionMicrometres = positionMicrometres
        self.contrast = contrast
    }

    var fields: [String] {
        [String(frame), CSVField.number(timeSeconds, digits: 10), CSVField.number(positionMicrometres, digits: 6),
         CSVField.number(contrast, digits: 6)]
    }
}

/// `summary.json` of an analysis: what was found and how.
public struct AnalysisSummaryRecord: Sendable, Equatable {
    /// A particle listed by `--label-particles`.
    public struct Particle: Sendable, Equatable {
        public var label: Int
        public var areaPixels: Int
        public var areaMicrometres2: Double
        public var centroidPixels: [Double]

        public init(label: Int, areaPixels: Int, areaMicrometres2: Double, centroidPixels: [Double]) {
            self.label = label
            self.areaPixels = areaPixels
            self.areaMicrometres2 = areaMicrometres2
            self.centroidPixels = centroidPixels
        }
    }

    public var formatVersion: String = DatasetFormat.version
    /// The analysed input's path.
    public var input: String
    /// Frames analysed (after binning), dropped ones included.
    public var frames: Int
    public var droppedFrames: [Int]
    public var pixelSizeMicrometres: Double
    /// Mask threshold in frame-0 intensity.
    public var threshold: Double
    public var particleAreaPixels: Int
    public var particleAreaMicrometres2: Double
    public var particlePerimeterMicrometres: Double
    /// Centroid in frame 0, pixels [x, y].
    public var centroidPixels: [Double]
    /// Outline vertices, µm from the centroid, y up, counter-clockwise: [[x, y], …].
    public var outlineMicrometres: [[Double]]
    public var sdcLagFrames: Int
    public var binFrames: Int
    /// When the SDC standard deviation drops sharply (the front reaches the centre), s; nil: no drop.
    public var sdcDropTimeSeconds: Double?
    /// `fiducial` or `phase_correlation`.
    public var driftMethod: String
    /// The fiducial's position in frame 0, pixels [x, y] (fiducial method only).
    public var fiducialPixels: [Double]?
    public var failedDriftFits: Int
    public var maximumDriftPixels: Double
    public var notes: [String]
    public var wallTimeSeconds: Double
    /// Only with `--label-particles`.
    public var particles: [Particle]?
    /// Where contrast.tif's pages lie in the frame, pixels [x, y, width, height] (its pixel (0, 0) is
    /// frame pixel (x, y)): the particle's bounding box plus a margin. nil in summaries written
    /// before derived stacks were cropped (their pages are the whole frame).
    public var contrastRegionPixels: [Int]? = nil
    /// Keys a newer writer added.
    public var extra: [String: JSONValue] = [:]

    public init(input: String, frames: Int, droppedFrames: [Int], pixelSizeMicrometres: Double, threshold: Double,
                particleAreaPixels: Int, particleAreaMicrometres2: Double, particlePerimeterMicrometres: Double,
                centroidPixels: [Double], outlineMicrometres: [[Double]], sdcLagFrames: Int, binFrames: Int,
                sdcDropTimeSeconds: Double?, driftMethod: String, fiducialPixels: [Double]?, failedDriftFits: Int,
                maximumDriftPixels: Double, notes: [String], wallTimeSeconds: Double, particles: [Particle]?) {
        self.input = input
        self.frames = frames
        self.droppedFrames = droppedFrames
        self.pixelSizeMicrometres = pixelSizeMicrometres
        self.threshold = threshold
        self.particleAreaPixels = particleAreaPixels
        self.particleAreaMicrometres2 = particleAreaMicrometres2
        self.particlePerimeterMicrometres = particlePerimeterMicrometres
        self.centroidPixels = centroidPixels
        self.outlineMicrometres = outlineMicrometres
        self.sdcLagFrames = sdcLagFrames
        self.binFrames = binFrames
        self.sdcDropTimeSeconds = sdcDropTimeSeconds
        self.driftMethod = driftMethod
        self.fiducialPixels = fiducialPixels
        self.failedDriftFits = failedDriftFits
        self.maximumDriftPixels = maximumDriftPixels
        self.notes = notes
        self.wallTimeSeconds = wallTimeSeconds
        self.particles = particles
    }

    /// The record of an analysis' result.
    public init(_ s: AnalysisSummary) {
        var method = "phase_correlation"
        var fiducial: [Double]? = nil
        if case let .fiducial(x, y) = s.driftMethod { method = "fiducial"; fiducial = [x, y] }
        let px = s.pixelSizeMicrometres
        self.init(input: s.input, frames: s.frameCount, droppedFrames: s.droppedFrames, pixelSizeMicrometres: px,
                  threshold: Double(s.threshold), particleAreaPixels: s.particleAreaPixels,
                  particleAreaMicrometres2: s.outline.areaMicrometres2, particlePerimeterMicrometres: s.outline.perimeterMicrometres,
                  centroidPixels: [s.centroidPixels.x, s.centroidPixels.y],
                  outlineMicrometres: s.outline.verticesMicrometres.map { [$0.x, $0.y] },
                  sdcLagFrames: s.sdcLagFrames, binFrames: s.binFrames, sdcDropTimeSeconds: s.sdcDropTimeSeconds,
                  driftMethod: method, fiducialPixels: fiducial, failedDriftFits: s.failedDriftFits.count,
                  maximumDriftPixels: s.maximumDriftPixels, notes: s.notes, wallTimeSeconds: s.wallSeconds,
                  particles: s.labelledParticles.map { list in
                      list.map { Particle(label: $0.label, areaPixels: $0.areaPixels,
                                          areaMicrometres2: Double($0.areaPixels) * px * px,
                                          centroidPixels: [$0.centroidPixels.x, $0.centroidPixels.y]) }
                  })
        let r = s.contrastRegion
        contrastRegionPixels = [r.x, r.y, r.width, r.height]
    }

    static let known: Set<String> = ["format_version", "input", "frames", "dropped_frames", "pixel_size_um", "threshold",
                                     "particle_area_px", "particle_area_um2", "particle_perimeter_um", "centroid_px",
                                     "outline_um", "sdc_lag_frames", "bin_frames", "sdc_drop_time_s", "drift", "notes",
                                     "wall_time_s", "particles", "contrast_region_px"]

    var json: JSONValue {
        var o = extra
        func numbers(_ a: [Double]) -> JSONValue { .array(a.map { .number($0) }) }
        o["format_version"] = .string(formatVersion)
        o["input"] = .string(input)
        o["frames"] = .number(Double(frames))
        o["dropped_frames"] = .array(droppedFrames.map { .number(Double($0)) })
        o["pixel_size_um"] = .number(pixelSizeMicrometres)
        o["threshold"] = .number(threshold)
        o["particle_area_px"] = .number(Double(particleAreaPixels))
        o["particle_area_um2"] = .number(particleAreaMicrometres2)
        o["particle_perimeter_um"] = .number(particlePerimeterMicrometres)
        o["centroid_px"] = numbers(centroidPixels)
        o["outline_um"] = .array(outlineMicrometres.map(numbers))
        o["sdc_lag_frames"] = .number(Double(sdcLagFrames))
        o["bin_frames"] = .number(Double(binFrames))
        o["sdc_drop_time_s"] = sdcDropTimeSeconds.map { .number($0) } ?? .null
        var drift: [String: JSONValue] = ["method": .string(driftMethod), "failed_fits": .number(Double(failedDriftFits)),
                                          "max_drift_px": .number(maximumDriftPixels)]
        if let f = fiducialPixels { drift["fiducial_px"] = numbers(f) }
        o["drift"] = .object(drift)
        o["notes"] = .array(notes.map { .string($0) })
        o["wall_time_s"] = .number(wallTimeSeconds)
        if let r = contrastRegionPixels, r.count == 4 {
            o["contrast_region_px"] = .object(["x": .number(Double(r[0])), "y": .number(Double(r[1])),
                                               "width": .number(Double(r[2])), "height": .number(Double(r[3]))])
        }
        if let particles {
            o["particles"] = .array(particles.map {
                .object(["label": .number(Double($0.label)), "area_px": .number(Double($0.areaPixels)),
                         "area_um2": .number($0.areaMicrometres2), "centroid_px": numbers($0.centroidPixels)])
            })
        }
        return .object(o)
    }

    init(json: JSONValue, path: String) throws {
        guard let o = json.object else { throw DatasetError.badFile(path: path, line: 0, text: "not an object", expected: "a JSON object") }
        let version = try checkFormatVersion(o, path: path)
        func number(_ k: String, in d: [String: JSONValue]? = nil) throws -> Double {
            let d = d ?? o
            guard let v = d[k]?.number else {
                throw DatasetError.badFile(path: path, line: 0, text: "\"\(k)\": \(d[k].map { "\($0)" } ?? "missing")", expected: "a number")
            }
            return v
        }
        func optionalNumber(_ k: String) -> Double? { o[k]?.number }
        func numbers(_ v: JSONValue?) -> [Double] { v?.array?.map { $0.number ?? .nan } ?? [] }
        let drift = o["drift"]?.object ?? [:]
        self.init(input: o["input"]?.string ?? "", frames: Int(try number("frames")),
                  droppedFrames: numbers(o["dropped_frames"]).compactMap { $0.isFinite ? Int($0) : nil },
                  pixelSizeMicrometres: try number("pixel_size_um"), threshold: optionalNumber("threshold") ?? .nan,
                  particleAreaPixels: Int(optionalNumber("particle_area_px") ?? 0),
                  particleAreaMicrometres2: optionalNumber("particle_area_um2") ?? .nan,
                  particlePerimeterMicrometres: optionalNumber("particle_perimeter_um") ?? .nan,
                  centroidPixels: numbers(o["centroid_px"]), outlineMicrometres: o["outline_um"]?.array?.map { numbers($0) } ?? [],
                  sdcLagFrames: Int(optionalNumber("sdc_lag_frames") ?? 0), binFrames: Int(optionalNumber("bin_frames") ?? 1),
                  sdcDropTimeSeconds: optionalNumber("sdc_drop_time_s"), driftMethod: drift["method"]?.string ?? "",
                  fiducialPixels: drift["fiducial_px"].map { numbers($0) }, failedDriftFits: Int(drift["failed_fits"]?.number ?? 0),
                  maximumDriftPixels: drift["max_drift_px"]?.number ?? .nan, notes: o["notes"]?.array?.compactMap(\.string) ?? [],
                  wallTimeSeconds: optionalNumber("wall_time_s") ?? .nan,
                  particles: o["particles"]?.array?.map { p in
                      Particle(label: Int(p["label"]?.number ?? 0), areaPixels: Int(p["area_px"]?.number ?? 0),
                               areaMicrometres2: p["area_um2"]?.number ?? .nan, centroidPixels: numbers(p["centroid_px"]))
                  })
        formatVersion = version
        if let r = o["contrast_region_px"]?.object {
            let values = ["x", "y", "width", "height"].compactMap { r[$0]?.number }
            if values.count == 4, values.allSatisfy({ $0.isFinite && abs($0) < 1e9 }) { contrastRegionPixels = values.map { Int($0) } }
        }
        extra = o.filter { !Self.known.contains($0.key) }
    }

    /// Equal when their JSON is (NaN and null alike: the file cannot tell them apart).
    public static func == (a: AnalysisSummaryRecord, b: AnalysisSummaryRecord) -> Bool { sameJSON(a.json, b.json) }
}

/// True when two values encode to the same JSON text (non-finite numbers are null in JSON).
func sameJSON(_ a: JSONValue, _ b: JSONValue) -> Bool {
    (try? JSONText.encode(a, pretty: false)) == (try? JSONText.encode(b, pretty: false))
}

/// The `format_version` of a JSON file of the dataset (absent: 1.0), refusing a newer major version.
func checkFormatVersion(_ o: [String: JSONValue], path: String) throws -> String {
    let version = o["format_version"]?.string ?? "1.0"
    let major = Int(version.split(separator: ".").first ?? "") ?? -1
    guard major >= 0 else { throw DatasetError.badFile(path: path, line: 0, text: "format_version \(version)", expected: "MAJOR.MINOR") }
    if major > DatasetFormat.major {
        throw DatasetError.newerFormat(path: path, found: version, supported: String(DatasetFormat.major))
    }
    return version
}

// MARK: - Writing

/// Outputs written under temporary names (`NAME.partial`) and renamed into place together, so a
/// failed write leaves the previous set as it was. Outputs of the set that this write did not
/// produce are removed at the commit, so the folder never mixes two runs' files.
///
/// The commit is journalled: once every temporary is synced, a journal (`.commit-journal`) listing
/// the renames and removals is made durable, then they are applied and the journal removed. A
/// process killed between the renames leaves the journal; the next writer or reader of the folder
/// finishes the commit (`finishInterruptedCommit`), so the folder never holds half of each set.
final class StagedOutputs {
    /// The journal's name inside the folder.
    static let journalName = ".commit-journal"
    private static let journalHeader = "operando commit journal 1"

    let directory: String
    /// Every name this kind of folder holds (relative paths), in commit order.
    let outputs: [String]
    private var staged: Set<String> = []
    private var createdDirectory = false
    private var prepared = false
    private var finished = false
    /// The journal is durable: from here the commit can only go forward (a retry finishes it).
    private var journalled = false

    init(directory: String, outputs: [String]) {
        self.directory = directory
        self.outputs = outputs
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// Creates the folder (and its parents) and removes temporaries a killed earlier write left.
    func prepare() throws {
        guard !prepared else { return }
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw DatasetError.exists(path: directory, reason: "exists and is not a directory") }
        } else {
            do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw DatasetError.cannotWrite(path: directory, reason: "cannot create the directory")
            }
            createdDirectory = true
        }
        try Self.finishInterruptedCommit(in: directory)
        for name in outputs { unlink(path(name) + ".partial") }
        prepared = true
    }

    /// Applies the journal an interrupted commit left in `directory` (renames the temporaries it
    /// lists that are still there, removes what it lists for removal) and removes it. No journal:
    /// nothing to do.
    /// - Throws: `DatasetError` when the journal is unreadable or a rename fails.
    static func finishInterruptedCommit(in directory: String) throws {
        let journal = (directory as NSString).appendingPathComponent(journalName)
        guard access(journal, F_OK) == 0 else { return }
        let text = String(decoding: try DurableFile.read(journal, limitBytes: 1 << 16), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard lines.first == journalHeader else {
            throw DatasetError.badFile(path: journal, line: 1, text: lines.first ?? "", expected: journalHeader)
        }
        lines.removeFirst()
        var plan: [(rename: Bool, name: String)] = []
        for (k, line) in lines.enumerated() {
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == "rename" || parts[0] == "remove", !parts[1].contains(".."), !parts[1].hasPrefix("/") else {
                throw DatasetError.badFile(path: journal, line: k + 2, text: line, expected: "rename<TAB>NAME or remove<TAB>NAME")
            }
            plan.append((parts[0] == "rename", parts[1]))
        }
        try apply(plan, in: directory)
        unlink(journal)
        DurableFile.syncPath(directory)
    }

    private static func apply(_ plan: [(rename: Bool, name: String)], in directory: String) throws {
        var folders: Set<String> = [directory]
        for step in plan {
            let target = (directory as NSString).appendingPathComponent(step.name)
            folders.insert((target as NSString).deletingLastPathComponent)
            if step.rename {
                let tmp = target + ".partial"
                // Already renamed before the interruption: nothing left to do for this one.
                guard access(tmp, F_OK) == 0 else { continue }
                guard rename(tmp, target) == 0 else {
                    throw DatasetError.cannotWrite(path: target, reason: "rename into place: \(DatasetError.reason())")
                }
            } else {
                unlink(target)
            }
        }
        for f in folders { DurableFile.syncPath(f) }
    }

    /// The temporary path to write `name` at (its folder created).
    func stage(_ name: String) throws -> String {
        try prepare()
        let sub = (name as NSString).deletingLastPathComponent
        if !sub.isEmpty {
            do { try FileManager.default.createDirectory(atPath: path(sub), withIntermediateDirectories: true) } catch {
                throw DatasetError.cannotWrite(path: path(sub), reason: "cannot create the directory")
            }
        }
        staged.insert(name)
        let tmp = path(name) + ".partial"
        unlink(tmp)
        return tmp
    }

    /// Renames every staged file into place (in `outputs` order) and removes the outputs not staged,
    /// through the journal (see the type's notes).
    func commit() throws {
        guard !finished else { return }
        try prepare()
        let plan = outputs.map { (rename: staged.contains($0), name: $0) }
        for step in plan where step.rename { DurableFile.syncPath(path(step.name) + ".partial") }
        let journal = ([Self.journalHeader] + plan.map { "\($0.rename ? "rename" : "remove")\t\($0.name)" }).joined(separator: "\n") + "\n"
        try DurableFile.write(Data(journal.utf8), to: path(Self.journalName))
        journalled = true
        try Self.apply(plan, in: directory)
        unlink(path(Self.journalName))
        DurableFile.syncPath(directory)
        finished = true
    }

    /// Removes every temporary; the folder too when this write created it and it is empty.
    /// After the journal was written nothing is removed: the temporaries are the commit's to finish.
    func abort() {
        guard !finished, !journalled else { return }
        finished = true
        for name in staged { unlink(path(name) + ".partial") }
        if createdDirectory {
            for name in outputs { let sub = (name as NSString).deletingLastPathComponent; if !sub.isEmpty { rmdir(path(sub)) } }
            rmdir(directory)
        }
    }
}

/// Writes an analysis folder (`analysis/`): every file to a temporary name, renamed into place only
/// by `commit` — a failed or aborted analysis leaves the previous results intact (issue 11).
/// The typed methods are the format; the `AnalysisSink` conformance maps Imaging's pipeline onto them.
public final class AnalysisWriter {
    /// The analysis folder.
    public let directory: String
    private let files: StagedOutputs
    private var drift: CSVWriter?
    private var metrics: CSVWriter?
    private var profiles: CSVWriter?
    private var contrast: TIFFStackWriter?
    private var pixelSizeMicrometres: Double?
    private var contrastIntervalSeconds: Double?
    private var bigTIFF = false

    /// A writer into `directory`; nothing is touched until `begin`.
    public init(directory: String) {
        self.directory = directory
        files = StagedOutputs(directory: directory, outputs: DatasetFormat.AnalysisFile.all)
    }

    /// Creates the folder and the CSV files (under temporary names). `contrastFrameIntervalSeconds`
    /// goes into contrast.tif's ImageJ metadata; `bigTIFF` writes it with 64-bit offsets.
    public func begin(pixelSizeMicrometres: Double, contrastFrameIntervalSeconds: Double? = nil, bigTIFF: Bool = false) throws {
        self.pixelSizeMicrometres = pixelSizeMicrometres
        contrastIntervalSeconds = contrastFrameIntervalSeconds
        self.bigTIFF = bigTIFF
        typealias F = DatasetFormat.AnalysisFile
        drift = try CSVWriter(path: try files.stage(F.drift), columns: DriftRecord.columns, bufferBytes: 1 << 16)
        metrics = try CSVWriter(path: try files.stage(F.metrics), columns: MetricsRecord.columns, bufferBytes: 1 << 16)
        profiles = try CSVWriter(path: try files.stage(F.profiles), columns: ProfileRecord.columns, bufferBytes: 1 << 16)
    }

    private func started() throws {
        if drift == nil { throw DatasetError.cannotWrite(path: directory, reason: "analysis outputs written before begin") }
    }

    private func image(_ name: String, _ frame: BinnedFrame, range: (min: Double, max: Double)) throws {
        let tmp = try files.stage(name)
        do {
            let w = try TIFFStackWriter(path: tmp, sampleType: .uint16, pixelSizeMicrometres: pixelSizeMicrometres)
            w.displayRange = range
            try w.append(frame)
            try w.close()
        } catch {
            throw DatasetError.cannotWrite(path: files.path(name), reason: "\(error)")
        }
    }

    /// mask.tif: 16-bit, 1 = particle.
    public func writeMask(_ mask: BinnedFrame) throws {
        try started()
        try image(DatasetFormat.AnalysisFile.mask, mask, range: (0, 1))
    }

    /// labels.tif: 16-bit label image (0 background, 1 largest, …).
    public func writeLabels(_ labels: BinnedFrame, count: Int) throws {
        try started()
        try image(DatasetFormat.AnalysisFile.labels, labels, range: (0, Double(max(1, count))))
    }

    /// One drift.csv row.
    public func append(_ r: DriftRecord) throws { try started(); try drift!.append(r.fields) }
    /// One metrics.csv row.
    public func append(_ r: MetricsRecord) throws { try started(); try metrics!.append(r.fields) }
    /// profiles.csv rows. The same text as `ProfileRecord.fields`, built from cached texts: a frame's
    /// rows share its number and time, and every frame's profile samples the same positions (their
    /// formatting was a tenth of an analysed frame's instructions).
    public func append(_ rows: [ProfileRecord]) throws {
        try started()
        var frameKey: (Int, UInt64)? = nil
        var prefix: [UInt8] = []
        for r in rows {
            if frameKey.map({ $0 != (r.frame, r.timeSeconds.bitPattern) }) ?? true {
                frameKey = (r.frame, r.timeSeconds.bitPattern)
                prefix = Array((String(r.frame) + "," + CSVField.number(r.timeSeconds, digits: 10) + ",").utf8)
            }
            let key = r.positionMicrometres.bitPattern
            let position: [UInt8]
            if let cached = positionTexts[key] { position = cached } else {
                if positionTexts.count >= 65_536 { positionTexts.removeAll(keepingCapacity: true) }
                position = Array((CSVField.number(r.positionMicrometres, digits: 6) + ",").utf8)
                positionTexts[key] = position
            }
            try profiles!.appendRow { bytes in
                bytes.append(contentsOf: prefix)
                bytes.append(contentsOf: position)
                CSVField.appendNumber(r.contrast, digits: 6, to: &bytes)
            }
        }
    }
    /// Position column texts with their comma, by the value's bits (bounded).
    private var positionTexts: [UInt64: [UInt8]] = [:]

    /// One page of contrast.tif (32-bit float, NaN outside the mask); `encoded`: the same page
    /// compressed ahead (``TIFFPageEncoder``), written as it is.
    public func appendContrast(_ frame: BinnedFrame, encoded: EncodedPage? = nil) throws {
        try started()
        let name = DatasetFormat.AnalysisFile.contrast
        do {
            if contrast == nil {
                contrast = try TIFFStackWriter(path: try files.stage(name), sampleType: .float32, pixelSizeMicrometres: pixelSizeMicrometres,
                                               frameIntervalSeconds: contrastIntervalSeconds, bigTIFF: bigTIFF)
            }
            if let encoded { try contrast!.append(encoded) } else { try contrast!.append(frame) }
        } catch let e as DatasetError { throw e } catch {
            throw DatasetError.cannotWrite(path: files.path(name), reason: "\(error)")
        }
    }

    /// Finishes every file, writes summary.json and renames the whole set into place; outputs of an
    /// earlier analysis that this one did not write (labels.tif without `--label-particles`) are removed.
    public func commit(_ summary: AnalysisSummaryRecord, contrastDisplayRange: (min: Double, max: Double)? = nil) throws {
        try started()
        do {
            try drift!.close(); try metrics!.close(); try profiles!.close()
            if let c = contrast {
                if let r = contrastDisplayRange { c.displayRange = r }
                do { try c.close() } catch { throw DatasetError.cannotWrite(path: files.path(DatasetFormat.AnalysisFile.contrast), reason: "\(error)") }
            }
            let tmp = try files.stage(DatasetFormat.AnalysisFile.summary)
            let f = try AppendFile(path: tmp)
            try f.write(try JSONText.encode(summary.json, pretty: true) + "\n")
            try f.close()
            try files.commit()
        } catch {
            abort()
            throw error
        }
    }

    /// Drops everything written so far; the folder keeps what it held before.
    public func abort() {
        try? drift?.close(); try? metrics?.close(); try? profiles?.close()
        drift = nil; metrics = nil; profiles = nil
        contrast = nil   // libtiff closes the handle in deinit
        files.abort()
    }
}

extension AnalysisWriter: AnalysisSink {
    public var destination: String { directory }

    public func begin(_ layout: AnalysisLayout) throws {
        try begin(pixelSizeMicrometres: layout.pixelSizeMicrometres, contrastFrameIntervalSeconds: layout.frameIntervalSeconds,
                  bigTIFF: layout.needsBigTIFF)
    }

    public func mask(_ mask: Mask) throws { try writeMask(mask.frame) }

    public func labels(_ labels: BinnedFrame, count: Int) throws { try writeLabels(labels, count: count) }

    public func frame(_ row: AnalysisFrameRow, contrast: BinnedFrame) throws {
        try frame(row, contrast: contrast, encoded: nil)
    }

    /// contrast.tif is a deflate float32 stack: its pages can be compressed on the analysis' workers.
    public var wantsEncodedContrast: Bool { true }

    public func frame(_ row: AnalysisFrameRow, contrast: BinnedFrame, encoded: EncodedPage?) throws {
        try append(DriftRecord(frame: row.frame, dxPixels: row.driftXPixels, dyPixels: row.driftYPixels))
        try append(MetricsRecord(frame: row.frame, timeSeconds: row.timeSeconds, intensityChange: row.intensityChange,
                                 sdcStd: row.sdcStandardDeviation, contrastCentre: row.centreContrast))
        try appendContrast(contrast, encoded: encoded)
    }

    public func profile(frame: Int, timeSeconds: Double, points: [AnalysisProfilePoint]) throws {
        try append(points.map { ProfileRecord(frame: frame, timeSeconds: timeSeconds, positionMicrometres: $0.positionMicrometres,
                                              contrast: $0.contrast) })
    }

    public func finish(_ summary: AnalysisSummary, contrastDisplayRange: (min: Double, max: Double)?) throws {
        try commit(AnalysisSummaryRecord(summary), contrastDisplayRange: contrastDisplayRange)
    }
}

// MARK: - Reading

/// Contrast frames sampled from contrast.tif with their times (for figures).
public struct ContrastFrames: Sendable {
    public var width: Int
    public var height: Int
    public var pixelSizeMicrometres: Double?
    /// Time of each sampled frame, s (from metrics.csv).
    public var timesSeconds: [Double]
    public var frames: [BinnedFrame]
}

/// Reads an analysis folder. Each reader returns nil when its file is absent; a present file that is
/// malformed (a missing or renamed column, a bad number) is an error naming the file, line and column.
public struct AnalysisReader: Sendable {
    /// The analysis folder.
    public let directory: String

    /// A reader of `directory` (nothing is read yet). A commit that was interrupted in the folder is
    /// finished first, so the reader never sees half of two analyses (best effort: read-only media
    /// keep the journal, and the next `operando analyse` finishes it).
    public init(directory: String) {
        self.directory = directory
        try? StagedOutputs.finishInterruptedCommit(in: directory)
    }

    /// The path of `name` in the folder (`DatasetFormat.AnalysisFile`).
    public func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// True when the folder holds `name`.
    public func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    /// True when the files a calibration reads are all there (metrics.csv, profiles.csv, mask.tif).
    public var hasResults: Bool {
        typealias F = DatasetFormat.AnalysisFile
        return [F.metrics, F.profiles, F.mask].allSatisfy(has)
    }

    private func table(_ name: String, _ columns: [String]) throws -> CSVTable? {
        try CSVTable.readIfPresent(path(name), required: columns)
    }

    private func ints(_ t: CSVTable, _ column: String) throws -> [Int] {
        let c = try t.column(column)
        return try t.rows.indices.map { k in
            guard let v = Int(t.rows[k][c]) else {
                throw DatasetError.badFile(path: t.path, line: t.lines[k], text: "\(column) = \(t.rows[k][c])", expected: "a whole number")
            }
            return v
        }
    }

    /// drift.csv.
    public func drift() throws -> [DriftRecord]? {
        guard let t = try table(DatasetFormat.AnalysisFile.drift, DriftRecord.columns) else { return nil }
        let f = try ints(t, "frame"), x = try t.doubles("dx_px"), y = try t.doubles("dy_px")
        return f.indices.map { DriftRecord(frame: f[$0], dxPixels: x[$0], dyPixels: y[$0]) }
    }

    /// metrics.csv.
    public func metrics() throws -> [MetricsRecord]? {
        guard let t = try table(DatasetFormat.AnalysisFile.metrics, MetricsRecord.columns) else { return nil }
        let f = try ints(t, "frame"), time = try t.doubles("time_s"), ic = try t.doubles("intensity_change")
        let sdc = try t.doubles("sdc_std"), cc = try t.doubles("contrast_centre")
        return f.indices.map { MetricsRecord(frame: f[$0], timeSeconds: time[$0], intensityChange: ic[$0], sdcStd: sdc[$0], contrastCentre: cc[$0]) }
    }

    /// profiles.csv.
    public func profiles() throws -> [ProfileRecord]? {
        guard let t = try table(DatasetFormat.AnalysisFile.profiles, ProfileRecord.columns) else { return nil }
        let f = try ints(t, "frame"), time = try t.doubles("time_s"), x = try t.doubles("position_um"), v = try t.doubles("contrast")
        return f.indices.map { ProfileRecord(frame: f[$0], timeSeconds: time[$0], positionMicrometres: x[$0], contrast: v[$0]) }
    }

    /// summary.json.
    public func summary() throws -> AnalysisSummaryRecord? {
        let p = path(DatasetFormat.AnalysisFile.summary)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        return try AnalysisSummaryRecord(json: try JSONText.read(p), path: p)
    }

    /// mask.tif as a mask (nonzero = particle) with the pixel size it records.
    public func mask() throws -> (mask: Mask, pixelSizeMicrometres: Double?)? {
        try image(DatasetFormat.AnalysisFile.mask)
    }

    /// labels.tif as a mask of every labelled pixel, with the pixel size it records.
    public func labels() throws -> (labels: BinnedFrame, pixelSizeMicrometres: Double?)? {
        let p = path(DatasetFormat.AnalysisFile.labels)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        do {
            let r = try TIFFStackReader(path: p)
            return (try r.readFrame(0), r.info.pixelSizeMicrometres)
        } catch {
            throw DatasetError.badFile(path: p, line: 0, text: "\(error)", expected: "a label image")
        }
    }

    private func image(_ name: String) throws -> (mask: Mask, pixelSizeMicrometres: Double?)? {
        let p = path(name)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        do {
            let r = try TIFFStackReader(path: p)
            let f = try r.readFrame(0)
            return (Mask(width: f.width, height: f.height, bits: f.pixels.map { $0.isFinite && $0 != 0 }), r.info.pixelSizeMicrometres)
        } catch {
            throw DatasetError.badFile(path: p, line: 0, text: "\(error)", expected: "a particle mask (nonzero = particle)")
        }
    }

    /// contrast.tif, opened (pages are read on demand).
    public func contrast() throws -> TIFFStackReader? {
        let p = path(DatasetFormat.AnalysisFile.contrast)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        do { return try TIFFStackReader(path: p) } catch {
            throw DatasetError.badFile(path: p, line: 0, text: "\(error)", expected: "a contrast stack")
        }
    }

    /// At most `maximumFrames` evenly spaced contrast frames with their times from metrics.csv (or
    /// the stack's frame interval when metrics.csv is absent); nil without contrast.tif. The stack can
    /// be gigabytes (a demo's is ~2 GB): 400 frames are finer than any time a figure picks.
    public func sampledContrast(maximumFrames: Int = 400) throws -> ContrastFrames? {
        guard let reader = try contrast() else { return nil }
        let info = reader.info
        let times = try metrics()?.map(\.timeSeconds) ?? (0..<info.frameCount).map { Double($0) * (info.frameIntervalSeconds ?? 1) }
        let count = min(info.frameCount, times.count)
        let stride = max(1, Int((Double(count) / Double(max(1, maximumFrames))).rounded(.up)))
        var frames: [BinnedFrame] = []
        var picked: [Double] = []
        do {
            for k in Swift.stride(from: 0, to: count, by: stride) {
                frames.append(try reader.readFrame(k))
                picked.append(times[k])
            }
        } catch {
            throw DatasetError.badFile(path: reader.path, line: 0, text: "\(error)", expected: "a readable contrast stack")
        }
        return ContrastFrames(width: info.width, height: info.height, pixelSizeMicrometres: info.pixelSizeMicrometres,
                              timesSeconds: picked, frames: frames)
    }
}

extension DatasetReader {
    /// The dataset's analysis folder (`analysis/`), or `directory` when given (`--analysis DIR`).
    public func analysis(_ directory: String? = nil) -> AnalysisReader {
        AnalysisReader(directory: directory ?? path(DatasetFormat.File.analysisDirectory))
    }

    /// True when the dataset has a frame index (frames.csv).
    public var hasFrames: Bool { FileManager.default.fileExists(atPath: path(DatasetFormat.File.frames)) }
}
