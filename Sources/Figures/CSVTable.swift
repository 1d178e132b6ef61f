import Foundation

/// A small CSV reader for the dataset's numeric tables: header row, comma separated, no quoting.
struct CSVTable {
    let file: String
    let header: [String]
    let rows: [[Substring]]
    /// 1-based file line of each row (for error messages).
    let lines: [Int]

    static func read(_ path: String) throws -> CSVTable? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FigureError.unreadableInput(file: path, line: 0, reason: "cannot read (\(error.localizedDescription))",
                                              expected: "a readable UTF-8 CSV file")
        }
        return try parse(text, file: path)
    }

    static func parse(_ text: String, file: String) throws -> CSVTable {
        var header: [String]?
        var rows: [[Substring]] = []
        var lines: [Int] = []
        var n = 0
        // "\r\n" is one Character in Swift, so split on either form (CSV files written on Windows).
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            n += 1
            if trim(line).isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            if header == nil {
                header = fields.map { String(trim($0)) }
                continue
            }
            rows.append(fields); lines.append(n)
        }
        guard let h = header else {
            throw FigureError.unreadableInput(file: file, line: 0, reason: "empty file", expected: "a header row and data rows")
        }
        return CSVTable(file: file, header: h, rows: rows, lines: lines)
    }

    func has(_ column: String) -> Bool { header.contains(column) }

    func index(_ column: String) throws -> Int {
        guard let i = header.firstIndex(of: column) else { throw FigureError.missingColumn(file: file, column: column) }
        return i
    }

    /// A numeric column; empty fields and "nan" become NaN, anything else non-numeric is an error.
    func numbers(_ column: String) throws -> [Double] {
        let i = try index(column)
        var out: [Double] = []
        out.reserveCapacity(rows.count)
        for (k, r) in rows.enumerated() {
            guard i < r.count else {
                throw FigureError.unreadableInput(file: file, line: lines[k], reason: "row has \(r.count) fields",
                                                  expected: "\(header.count) fields as in the header")
            }
            let f = trim(r[i])
            if f.isEmpty { out.append(.nan); continue }
            guard let v = Double(f) else {
                throw FigureError.unreadableInput(file: file, line: lines[k], reason: "'\(f)' in column \(column)",
                                                  expected: "a number")
            }
            out.append(v)
        }
        return out
    }

    func strings(_ column: String) throws -> [String] {
        let i = try index(column)
        return rows.map { i < $0.count ? String(trim($0[i])) : "" }
    }
}

/// Spaces and tabs off both ends, without Foundation (this runs once per CSV field).
func trim(_ s: Substring) -> Substring {
    var a = s.startIndex, b = s.endIndex
    while a < b, s[a] == " " || s[a] == "\t" { a = s.index(after: a) }
    while b > a, s[s.index(before: b)] == " " || s[s.index(before: b)] == "\t" { b = s.index(before: b) }
    return s[a..<b]
}
