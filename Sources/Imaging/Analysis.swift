// `operando analyse`: the offline pipeline over any frame source, one pass, streaming:
// frame 0 gives the mask and the fiducial; every frame is drift-measured, shifted, turned into total
// contrast and reduced to metrics as it is read. Only the last `sdcLag` corrected particles are kept
// (for the sequential differential contrast), so memory does not grow with the stack.
// Units: pixels and seconds inside; µm only where the line profiles report positions.
import Foundation
import Synchronization

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
    /// Margin around the particle's bounding box kept in the per-frame images (contrast.tif), pixels.
    public var cropMarginPixels: Int = 16
    /// Threads for the per-frame work (nil: one per core, at most 8). Results do not depend on it:
    /// every frame is computed by the same code on whichever thread, and reductions stay per frame.
    public var workerThreads: Int?
    /// Decode only the rows the per-frame work reads (the band around the particle and the
    /// fiducial, with a margin for drift) where the input's pages are in strips; a frame whose drift
    /// leaves the band is decoded whole. The results are the same either way (tested); false decodes
    /// every row of every frame.
    public var decodeOnlyNeededRows = true
    /// Rows of margin above and below the band for drift, before a frame has to be decoded whole.
    static let bandMarginPixels = 8

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
    /// Where the per-frame images (the contrast stack) lie in the frame: the particle's bounding box
    /// plus `AnalysisOptions.cropMarginPixels`, clipped to the frame. Pixel (0, 0) of a contrast page
    /// is frame pixel (x, y) of this region.
    public var contrastRegion: PixelRegion
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

        let workers = max(1, options.workerThreads ?? min(8, ProcessInfo.processInfo.activeProcessorCount))
        // Each set of slots keeps its frames' storage for the next batch it reads: 4 sets of a batch
        // each, so a batch stays under ~32 MB (16 frames of 256², 3 of a full 1920×1200 sensor). 16
        // rather than 32: the last rounds (the SDC and the sink of the last batch, in order) leave a
        // core idle for a shorter time.
        let frameBytes = reference.width * reference.height * MemoryLayout<Float>.stride
        let batch = max(2, min(16, (32 << 20) / max(1, frameBytes)))
        // Unbinned frames are decoded on every core, each worker with a reader of its own, when the
        // source can be opened more than once (TIFF stacks, datasets); binning reads in order.
        var readers: [FrameReader]? = nil
        if options.binFrames == 1, workers > 1 {
            var list = [FrameReader(frames.source)]
            while list.count < workers, let another = try frames.source.concurrentReader() { list.append(FrameReader(another)) }
            if list.count == workers { readers = list }
        } else if options.binFrames == 1 {
            readers = [FrameReader(frames.source)]
        }
        let slotSets = (0..<4).map { _ in (0..<batch).map { _ in FrameSlot(cropPixels: 0) } }
        let decoder = FrameDecoder(first: first, name: name)
        // The set-up below (mask, fiducial search, outputs) is serial: another core decodes the first
        // two batches meanwhile, and this thread joins it when the set-up is done.
        var early: EarlyDecode? = nil
        if let readers, readers.count > 1 {
            early = EarlyDecode(decoder: decoder, slots: slotSets[0] + slotSets[1], frameCount: min(2 * batch, source.frameCount),
                                readers: readers)
        }
        defer { early?.wait() }

        // Mask on the first frame (seed "Masking") and the drift fiducial (as the on-line monitor).
        let threshold = options.threshold ?? Masking.otsuThreshold(reference)
        let mask = try Masking.particleMask(reference, threshold: threshold, particleAt: options.particleAt, source: name)
        guard let centroid = mask.centroid, let particleBox = PixelRegion(boundingBoxOf: mask) else {
            throw ImagingError.noParticle(path: name, reason: "empty mask")
        }
        var tracker = try DriftTracker(reference: reference, fiducialAt: options.fiducial, particle: mask)
        let outline = ParticleOutline(mask: mask, pixelSizeMicrometres: pixelSize)
        progress(String(format: "mask: threshold %.4g, particle %d px, centroid %.1f,%.1f", Double(threshold),
                        mask.areaPixels, centroid.x, centroid.y))
        switch tracker.method {
        case let .fiducial(x, y):
            progress(String(format: "drift: Gaussian fit of the fiducial at %.2f,%.2f", x, y))
        case .phaseCorrelation:
            note("drift: no fiducial found (bright compact spot outside the particle); using phase correlation (~0.05–0.1 px)")
        }

        // Derived images cover the particle's bounding box plus a margin (issue 16: the full frame was
        // 94 % NaN); the region's origin goes into the layout and the summary so figures can place them.
        let crop = particleBox.expanded(by: max(0, options.cropMarginPixels), clippedTo: reference.width, reference.height)
        // Classic TIFF offsets are 32-bit: a contrast stack past ~4 GB must be BigTIFF.
        let contrastBytes = Double(crop.width * crop.height * 4) * Double(expectedFrames)
        let bigTIFF = contrastBytes > 3.9e9
        if bigTIFF { note(String(format: "the contrast stack will be %.1f GB: written as BigTIFF", contrastBytes / 1e9)) }
        try sink.begin(AnalysisLayout(input: name, width: reference.width, height: reference.height, pixelSizeMicrometres: pixelSize,
                                      frameIntervalSeconds: source.frameIntervalSeconds.map { $0 * Double(options.binFrames) },
                                      expectedFrames: expectedFrames, needsBigTIFF: bigTIFF, contrastRegion: crop))
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
        let minX = particleBox.x, maxX = particleBox.x + particleBox.width - 1
        let leftSteps = Int((centroid.x - Double(minX)).rounded(.up)) + 2
        let rightSteps = Int((Double(maxX) - centroid.x).rounded(.up)) + 2
        let profileStart = (x: centroid.x - Double(leftSteps), y: centroid.y)
        let profileEnd = (x: centroid.x + Double(rightSteps), y: centroid.y)

        let lag = options.sdcLagFrames
        let kernel = FrameKernel(reference: reference, mask: mask, particleBox: particleBox, crop: crop, centroid: centroid,
                                 centreRadiusPixels: options.centreRadiusPixels, profileStart: profileStart, profileEnd: profileEnd,
                                 profileWidthPixels: options.profileWidthPixels, profileOriginPixels: Double(leftSteps),
                                 pixelSizeMicrometres: pixelSize)
        let pipeline = FramePipeline(kernel: kernel, lagFrames: lag, batchFrames: batch, workers: workers, slotSets: slotSets,
                                     encodesContrast: sink.wantsEncodedContrast)
        // The band of rows every frame's work reads at zero drift — the Fourier shift's box and the
        // drift tracker's window — with a margin; frames are decoded only there (issue 17). A frame
        // whose drift reaches past it is decoded again whole, in `measure`, by a reader of its own.
        var wholeReader: FrameReader? = nil
        var band: Range<Int>? = nil
        if options.decodeOnlyNeededRows, readers != nil {
            let height = reference.height
            var rows = pipeline.workers[0].shifter.rowsRead(dyPixels: 0, frameHeight: height)
            if let window = tracker.rowsRead(frameHeight: height) {
                rows = min(rows.lowerBound, window.lowerBound)..<max(rows.upperBound, window.upperBound)
            }
            let margin = AnalysisOptions.bandMarginPixels
            let needed = max(0, rows.lowerBound - margin)..<min(height, rows.upperBound + margin)
            if needed.count < height, let another = try frames.source.concurrentReader() {
                wholeReader = FrameReader(another)
                band = needed
            }
        }
        let run = AnalysisRun(frames: frames, first: first, decoder: decoder, readers: readers, tracker: tracker,
                              sink: sink, pipeline: pipeline, expectedFrames: expectedFrames)
        run.wholeReader = wholeReader
        // Rounds of four overlapping stages, on every core: decode batch r + 2 (frame by frame in
        // parallel, or in order when binning), measure the drift of batch r + 1 in order, correct batch r
        // frame by frame in parallel, and compute the SDC of batch r − 1 and hand it to the sink in
        // order. Batch b lives in slot set b mod 4. Each stage's work is the same whichever thread runs
        // it, so the results do not depend on the number of threads.
        var lastReport = Date()
        var counts = [0, 0, 0, 0]
        func set(_ b: Int) -> Int { ((b % 4) + 4) % 4 }
        var r = -2
        // Batches before this one are decoded already (by the early decode).
        var decodedBatches = 0
        if let early {
            early.join()
            counts[0] = min(batch, source.frameCount)
            counts[1] = max(0, min(batch, source.frameCount - batch))
            decodedBatches = 2
            if counts[1] < batch { run.exhausted = true }
            r = -1
        }
        // Set once the early decode is done (it read whole frames), before any other decoding.
        decoder.rows = band
        repeat {
            let decodeSet = set(r + 2), measureSet = set(r + 1), correctSet = set(r), writeSet = set(r - 1)
            let measureCount = counts[measureSet], correctCount = counts[correctSet], writeCount = counts[writeSet]
            var serial: [() throws -> Void] = []
            if writeCount > 0 { serial.append { try run.write(pipeline.slotSets[writeSet], count: writeCount) } }
            if measureCount > 0 { serial.append { try run.measure(pipeline.slotSets[measureSet], count: measureCount) } }
            var decodeCount = 0
            var decodeFirst = 0
            if !run.exhausted && r + 2 >= decodedBatches {
                if run.readers != nil {
                    decodeFirst = (r + 2) * batch
                    decodeCount = max(0, min(batch, source.frameCount - decodeFirst))
                } else {
                    serial.append { decodeCount = try run.readInOrder(into: pipeline.slotSets[decodeSet]) }
                }
            }
            let parallelDecode = run.readers != nil ? decodeCount : 0
            try pipeline.round(serial: serial, decode: parallelDecode, into: decodeSet, firstFrame: decodeFirst, run: run,
                               correct: correctSet, count: correctCount)
            counts[writeSet] = 0
            if r + 2 >= decodedBatches {
                counts[decodeSet] = decodeCount
                if decodeCount < batch { run.exhausted = true }
            }
            r += 1
            if Date().timeIntervalSince(lastReport) > 1 {
                lastReport = Date()
                progress("analyse: frame \(run.written)/\(expectedFrames)")
            }
        } while counts.contains(where: { $0 > 0 })
        if run.wholeRereads > 0 {
            progress("analyse: \(run.wholeRereads) frame(s) decoded again whole (the drift left the band of rows decoded)")
        }
        let k = run.frameCount
        tracker = run.tracker
        let (times, change, centre, sdc) = (run.times, run.change, run.centre, run.sdc)
        let (dropped, maxDrift, contrastScale) = (run.dropped, run.maxDrift, run.contrastScale)
        if !tracker.failedFits.isEmpty {
            note("drift: fiducial fit failed in \(tracker.failedFits.count) frame(s); the previous drift was kept there")
        }
        let drop = ContrastMetrics.sdcDropTime(timesSeconds: times, sdcStandardDeviation: sdc, lagFrames: lag, intensityChange: change)
        let summary = AnalysisSummary(
            outputDirectory: sink.destination, input: name, frameCount: k, droppedFrames: dropped, driftMethod: tracker.method,
            failedDriftFits: tracker.failedFits, maximumDriftPixels: maxDrift, threshold: threshold,
            particleAreaPixels: mask.areaPixels, centroidPixels: centroid, pixelSizeMicrometres: pixelSize,
            outline: outline, sdcDropTimeSeconds: drop, sdcLagFrames: lag, binFrames: options.binFrames,
            labelledParticles: options.labelParticles ? labelled : nil, timesSeconds: times, intensityChange: change,
            centreContrast: centre, sdcStandardDeviation: sdc, notes: notes,
            wallSeconds: Date().timeIntervalSince(clock), contrastRegion: crop)
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

