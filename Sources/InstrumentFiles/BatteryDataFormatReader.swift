import Foundation

/// Reads the Battery Data Format's CSV serialisation (Battery Data Alliance): one header row of
/// preferred labels `Quantity / unit` (`Test Time / s`, `Voltage / V`, `Current / A`, optional
/// `Unix Time / s`, `Cycle Count / 1`, `Step Count / 1`, `Net Capacity / Ah`, …), then one row per
/// sample with the same number of fields. Every column is kept, known or not.
public enum BatteryDataFormatReader {
    /// Reads a BDF CSV file (comma- or tab-separated; an empty field is NaN).
    public static func read(path: String) throws -> InstrumentRecord {
        let bytes = try TextBytes.load(path)
        return try parse(bytes: bytes, path: path)
    }

    static func parse(bytes: [UInt8], path: String) throws -> InstrumentRecord {
        var lines = TextBytes.lineRanges(bytes)
        // A UTF-8 byte-order mark before the header is not part of the first name.
        if let first = lines.first, first.count >= 3, Array(bytes[first.lowerBound..<(first.lowerBound + 3)]) == [0xEF, 0xBB, 0xBF] {
            lines[0] = (first.lowerBound + 3)..<first.upperBound
        }
        guard let header = lines.first, !header.isEmpty else {
            throw InstrumentFileError.malformed(path: path, location: "line 1", detail: "expected the BDF header row (\"Test Time / s,Voltage / V,Current / A,…\")")
        }
        let separator: UInt8 = bytes[header].contains(TextBytes.tab) ? TextBytes.tab : TextBytes.comma
        let names = TextBytes.fields(bytes, header, separator: separator).map {
            TextBytes.text(bytes[$0]).trimmingCharacters(in: CharacterSet(charactersIn: " \""))
        }
        guard names.contains(where: { $0.contains(" / ") }) else {
            throw InstrumentFileError.malformed(path: path, location: "line 1",
                                                detail: "no \"Quantity / unit\" column names; expected BDF labels such as \"Test Time / s\"")
        }
        var values = [[Double]](repeating: [], count: names.count)
        for (k, line) in lines.dropFirst().enumerated() where !line.isEmpty {
            let cells = TextBytes.fields(bytes, line, separator: separator)
            guard cells.count == names.count else {
                throw InstrumentFileError.malformed(path: path, location: "line \(k + 2)",
                                                    detail: "\(cells.count) fields; expected \(names.count) (one per header column)")
            }
            for c in cells.indices {
                if cells[c].isEmpty { values[c].append(.nan); continue }
                guard let v = TextBytes.number(bytes, cells[c]) else {
                    throw InstrumentFileError.malformed(path: path, location: "line \(k + 2), column \"\(names[c])\"",
                                                        detail: "expected a number, found \"\(TextBytes.text(bytes[cells[c]]))\"")
                }
                values[c].append(v)
            }
        }
        var record = InstrumentRecord(sourcePath: path, format: .batteryDataFormat, instrument: nil, softwareVersion: nil,
                                      firmwareVersion: nil, techniques: [], settings: [:], acquisitionStart: nil,
                                      columns: zip(names, values).map { InstrumentColumn(name: $0, values: $1, unitSeparator: .spacedSlash) },
                                      otherTables: [], aborted: false, notes: [])
        if let unix = record.column(named: "Unix Time / s")?.values.first, unix.isFinite,
           let test = record.column(named: "Test Time / s")?.values.first, test.isFinite {
            record.acquisitionStart = Date(timeIntervalSince1970: unix - test)
        }
        return record
    }
}

/// Reads any instrument file this module knows, chosen by its first bytes (then its extension).
public enum InstrumentFile {
    /// Reads `path` as EC-Lab `.mpr`/`.mpt`, Gamry `.DTA` or BDF CSV. `timeZone` is the instrument
    /// PC's zone, for files that store local time.
    public static func read(path: String, timeZone: TimeZone = .current) throws -> InstrumentRecord {
        let bytes = try TextBytes.load(path)
        let head = TextBytes.text(bytes.prefix(24))
        if head.hasPrefix("BIO-LOGIC MODULAR FILE") { return try ECLabBinaryReader.parse(bytes: bytes, path: path, timeZone: timeZone) }
        if head.uppercased().hasPrefix("EC-LAB ASCII FILE") { return try ECLabTextReader.parse(bytes: bytes, path: path, timeZone: timeZone) }
        if head.hasPrefix("EXPLAIN") { return try GamryReader.parse(bytes: bytes, path: path, timeZone: timeZone) }
        let ext = (path as NSString).pathExtension.lowercased()
        if ["bdf", "csv"].contains(ext) || path.lowercased().hasSuffix(".bdf.csv") {
            return try BatteryDataFormatReader.parse(bytes: bytes, path: path)
        }
        throw InstrumentFileError.unknownFormat(path: path, detail: "first bytes \"\(head.prefix(20))\", extension \".\(ext)\"")
    }
}
