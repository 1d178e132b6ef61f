import Foundation
import Imaging

/// Reads a dataset directory (`NAME.operando/`): run.json and each of the run's files as typed records.
/// Opening checks that the directory is a dataset and that its format is one this operando reads.
public struct DatasetReader: Sendable {
    /// The dataset directory.
    public let directory: String
    /// run.json.
    public let runInfo: RunInfo

    /// Opens the dataset at `directory`.
    /// - Throws: `DatasetError.missingFile` when it is not a directory or has no run.json;
    ///   `.newerFormat` for a dataset this operando cannot read; `.badFile` for a malformed run.json.
    public init(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw DatasetError.missingFile(path: directory, what: "no such dataset directory (expected NAME.operando/)")
        }
        guard isDirectory.boolValue else {
            throw DatasetError.missingFile(path: directory, what: "not a directory; a dataset is a NAME.operando/ directory")
        }
        self.directory = directory
        let runPath = (directory as NSString).appendingPathComponent(DatasetFormat.File.runInfo)
        guard FileManager.default.fileExists(atPath: runPath) else {
            throw DatasetError.missingFile(path: runPath, what: "a dataset records what was run in run.json; is \(directory) a dataset?")
        }
        runInfo = try RunInfo(json: try JSONText.read(runPath), path: runPath)
    }

    /// True when `directory` looks like a dataset (has run.json).
    public static func isDataset(_ directory: String) -> Bool {
        FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(DatasetFormat.File.runInfo))
    }

    /// The path of a file in the dataset.
    public func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// True while a run holds the dataset's lock (it is still being written).
    public var isBeingWritten: Bool { DatasetLock.isHeld(directory) }

    func table(_ name: String, required: [String]) throws -> CSVTable? {
        try CSVTable.readIfPresent(path(name), required: required, appendOnly: true)
    }

    /// echem.csv (empty when absent).
    public func echem() throws -> [EchemRecord] {
        guard let t = try table(DatasetFormat.File.echem, required: ["time_s", "voltage_V", "current_A"]) else { return [] }
        return try t.rows.indices.map { try EchemRecord(t.row($0)) }
    }

    /// frames.csv (empty when absent).
    public func frames() throws -> [FrameRecord] {
        guard let t = try table(DatasetFormat.File.frames, required: FrameRecord.required) else { return [] }
        return try t.rows.indices.map { try FrameRecord(t.row($0)) }
    }

    /// monitor.csv (empty when absent).
    public func monitor() throws -> [MonitorRecord] {
        guard let t = try table(DatasetFormat.File.monitor, required: ["frame", "time_s", "intensity_change", "sdc_std"]) else { return [] }
        return try t.rows.indices.map { try MonitorRecord(t.row($0)) }
    }

    /// edges.csv (empty when absent).
    public func edges() throws -> [EdgeRecord] {
        guard let t = try table(DatasetFormat.File.edges, required: EdgeRecord.columns) else { return [] }
        return try t.rows.indices.map { try EdgeRecord(t.row($0)) }
    }

    /// events.jsonl (empty when absent); an unfinished last line is left out.
    public func events() throws -> [EventRecord] {
        let p = path(DatasetFormat.File.events)
        guard FileManager.default.fileExists(atPath: p) else { return [] }
        let data = try DurableFile.read(p)
        var out: [EventRecord] = []
        var line = 0
        for piece in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            line += 1
            guard !piece.isEmpty else { continue }
            if piece.endIndex == data.endIndex && data.last != UInt8(ascii: "\n") { break }   // unfinished
            guard let o = (try? JSONText.decode(Data(piece), path: p))?.object, let name = o["event"]?.string else {
                throw DatasetError.badFile(path: p, line: line, text: String(decoding: piece, as: UTF8.self),
                                           expected: "a JSON object with \"event\" and \"time_s\"")
            }
            out.append(EventRecord(timeSeconds: o["time_s"]?.number ?? .nan, event: name,
                                   fields: o.filter { $0.key != "event" && $0.key != "time_s" }))
        }
        return out
    }

    /// timing.json (nil when absent: the run has not ended).
    public func timing() throws -> JSONValue? {
        let p = path(DatasetFormat.File.timing)
        return FileManager.default.fileExists(atPath: p) ? try JSONText.read(p) : nil
    }

    /// The whole recording as one sequence of frames (every chunk, in order, read lazily).
    public func recording(frameIntervalSeconds: Double? = nil) throws -> RecordingView {
        try RecordingView(dataset: self, frameIntervalSeconds: frameIntervalSeconds)
    }
}

