// Where an analysis' results go. Imaging computes them; the dataset format (file names, columns,
// temporary names and the rename into place) belongs to whoever implements the sink — `Dataset`'s
// `AnalysisWriter` for `operando analyse`.

/// What the outputs of one analysis look like, known once frame 0 has been masked.
public struct AnalysisLayout: Sendable {
    /// The input's path, for messages and the summary.
    public var input: String
    /// Frame size, pixels.
    public var width: Int
    public var height: Int
    /// Pixel size used, µm.
    public var pixelSizeMicrometres: Double
    /// Interval between analysed (binned) frames, s, when the input records one.
    public var frameIntervalSeconds: Double?
    /// Frames the analysis expects to produce (after binning).
    public var expectedFrames: Int
    /// The contrast stack would pass 4 GB: write it with 64-bit offsets.
    public var needsBigTIFF: Bool
    /// Where the per-frame images handed to ``AnalysisSink/frame(_:contrast:)`` lie in the frame (the
    /// particle's bounding box plus a margin): their pixel (0, 0) is frame pixel (x, y). A sink that
    /// writes them can record the origin (TIFF XPosition/YPosition, the image description).
    /// Defaults to the whole frame.
    public var contrastRegion: PixelRegion

    /// A layout; see the properties. `contrastRegion` nil means the whole frame.
    public init(input: String, width: Int, height: Int, pixelSizeMicrometres: Double, frameIntervalSeconds: Double?,
                expectedFrames: Int, needsBigTIFF: Bool, contrastRegion: PixelRegion? = nil) {
        self.contrastRegion = contrastRegion ?? PixelRegion(x: 0, y: 0, width: width, height: height)
        self.input = input
        self.width = width
        self.height = height
        self.pixelSizeMicrometres = pixelSizeMicrometres
        self.frameIntervalSeconds = frameIntervalSeconds
        self.expectedFrames = expectedFrames
        self.needsBigTIFF = needsBigTIFF
    }
}

/// One analysed frame's numbers (NaN where a dropped frame has none).
public struct AnalysisFrameRow: Sendable, Equatable {
    /// Frame number after binning, from 0.
    public var frame: Int
    /// Middle of the frame's exposure window, s.
    public var timeSeconds: Double
    /// Displacement of the frame's content relative to frame 0, pixels (x right, y down).
    public var driftXPixels: Double
    public var driftYPixels: Double
    /// Mean total contrast over the mask (seed Eq. 1).
    public var intensityChange: Double
    /// Standard deviation of the sequential differential contrast over the mask.
    public var sdcStandardDeviation: Double
    /// Mean total contrast in the centre disk.
    public var centreContrast: Double

    /// A row; see the properties.
    public init(frame: Int, timeSeconds: Double, driftXPixels: Double, driftYPixels: Double, intensityChange: Double,
                sdcStandardDeviation: Double, centreContrast: Double) {
        self.frame = frame
        self.timeSeconds = timeSeconds
        self.driftXPixels = driftXPixels
        self.driftYPixels = driftYPixels
        self.intensityChange = intensityChange
        self.sdcStandardDeviation = sdcStandardDeviation
        self.centreContrast = centreContrast
    }
}

/// One point of a frame's line profile.
public struct AnalysisProfilePoint: Sendable, Equatable {
    /// Position from the centroid along the line, µm (to the right positive).
    public var positionMicrometres: Double
    /// Total contrast there.
    public var contrast: Double

    /// A point.
    public init(positionMicrometres: Double, contrast: Double) {
        self.positionMicrometres = positionMicrometres
        self.contrast = contrast
    }
}

/// The receiver of an analysis' outputs, called in this order: `begin`, `mask`, optionally `labels`,
/// then per frame `frame` and (for frames that were not dropped) `profile`, then `finish` — or
/// `abort` as soon as anything fails, after which nothing of this analysis may be visible.
public protocol AnalysisSink: AnyObject {
    /// Where the outputs go, for messages ("run.operando/analysis").
    var destination: String { get }
    /// The outputs are about to be written.
    func begin(_ layout: AnalysisLayout) throws
    /// The particle mask of frame 0.
    func mask(_ mask: Mask) throws
    /// Every particle of frame 0 as a label image (0 background, 1 largest, …) — only with `--label-particles`.
    func labels(_ labels: BinnedFrame, count: Int) throws
    /// One analysed frame: its numbers and its total-contrast image over the layout's
    /// `contrastRegion` (NaN outside the mask).
    func frame(_ row: AnalysisFrameRow, contrast: BinnedFrame) throws
    /// The line profile of frame `frame`.
    func profile(frame: Int, timeSeconds: Double, points: [AnalysisProfilePoint]) throws
    /// The analysis succeeded: make every output visible at once. `contrastDisplayRange` is the
    /// contrast stack's display range (symmetric about 0), nil when no frame had contrast.
    func finish(_ summary: AnalysisSummary, contrastDisplayRange: (min: Double, max: Double)?) throws
    /// The analysis failed: drop what was written, leaving any previous results as they were.
    func abort()
    /// Whether each contrast image should come with its TIFF page compressed ahead (``EncodedPage``,
    /// a deflate float32 page), on the worker that computed it, so the in-order `frame` only writes.
    var wantsEncodedContrast: Bool { get }
    /// ``frame(_:contrast:)`` with the page compressed ahead when `wantsEncodedContrast` (else nil).
    func frame(_ row: AnalysisFrameRow, contrast: BinnedFrame, encoded: EncodedPage?) throws
}

extension AnalysisSink {
    /// No page compressed ahead.
    public var wantsEncodedContrast: Bool { false }
    /// Hands the frame to ``frame(_:contrast:)``.
    public func frame(_ row: AnalysisFrameRow, contrast: BinnedFrame, encoded: EncodedPage?) throws {
        try frame(row, contrast: contrast)
    }
}
