import Foundation

// The one CSV implementation of operando's files: comma separated, first non-comment line the header,
// `#` lines are comments, fields may be quoted ("a,b", "say ""x""") as RFC 4180 has it. Numbers are
// written with `%.9g` (or fewer digits where a file says so); "nan" marks a missing value.

/// A CSV file read whole: header, rows of fields, and each row's 1-based line for messages.
public struct CSVTable: Sendable {
    /// The file, for messages.
    public let path: String
    /// Column names as in the header.
    public let header: [String]
    /// Rows of fields (a short row is padded with empty fields).
    public let rows: [[String]]
    /// 1-based file line of each row.
    public let lines: [Int]
    private let index: [String: Int]

    /// Reads `path`, checking that the header names every column in `required`.
    /// `appendOnly`: the file is one a run appends to, so a last line without its line break is a
    /// row the writer did not finish (a crash, a full disk) and is left out.
    public static func read(_ path: String, required: [String], appendOnly: Bool = false) throws -> CSVTable {
        var data = try DurableFile.read(path)
        if appendOnly, let end = data.lastIndex(of: UInt8(ascii: "\n")), end != data.index(before: data.endIndex) {
            data = data[data.startIndex...end]
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError.badFile(path: path, line: 0, text: "not UTF-8 text", expected: "a CSV file")
        }
        return try parse(text, path: path, required: required)
    }

    /// Reads `path` if it exists (nil otherwise).
    public static func readIfPresent(_ path: String, required: [String], appendOnly: Bool = false) throws -> CSVTable? {
        FileManager.default.fileExists(atPath: path) ? try read(path, required: required, appendOnly: appendOnly) : nil
    }

    /// Parses CSV text (see the file comment for the dialect).
    public static func parse(_ text: String, path: String, required: [String]) throws -> CSVTable {
        var header: [String]? = nil
        var rows: [[String]] = []
        var lines: [Int] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1, recordLine = 1
        var inQuotes = false, quoted = false, atRecordStart = true, comment = false
        let bytes = Array(text.utf8)
        var i = 0
        func endField() {
            // Spaces and tabs trimmed on the bytes: Foundation's trimming per field dominated reading
            // a demo-sized echem.csv.
            var lo = 0, hi = field.count
            if !quoted {
                while lo < hi, field[lo] == 0x20 || field[lo] == 0x09 { lo += 1 }
                while hi > lo, field[hi - 1] == 0x20 || field[hi - 1] == 0x09 { hi -= 1 }
            }
            fields.append(String(decoding: field[lo..<hi], as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            quoted = false
        }
        func endRecord() throws {
            endField()
            defer { fields.removeAll(keepingCapacity: true); atRecordStart = true }
            if fields.count == 1 && fields[0].isEmpty { return }   // blank line
            if header == nil {
                header = fields
                return
            }
            let n = header!.count
            if fields.count > n {
                throw DatasetError.badFile(path: path, line: recordLine, text: fields.joined(separator: ","),
                                           expected: "\(n) fields as in the header")
            }
            while fields.count < n { fields.append("") }
            rows.append(fields)
            lines.append(recordLine)
        }
        while i < bytes.count {
            let b = bytes[i]
            if atRecordStart {
                recordLine = line
                atRecordStart = false
                comment = b == UInt8(ascii: "#")
            }
            if comment {
                if b == UInt8(ascii: "\n") { line += 1; comment = false; atRecordStart = true; fields.removeAll(); field.removeAll() }
                i += 1
                continue
            }
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") { field.append(b); i += 2; continue }
                    inQuotes = false
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: "\""):
                if field.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { field.removeAll(); inQuotes = true; quoted = true } else { field.append(b) }
            case UInt8(ascii: ","): endField()
            case UInt8(ascii: "\r"): break
            case UInt8(ascii: "\n"): try endRecord(); line += 1
            default: field.append(b)
            }
            i += 1
        }
        if inQuotes {
            throw DatasetError.badFile(path: path, line: recordLine, text: "an unterminated quoted field", expected: "a closing \"")
        }
        if !atRecordStart && !comment { try endRecord() }
        guard let h = header else {
            throw DatasetError.badFile(path: path, line: 0, text: "no header", expected: "a header row \(required.joined(separator: ","))")
        }
        var index: [String: Int] = [:]
        for (k, name) in h.enumerated() where index[name] == nil { index[name] = k }
        for column in required where index[column] == nil {
            throw DatasetError.missingColumn(path: path, column: column, header: h.joined(separator: ","))
        }
        return CSVTable(path: path, header: h, rows: rows, lines: lines, index: index)
    }