// MARK: - The per-frame work of the offline analysis

/// What every frame's work shares, fixed by frame 0: which pixels, where their results go.
struct FrameKernel: Sendable {
    let frameWidth: Int
    /// Row-major frame indices of the particle pixels (ascending, the order every sum runs in).
    let particleIndices: [Int]
    /// Frame 0 at the particle pixels: I_0 of seed Eq. 1.
    let referenceValues: [Float]
    /// Position of each particle pixel in the cropped contrast image.
    let cropIndices: [Int]
    let particleBox: PixelRegion
    let crop: PixelRegion
    /// Particle-pixel positions (into `particleIndices`) inside the centre disk, ascending.
    let diskPositions: [Int]
    /// Line-profile sample points in crop coordinates, `profileWidth` per position.
    let profilePoints: [(x: Double, y: Double)]
    let profilePositions: [Double]
    let profileWidth: Int
    let profileOriginPixels: Double
    let pixelSizeMicrometres: Double

    init(reference: BinnedFrame, mask: Mask, particleBox: PixelRegion, crop: PixelRegion, centroid: (x: Double, y: Double),
         centreRadiusPixels: Double, profileStart: (x: Double, y: Double), profileEnd: (x: Double, y: Double),
         profileWidthPixels: Int, profileOriginPixels: Double, pixelSizeMicrometres: Double) {
        frameWidth = reference.width
        let indices = mask.indices
        particleIndices = indices
        referenceValues = indices.map { reference.pixels[$0] }
        cropIndices = indices.map { i in
            let y = i / reference.width, x = i - y * reference.width
            return (y - crop.y) * crop.width + (x - crop.x)
        }
        self.particleBox = particleBox
        self.crop = crop
        // The pixels `ContrastMetrics.diskMean` visits that can be finite: the disk's mask pixels.
        let r2 = centreRadiusPixels * centreRadiusPixels
        diskPositions = indices.indices.filter { j in
            let i = indices[j], y = i / reference.width, x = i - y * reference.width
            let dx = Double(x) - centroid.x, dy = Double(y) - centroid.y
            return dx * dx + dy * dy <= r2
        }
        // The same points `ContrastMetrics.lineProfile` samples, moved into the crop (subtracting an
        // integer origin is exact, so the bilinear weights are those of the full frame).
        let length = hypot(profileEnd.x - profileStart.x, profileEnd.y - profileStart.y)
        var points: [(x: Double, y: Double)] = [], positions: [Double] = []
        let width = max(1, profileWidthPixels)
        if length > 0 {
            let ux = (profileEnd.x - profileStart.x) / length, uy = (profileEnd.y - profileStart.y) / length
            let nx = -uy, ny = ux
            let half = Double(width - 1) / 2
            var s = 0.0
            while s <= length + 1e-9 {
                var o = -half
                var n = 0
                while o <= half + 1e-9 {
                    points.append((profileStart.x + s * ux + o * nx - Double(crop.x), profileStart.y + s * uy + o * ny - Double(crop.y)))
                    o += 1
                    n += 1
                }
                // `width` offsets per position (the loop above makes exactly that many).
                precondition(n == width, "profile offsets")
                positions.append(s)
                s += 1
            }
        }
        profilePoints = points
        profilePositions = positions
        profileWidth = width
        self.profileOriginPixels = profileOriginPixels
        self.pixelSizeMicrometres = pixelSizeMicrometres
    }
}

