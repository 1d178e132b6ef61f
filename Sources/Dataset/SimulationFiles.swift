import Foundation

/// The folder `operando simulate --out DIR` writes: `trace.csv` and `profiles.csv` (the same records as
/// a calibration's `model/` run: `ModelTraceRecord`, `ModelProfileRecord`) and `summary.json`.
/// Written transactionally: a failed write leaves an earlier simulation's files as they were.
public enum SimulationFiles {
    public static let trace = "trace.csv"
    public static let profiles = "profiles.csv"
    public static let summary = "summary.json"
    /// The files, in the order they are written.
    public static let names = [trace, profiles, summary]
    /// "trace.csv, profiles.csv and summary.json", for help and summaries.
    public static let namesText = "\(trace), \(profiles) and \(summary)"

    /// Writes the three files into `directory` (created if missing); returns their paths.
    @discardableResult
    public static func write(trace: [ModelTraceRecord], profiles: [ModelProfileRecord], summary: JSONValue,
                             to directory: String) throws -> [String] {
        let files = StagedOutputs(directory: directory, outputs: names)
        do {
            let t = try CSVWriter(path: try files.stage(Self.trace), columns: ModelTraceRecord.columns, bufferBytes: 1 << 16)
            for r in trace { try t.append(r.fields) }
            try t.close()
            let p = try CSVWriter(path: try files.stage(Self.profiles), columns: ModelProfileRecord.columns, bufferBytes: 1 << 16)
            for r in profiles { try p.append(r.fields) }
            try p.close()
            let s = try AppendFile(path: try files.stage(Self.summary))
            try s.write(try JSONText.encode(summary, pretty: true) + "\n")
            try s.close()
            try files.commit()
        } catch {
            files.abort()
            throw error
        }
        return names.map { (directory as NSString).appendingPathComponent($0) }
    }
}