    /// True when the header has `column`.
    public func has(_ column: String) -> Bool { index[column] != nil }

    /// The column's position in the header.
    public func column(_ name: String) throws -> Int {
        guard let i = index[name] else {
            throw DatasetError.missingColumn(path: path, column: name, header: header.joined(separator: ","))
        }
        return i
    }

    /// Row `k` for typed access by column name.
    public func row(_ k: Int) -> CSVRow { CSVRow(table: self, index: k) }

    /// A numeric column: empty fields and "nan" are NaN; other text is an error naming file and line.
    public func doubles(_ name: String) throws -> [Double] {
        let c = try column(name)
        var out: [Double] = []
        out.reserveCapacity(rows.count)
        for k in rows.indices { out.append(try CSVRow.parseDouble(rows[k][c], table: self, row: k, column: name)) }
        return out
    }

    /// A text column.
    public func strings(_ name: String) throws -> [String] {
        let c = try column(name)
        return rows.map { $0[c] }
    }
}

/// One row of a `CSVTable`, read by column name.
public struct CSVRow {
    let table: CSVTable
    let index: Int

    /// The row's file line.
    public var line: Int { table.lines[index] }

    /// The field's text ("" when the column is absent).
    public func string(_ column: String) -> String {
        guard let c = try? table.column(column) else { return "" }
        return table.rows[index][c]
    }

    /// A number; empty and "nan" give NaN.
    public func double(_ column: String) throws -> Double {
        try Self.parseDouble(table.rows[index][try table.column(column)], table: table, row: index, column: column)
    }

    /// A finite number.
    public func finite(_ column: String) throws -> Double {
        let v = try double(column)
        guard v.isFinite else { throw bad(column, "a finite number") }
        return v
    }

    /// A number, or nil when the column is absent.
    public func optionalDouble(_ column: String) throws -> Double? {
        table.has(column) ? try double(column) : nil
    }

    /// A whole number.
    public func int(_ column: String) throws -> Int {
        let text = table.rows[index][try table.column(column)]
        guard let v = Int(text) else { throw bad(column, "a whole number") }
        return v
    }

    /// A whole number, or `fallback` when the column is absent or the field empty.
    public func int(_ column: String, default fallback: Int) throws -> Int {
        guard table.has(column), !string(column).isEmpty else { return fallback }
        return try int(column)
    }

    func bad(_ column: String, _ expected: String) -> DatasetError {
        .badFile(path: table.path, line: line, text: "\(column) = \(string(column))", expected: expected)
    }

    static func parseDouble(_ text: String, table: CSVTable, row: Int, column: String) throws -> Double {
        if text.isEmpty || text == "nan" || text == "NaN" { return .nan }
        guard let v = Double(text) else {
            throw DatasetError.badFile(path: table.path, line: table.lines[row], text: "\(column) = \(text)", expected: "a number")
        }
        return v
    }
}

/// Formatting of CSV fields.
public enum CSVField {
    /// A number with `digits` significant digits; "nan" for NaN and infinities.
    public static func number(_ x: Double, digits: Int = 9) -> String {
        guard x.isFinite else { return "nan" }
        var bytes: [UInt8] = []
        if scaledGeneral(x, precision: digits, into: &bytes) { return String(decoding: bytes, as: UTF8.self) }
        return fastGeneral(x, precision: digits) ?? String(format: "%.\(digits)g", x)
    }

    /// ``number(_:digits:)``'s text appended to `bytes` (UTF-8), without a String in between when
    /// one scaling decides it.
    static func appendNumber(_ x: Double, digits: Int, to bytes: inout [UInt8]) {
        if x.isFinite, scaledGeneral(x, precision: digits, into: &bytes) { return }
        bytes.append(contentsOf: number(x, digits: digits).utf8)
    }

    /// 10⁰ … 10²², each exact in a Double.
    private static let exactPowersOfTen: [Double] = { var p = [1.0]; for _ in 1...22 { p.append(p.last! * 10) }; return p }()