/// One frame of a batch: its input and everything computed from it (reused from batch to batch).
final class FrameSlot: @unchecked Sendable {
    var frame = 0
    var timeSeconds = 0.0
    var drift = (dx: 0.0, dy: 0.0)
    var dropped = false
    var input: BinnedFrame?
    /// The rows of `input` that were decoded (nil: all of them); the others are NaN.
    var decodedRows: Range<Int>?
    /// Why the frame could not be read (thrown when its turn comes, in frame order).
    var failure: (any Error)?
    /// The cropped total-contrast image, NaN outside the particle.
    var contrast: [Float]
    var intensityChange = Double.nan
    var centreContrast = Double.nan
    var sdcStandardDeviation = Double.nan
    /// 99th percentile of |contrast| (every 8th frame, else NaN).
    var contrastScale = Double.nan
    var profile: [AnalysisProfilePoint] = []
    /// `contrast` compressed as its TIFF page (when the sink wants it; storage reused).
    var encoded = EncodedPage()

    init(cropPixels: Int) { contrast = [Float](repeating: .nan, count: cropPixels) }
}

/// A frame's drift-corrected particle pixels, kept for the SDC of frame k + lag.
final class CorrectedParticle: @unchecked Sendable {
    var values: [Float]
    var valid = false
    init(count: Int) { values = [Float](repeating: .nan, count: count) }
}

