// Inputs of the analysis: a plain TIFF stack or frames in memory; a whole dataset recording is
// `Dataset.RecordingView`. All are read one frame at a time, in order.
import Foundation

/// A time series of frames read in order, never all at once.
public protocol FrameSource {
    /// The input's path, for messages.
    var path: String { get }
    /// Number of frames.
    var frameCount: Int { get }
    /// Frame width, pixels.
    var width: Int { get }
    /// Frame height, pixels.
    var height: Int { get }
    /// Pixel size in µm, if the input records it.
    var pixelSizeMicrometres: Double? { get }
    /// Nominal time between frames, s, if known.
    var frameIntervalSeconds: Double? { get }
    /// Frame `index` with its timing (sequential access is the fast path).
    mutating func frame(_ index: Int) throws -> TimedFrame
    /// Frame `index` as ``frame(_:)`` gives it, decoded into `pixels` where the source can (the
    /// storage of a frame the caller is done with, so reading allocates nothing); `pixels` is then
    /// left empty. The default ignores `pixels`.
    mutating func frame(_ index: Int, reusing pixels: inout [Float]) throws -> TimedFrame
    /// Frame `index` as ``frame(_:reusing:)`` gives it, where only rows `rows` must be decoded: a
    /// source whose pages are in strips may skip the strips outside them and leave those rows NaN
    /// (the offline analysis needs only the rows around the particle and the fiducial). The
    /// default decodes every row.
    mutating func frame(_ index: Int, reusing pixels: inout [Float], rows: Range<Int>) throws -> TimedFrame
    /// A second reader of the same frames, with its own file handles, that may read frames on
    /// another thread while this one reads others (both in increasing order is the fast path); nil
    /// when the source can only be read from one thread (the default).
    func concurrentReader() throws -> FrameSource?
}

extension FrameSource {
    /// Decodes into new storage.
    public mutating func frame(_ index: Int, reusing pixels: inout [Float]) throws -> TimedFrame { try frame(index) }
    /// Decodes every row.
    public mutating func frame(_ index: Int, reusing pixels: inout [Float], rows: Range<Int>) throws -> TimedFrame {
        try frame(index, reusing: &pixels)
    }
    /// No second reader.
    public func concurrentReader() throws -> FrameSource? { nil }
}

/// A plain multi-page TIFF as a frame source; frame k spans [k·Δt, (k+1)·Δt).
public struct TIFFFrameSource: FrameSource {
    /// The TIFF file.
    public let path: String
    /// Time frames in the file (hyperstack layout applied).
    public var frameCount: Int { reader.info.frameCount }
    /// Frame width, pixels.
    public var width: Int { reader.info.width }
    /// Frame height, pixels.
    public var height: Int { reader.info.height }
    /// Pixel size from the file's metadata, µm.
    public var pixelSizeMicrometres: Double? { reader.info.pixelSizeMicrometres }
    /// The given interval, else the file's, s.
    public let frameIntervalSeconds: Double?
    private let reader: TIFFStackReader

    /// Opens `path`; `frameIntervalSeconds` overrides the file's own interval.
    public init(path: String, frameIntervalSeconds: Double? = nil) throws {
        self.path = path
        reader = try TIFFStackReader(path: path)
        self.frameIntervalSeconds = frameIntervalSeconds ?? reader.info.frameIntervalSeconds
    }

    /// Frame `index`, timed [index·Δt, (index+1)·Δt) (Δt = 1 s when unknown).
    public mutating func frame(_ index: Int) throws -> TimedFrame {
        var pixels: [Float] = []
        return try frame(index, reusing: &pixels)
    }

    /// Frame `index` decoded into `pixels`' storage.
    public mutating func frame(_ index: Int, reusing pixels: inout [Float]) throws -> TimedFrame {
        timed(index, try reader.readFrame(index, into: &pixels))
    }

    /// Frame `index` decoded into `pixels`' storage, only the strips holding `rows`.
    public mutating func frame(_ index: Int, reusing pixels: inout [Float], rows: Range<Int>) throws -> TimedFrame {
        timed(index, try reader.readFrame(index, into: &pixels, rows: rows))
    }

    private func timed(_ index: Int, _ f: BinnedFrame) -> TimedFrame {
        let dt = frameIntervalSeconds ?? 1
        // A page that is all NaN is how a writer marks a dropped frame: keep its slot, mark it empty.
        let empty = !f.pixels.contains { $0.isFinite }
        return TimedFrame(index: index, startSeconds: Double(index) * dt, endSeconds: Double(index + 1) * dt,
                          exposures: empty ? 0 : 1, frame: f)
    }

    /// The same file opened again (its own libtiff handle).
    public func concurrentReader() throws -> FrameSource? {
        try TIFFFrameSource(path: path, frameIntervalSeconds: frameIntervalSeconds)
    }
}

/// Frames already in memory (a short live buffer, a test, a figure) as a frame source.
public struct InMemoryStack: FrameSource {
    /// A name for messages.
    public let path: String
    /// The frames with their timing.
    public var frames: [TimedFrame]
    /// Pixel size, µm.
    public var pixelSizeMicrometres: Double?
    /// Nominal frame interval, s.
    public var frameIntervalSeconds: Double?
    /// Number of frames.
    public var frameCount: Int { frames.count }
    /// Frame width (0 when empty).
    public var width: Int { frames.first?.frame.width ?? 0 }
    /// Frame height (0 when empty).
    public var height: Int { frames.first?.frame.height ?? 0 }

    /// Frames timed [kΔt, (k+1)Δt).
    public init(name: String = "in-memory stack", frames: [BinnedFrame], frameIntervalSeconds: Double,
                pixelSizeMicrometres: Double? = nil) {
        path = name
        self.frames = frames.enumerated().map { k, f in
            TimedFrame(index: k, startSeconds: Double(k) * frameIntervalSeconds,
                       endSeconds: Double(k + 1) * frameIntervalSeconds, exposures: 1, frame: f)
        }
        self.frameIntervalSeconds = frameIntervalSeconds
        self.pixelSizeMicrometres = pixelSizeMicrometres
    }

    /// Frame `index`.
    public mutating func frame(_ index: Int) throws -> TimedFrame { frames[index] }

    /// The same frames (reading them changes nothing, so a copy reads safely on another thread).
    public func concurrentReader() throws -> FrameSource? { self }
}