    /// C's `%.{precision}g` of a normal `x` by one scaling, or nil when the scaling cannot decide it.
    /// x·10ᵏ (or x/10⁻ᵏ), with 10^|k| exact (|k| ≤ 22), is one correctly rounded operation, so the
    /// computed value v lies within half an ulp of the exact x·10ᵏ; rounding v to an integer n then
    /// rounds x to `precision` digits exactly as printf does, unless v's fraction lies within a few
    /// ulps of ½ (an exact or near tie: nil, and the shortest-digits path decides). ~4× cheaper than
    /// ``fastGeneral(_:precision:)`` (profiles.csv's contrast column, issue 17).
    static func scaledGeneral(_ x: Double, precision p: Int, into bytes: inout [UInt8]) -> Bool {
        guard p >= 1, p <= 15, x.isNormal else { return false }
        let a = x.magnitude
        var e = Int(log10(a).rounded(.down))
        let low = exactPowersOfTen[p - 1], high = exactPowersOfTen[p]
        var v = 0.0
        for _ in 0..<3 {
            let k = p - 1 - e
            guard k >= -22, k <= 22 else { return false }
            v = k >= 0 ? a * exactPowersOfTen[k] : a / exactPowersOfTen[-k]
            if v < low { e -= 1 } else if v >= high { e += 1 } else { break }
        }
        guard v >= low, v < high else { return false }
        let whole = v.rounded(.down), fraction = v - whole
        // |v − x·10ᵏ| ≤ ½ ulp(v) ≤ v·2⁻⁵³; keep 16× that away from the tie.
        guard abs(fraction - 0.5) > v * 0x1p-49 else { return false }
        var n = Int64(whole) + (fraction > 0.5 ? 1 : 0)
        if Double(n) == high { n = Int64(low); e += 1 }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { digits in
            for i in stride(from: p - 1, through: 0, by: -1) { digits[i] = UInt8(n % 10); n /= 10 }
            var count = p
            while count > 1 && digits[count - 1] == 0 { count -= 1 }
            general(negative: x < 0, digits: UnsafeBufferPointer(rebasing: digits[0..<count]), exponent: e, precision: p, into: &bytes)
            return true
        }
    }

