// `operando analyse`: the offline pipeline over a dataset or a plain TIFF stack, one pass, streaming:
// frame 0 gives the mask and the fiducial; every frame is drift-measured, shifted, turned into total
// contrast and reduced to metrics as it is read. Only the last `sdcLag` corrected particles are kept
// (for the sequential differential contrast), so memory does not grow with the stack.
// Units: pixels and seconds inside; µm only where profiles.csv reports positions.
import Foundation

/// Options of `operando analyse`; each maps 1:1 to a CLI flag.
public struct AnalysisOptions: Sendable {
    /// `--frame-interval T` (s): overrides the input's own frame interval. For a dataset the frame
    /// times still come from frames.csv; the interval then only sets binning windows and contrast.tif's
    /// `finterval`.
    public var frameIntervalSeconds: Double?
    /// `--out DIR`: output directory (default `DATASET/analysis/` or `STACK.analysis/` next to the stack).
    public var outputDirectory: String?
    /// `--fiducial x,y` (pixels in frame 0): fit the drift fiducial there instead of searching for one.
    public var fiducial: (x: Double, y: Double)?
    /// `--threshold I`: mask threshold in frame-0 intensity units (default: Otsu).
    public var threshold: Float?
    /// `--particle-at x,y` (pixels, parse with ``parsePixel(_:option:)``): keep the particle containing
    /// this pixel (default: the largest).
    public var particleAt: (x: Int, y: Int)?
    /// `--sdc-lag x` (frames, after binning): lag of the sequential differential contrast (seed: 20–30).
    public var sdcLagFrames: Int = 30
    /// `--bin N`: average N consecutive input frames before analysing (1 = no binning).
    public var binFrames: Int = 1
    /// `--pixel-size µm`: overrides the input's pixel size (needed when a plain TIFF records none).
    public var pixelSizeMicrometres: Double?
    /// `--label-particles`: also label every particle of frame 0 (same threshold, holes filled,
    /// ≥ 20 px) into `labels.tif` (1 = largest) and list them in summary.json; the metrics still
    /// follow the one particle chosen above.
    public var labelParticles = false
    /// Radius of the centre-contrast disk, pixels (interfaces.md: ~3 px).
    public var centreRadiusPixels: Double = 3
    /// Width over which line profiles are averaged, pixels.
    public var profileWidthPixels: Int = 3

    /// Defaults for every option.
    public init() {}

    /// Parses an `x,y` pair as the CLI receives it (`--fiducial 101.5,30`), naming the option in errors.
    public static func parsePoint(_ text: String, option: String) throws -> (x: Double, y: Double) {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let x = Double(parts[0]), let y = Double(parts[1]), x.isFinite, y.isFinite else {
            throw ImagingError.badValue(option: option, value: text, expected: "two pixel coordinates x,y such as 120,45.5")
        }
        return (x, y)
    }

    /// Parses a pixel `x,y` (`--particle-at 60,40`); fractional values are rounded to the nearest pixel.
    public static func parsePixel(_ text: String, option: String) throws -> (x: Int, y: Int) {
        let p = try parsePoint(text, option: option)
        guard abs(p.x) < 1e9, abs(p.y) < 1e9 else {
            throw ImagingError.badValue(option: option, value: text, expected: "pixel coordinates inside the frame")
        }
        return (Int(p.x.rounded()), Int(p.y.rounded()))
    }
}

/// What an analysis found, for the CLI's final message and for later steps (calibration).
public struct AnalysisSummary: Sendable {
    /// The output directory.
    public var outputDirectory: String
    /// Frames analysed (after binning), including dropped ones (their rows hold NaN).
    public var frameCount: Int
    /// Frames marked dropped (no exposures).
    public var droppedFrames: [Int]
    /// Drift method used (fiducial position or phase correlation).
    public var driftMethod: DriftMethod
    /// Frames in which the fiducial fit failed and the previous drift was kept.
    public var failedDriftFits: [Int]
    /// Largest drift magnitude seen, pixels.
    public var maximumDriftPixels: Double
    /// Mask threshold used (Otsu or given).
    public var threshold: Float
    /// Particle area, pixels.
    public var particleAreaPixels: Int
    /// Particle centroid in frame 0, pixels.
    public var centroidPixels: (x: Double, y: Double)
    /// Pixel size used, µm.
    public var pixelSizeMicrometres: Double
    /// Particle outline (for `mask:` particle specs and figures).
    public var outline: ParticleOutline
    /// Time of the sharp drop in the SDC standard deviation, s (nil when none was found).
    public var sdcDropTimeSeconds: Double?
    /// Per-frame times, s (frame midpoints).
    public var timesSeconds: [Double]
    /// Per-frame normalised intensity change.
    public var intensityChange: [Double]
    /// Per-frame centre contrast.
    public var centreContrast: [Double]
    /// Per-frame SDC standard deviation (NaN for the first `sdcLag` frames).
    public var sdcStandardDeviation: [Double]
    /// Notes worth telling the user (fallbacks, assumptions).
    public var notes: [String]
    /// Wall time of the analysis, s.
    public var wallSeconds: Double
}