/// One thread's scratch: its Fourier shifter and a buffer for the display-range quantile.
final class FrameWorker: @unchecked Sendable {
    var shifter: FourierShift
    var magnitudes: [Float]
    /// Compresses each contrast image as its TIFF page, when the sink wants that.
    let encoder: TIFFPageEncoder?
    init(box: PixelRegion, particlePixels: Int, encodesContrast: Bool) {
        shifter = FourierShift(covering: box)
        magnitudes = [Float](repeating: 0, count: particlePixels)
        encoder = encodesContrast ? TIFFPageEncoder() : nil
    }
}

/// One reader of the input, used by one worker at a time (a box, so workers mutate only their own).
final class FrameReader: @unchecked Sendable {
    var source: FrameSource
    init(_ source: FrameSource) { self.source = source }
}

/// Decodes input frames into slots: any worker may run it, each with a reader of its own.
final class FrameDecoder: @unchecked Sendable {
    /// Frame 0, read before the rounds (its mask and reference); not decoded twice.
    let first: TimedFrame
    let name: String
    /// Decode only these rows (set before the rounds start; nil: every row).
    var rows: Range<Int>?
    /// Cleared once a frame's drift has left `rows`: from then on every frame is decoded whole.
    let bandInUse = Atomic<Bool>(true)

    init(first: TimedFrame, name: String) {
        self.first = first
        self.name = name
    }

    /// Puts `timed` (frame `frame`) into `slot`, or the reason it cannot be analysed (thrown in
    /// frame order by `AnalysisRun.measure`).
    func stage(_ slot: FrameSlot, frame: Int, timed: TimedFrame) {
        slot.failure = nil
        let reference = first.frame
        guard timed.frame.width == reference.width, timed.frame.height == reference.height else {
            slot.failure = ImagingError.sizeMismatch(path: name, frame: frame, found: "\(timed.frame.width)×\(timed.frame.height)",
                                                     expected: "\(reference.width)×\(reference.height)")
            slot.frame = frame
            return
        }
        let isDropped = timed.exposures == 0 || !timed.frame.pixels.contains { $0.isFinite }
        FramePipeline.stage(slot, frame: frame, timed: timed, drift: (.nan, .nan), dropped: isDropped)
    }

