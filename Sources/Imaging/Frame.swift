// Frame and stack types. Coordinates: x = column (to the right), y = row (down), row 0 at the top;
// pixel (x, y) has its centre at the integer coordinates (x, y). Lengths in µm, times in s.

/// A single-channel image stored row-major (`pixels[y * width + x]`).
///
/// `Frame<UInt16>` is a raw camera frame, `Frame<Float>` a binned or processed one (see the
/// ``RawFrame`` and ``BinnedFrame`` aliases).
public struct Frame<Pixel: Sendable>: Sendable {
    /// Width in pixels (columns).
    public let width: Int
    /// Height in pixels (rows).
    public let height: Int
    /// Row-major pixel values, `width * height` of them.
    public var pixels: [Pixel]

    /// A frame over existing pixels; `pixels.count` must equal `width * height`.
    public init(width: Int, height: Int, pixels: [Pixel]) {
        precondition(pixels.count == width * height, "Frame: pixel count does not match size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A frame filled with one value.
    public init(width: Int, height: Int, repeating value: Pixel) {
        self.init(width: width, height: height, pixels: Array(repeating: value, count: width * height))
    }

    /// The pixel at column `x`, row `y`.
    @inlinable public subscript(x: Int, y: Int) -> Pixel {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }
}

/// A raw 16-bit camera frame.
public typealias RawFrame = Frame<UInt16>
/// A 32-bit float frame (binned, drift-corrected or a contrast image).
public typealias BinnedFrame = Frame<Float>

extension Frame where Pixel == Float {
    /// Converts a raw frame to float.
    public init(_ raw: RawFrame) {
        self.init(width: raw.width, height: raw.height, pixels: raw.pixels.map { Float($0) })
    }
}

/// What is known about a stack without reading its pixels.
public struct StackInfo: Sendable, Equatable {
    /// Frame width in pixels.
    public var width: Int
    /// Frame height in pixels.
    public var height: Int
    /// Number of time frames.
    public var frameCount: Int
    /// Pixel size in µm, when the file says (ImageJ `unit`/resolution, OME `PhysicalSizeX`).
    public var pixelSizeMicrometres: Double?
    /// Time between frames in s, when the file says (ImageJ `finterval`, OME `TimeIncrement`).
    public var frameIntervalSeconds: Double?

    /// Plain memberwise initialiser.
    public init(width: Int, height: Int, frameCount: Int,
                pixelSizeMicrometres: Double? = nil, frameIntervalSeconds: Double? = nil) {
        self.width = width
        self.height = height
        self.frameCount = frameCount
        self.pixelSizeMicrometres = pixelSizeMicrometres
        self.frameIntervalSeconds = frameIntervalSeconds
    }
}

/// One frame of a time series with its timing, as the analysis consumes it.
public struct TimedFrame: Sendable {
    /// Index of the frame in the (possibly binned) series.
    public var index: Int
    /// Start of the frame's exposure window, s from the start of the run.
    public var startSeconds: Double
    /// End of the frame's exposure window, s.
    public var endSeconds: Double
    /// Raw exposures averaged into this frame (0 marks a frame with no data: a dropped frame).
    public var exposures: Int
    /// The pixels.
    public var frame: BinnedFrame

    /// Middle of the exposure window: the time a frame's metrics are reported at.
    public var timeSeconds: Double { 0.5 * (startSeconds + endSeconds) }

    /// Plain memberwise initialiser.
    public init(index: Int, startSeconds: Double, endSeconds: Double, exposures: Int, frame: BinnedFrame) {
        self.index = index
        self.startSeconds = startSeconds
        self.endSeconds = endSeconds
        self.exposures = exposures
        self.frame = frame
    }
}