/// The offline analysis entry point.
public enum Analysis {
    /// Analyses `input` — a dataset directory (`NAME.operando/`) or a TIFF stack — writing drift.csv,
    /// metrics.csv, contrast.tif, mask.tif, profiles.csv and summary.json (docs/analyse.md) and
    /// reporting progress lines through `progress`.
    public static func run(input: String, options: AnalysisOptions = AnalysisOptions(),
                           progress: (String) -> Void = { _ in }) throws -> AnalysisSummary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw ImagingError.cannotOpen(path: input, reason: "no such file or directory; expected a dataset directory or a TIFF stack")
        }
        try validate(options)
        let source: FrameSource
        let defaultOutput: String
        if isDirectory.boolValue {
            source = try DatasetFrameSource(path: input, frameIntervalSeconds: options.frameIntervalSeconds)
            defaultOutput = URL(fileURLWithPath: input).appendingPathComponent("analysis").path
        } else {
            source = try TIFFFrameSource(path: input, frameIntervalSeconds: options.frameIntervalSeconds)
            let url = URL(fileURLWithPath: input)
            var base = url.deletingPathExtension()
            if base.pathExtension.lowercased() == "ome" { base = base.deletingPathExtension() }
            defaultOutput = base.path + ".analysis"
        }
        return try run(source: source, options: options, outputDirectory: options.outputDirectory ?? defaultOutput,
                       progress: progress)
    }

    static func validate(_ options: AnalysisOptions) throws {
        if let t = options.frameIntervalSeconds, !(t > 0 && t.isFinite) {
            throw ImagingError.badValue(option: "--frame-interval", value: "\(t)", expected: "a positive time in seconds")
        }
        if options.sdcLagFrames < 1 {
            throw ImagingError.badValue(option: "--sdc-lag", value: "\(options.sdcLagFrames)", expected: "a whole number of frames ≥ 1")
        }
        if options.binFrames < 1 || options.binFrames > 65535 {
            throw ImagingError.badValue(option: "--bin", value: "\(options.binFrames)", expected: "a whole number of frames from 1 to 65535")
        }
        if let p = options.pixelSizeMicrometres, !(p > 0 && p.isFinite) {
            throw ImagingError.badValue(option: "--pixel-size", value: "\(p)", expected: "a positive size in µm")
        }
        if let t = options.threshold, !t.isFinite {
            throw ImagingError.badValue(option: "--threshold", value: "\(t)", expected: "a finite intensity")
        }
    }

    /// Analyses any ``FrameSource`` into `outputDirectory`.
    public static func run(source: FrameSource, options: AnalysisOptions, outputDirectory: String,
                           progress: (String) -> Void = { _ in }) throws -> AnalysisSummary {
        let clock = Date()
        try validate(options)
        let name = source.path
        guard source.frameCount > 0 else { throw ImagingError.emptyStack(path: name) }
        var notes: [String] = []
        func note(_ text: String) { notes.append(text); progress(text) }

        let pixelSize: Double
        if let p = options.pixelSizeMicrometres ?? source.pixelSizeMicrometres {
            pixelSize = p
        } else {
            pixelSize = 0.0347
            note("no pixel size in \(name); assuming the seed's 0.0347 µm/px (give --pixel-size)")
        }
        if source.frameIntervalSeconds == nil {
            note("no frame interval in \(name); time_s counts frames (give --frame-interval)")
        }

        // Frames after optional binning, produced lazily in order.
        var frames = try BinnedFrames(source: source, binFrames: options.binFrames,
                                  intervalSeconds: source.frameIntervalSeconds ?? 1)
        let expectedFrames = (source.frameCount + options.binFrames - 1) / options.binFrames
        guard let first = try frames.next() else { throw ImagingError.emptyStack(path: name) }
        guard first.frame.pixels.contains(where: { $0.isFinite }) else {
            throw ImagingError.emptyStack(path: name + " (frame 0 has no data)")
        }
        let reference = first.frame

        // Mask on the first frame (seed "Masking") and the drift fiducial, in the shared monitor.
        var monitor = try ParticleMonitor(reference: reference, options: options, source: name)
        let mask = monitor.mask, centroid = monitor.centroid, threshold = monitor.threshold
        let outline = ParticleOutline(mask: mask, pixelSizeMicrometres: pixelSize)
        progress(String(format: "mask: threshold %.4g, particle %d px, centroid %.1f,%.1f", Double(threshold),
                        mask.areaPixels, centroid.x, centroid.y))
        switch monitor.tracker.method {
        case let .fiducial(x, y):
            progress(String(format: "drift: Gaussian fit of the fiducial at %.2f,%.2f", x, y))
        case .phaseCorrelation:
            note("drift: no fiducial found (bright compact spot outside the particle); using phase correlation (~0.05–0.1 px)")
        }

        // Outputs.
        let out = URL(fileURLWithPath: outputDirectory)
        do { try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true) } catch {
            throw ImagingError.cannotWrite(path: outputDirectory, reason: error.localizedDescription)
        }
        let maskWriter = try TIFFStackWriter(path: out.appendingPathComponent("mask.tif").path, sampleType: .uint16,
                                             pixelSizeMicrometres: pixelSize)
        maskWriter.displayRange = (0, 1)
        try maskWriter.append(mask.frame)
        try maskWriter.close()
        // Classic TIFF offsets are 32-bit: a contrast stack past ~4 GB must be BigTIFF.
        let contrastBytes = Double(reference.width * reference.height * 4) * Double(expectedFrames)
        let bigTIFF = contrastBytes > 3.9e9
        if bigTIFF { note(String(format: "contrast.tif will be %.1f GB: written as BigTIFF", contrastBytes / 1e9)) }
        var labelled: [Mask] = []
        if options.labelParticles {
            let (labels, particles) = Masking.labelledParticles(reference, threshold: threshold)
            labelled = particles
            let labelWriter = try TIFFStackWriter(path: out.appendingPathComponent("labels.tif").path, sampleType: .uint16,
                                                  pixelSizeMicrometres: pixelSize)
            labelWriter.displayRange = (0, Double(max(1, particles.count)))
            try labelWriter.append(BinnedFrame(width: reference.width, height: reference.height,
                                               pixels: labels.map { Float($0) }))
            try labelWriter.close()
            progress("labels: \(particles.count) particle(s) → labels.tif")
        }
        let contrastWriter = try TIFFStackWriter(path: out.appendingPathComponent("contrast.tif").path, sampleType: .float32,
                                                 pixelSizeMicrometres: pixelSize,
                                                 frameIntervalSeconds: source.frameIntervalSeconds.map { $0 * Double(options.binFrames) },
                                                 bigTIFF: bigTIFF)
        let driftCSV = try CSVWriter(path: out.appendingPathComponent("drift.csv").path, header: "frame,dx_px,dy_px")
        let metricsCSV = try CSVWriter(path: out.appendingPathComponent("metrics.csv").path,
                                       header: "frame,time_s,intensity_change,sdc_std,contrast_centre")
        let profilesCSV = try CSVWriter(path: out.appendingPathComponent("profiles.csv").path,
                                        header: "frame,time_s,position_um,contrast")

        // Default profile: the horizontal line through the centroid across the particle (+2 px).
        var minX = mask.width, maxX = -1
        for i in mask.bits.indices where mask.bits[i] { let x = i % mask.width; minX = min(minX, x); maxX = max(maxX, x) }
        let leftSteps = Int((centroid.x - Double(minX)).rounded(.up)) + 2
        let rightSteps = Int((Double(maxX) - centroid.x).rounded(.up)) + 2
        let profileStart = (x: centroid.x - Double(leftSteps), y: centroid.y)
        let profileEnd = (x: centroid.x + Double(rightSteps), y: centroid.y)

        let lag = options.sdcLagFrames
        var times: [Double] = [], change: [Double] = [], centre: [Double] = [], sdc: [Double] = []
        var dropped: [Int] = []
        var maxDrift = 0.0
        var contrastScale = 0.0  // for contrast.tif's display range: robust to a few edge pixels
        var k = 0
        var current: TimedFrame? = first
        var lastReport = Date()
        while let timed = current {
            guard timed.frame.width == reference.width, timed.frame.height == reference.height else {
                throw ImagingError.sizeMismatch(path: name, frame: k, found: "\(timed.frame.width)×\(timed.frame.height)",
                                                expected: "\(reference.width)×\(reference.height)")
            }
            let m = monitor.process(timed.frame, exposures: timed.exposures)
            let isDropped = m.isDropped
            let (dx, dy, contrast) = (m.driftXPixels, m.driftYPixels, m.contrast)
            let (intensityChange, centreContrast, sdcStd) = (m.intensityChange, m.centreContrast, m.sdcStandardDeviation)
            if isDropped { dropped.append(k) } else {
                maxDrift = max(maxDrift, hypot(dx, dy))
                if k % 8 == 0 {  // a display range needs no more than a sample of the frames
                    contrastScale = max(contrastScale, percentileOfMagnitude(contrast, mask: mask, fraction: 0.99))
                }
            }
            let t = timed.timeSeconds
            times.append(t); change.append(intensityChange); centre.append(centreContrast); sdc.append(sdcStd)
            try driftCSV.row("\(k),\(csv(dx)),\(csv(dy))")
            try metricsCSV.row("\(k),\(csv(t, digits: 10)),\(csv(intensityChange)),\(csv(sdcStd)),\(csv(centreContrast))")
            if !isDropped {
                for p in ContrastMetrics.lineProfile(contrast, from: profileStart, to: profileEnd,
                                                     widthPixels: options.profileWidthPixels) {
                    let positionMicrometres = (p.positionPixels - Double(leftSteps)) * pixelSize
                    try profilesCSV.row("\(k),\(csv(t, digits: 10)),\(csv(positionMicrometres)),\(csv(p.value))")
                }
            }
            try contrastWriter.append(contrast)
            k += 1
            if Date().timeIntervalSince(lastReport) > 1 {
                lastReport = Date()
                progress("analyse: frame \(k)/\(expectedFrames)")
            }
            current = try frames.next()
        }
        // Symmetric about zero, like the seed's colour scale (white = no change).
        if contrastScale > 0 { contrastWriter.displayRange = (-contrastScale, contrastScale) }
        try contrastWriter.close()
        try driftCSV.close(); try metricsCSV.close(); try profilesCSV.close()
        if !monitor.tracker.failedFits.isEmpty {
            note("drift: fiducial fit failed in \(monitor.tracker.failedFits.count) frame(s); the previous drift was kept there")
        }
        let drop = ContrastMetrics.sdcDropTime(timesSeconds: times, sdcStandardDeviation: sdc, lagFrames: lag)
        let summary = AnalysisSummary(
            outputDirectory: outputDirectory, frameCount: k, droppedFrames: dropped, driftMethod: monitor.tracker.method,
            failedDriftFits: monitor.tracker.failedFits, maximumDriftPixels: maxDrift, threshold: threshold,
            particleAreaPixels: mask.areaPixels, centroidPixels: centroid, pixelSizeMicrometres: pixelSize,
            outline: outline, sdcDropTimeSeconds: drop, timesSeconds: times, intensityChange: change,
            centreContrast: centre, sdcStandardDeviation: sdc, notes: notes,
            wallSeconds: Date().timeIntervalSince(clock))
        try writeSummaryJSON(summary, input: name, options: options, particles: labelled, pixelSize: pixelSize,
                             to: out.appendingPathComponent("summary.json").path)
        progress(String(format: "analyse: %d frames in %.1f s → %@", k, summary.wallSeconds, outputDirectory))
        return summary
    }

    /// The `fraction` quantile of |value| over the mask's finite pixels (0 when there are none).
    static func percentileOfMagnitude(_ image: BinnedFrame, mask: Mask, fraction: Double) -> Double {
        var values: [Float] = []
        values.reserveCapacity(mask.bits.count / 4)
        for i in mask.bits.indices where mask.bits[i] && image.pixels[i].isFinite { values.append(abs(image.pixels[i])) }
        guard !values.isEmpty else { return 0 }
        values.sort()
        return Double(values[min(values.count - 1, Int(Double(values.count - 1) * fraction))])
    }

    static func csv(_ v: Double, digits: Int = 6) -> String {
        v.isFinite ? String(format: "%.\(digits)g", v) : "nan"
    }

    static func writeSummaryJSON(_ s: AnalysisSummary, input: String, options: AnalysisOptions,
                                 particles: [Mask], pixelSize: Double, to path: String) throws {
        var drift: [String: Any] = ["failed_fits": s.failedDriftFits.count, "max_drift_px": s.maximumDriftPixels]
        switch s.driftMethod {
        case let .fiducial(x, y): drift["method"] = "fiducial"; drift["fiducial_px"] = [x, y]
        case .phaseCorrelation: drift["method"] = "phase_correlation"
        }
        let labelled: [[String: Any]] = particles.enumerated().map { n, p in
            let c = p.centroid ?? (x: .nan, y: .nan)
            return ["label": n + 1, "area_px": p.areaPixels, "area_um2": Double(p.areaPixels) * pixelSize * pixelSize,
                    "centroid_px": [c.x, c.y]]
        }
        var object: [String: Any] = [
            "input": input, "frames": s.frameCount, "dropped_frames": s.droppedFrames,
            "pixel_size_um": s.pixelSizeMicrometres, "threshold": Double(s.threshold),
            "particle_area_px": s.particleAreaPixels,
            "particle_area_um2": s.outline.areaMicrometres2, "particle_perimeter_um": s.outline.perimeterMicrometres,
            "centroid_px": [s.centroidPixels.x, s.centroidPixels.y],
            "outline_um": s.outline.verticesMicrometres.map { [$0.x, $0.y] },
            "sdc_lag_frames": options.sdcLagFrames, "bin_frames": options.binFrames,
            "sdc_drop_time_s": s.sdcDropTimeSeconds.map { $0 as Any } ?? NSNull(),
            "drift": drift, "notes": s.notes, "wall_time_s": s.wallSeconds,
        ]
        if options.labelParticles { object["particles"] = labelled }
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            throw ImagingError.cannotWrite(path: path, reason: error.localizedDescription)
        }
    }
}

