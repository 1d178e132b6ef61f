import Foundation

/// Reads Gamry Framework data files (`.DTA`): `EXPLAIN`, a tagged header (one `TAG\tTYPE\tVALUE…`
/// line per setting; `NOTES` is followed by its own count of indented lines), then `TABLE` blocks
/// (`CURVE`, `CURVE1…n`, `OCVCURVE`, `ZCURVE`): a names line and a units line, each indented by a tab,
/// then one indented row per point. A table's declared point count is optional. A run stopped early
/// ends with a short table and/or `EXPERIMENTABORTED TOGGLE T`.
///
/// Main data: the `CURVE…` tables (concatenated, with a `Curve` column numbering them when there are
/// several), or the first table when there is none; other tables go to `otherTables`.
public enum GamryReader {
    /// Reads a `.DTA` file. DATE/TIME are taken in `timeZone`, the instrument PC's zone.
    public static func read(path: String, timeZone: TimeZone = .current) throws -> InstrumentRecord {
        let bytes = try TextBytes.load(path)
        return try parse(bytes: bytes, path: path, timeZone: timeZone)
    }

    struct RawTable {
        var name: String
        var declaredRows: Int?
        var names: [String] = []
        var units: [String] = []
        var rows: [[Double]] = []   // column-major
        var firstLine: Int
    }

