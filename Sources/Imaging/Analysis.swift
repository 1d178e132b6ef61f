// `operando analyse`: the offline pipeline over any frame source, one pass, streaming:
// frame 0 gives the mask and the fiducial; every frame is drift-measured, shifted, turned into total
// contrast and reduced to metrics as it is read. Only the last `sdcLag` corrected particles are kept
// (for the sequential differential contrast), so memory does not grow with the stack.
// Units: pixels and seconds inside; µm only where the line profiles report positions.
import Foundation

/// Options of `operando analyse`; each maps 1:1 to a CLI flag.
public struct AnalysisOptions: Sendable {
    /// `--frame-interval T` (s): overrides the input's own frame interval. For a dataset the frame
    /// times still come from its frame index; the interval then only sets binning windows and the
    /// contrast stack's `finterval`.
    public var frameIntervalSeconds: Double?
    /// `--out DIR`: output directory (the path-resolving entry, `DatasetAnalysis.run(input:)`, defaults it
    /// to the dataset's analysis folder or `STACK.analysis/` next to a stack).
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
    /// ≥ 20 px) into a label image (1 = largest) and list them in the summary; the metrics still
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
    /// Where the outputs went (the sink's destination).
    public var outputDirectory: String
    /// The input's path.
    public var input: String
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
    /// SDC lag used, frames (after binning).
    public var sdcLagFrames: Int
    /// Input frames averaged per analysed frame.
    public var binFrames: Int
    /// Every particle of frame 0 (only with `--label-particles`, else nil).
    public var labelledParticles: [LabelledParticle]?
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

/// A particle of frame 0 found by `--label-particles`.
public struct LabelledParticle: Sendable, Equatable {
    /// Its label in the label image (1 = largest).
    public var label: Int
    /// Area, pixels.
    public var areaPixels: Int
    /// Centroid in frame 0, pixels.
    public var centroidPixels: (x: Double, y: Double)

    /// A particle; see the properties.
    public init(label: Int, areaPixels: Int, centroidPixels: (x: Double, y: Double)) {
        self.label = label
        self.areaPixels = areaPixels
        self.centroidPixels = centroidPixels
    }