    /// ``scaledGeneral(_:precision:into:)`` as a String (for tests), nil when it cannot decide.
    static func scaledGeneral(_ x: Double, precision p: Int) -> String? {
        var bytes: [UInt8] = []
        return scaledGeneral(x, precision: p, into: &bytes) ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// C's `%.{precision}g` of a finite `x` from Swift's shortest round-trip digits, or nil in the one
    /// case those digits cannot decide (see below). `String(format:)` costs ~10⁴ instructions a
    /// number (format parsing, bridging, dynamic casts) and made profiles.csv the costliest part of an
    /// analysed frame (issue 17's profile); this is ~20× cheaper and gives the same text.
    ///
    /// Why the shortest digits D suffice: they lie within half a binary ulp of x. With at most
    /// `precision` digits, D is x rounded to `precision` digits. With more, rounding D and rounding
    /// x agree unless a rounding midpoint m (a number of precision + 1 digits ending in 5) separates
    /// them; m would then be closer to x than D and round-trip too, so D would not be the shortest
    /// unless D = m itself — that tie (D has exactly precision + 1 digits, the last a 5) is the nil.
    /// For precision ≤ 14 a midpoint cannot be closer to x than D otherwise (decimal spacing ≫ ulp).
    static func fastGeneral(_ x: Double, precision: Int) -> String? {
        let p = max(1, precision)
        guard p <= 14 else { return nil }
        if x == 0 { return x.sign == .minus ? "-0" : "0" }
        // Subnormals carry fewer than 53 bits: their shortest digits can be far from x ("5e-324").
        guard x.isNormal else { return nil }
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        var exponent = 0          // decimal exponent of the first significant digit
        var seenPoint = false, leading = true, pointShift = 0, explicit = 0, negativeExponent = false, inExponent = false
        for c in x.magnitude.description.utf8 {
            if inExponent {
                if c == UInt8(ascii: "-") { negativeExponent = true } else if c >= 48 && c <= 57 { explicit = explicit * 10 + Int(c - 48) }
                continue
            }
            switch c {
            case UInt8(ascii: "."): seenPoint = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
            case 48...57:
                if leading && c == 48 {
                    if seenPoint { pointShift -= 1 }   // 0.00ddd: each zero after the point lowers the exponent
                } else {
                    if leading { leading = false; exponent = seenPoint ? pointShift - 1 : -1 }
                    digits.append(c - 48)
                    if !seenPoint { exponent += 1 }
                }
            default: return nil
            }
        }
        guard !digits.isEmpty else { return nil }
        // "123.45" left exponent = 2 (−1 + one per integer digit), "0.0012" −3; add the "e±N" part.
        exponent += negativeExponent ? -explicit : explicit
        while digits.count > 1 && digits.last == 0 { digits.removeLast() }
        if digits.count > p {
            if digits.count == p + 1 && digits[p] == 5 { return nil }
            let up = digits[p] >= 5
            digits.removeLast(digits.count - p)
            if up {
                var k = p - 1
                while k >= 0 {
                    if digits[k] == 9 { digits[k] = 0; k -= 1 } else { digits[k] += 1; break }
                }
                if k < 0 { digits.insert(1, at: 0); digits.removeLast(); exponent += 1 }
            }
            while digits.count > 1 && digits.last == 0 { digits.removeLast() }
        }
        var out: [UInt8] = []
        out.reserveCapacity(24)
        digits.withUnsafeBufferPointer { general(negative: x < 0, digits: $0, exponent: exponent, precision: p, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// `%g`'s text of ±0.d₁d₂… × 10^(exponent + 1): significant `digits` (no trailing zeros), the
    /// decimal exponent of the first, at `precision` digits.
    private static func general(negative: Bool, digits: UnsafeBufferPointer<UInt8>, exponent: Int, precision p: Int,
                                into out: inout [UInt8]) {
        if negative { out.append(UInt8(ascii: "-")) }
        if exponent < -4 || exponent >= p {
            out.append(48 + digits[0])
            if digits.count > 1 { out.append(UInt8(ascii: ".")); for d in digits.dropFirst() { out.append(48 + d) } }
            out.append(UInt8(ascii: "e"))
            out.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            let e = abs(exponent)
            if e >= 100 { out.append(48 + UInt8(e / 100)) }
            out.append(48 + UInt8(e / 10 % 10)); out.append(48 + UInt8(e % 10))
        } else if exponent < 0 {
            out.append(48); out.append(UInt8(ascii: "."))
            for _ in 0..<(-exponent - 1) { out.append(48) }
            for d in digits { out.append(48 + d) }
        } else {
            for k in 0...exponent { out.append(48 + (k < digits.count ? digits[k] : 0)) }
            if digits.count > exponent + 1 {
                out.append(UInt8(ascii: "."))
                for d in digits[(exponent + 1)...] { out.append(48 + d) }
            }
        }
    }

    /// Text, quoted when it holds a comma, a quote, a line break or surrounding spaces.
    public static func text(_ s: String) -> String {
        let needs = s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ||
            s.first == " " || s.last == " " || s.hasPrefix("#")
        guard needs else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Writes a CSV file: the header at creation, then rows. `bufferBytes` 0 writes every row at once (the
/// run's files: a crash loses nothing already recorded); a larger buffer batches rows (analysis outputs).
public final class CSVWriter {
    /// The file.
    public let path: String
    /// Column names.
    public let columns: [String]
    private let file: AppendFile
    private let bufferBytes: Int
    private var buffer: [UInt8] = []

    /// Creates `path` (it must not exist) and writes the header.
    public init(path: String, columns: [String], bufferBytes: Int = 0) throws {
        self.path = path
        self.columns = columns
        self.bufferBytes = bufferBytes
        file = try AppendFile(path: path)
        try file.write(columns.map(CSVField.text).joined(separator: ",") + "\n")
    }

    /// Appends one row of already formatted fields (`CSVField`); the count must match the header.
    public func append(_ fields: [String]) throws {
        precondition(fields.count == columns.count, "CSV row of \(fields.count) fields for \(columns.count) columns in \(path)")
        var line = fields.joined(separator: ",")
        line += "\n"
        if bufferBytes == 0 { try file.write(line); return }
        buffer.append(contentsOf: line.utf8)
        if buffer.count >= bufferBytes { try flush() }
    }

    /// Appends one row that `build` writes as UTF-8 (fields formatted as `CSVField` does, separated
    /// by commas, no newline) at the end of the buffer: for writers that build rows from cached
    /// field texts.
    func appendRow(_ build: (inout [UInt8]) -> Void) throws {
        build(&buffer)
        buffer.append(UInt8(ascii: "\n"))
        if bufferBytes == 0 || buffer.count >= bufferBytes { try flush() }
    }

    /// Writes buffered rows.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        defer { buffer.removeAll(keepingCapacity: true) }
        try buffer.withUnsafeBytes { try file.write($0) }
    }

    /// Flushes the kernel's buffers to the device.
    public func sync() throws { try flush(); try file.sync() }

    /// Flushes, syncs and closes.
    public func close() throws {
        try flush()
        try file.close()
    }
}
