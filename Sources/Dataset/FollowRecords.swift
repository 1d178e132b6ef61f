import Foundation
import Glibc

// Follow mode's and the instrument import's dataset files (docs/follow.md):
// - triggers.csv: every edge on the instrument's trigger input, as the kernel stamped it;
// - instrument.csv: the imported instrument record, every original column, plus rig time;
// - an imported dataset's echem.csv (with a `cycle` column), frames.csv and run.json rewritten durably.

extension DatasetFormat.File {
    /// Follow mode: edges on the instrument's trigger input.
    public static let triggers = "triggers.csv"
    /// After `operando import`: the instrument's own record.
    public static let instrument = "instrument.csv"
}

/// One edge on the instrument's trigger input (`triggers.csv`).
public struct TriggerRecord: Sendable, Equatable {
    public static let columns = ["edge", "time_s", "monotonic_ns", "kind", "line_offset", "global_sequence", "line_sequence"]
    /// Edge number, from 0, in arrival order.
    public var edge: Int
    /// Run time of the edge, s (kernel timestamp − run start).
    public var timeSeconds: Double
    /// The kernel's timestamp, ns of the rig's clock (CLOCK_MONOTONIC on a real rig).
    public var monotonicNanoseconds: Int64
    /// `rising` or `falling`.
    public var kind: String
    /// Line offset on the chip.
    public var lineOffset: Int
    /// libgpiod v2's sequence numbers (0 where the backend gives none: v1).
    public var globalSequence: UInt64
    public var lineSequence: UInt64

    public init(edge: Int, timeSeconds: Double, monotonicNanoseconds: Int64, kind: String, lineOffset: Int,
                globalSequence: UInt64, lineSequence: UInt64) {
        self.edge = edge
        self.timeSeconds = timeSeconds
        self.monotonicNanoseconds = monotonicNanoseconds
        self.kind = kind
        self.lineOffset = lineOffset
        self.globalSequence = globalSequence
        self.lineSequence = lineSequence
    }

    var fields: [String] {
        [String(edge), String(format: "%.9f", timeSeconds), String(monotonicNanoseconds), CSVField.text(kind), String(lineOffset),
         String(globalSequence), String(lineSequence)]
    }

    init(_ r: CSVRow) throws {
        guard let ns = Int64(r.string("monotonic_ns")) else { throw r.bad("monotonic_ns", "a whole number of nanoseconds") }
        self.init(edge: try r.int("edge"), timeSeconds: try r.finite("time_s"), monotonicNanoseconds: ns, kind: r.string("kind"),
                  lineOffset: try r.int("line_offset", default: 0), globalSequence: UInt64(max(0, try r.int("global_sequence", default: 0))),
                  lineSequence: UInt64(max(0, try r.int("line_sequence", default: 0))))
    }
}

/// Appends `triggers.csv` to a dataset a `RunWriter` created (follow mode). Rows go to the kernel at
/// once, like the run's other small files.
public final class TriggerWriter {
    private let csv: CSVWriter

    /// Creates `triggers.csv` in `directory` (it must not exist yet).
    public init(directory: String) throws {
        csv = try CSVWriter(path: (directory as NSString).appendingPathComponent(DatasetFormat.File.triggers), columns: TriggerRecord.columns)
    }

    /// One edge, written at once.
    public func append(_ r: TriggerRecord) throws { try csv.append(r.fields) }

    /// Syncs and closes.
    public func close() throws { try csv.close() }
}

/// `instrument.csv`: an instrument record as imported — every original column under its own name
/// (unit included, as the file writes it), then the instrument time on one timeline across the
/// imported files and the aligned rig time.
public struct InstrumentTable: Sendable, Equatable {
    /// Column names, in order (original columns, then `file`, `instrument_time_s`, `rig_time_s`).
    public var columns: [String]
    /// Values by column, one per row.
    public var values: [[Double]]
    /// `#` comment lines written above the header (source files, units).
    public var comments: [String]

    public init(columns: [String], values: [[Double]], comments: [String] = []) {
        self.columns = columns
        self.values = values
        self.comments = comments
    }

    /// Rows.
    public var rowCount: Int { values.first?.count ?? 0 }
}