    /// Decodes input frame `index` into `slot` with `reader`, reusing the storage of the frame the
    /// slot held before (written out by now).
    func decode(_ slot: FrameSlot, index: Int, reader: FrameReader) {
        var storage = slot.input?.pixels ?? []
        slot.input = nil
        slot.decodedRows = nil
        if index == 0 { stage(slot, frame: 0, timed: first); return }
        do {
            if let rows, bandInUse.load(ordering: .relaxed) {
                var timed = try reader.source.frame(index, reusing: &storage, rows: rows)
                if timed.frame.pixels.contains(where: { $0.isFinite }) {
                    slot.decodedRows = rows
                } else {
                    // Nothing in the band: decode it all, so a dropped frame is told from one with data elsewhere.
                    storage = timed.frame.pixels
                    timed = try reader.source.frame(index, reusing: &storage)
                }
                stage(slot, frame: index, timed: timed)
            } else {
                stage(slot, frame: index, timed: try reader.source.frame(index, reusing: &storage))
            }
        } catch {
            slot.failure = error
            slot.frame = index
        }
    }
}

/// The first `frameCount` frames decoded while the analysis sets up: a background task starts at
/// once with the last reader; `join` lends this thread (with the first reader) and waits.
final class EarlyDecode: @unchecked Sendable {
    let decoder: FrameDecoder
    let slots: [FrameSlot]
    let frameCount: Int
    let readers: [FrameReader]
    private let next = Atomic<Int>(0)
    private let group = DispatchGroup()

    init(decoder: FrameDecoder, slots: [FrameSlot], frameCount: Int, readers: [FrameReader]) {
        self.decoder = decoder
        self.slots = slots
        self.frameCount = frameCount
        self.readers = readers
        let background = readers[readers.count - 1]
        DispatchQueue.global().async(group: group) { self.work(background) }
    }

    /// Frames are claimed in increasing order, so each reader moves forward.
    private func work(_ reader: FrameReader) {
        while true {
            let t = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if t >= frameCount { break }
            decoder.decode(slots[t], index: t, reader: reader)
        }
    }

    /// Decodes what is left on this thread, then waits for the background task.
    func join() {
        work(readers[0])
        group.wait()
    }

    /// Waits for the background task (after a failed set-up too: it uses the readers).
    func wait() { group.wait() }
}

/// The ordered parts of the analysis' rounds: reading frames in order when they must be (binning),
/// drift tracking in order, and handing results to the sink in order — each runs as one task of a
/// round, never two at once — and the per-frame decoding that any worker may run.
final class AnalysisRun: @unchecked Sendable {
    var frames: BinnedFrames
    var next: TimedFrame?
    let decoder: FrameDecoder
    /// One reader per worker when frames are decoded in parallel (unbinned input), else nil.
    let readers: [FrameReader]?
    var tracker: DriftTracker
    let sink: AnalysisSink
    let pipeline: FramePipeline
    /// Decodes a frame again whole when its drift leaves the decoded band (used only by `measure`).
    var wholeReader: FrameReader?
    /// Frames decoded again whole that way.
    var wholeRereads = 0
    /// No more frames to decode.
    var exhausted = false
    /// Frames whose drift has been measured.
    var frameCount = 0
    /// Frames read in order so far (`readInOrder`; it runs beside `measure`, which counts its own).
    var readCount = 0
    var written = 0
    var times: [Double] = [], change: [Double] = [], centre: [Double] = [], sdc: [Double] = []
    var dropped: [Int] = []
    var maxDrift = 0.0
    /// For the contrast stack's display range: robust to a few edge pixels.
    var contrastScale = 0.0

    init(frames: BinnedFrames, first: TimedFrame, decoder: FrameDecoder, readers: [FrameReader]?, tracker: DriftTracker,
         sink: AnalysisSink, pipeline: FramePipeline, expectedFrames: Int) {
        self.frames = frames
        next = first
        self.decoder = decoder
        self.readers = readers
        self.tracker = tracker
        self.sink = sink
        self.pipeline = pipeline
        for a in [\AnalysisRun.times, \.change, \.centre, \.sdc] { self[keyPath: a].reserveCapacity(expectedFrames) }
    }

    /// Decodes input frame `index` into `slot` (see `FrameDecoder.decode`).
    func decode(_ slot: FrameSlot, index: Int, reader: FrameReader) { decoder.decode(slot, index: index, reader: reader) }

    /// Reads the next batch into `slots` in order (binned frames); returns how many it read (0 at the end).
    func readInOrder(into slots: [FrameSlot]) throws -> Int {
        var count = 0
        while count < slots.count, let timed = next {
            decoder.stage(slots[count], frame: readCount, timed: timed)
            if let failure = slots[count].failure { throw failure }
            count += 1
            readCount += 1
            next = try frames.next()
        }
        return count
    }