/// Input frames, binned `binFrames` at a time (or passed through), in order.
struct BinnedFrames {
    var source: FrameSource
    let binFrames: Int
    var binner: TemporalBinner?
    var nextInput = 0
    var pending: [TimedFrame] = []
    var finished = false

    init(source: FrameSource, binFrames: Int, intervalSeconds: Double) throws {
        self.source = source
        self.binFrames = binFrames
        if binFrames > 1 {
            binner = try TemporalBinner(framesPerBin: binFrames, exposureIntervalSeconds: intervalSeconds)
        }
    }

    mutating func next() throws -> TimedFrame? {
        guard binner != nil else {
            guard nextInput < source.frameCount else { return nil }
            defer { nextInput += 1 }
            return try source.frame(nextInput)
        }
        while pending.isEmpty && !finished {
            if nextInput < source.frameCount {
                let f = try source.frame(nextInput)
                if f.exposures > 0 { pending += binner!.add(f.frame, sequenceNumber: nextInput) }
                nextInput += 1
            } else {
                pending += binner!.finish()
                finished = true
            }
        }
        return pending.isEmpty ? nil : pending.removeFirst()
    }
}

/// Appends CSV rows through a buffer, flushing in blocks (profiles.csv can have 10⁵ rows).
final class CSVWriter {
    let path: String
    private let handle: FileHandle
    private var buffer = ""

    init(path: String, header: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw ImagingError.cannotWrite(path: path, reason: "cannot create the file")
        }
        handle = h
        buffer = header + "\n"
    }

    func row(_ line: String) throws {
        buffer += line
        buffer += "\n"
        if buffer.utf8.count > 1 << 16 { try flush() }
    }

    func flush() throws {
        do { try handle.write(contentsOf: Data(buffer.utf8)) } catch {
            throw ImagingError.cannotWrite(path: path, reason: error.localizedDescription)
        }
        buffer = ""
    }

    func close() throws {
        try flush()
        try? handle.close()
    }
}