/// Every recorded frame of a dataset, across its chunks, as one random-access sequence with each
/// frame's times, step and LED fraction; pixels are read only when a frame is asked for.
public struct RecordingView: FrameSource {
    /// The dataset directory.
    public let path: String
    /// frames.csv, in order.
    public let records: [FrameRecord]
    public let width: Int
    public let height: Int
    /// From run.json, else the first chunk's metadata, µm.
    public let pixelSizeMicrometres: Double?
    /// The given interval, else the median step of the frame start times, s.
    public let frameIntervalSeconds: Double?
    public var frameCount: Int { records.count }
    private var openChunk: (number: Int, reader: TIFFStackReader)?

    init(dataset: DatasetReader, frameIntervalSeconds: Double?) throws {
        path = dataset.directory
        records = try dataset.frames()
        guard let first = records.first else {
            throw DatasetError.missingFile(path: dataset.path(DatasetFormat.File.frames), what: "no recorded frames")
        }
        let reader = try TIFFStackReader(path: dataset.path(DatasetFormat.File.chunk(first.chunk)))
        width = reader.info.width
        height = reader.info.height
        openChunk = (first.chunk, reader)
        pixelSizeMicrometres = dataset.runInfo.pixelSizeMicrometres
        if let given = frameIntervalSeconds {
            self.frameIntervalSeconds = given
        } else if records.count > 1 {
            let steps = zip(records, records.dropFirst()).map { $1.startSeconds - $0.startSeconds }.sorted()
            let median = steps[steps.count / 2]
            self.frameIntervalSeconds = median > 0 ? median : nil
        } else {
            self.frameIntervalSeconds = first.endSeconds > first.startSeconds ? first.endSeconds - first.startSeconds : nil
        }
    }

    /// Frame `index` (row `index` of frames.csv) with its times.
    public mutating func frame(_ index: Int) throws -> TimedFrame {
        var pixels: [Float] = []
        return try frame(index, reusing: &pixels)
    }

    /// Frame `index` decoded into `pixels`' storage (issue 17: the offline analysis reuses it).
    public mutating func frame(_ index: Int, reusing pixels: inout [Float]) throws -> TimedFrame {
        try frame(index, reusing: &pixels, only: nil)
    }

    /// Frame `index` decoded into `pixels`' storage, only the strips of its page that hold `rows`.
    public mutating func frame(_ index: Int, reusing pixels: inout [Float], rows: Range<Int>) throws -> TimedFrame {
        try frame(index, reusing: &pixels, only: rows)
    }

    private mutating func frame(_ index: Int, reusing pixels: inout [Float], only rows: Range<Int>?) throws -> TimedFrame {
        let r = records[index]
        let chunkPath = (path as NSString).appendingPathComponent(DatasetFormat.File.chunk(r.chunk))
        if openChunk?.number != r.chunk { openChunk = (r.chunk, try TIFFStackReader(path: chunkPath)) }
        let f = try openChunk!.reader.readPage(r.page, into: &pixels, rows: rows)
        guard f.width == width, f.height == height else {
            throw DatasetError.badFile(path: chunkPath, line: 0, text: "page \(r.page) is \(f.width)×\(f.height)",
                                       expected: "\(width)×\(height) like the first chunk")
        }
        return TimedFrame(index: index, startSeconds: r.startSeconds, endSeconds: r.endSeconds, exposures: r.exposures, frame: f)
    }

    /// The same recording with chunk readers of its own (it opens chunks as it reaches them), so
    /// another thread can decode frames at the same time (issue 17).
    public func concurrentReader() throws -> FrameSource? {
        var copy = self
        copy.openChunk = nil
        return copy
    }
}