    /// Measures the drift of the first `count` slots in frame order (the fiducial is tracked from
    /// frame to frame); throws the first frame's failure to decode.
    func measure(_ slots: [FrameSlot], count: Int) throws {
        for slot in slots.prefix(count) {
            if let failure = slot.failure { throw failure }
            if slot.dropped {
                tracker.skipFrame()
            } else if var frame = slot.input {
                let height = frame.height
                if let rows = slot.decodedRows, let window = tracker.rowsRead(frameHeight: height), !rows.covers(window) {
                    frame = try decodeWhole(slot)
                }
                // Frame 0 is the reference: its drift is zero by definition (the fit still runs to
                // keep the tracker's frame count in step).
                let measured = tracker.measure(frame)
                slot.drift = frameCount == 0 ? (0, 0) : measured
                if let rows = slot.decodedRows,
                   !rows.covers(pipeline.workers[0].shifter.rowsRead(dyPixels: slot.drift.dy, frameHeight: height)) {
                    _ = try decodeWhole(slot)
                }
            }
            frameCount += 1
        }
    }

    /// Decodes `slot`'s frame again, every row, keeping its drift; later frames are decoded whole too.
    private func decodeWhole(_ slot: FrameSlot) throws -> BinnedFrame {
        decoder.bandInUse.store(false, ordering: .relaxed)
        guard let reader = wholeReader else { throw ImagingError.tiffIO(path: decoder.name, page: slot.frame, reason: "no reader for the whole frame") }
        var storage: [Float] = []
        let drift = slot.drift
        decoder.stage(slot, frame: slot.frame, timed: try reader.source.frame(slot.frame, reusing: &storage))
        if let failure = slot.failure { throw failure }
        slot.drift = drift
        slot.decodedRows = nil
        wholeRereads += 1
        guard let frame = slot.input else { throw ImagingError.tiffIO(path: decoder.name, page: slot.frame, reason: "the frame has no data when read whole") }
        return frame
    }

    /// The SDC of the first `count` slots (their frames k − lag are corrected by now), then every
    /// result to the sink, in frame order.
    func write(_ slots: [FrameSlot], count: Int) throws {
        for j in 0..<count { pipeline.sequentialDifference(slots[j]) }
        let crop = pipeline.kernel.crop
        for slot in slots.prefix(count) {
            if slot.dropped { dropped.append(slot.frame) } else {
                maxDrift = max(maxDrift, hypot(slot.drift.dx, slot.drift.dy))
                if slot.contrastScale.isFinite { contrastScale = max(contrastScale, slot.contrastScale) }
            }
            times.append(slot.timeSeconds); change.append(slot.intensityChange); centre.append(slot.centreContrast)
            sdc.append(slot.sdcStandardDeviation)
            try sink.frame(AnalysisFrameRow(frame: slot.frame, timeSeconds: slot.timeSeconds, driftXPixels: slot.drift.dx,
                                            driftYPixels: slot.drift.dy, intensityChange: slot.intensityChange,
                                            sdcStandardDeviation: slot.sdcStandardDeviation, centreContrast: slot.centreContrast),
                           contrast: BinnedFrame(width: crop.width, height: crop.height, pixels: slot.contrast),
                           encoded: pipeline.encodesContrast ? slot.encoded : nil)
            if !slot.dropped { try sink.profile(frame: slot.frame, timeSeconds: slot.timeSeconds, points: slot.profile) }
            written += 1   // the frame's storage stays with the slot for the next batch it reads
        }
    }
}

extension Range where Bound == Int {
    /// Every element of `other` is in this range.
    func covers(_ other: Range<Int>) -> Bool { other.isEmpty || (lowerBound <= other.lowerBound && other.upperBound <= upperBound) }
}

/// A round's serial tasks, handed to the worker threads (see `FramePipeline.round`).
struct UncheckedTasks: @unchecked Sendable {
    let list: [() throws -> Void]
    init(_ list: [() throws -> Void]) { self.list = list }
}

/// Batches of frames through the per-frame work on `workers` threads. Each frame's results come
/// from the same code whichever thread runs it, and every sum is over one frame, so the results
/// are identical for any number of workers.
final class FramePipeline: @unchecked Sendable {
    let kernel: FrameKernel
    let lagFrames: Int
    let batchFrames: Int
    /// Sets of batch slots: a round reads into one, corrects another and writes out the third.
    let slotSets: [[FrameSlot]]
    /// The first set (the synchronous `stage`/`process` use it).
    var slots: [FrameSlot] { slotSets[0] }
    /// Ring of corrected particles, `lag + 2 × batch` long: the batch being corrected, the batch
    /// being written out and the `lag` frames before it.
    let ring: [CorrectedParticle]
    let workers: [FrameWorker]
    /// Each contrast image is compressed as its TIFF page by the worker that computed it.
    let encodesContrast: Bool
    private let nextTask = Atomic<Int>(0)
    private let failure = Mutex<(any Error)?>(nil)