extension DatasetReader {
    /// triggers.csv (empty when absent: a commanded run, or a follow run without edges).
    public func triggers() throws -> [TriggerRecord] {
        guard let t = try table(DatasetFormat.File.triggers, required: ["edge", "time_s", "monotonic_ns"]) else { return [] }
        return try t.rows.indices.map { try TriggerRecord(t.row($0)) }
    }

    /// instrument.csv (nil when the dataset has no imported instrument record).
    public func instrumentTable() throws -> InstrumentTable? {
        guard let t = try CSVTable.readIfPresent(path(DatasetFormat.File.instrument), required: ["rig_time_s"]) else { return nil }
        return InstrumentTable(columns: t.header, values: try t.header.map { try t.doubles($0) })
    }

    /// True when run.json says the run was a followed one (`follow` object).
    public var isFollowMode: Bool { runInfo.extra["follow"] != nil }
}

/// The durable rewrites of an import: each file is written whole to `NAME.partial`, fsynced, renamed
/// into place and the directory fsynced, so a crash leaves the old file or the new one. The caller
/// writes run.json last: its `instrument` object marks the import complete.
public enum DatasetRewrite {
    /// Writes `instrument.csv`.
    public static func writeInstrumentTable(_ table: InstrumentTable, directory: String) throws {
        var text = ""
        for c in table.comments { text += "# " + c.replacingOccurrences(of: "\n", with: " ") + "\n" }
        text += table.columns.map(CSVField.text).joined(separator: ",") + "\n"
        let n = table.rowCount
        text.reserveCapacity(text.utf8.count + n * table.columns.count * 16)
        for k in 0..<n {
            var line = ""
            for (j, col) in table.values.enumerated() {
                if j > 0 { line += "," }
                // Shortest text that reads back to the same Double (exact, and far cheaper than %g).
                let v = k < col.count ? col[k] : .nan
                line += v.isFinite ? String(v) : "nan"
            }
            text += line + "\n"
        }
        try DurableFile.write(Data(text.utf8), to: (directory as NSString).appendingPathComponent(DatasetFormat.File.instrument))
    }

    /// Replaces `echem.csv` with `records`; `cycles` (one per record) adds a `cycle` column.
    public static func replaceEchem(_ records: [EchemRecord], cycles: [Int]?, directory: String) throws {
        // The instrument's cycle numbers go in echem.csv's own `cycle` column (format 1.2).
        let withCycle = cycles.map { $0.count == records.count } ?? false
        var text = EchemRecord.columns.joined(separator: ",") + "\n"
        text.reserveCapacity(records.count * 80)
        for (k, r) in records.enumerated() {
            var r = r
            if withCycle, let c = cycles { r.cycle = c[k] }
            text += r.fields.joined(separator: ",") + "\n"
        }
        try DurableFile.write(Data(text.utf8), to: (directory as NSString).appendingPathComponent(DatasetFormat.File.echem))
    }

    /// Replaces `frames.csv` with `records` (same frames, new step and sample columns).
    public static func replaceFrames(_ records: [FrameRecord], directory: String) throws {
        var text = FrameRecord.columns.joined(separator: ",") + "\n"
        for r in records { text += r.fields.joined(separator: ",") + "\n" }
        try DurableFile.write(Data(text.utf8), to: (directory as NSString).appendingPathComponent(DatasetFormat.File.frames))
    }

    /// Replaces run.json.
    public static func replaceRunInfo(_ info: RunInfo, directory: String) throws {
        try DurableFile.write(Data(try JSONText.encode(info.json, pretty: true).utf8),
                              to: (directory as NSString).appendingPathComponent(DatasetFormat.File.runInfo))
    }

    /// Holds the dataset's lock file exclusively while `body` rewrites it: a live run or a second
    /// import is refused instead of interleaved.
    public static func withExclusiveLock<T>(_ directory: String, _ body: () throws -> T) throws -> T {
        let path = (directory as NSString).appendingPathComponent(DatasetFormat.File.lock)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DatasetError.cannotWrite(path: path, reason: DatasetError.reason()) }
        defer { Glibc.close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw DatasetError.exists(path: directory, reason: "a run or another import is writing this dataset")
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