    public static func == (a: LabelledParticle, b: LabelledParticle) -> Bool {
        a.label == b.label && a.areaPixels == b.areaPixels && a.centroidPixels == b.centroidPixels
    }
}

/// The offline analysis: frames in, results out through an ``AnalysisSink``. Which files the results
/// become, and where, is the sink's business (`Dataset.DatasetAnalysis` resolves a dataset or stack
/// path and writes `analysis/`).
public enum Analysis {
    /// Checks the options (each error names its CLI flag).
    public static func validate(_ options: AnalysisOptions) throws {
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

    /// Analyses any ``FrameSource``, handing every result to `sink`. On any failure the sink is told
    /// to abort (so earlier results stay as they were) and the error is rethrown.
    public static func run(source: FrameSource, options: AnalysisOptions, sink: AnalysisSink,
                           progress: (String) -> Void = { _ in }) throws -> AnalysisSummary {
        do {
            return try analyse(source: source, options: options, sink: sink, progress: progress)
        } catch {
            sink.abort()
            throw error
        }
    }

    static func analyse(source: FrameSource, options: AnalysisOptions, sink: AnalysisSink,
                        progress: (String) -> Void) throws -> AnalysisSummary {
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
            note("no frame interval in \(name); times are frame numbers (give --frame-interval)")
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

        // Outputs. Classic TIFF offsets are 32-bit: a contrast stack past ~4 GB must be BigTIFF.
        let contrastBytes = Double(reference.width * reference.height * 4) * Double(expectedFrames)
        let bigTIFF = contrastBytes > 3.9e9
        if bigTIFF { note(String(format: "the contrast stack will be %.1f GB: written as BigTIFF", contrastBytes / 1e9)) }
        try sink.begin(AnalysisLayout(input: name, width: reference.width, height: reference.height, pixelSizeMicrometres: pixelSize,
                                      frameIntervalSeconds: source.frameIntervalSeconds.map { $0 * Double(options.binFrames) },
                                      expectedFrames: expectedFrames, needsBigTIFF: bigTIFF))
        try sink.mask(mask)
        var labelled: [LabelledParticle] = []
        if options.labelParticles {
            let (labels, particles) = Masking.labelledParticles(reference, threshold: threshold)
            labelled = particles.enumerated().map { n, p in
                LabelledParticle(label: n + 1, areaPixels: p.areaPixels, centroidPixels: p.centroid ?? (x: .nan, y: .nan))
            }
            try sink.labels(BinnedFrame(width: reference.width, height: reference.height, pixels: labels.map { Float($0) }),
                            count: particles.count)
            progress("labels: \(particles.count) particle(s) labelled")
        }

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
        var contrastScale = 0.0  // for the contrast stack's display range: robust to a few edge pixels
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
            if isDropped { dropped.append(k) } else {
                maxDrift = max(maxDrift, hypot(m.driftXPixels, m.driftYPixels))
                if k % 8 == 0 {  // a display range needs no more than a sample of the frames
                    contrastScale = max(contrastScale, percentileOfMagnitude(m.contrast, mask: mask, fraction: 0.99))
                }
            }
            let t = timed.timeSeconds
            times.append(t); change.append(m.intensityChange); centre.append(m.centreContrast); sdc.append(m.sdcStandardDeviation)
            try sink.frame(AnalysisFrameRow(frame: k, timeSeconds: t, driftXPixels: m.driftXPixels, driftYPixels: m.driftYPixels,
                                            intensityChange: m.intensityChange, sdcStandardDeviation: m.sdcStandardDeviation,
                                            centreContrast: m.centreContrast), contrast: m.contrast)
            if !isDropped {
                let points = ContrastMetrics.lineProfile(m.contrast, from: profileStart, to: profileEnd,
                                                         widthPixels: options.profileWidthPixels).map {
                    AnalysisProfilePoint(positionMicrometres: ($0.positionPixels - Double(leftSteps)) * pixelSize, contrast: $0.value)
                }
                try sink.profile(frame: k, timeSeconds: t, points: points)
            }
            k += 1
            if Date().timeIntervalSince(lastReport) > 1 {
                lastReport = Date()
                progress("analyse: frame \(k)/\(expectedFrames)")
            }
            current = try frames.next()
        }
        if !monitor.tracker.failedFits.isEmpty {
            note("drift: fiducial fit failed in \(monitor.tracker.failedFits.count) frame(s); the previous drift was kept there")
        }
        let drop = ContrastMetrics.sdcDropTime(timesSeconds: times, sdcStandardDeviation: sdc, lagFrames: lag)
        let summary = AnalysisSummary(
            outputDirectory: sink.destination, input: name, frameCount: k, droppedFrames: dropped, driftMethod: monitor.tracker.method,
            failedDriftFits: monitor.tracker.failedFits, maximumDriftPixels: maxDrift, threshold: threshold,
            particleAreaPixels: mask.areaPixels, centroidPixels: centroid, pixelSizeMicrometres: pixelSize,
            outline: outline, sdcDropTimeSeconds: drop, sdcLagFrames: lag, binFrames: options.binFrames,
            labelledParticles: options.labelParticles ? labelled : nil, timesSeconds: times, intensityChange: change,
            centreContrast: centre, sdcStandardDeviation: sdc, notes: notes,
            wallSeconds: Date().timeIntervalSince(clock))
        // Symmetric about zero, like the seed's colour scale (white = no change).
        try sink.finish(summary, contrastDisplayRange: contrastScale > 0 ? (-contrastScale, contrastScale) : nil)
        progress(String(format: "analyse: %d frames in %.1f s → %@", k, summary.wallSeconds, sink.destination))
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