    /// `slotSets` (sets of `batchFrames` slots, perhaps holding frames decoded already) or one new set.
    init(kernel: FrameKernel, lagFrames: Int, batchFrames: Int, workers: Int, slotSets: [[FrameSlot]]? = nil,
         encodesContrast: Bool = false) {
        self.kernel = kernel
        self.lagFrames = lagFrames
        self.batchFrames = batchFrames
        let cropPixels = kernel.crop.width * kernel.crop.height
        self.slotSets = slotSets ?? [(0..<batchFrames).map { _ in FrameSlot(cropPixels: cropPixels) }]
        for slot in self.slotSets.joined() where slot.contrast.count != cropPixels {
            slot.contrast = [Float](repeating: .nan, count: cropPixels)
        }
        ring = (0..<(lagFrames + 2 * batchFrames)).map { _ in CorrectedParticle(count: kernel.particleIndices.count) }
        self.encodesContrast = encodesContrast
        self.workers = (0..<workers).map { _ in
            FrameWorker(box: kernel.particleBox, particlePixels: kernel.particleIndices.count, encodesContrast: encodesContrast)
        }
    }

    /// Puts frame `frame` into `slot`.
    static func stage(_ slot: FrameSlot, frame: Int, timed: TimedFrame, drift: (dx: Double, dy: Double), dropped: Bool) {
        slot.frame = frame
        slot.timeSeconds = timed.timeSeconds
        slot.drift = drift
        slot.dropped = dropped
        slot.input = dropped ? nil : timed.frame
    }

    /// Puts frame `frame` into slot `j` of the first set (for `process`).
    func stage(_ j: Int, frame: Int, timed: TimedFrame, drift: (dx: Double, dy: Double), dropped: Bool) {
        Self.stage(slots[j], frame: frame, timed: timed, drift: drift, dropped: dropped)
    }

    /// Runs the first `count` slots of the first set synchronously: correction, then the SDC.
    func process(_ count: Int) {
        let set = slots
        for j in 0..<count { correct(set[j], worker: workers[0]) }
        for j in 0..<count { sequentialDifference(set[j]) }
    }

    /// One round: the `serial` tasks (each on one thread, in any order relative to each other), the
    /// decoding of input frames `firstFrame ..< firstFrame + decode` into set `into` (by `run`, each
    /// worker with its own reader) and the correction of the first `count` slots of set `correct`,
    /// spread over the workers. Throws the first error a serial task threw, after every task has
    /// finished.
    func round(serial: [() throws -> Void], decode: Int, into decodeSet: Int, firstFrame: Int, run: AnalysisRun,
               correct set: Int, count: Int) throws {
        let slots = slotSets[set], decodeSlots = slotSets[decodeSet]
        let serialCount = serial.count
        let decodeEnd = serialCount + decode
        let total = decodeEnd + count
        if workers.count == 1 {
            for task in serial { try task() }
            if let reader = run.readers?.first {
                for j in 0..<decode { run.decode(decodeSlots[j], index: firstFrame + j, reader: reader) }
            }
            for j in 0..<count { correct(slots[j], worker: workers[0]) }
            return
        }
        nextTask.store(0, ordering: .relaxed)
        // The serial tasks touch state only one task uses (the reader's, the sink's): each runs on
        // exactly one thread, and the round's end orders it before the next round. Decoding touches
        // only its slot and its worker's reader; tasks are claimed in increasing order, so every
        // reader moves forward through the input.
        let tasks = UncheckedTasks(serial)
        DispatchQueue.concurrentPerform(iterations: workers.count) { w in
            while true {
                let t = nextTask.wrappingAdd(1, ordering: .relaxed).oldValue
                if t >= total { break }
                if t < serialCount {
                    do { try tasks.list[t]() } catch { failure.withLock { if $0 == nil { $0 = error } } }
                } else if t < decodeEnd, let readers = run.readers {
                    run.decode(decodeSlots[t - serialCount], index: firstFrame + t - serialCount, reader: readers[w])
                } else {
                    correct(slots[t - decodeEnd], worker: workers[w])
                }
            }
        }
        if let error = failure.withLock({ e -> (any Error)? in let x = e; e = nil; return x }) { throw error }
    }

    /// Drift correction, total contrast (seed Eq. 1), its mean, the centre disk and the profile;
    /// then the contrast image's TIFF page, when the sink wants it.
    private func correct(_ slot: FrameSlot, worker: FrameWorker) {
        computeContrast(slot, worker: worker)
        if let encoder = worker.encoder {
            encoder.encode(BinnedFrame(width: kernel.crop.width, height: kernel.crop.height, pixels: slot.contrast), into: &slot.encoded)
        }
    }

