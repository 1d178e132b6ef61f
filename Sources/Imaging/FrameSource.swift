// Inputs of the analysis: a plain TIFF stack, or an operando dataset directory (frames.csv indexes
// float32 chunks under frames/). Both are read one frame at a time, in order.
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
        let dt = frameIntervalSeconds ?? 1
        let f = try reader.readFrame(index)
        // A page that is all NaN is how a writer marks a dropped frame: keep its slot, mark it empty.
        let empty = !f.pixels.contains { $0.isFinite }
        return TimedFrame(index: index, startSeconds: Double(index) * dt, endSeconds: Double(index + 1) * dt,
                          exposures: empty ? 0 : 1, frame: f)
    }
}

/// An operando dataset directory (`NAME.operando/`, see docs/interfaces.md) as a frame source.
public struct DatasetFrameSource: FrameSource {
    /// One row of `frames.csv`.
    public struct Row: Sendable {
        /// Frame number (column `frame`).
        public var frame: Int
        /// Chunk file number: `frames/NNNNNN.tif`.
        public var chunk: Int
        /// Page inside the chunk.
        public var page: Int
        /// Exposure window start, s (`t_start_s`).
        public var startSeconds: Double
        /// Exposure window end, s (`t_end_s`).
        public var endSeconds: Double
        /// Raw exposures binned into the frame (0: dropped).
        public var exposures: Int
    }

    /// The dataset directory.
    public let path: String
    /// The rows of `frames.csv`, in file order.
    public let rows: [Row]
    /// Frame width, pixels.
    public let width: Int
    /// Frame height, pixels.
    public let height: Int
    /// `pixel_size_um` from run.json, else the first chunk's metadata, µm.
    public let pixelSizeMicrometres: Double?
    /// The given interval, else the median step of `t_start_s`, s.
    public let frameIntervalSeconds: Double?
    /// Rows in frames.csv.
    public var frameCount: Int { rows.count }
    private var openChunk: (number: Int, reader: TIFFStackReader)?

    /// Reads `run.json` and `frames.csv` of the dataset at `path`; `frameIntervalSeconds` overrides
    /// the interval inferred from the frame times.
    public init(path: String, frameIntervalSeconds: Double? = nil) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path)
        let framesCSV = directory.appendingPathComponent("frames.csv").path
        guard let text = try? String(contentsOfFile: framesCSV, encoding: .utf8) else {
            throw ImagingError.cannotOpen(path: framesCSV, reason: "a dataset needs frames.csv")
        }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map(String.init)
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first else { throw ImagingError.emptyStack(path: framesCSV) }
        let columns = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let required = ["frame", "chunk", "page", "t_start_s", "t_end_s"]
        var index: [String: Int] = [:]
        for (i, c) in columns.enumerated() { index[c] = i }
        guard required.allSatisfy({ index[$0] != nil }) else {
            throw ImagingError.badDataset(path: framesCSV, line: 1, text: header,
                                          expected: "a header with frame,chunk,page,t_start_s,t_end_s,exposures,…")
        }
        var rows: [Row] = []
        for (n, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            func int(_ c: String) -> Int? { index[c].flatMap { $0 < f.count ? Int(f[$0]) : nil } }
            func double(_ c: String) -> Double? { index[c].flatMap { $0 < f.count ? Double(f[$0]) : nil } }
            guard let frame = int("frame"), let chunk = int("chunk"), let page = int("page"),
                  let start = double("t_start_s"), let end = double("t_end_s") else {
                throw ImagingError.badDataset(path: framesCSV, line: n + 1, text: line,
                                              expected: "integers frame,chunk,page and times t_start_s,t_end_s")
            }
            rows.append(Row(frame: frame, chunk: chunk, page: page, startSeconds: start, endSeconds: end,
                            exposures: int("exposures") ?? 1))
        }
        guard let first = rows.first else { throw ImagingError.emptyStack(path: framesCSV) }
        self.rows = rows
        let firstChunk = try TIFFStackReader(path: Self.chunkPath(directory: path, chunk: first.chunk))
        width = firstChunk.info.width
        height = firstChunk.info.height
        openChunk = (first.chunk, firstChunk)
        let runJSON = directory.appendingPathComponent("run.json").path
        var pixel: Double? = nil
        if let data = FileManager.default.contents(atPath: runJSON) {
            guard let object = try? JSONSerialization.jsonObject(with: data) else {
                throw ImagingError.badDataset(path: runJSON, line: 1, text: "…", expected: "a JSON object")
            }
            pixel = Self.findNumber("pixel_size_um", in: object)
        }
        pixelSizeMicrometres = pixel ?? firstChunk.info.pixelSizeMicrometres
        if let given = frameIntervalSeconds {
            self.frameIntervalSeconds = given
        } else if rows.count > 1 {
            let steps = zip(rows, rows.dropFirst()).map { $1.startSeconds - $0.startSeconds }.sorted()
            let median = steps[steps.count / 2]
            self.frameIntervalSeconds = median > 0 ? median : nil
        } else {
            self.frameIntervalSeconds = first.endSeconds > first.startSeconds ? first.endSeconds - first.startSeconds : nil
        }
    }

    static func chunkPath(directory: String, chunk: Int) -> String {
        let name = String(repeating: "0", count: max(0, 6 - String(chunk).count)) + String(chunk)
        return URL(fileURLWithPath: directory).appendingPathComponent("frames").appendingPathComponent(name + ".tif").path
    }

    static func findNumber(_ key: String, in object: Any) -> Double? {
        if let dictionary = object as? [String: Any] {
            if let v = dictionary[key] as? NSNumber { return v.doubleValue }
            for value in dictionary.values { if let v = findNumber(key, in: value) { return v } }
        } else if let array = object as? [Any] {
            for value in array { if let v = findNumber(key, in: value) { return v } }
        }
        return nil
    }

    /// Frame `index` (row `index` of frames.csv), timed by its row.
    public mutating func frame(_ index: Int) throws -> TimedFrame {
        let row = rows[index]
        if openChunk?.number != row.chunk {
            openChunk = (row.chunk, try TIFFStackReader(path: Self.chunkPath(directory: path, chunk: row.chunk)))
        }
        let f = try openChunk!.reader.readPage(row.page)
        guard f.width == width, f.height == height else {
            throw ImagingError.sizeMismatch(path: Self.chunkPath(directory: path, chunk: row.chunk), frame: row.frame,
                                            found: "\(f.width)×\(f.height)", expected: "\(width)×\(height)")
        }
        return TimedFrame(index: index, startSeconds: row.startSeconds, endSeconds: row.endSeconds,
                          exposures: row.exposures, frame: f)
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
}