    static func parse(bytes: [UInt8], path: String, timeZone: TimeZone) throws -> InstrumentRecord {
        let lines = TextBytes.lineRanges(bytes)
        guard let first = lines.first, TextBytes.text(bytes[first]).trimmingCharacters(in: .whitespaces) == "EXPLAIN" else {
            throw InstrumentFileError.malformed(path: path, location: "line 1", detail: "expected \"EXPLAIN\" (a Gamry .DTA file)")
        }
        var record = InstrumentRecord(sourcePath: path, format: .gamryDTA, instrument: nil, softwareVersion: nil,
                                      firmwareVersion: nil, techniques: [], settings: [:], acquisitionStart: nil,
                                      columns: [], otherTables: [], aborted: false, notes: [])
        var tables: [RawTable] = []
        var i = 1
        while i < lines.count {
            let line = lines[i]
            if line.isEmpty { i += 1; continue }
            if bytes[line.lowerBound] == TextBytes.tab {
                // An indented line outside a table or note: stray text, kept as a note.
                record.notes.append("line \(i + 1): indented text outside a table ignored")
                i += 1
                continue
            }
            let f = TextBytes.fields(bytes, line, separator: TextBytes.tab).map { TextBytes.text(bytes[$0]) }
            let tag = f[0], type = f.count > 1 ? f[1] : ""
            switch type {
            case "TABLE":
                var t = RawTable(name: tag, declaredRows: f.count > 2 ? Int(f[2].trimmingCharacters(in: .whitespaces)) : nil, firstLine: i + 1)
                i += 1
                func indented(_ k: Int) -> [String]? {
                    guard k < lines.count, !lines[k].isEmpty, bytes[lines[k].lowerBound] == TextBytes.tab else { return nil }
                    return Array(TextBytes.fields(bytes, lines[k], separator: TextBytes.tab).map { TextBytes.text(bytes[$0]) }.dropFirst())
                }
                guard let names = indented(i), let units = indented(i + 1) else {
                    record.notes.append("table \(tag) at line \(t.firstLine) has no names and units lines; skipped")
                    tables.append(t)
                    continue
                }
                t.names = names
                t.units = units + Array(repeating: "", count: max(0, names.count - units.count))
                t.rows = Array(repeating: [], count: names.count)
                i += 2
                let bitColumns = Set(t.units.enumerated().filter { $0.element == "bits" }.map(\.offset))
                while i < lines.count, !lines[i].isEmpty, bytes[lines[i].lowerBound] == TextBytes.tab {
                    let cells = Array(TextBytes.fields(bytes, lines[i], separator: TextBytes.tab).dropFirst())
                    guard cells.count >= names.count else {
                        throw InstrumentFileError.malformed(path: path, location: "line \(i + 1) (table \(tag))",
                                                            detail: "\(cells.count) fields; expected \(names.count)")
                    }
                    for c in 0..<names.count {
                        if bitColumns.contains(c) {
                            t.rows[c].append(bitMask(bytes[cells[c]]))
                        } else if let v = TextBytes.number(bytes, cells[c]) {
                            t.rows[c].append(v)
                        } else {
                            throw InstrumentFileError.malformed(path: path, location: "line \(i + 1), column \"\(names[c])\"",
                                                                detail: "expected a number, found \"\(TextBytes.text(bytes[cells[c]]))\"")
                        }
                    }
                    i += 1
                }
                tables.append(t)
                continue
            case "NOTES":
                let n = f.count > 2 ? Int(f[2].trimmingCharacters(in: .whitespaces)) ?? 0 : 0
                var text: [String] = []
                var k = 0
                while k < n, i + 1 < lines.count, !lines[i + 1].isEmpty, bytes[lines[i + 1].lowerBound] == TextBytes.tab {
                    text.append(TextBytes.text(bytes[lines[i + 1]]).trimmingCharacters(in: .whitespaces))
                    i += 1; k += 1
                }
                record.settings[tag] = text.joined(separator: "\n")
            default:
                let value: String
                switch type {
                case "TWOPARAM": value = f.count > 4 ? f[2...4].joined(separator: " ") : f.dropFirst(2).joined(separator: " ")
                case "": value = ""
                default: value = f.count > 2 ? f[2] : ""
                }
                if tag == "TAG" { record.techniques.append(type); record.settings[tag] = type }
                else { record.settings[tag] = value }
            }
            i += 1
        }

        if let d = record.settings["DATE"], let t = record.settings["TIME"] {
            record.acquisitionStart = date("\(d) \(t)", timeZone: timeZone)
        }
        record.softwareVersion = record.settings["FRAMEWORKVERSION"]
        record.firmwareVersion = record.settings["INSTRUMENTVERSION"]
        if let p = record.settings["PSTAT"] ?? record.settings.first(where: { $0.key.hasSuffix("PSTAT") })?.value {
            record.instrument = p + (record.settings["PSTATSERIALNO"].map { " (SN \($0))" } ?? "")
        }
        if record.settings["EXPERIMENTABORTED"] == "T" {
            record.aborted = true
            record.notes.append("the file says the experiment was aborted (EXPERIMENTABORTED T)")
        }

        let isCurve = { (name: String) -> Bool in
            name.hasPrefix("CURVE") && name.dropFirst(5).allSatisfy(\.isNumber)
        }
        var main = tables.filter { isCurve($0.name) && !$0.names.isEmpty }
        if main.isEmpty, let firstTable = tables.first(where: { !$0.names.isEmpty }) { main = [firstTable] }
        let mainNames = Set(main.map(\.name))
        if let last = main.last, let declared = last.declaredRows, last.rows.first?.count ?? 0 < declared {
            record.aborted = true
            record.notes.append("table \(last.name) declares \(declared) points and has \(last.rows.first?.count ?? 0): the curve ended early")
        }
        if main.isEmpty {
            record.notes.append("no data table: the file ends after its header (\(lines.count) lines)")
        } else {
            let names = main[0].names
            guard main.allSatisfy({ $0.names == names }) else {
                throw InstrumentFileError.malformed(path: path, location: "tables \(main.map(\.name).joined(separator: ", "))",
                                                    detail: "the CURVE tables have different columns; expected the same names in each")
            }
            var columns = names.indices.map { c in
                InstrumentColumn(name: names[c], quantity: names[c], unit: unitText(main[0].units[c]),
                                 values: main.flatMap { $0.rows[c] })
            }
            if main.count > 1 {
                let curveIndex = main.enumerated().flatMap { k, t in
                    Array(repeating: Double(Int(t.name.dropFirst(5)) ?? (k + 1)), count: t.rows.first?.count ?? 0)
                }
                columns.append(InstrumentColumn(name: "Curve", quantity: "Curve", unit: nil, values: curveIndex))
            }
            record.columns = columns
        }
        record.otherTables = tables.filter { !mainNames.contains($0.name) && !$0.names.isEmpty }.map { t in
            InstrumentTable(name: t.name, columns: t.names.indices.map {
                InstrumentColumn(name: t.names[$0], quantity: t.names[$0], unit: unitText(t.units[$0]), values: t.rows[$0])
            })
        }
        return record
    }

    /// Gamry writes `#` for counts (point numbers, ranges) and `bits` for bit strings.
    static func unitText(_ u: String) -> String? {
        let t = u.trimmingCharacters(in: .whitespaces)
        return t.isEmpty || t == "#" ? nil : t
    }

    /// "....ih..i.." → one bit per character that is not '.', bit k for the k-th character from the
    /// left (Gamry's overload flags: each position is one condition).
    static func bitMask(_ s: ArraySlice<UInt8>) -> Double {
        var v: UInt64 = 0
        for (k, c) in s.enumerated() where c != TextBytes.dot && c != TextBytes.space && k < 63 { v |= 1 << UInt64(k) }
        return Double(v)
    }

    static func date(_ text: String, timeZone: TimeZone) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timeZone
        for format in ["M/d/yyyy H:mm:ss", "M-d-yyyy H:mm:ss", "d.M.yyyy H:mm:ss"] {
            f.dateFormat = format
            if let d = f.date(from: text) { return d }
        }
        return nil
    }
}