    private func computeContrast(_ slot: FrameSlot, worker: FrameWorker) {
        let particle = ring[slot.frame % ring.count]
        particle.valid = false
        let kernel = self.kernel
        let count = kernel.particleIndices.count
        slot.intensityChange = .nan; slot.centreContrast = .nan; slot.sdcStandardDeviation = .nan; slot.contrastScale = .nan
        slot.profile.removeAll(keepingCapacity: true)
        guard !slot.dropped, let frame = slot.input else {
            slot.contrast.withUnsafeMutableBufferPointer { out in
                kernel.cropIndices.withUnsafeBufferPointer { ci in for j in 0..<count { out[ci[j]] = .nan } }
            }
            return
        }
        kernel.particleIndices.withUnsafeBufferPointer { idx in
            particle.values.withUnsafeMutableBufferPointer { out in
                if slot.drift.dx == 0 && slot.drift.dy == 0 {
                    frame.pixels.withUnsafeBufferPointer { px in for j in 0..<count { out[j] = px[idx[j]] } }
                } else {
                    worker.shifter.shift(frame, dxPixels: slot.drift.dx, dyPixels: slot.drift.dy)
                    worker.shifter.samples(at: idx, frameWidth: kernel.frameWidth, into: out)
                }
            }
        }
        var n = 0.0, sum = 0.0, diskN = 0.0, diskSum = 0.0
        particle.values.withUnsafeBufferPointer { cur in
            kernel.referenceValues.withUnsafeBufferPointer { ref in
                kernel.cropIndices.withUnsafeBufferPointer { ci in
                    slot.contrast.withUnsafeMutableBufferPointer { out in
                        for j in 0..<count {
                            let r = ref[j]
                            let c: Float = r != 0 ? cur[j] / r - 1 : .nan
                            out[ci[j]] = c
                            let v = Double(c)
                            if v.isFinite { n += 1; sum += v }
                        }
                        kernel.diskPositions.withUnsafeBufferPointer { disk in
                            for j in disk {
                                let v = Double(out[ci[j]])
                                if v.isFinite { diskN += 1; diskSum += v }
                            }
                        }
                    }
                }
            }
        }
        slot.intensityChange = n > 0 ? sum / n : .nan
        slot.centreContrast = diskN > 0 ? diskSum / diskN : .nan
        let image = BinnedFrame(width: kernel.crop.width, height: kernel.crop.height, pixels: slot.contrast)
        if slot.frame % 8 == 0 {  // a display range needs no more than a sample of the frames
            slot.contrastScale = Self.quantileOfMagnitude(slot.contrast, at: kernel.cropIndices, fraction: 0.99, scratch: &worker.magnitudes)
        }
        let w = kernel.profileWidth
        for (p, s) in kernel.profilePositions.enumerated() {
            var m = 0.0, total = 0.0
            for q in 0..<w {
                let point = kernel.profilePoints[p * w + q]
                let v = Double(ImageOps.bilinear(image, x: point.x, y: point.y))
                if v.isFinite { m += 1; total += v }
            }
            slot.profile.append(AnalysisProfilePoint(positionMicrometres: (s - kernel.profileOriginPixels) * kernel.pixelSizeMicrometres,
                                                     contrast: m > 0 ? total / m : .nan))
        }
        particle.valid = true
    }

    /// Fig. S12: (I_k − I_{k−x}) / I_{k−x} over the particle pixels, population standard deviation.
    func sequentialDifference(_ slot: FrameSlot) {
        guard !slot.dropped, slot.frame >= lagFrames else { return }
        let current = ring[slot.frame % ring.count], earlier = ring[(slot.frame - lagFrames) % ring.count]
        guard current.valid, earlier.valid else { return }
        var n = 0.0, s = 0.0, s2 = 0.0
        current.values.withUnsafeBufferPointer { particle in
            earlier.values.withUnsafeBufferPointer { earlier in
                for j in 0..<particle.count {
                    let v = Double(particle[j] / earlier[j] - 1)
                    if v.isFinite { n += 1; s += v; s2 += v * v }
                }
            }
        }
        if n > 0 { let m = s / n; slot.sdcStandardDeviation = max(0, s2 / n - m * m).squareRoot() }
    }

    /// The `fraction` quantile of |value| over the finite pixels at `positions` (0 when there are
    /// none): the same element `Analysis.percentileOfMagnitude` picks after sorting, found by
    /// selection in `scratch` without allocating.
    static func quantileOfMagnitude(_ image: [Float], at positions: [Int], fraction: Double, scratch: inout [Float]) -> Double {
        var m = 0
        for i in positions where image[i].isFinite { scratch[m] = abs(image[i]); m += 1 }
        guard m > 0 else { return 0 }
        let target = min(m - 1, Int(Double(m - 1) * fraction))
        return scratch.withUnsafeMutableBufferPointer { a in
            Double(ImageOps.select(UnsafeMutableBufferPointer(rebasing: a[0..<m]), target))
        }
    }
}
