import Foundation

/// Reads EC-Lab's text export (`.mpt`): `EC-Lab ASCII FILE`, `Nb header lines : N` (N counts every
/// line up to and including the column-name line), the header (technique, `key : value` settings,
/// the technique's parameter table), then tab-separated rows. Numbers use the exporting PC's decimal
/// mark (German exports write `3,42E+000`); both are read.
public enum ECLabTextReader {
    /// Reads an `.mpt` file. `timeZone` is the zone of the instrument PC's clock (EC-Lab writes local
    /// time without a zone).
    public static func read(path: String, timeZone: TimeZone = .current) throws -> InstrumentRecord {
        let bytes = try TextBytes.load(path)
        return try parse(bytes: bytes, path: path, timeZone: timeZone)
    }

    static func parse(bytes: [UInt8], path: String, timeZone: TimeZone) throws -> InstrumentRecord {
        let lines = TextBytes.lineRanges(bytes)
        guard let first = lines.first, TextBytes.text(bytes[first]).trimmingCharacters(in: .whitespaces).uppercased() == "EC-LAB ASCII FILE" else {
            throw InstrumentFileError.malformed(path: path, location: "line 1", detail: "expected \"EC-Lab ASCII FILE\"")
        }
        guard lines.count >= 2 else {
            throw InstrumentFileError.malformed(path: path, location: "line 2", detail: "file ends before \"Nb header lines : N\"")
        }
        let second = TextBytes.text(bytes[lines[1]])
        guard second.hasPrefix("Nb header lines"), let colon = second.firstIndex(of: ":"),
              let headerCount = Int(second[second.index(after: colon)...].trimmingCharacters(in: .whitespaces)) else {
            throw InstrumentFileError.malformed(path: path, location: "line 2", detail: "expected \"Nb header lines : N\", found \"\(second)\"")
        }
        guard headerCount >= 3, headerCount <= lines.count else {
            throw InstrumentFileError.malformed(path: path, location: "line 2",
                                                detail: "Nb header lines is \(headerCount); expected 3…\(lines.count) (the file has \(lines.count) lines)")
        }
        let headerLines = (2..<(headerCount - 1)).map { TextBytes.text(bytes[lines[$0]]) }
        var record = InstrumentRecord(sourcePath: path, format: .ecLabText, instrument: nil, softwareVersion: nil,
                                      firmwareVersion: nil, techniques: [], settings: [:], acquisitionStart: nil,
                                      columns: [], otherTables: [], aborted: false, notes: [])
        ECLabHeader.apply(headerLines, to: &record, timeZone: timeZone)

        // Column names: tab-separated, EC-Lab ends the line with a tab.
        let nameLine = lines[headerCount - 1]
        var names = TextBytes.fields(bytes, nameLine, separator: TextBytes.tab).map { TextBytes.text(bytes[$0]) }
        while names.last == "" { names.removeLast() }
        guard !names.isEmpty else {
            throw InstrumentFileError.malformed(path: path, location: "line \(headerCount)", detail: "expected the tab-separated column names")
        }
        var values = [[Double]](repeating: [], count: names.count)
        let dataLines = lines[headerCount...]
        for k in values.indices { values[k].reserveCapacity(dataLines.count) }
        for (offset, line) in dataLines.enumerated() where !line.isEmpty {
            let lineNumber = headerCount + offset + 1
            var fieldStart = line.lowerBound
            var column = 0
            var i = line.lowerBound
            // Walk the line once; a trailing tab leaves an empty last field, which is skipped.
            while i <= line.upperBound {
                if i == line.upperBound || bytes[i] == TextBytes.tab {
                    if column < names.count {
                        guard let v = TextBytes.number(bytes, fieldStart..<i) else {
                            let text = TextBytes.text(bytes[fieldStart..<i])
                            throw InstrumentFileError.malformed(path: path, location: "line \(lineNumber), column \"\(names[column])\"",
                                                                detail: "expected a number, found \"\(text)\"")
                        }
                        values[column].append(v)
                    } else if fieldStart < i {
                        throw InstrumentFileError.malformed(path: path, location: "line \(lineNumber)",
                                                            detail: "more fields than the \(names.count) column names")
                    }
                    column += 1
                    fieldStart = i + 1
                }
                i += 1
            }
            if column < names.count {
                throw InstrumentFileError.malformed(path: path, location: "line \(lineNumber)",
                                                    detail: "\(column) fields; expected \(names.count) (one per column name)")
            }
        }
        record.columns = zip(names, values).map { InstrumentColumn(name: $0, values: $1, unitSeparator: .ecLab) }
        return record
    }
}

/// The header lines EC-Lab writes (in `.mpt` files; the `.mpr` log module holds the same facts in
/// binary).
enum ECLabHeader {
    static func apply(_ lines: [String], to record: inout InstrumentRecord, timeZone: TimeZone) {
        var sawTechnique = false
        for (index, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            // The technique's full name is the first non-empty header line ("Modulo Bat").
            if !sawTechnique, index <= 2, !line.contains(" : ") {
                record.techniques.append(line)
                sawTechnique = true
                continue
            }
            if let r = line.range(of: " : ") {
                let key = String(line[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                let value = String(line[r.upperBound...]).trimmingCharacters(in: .whitespaces)
                if record.settings[key] == nil { record.settings[key] = value }
                if key == "Acquisition started on" { record.acquisitionStart = ECLabHeader.date(value, timeZone: timeZone) }
                if key == "Device" { record.instrument = value }
                continue
            }
            let lower = line.lowercased()
            if lower.hasPrefix("ec-lab for windows v") || lower.hasPrefix("ec-lab v") {
                record.softwareVersion = version(in: line)
                continue
            }
            if lower.hasPrefix("internet server v") { record.firmwareVersion = version(in: line); continue }
            // Parameter table rows: "Is   0,000   30,000" — the name, then one field per sequence.
            if let gap = line.range(of: "  ") {
                let key = String(line[..<gap.lowerBound])
                let rest = line[gap.upperBound...].split(separator: " ", omittingEmptySubsequences: true).joined(separator: " | ")
                if record.settings[key] == nil { record.settings[key] = rest }
            }
        }
    }

    /// "v11.50 (software)" → "11.50".
    static func version(in line: String) -> String? {
        guard let v = line.range(of: " v") else { return nil }
        let tail = line[v.upperBound...]
        return tail.split(separator: " ").first.map(String.init)
    }

    /// "01/10/2024 11:02:29.886" (month/day/year) in the instrument PC's zone.
    static func date(_ text: String, timeZone: TimeZone) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timeZone
        for format in ["MM/dd/yyyy HH:mm:ss.SSS", "MM/dd/yyyy HH:mm:ss", "MM-dd-yyyy HH:mm:ss.SSS"] {
            f.dateFormat = format
            if let d = f.date(from: text) { return d }
        }
        return nil
    }
}
