/// TOML 1.0 over UTF-8 bytes (validated before). Recursive descent with bounded nesting; every error
/// is a thrown `ConfigError` (kind `.syntax`) at the byte where the parser stopped.
struct TOMLParser {
    let b: [UInt8]
    let file: String
    let lineStarts: [Int]
    var i = 0
    let root: ConfigTable
    var current: ConfigTable
    /// Tables defined by a `[header]`, with the line of their first definition.
    var depth = 0

    init(bytes: [UInt8], file: String, lineStarts: [Int]) {
        b = bytes
        self.file = file
        self.lineStarts = lineStarts
        root = ConfigTable(file: file, path: "", line: 0, column: 0, origin: .root)
        current = root
        // A UTF-8 byte order mark is allowed at the start.
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { i = 3 }
    }

    // MARK: Errors and positions

    /// Line and column of a byte offset. Positions are asked for in increasing order as the parser
    /// moves on, so the column is advanced from the last answer (a 4 MB one-line array stays linear).
    func position(_ offset: Int) -> (Int, Int) {
        let c = cache
        if offset >= c.offset, c.line >= 1 {
            let nextLine = c.line < lineStarts.count ? lineStarts[c.line] : b.count + 1
            if offset < nextLine {
                var column = c.column
                var k = c.offset
                while k < offset { if b[k] & 0xC0 != 0x80 { column += 1 }; k += 1 }
                c.offset = offset
                c.column = column
                return (c.line, column)
            }
        }
        let (l, col) = linePosition(offset, bytes: b, lineStarts: lineStarts)
        c.offset = offset
        c.line = l
        c.column = col
        return (l, col)
    }

    final class PositionCache {
        var offset = 0
        var line = 0
        var column = 1
    }
    let cache = PositionCache()

    func lineText(_ line: Int) -> String {
        let start = lineStarts[line - 1]
        var end = line < lineStarts.count ? lineStarts[line] : b.count
        while end > start, b[end - 1] == 0x0A || b[end - 1] == 0x0D { end -= 1 }
        return String(decoding: b[start..<end], as: UTF8.self)
    }

    func fail(_ problem: String, at offset: Int? = nil) -> ConfigError {
        let (l, c) = position(offset ?? i)
        return ConfigError(kind: .syntax, file: file, line: l, column: c, text: lineText(l),
                           problem: "not valid TOML: " + problem)
    }

    func describeHere() -> String {
        guard i < b.count else { return "the end of the file" }
        let c = b[i]
        switch c {
        case 0x0A: return "the end of the line"
        case 0x0D: return "a carriage return"
        case 0x09: return "a tab"
        default:
            if c < 0x20 || c == 0x7F { return "control character 0x\(String(c, radix: 16, uppercase: true))" }
            var end = i + 1
            while end < b.count, b[end] & 0xC0 == 0x80 { end += 1 }
            return "\"" + ConfigError.displayText(String(decoding: b[i..<end], as: UTF8.self)) + "\""
        }
    }

    var atEnd: Bool { i >= b.count }
    func peek(_ k: Int = 0) -> UInt8? { i + k < b.count ? b[i + k] : nil }

    // MARK: Whitespace, comments, newlines

    mutating func skipSpaces() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
    }

    /// A comment runs to the end of the line; control characters other than tab are not allowed in it.
    mutating func skipComment() throws {
        guard peek() == 0x23 else { return }
        while i < b.count, b[i] != 0x0A {
            let c = b[i]
            if c == 0x0D, peek(1) == 0x0A { break }
            if (c < 0x20 && c != 0x09) || c == 0x7F {
                throw fail("control character 0x\(String(c, radix: 16, uppercase: true)) in a comment")
            }
            i += 1
        }
    }

    /// Consumes a newline (LF or CRLF) if there is one.
    mutating func newline() throws -> Bool {
        if peek() == 0x0A { i += 1; return true }
        if peek() == 0x0D {
            guard peek(1) == 0x0A else { throw fail("a carriage return must be followed by a line feed") }
            i += 2
            return true
        }
        return false
    }

    /// Spaces, comments and newlines (between top-level expressions and inside arrays).
    mutating func skipBlank() throws {
        while true {
            skipSpaces()
            try skipComment()
            if try !newline() { return }
        }
    }

    mutating func expectLineEnd() throws {
        skipSpaces()
        try skipComment()
        if atEnd { return }
        if try newline() { return }
        throw fail("expected the end of the line after a value, found \(describeHere())")
    }

    // MARK: Document

    mutating func parseDocument() throws {
        while true {
            try skipBlank()
            if atEnd { return }
            if b[i] == 0x5B { try parseHeader() } else { try parseKeyValue(into: current, inline: false) }
            try expectLineEnd()
        }
    }

    struct KeyPart { var name: String; var offset: Int }

    mutating func parseKey() throws -> [KeyPart] {
        var parts: [KeyPart] = []
        while true {
            skipSpaces()
            let start = i
            guard let c = peek() else { throw fail("expected a key, found the end of the file") }
            let name: String
            if c == 0x22 {
                if peek(1) == 0x22, peek(2) == 0x22 { throw fail("a key cannot be a multi-line string") }
                name = try parseBasicString()
            } else if c == 0x27 {
                if peek(1) == 0x27, peek(2) == 0x27 { throw fail("a key cannot be a multi-line string") }
                name = try parseLiteralString()
            } else {
                while let d = peek(), isBareKeyByte(d) { i += 1 }
                if i == start {
                    throw fail("expected a key (letters, digits, _ or -, or a quoted key), found \(describeHere())")
                }
                name = String(decoding: b[start..<i], as: UTF8.self)
            }
            parts.append(KeyPart(name: name, offset: start))
            if parts.count > ConfigFile.maximumNesting {
                throw fail("a dotted key with more than \(ConfigFile.maximumNesting) parts", at: parts[0].offset)
            }
            skipSpaces()
            if peek() == 0x2E { i += 1; continue }
            return parts
        }
    }

    func isBareKeyByte(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    func displayPath(_ parts: [KeyPart]) -> String {
        parts.map { part in
            part.name.utf8.allSatisfy(isBareKeyByte) && !part.name.isEmpty ? part.name : "\"" + ConfigError.displayText(part.name, limit: 40) + "\""
        }.joined(separator: ".")
    }

    mutating func parseHeader() throws {
        let start = i
        i += 1
        let isArray = peek() == 0x5B
        if isArray { i += 1 }
        let parts = try parseKey()
        guard peek() == 0x5D else {
            throw fail("expected \"\(isArray ? "]]" : "]")\" to close the table header, found \(describeHere())")
        }
        i += 1
        if isArray {
            guard peek() == 0x5D else { throw fail("expected \"]]\" to close the array-of-tables header, found \(describeHere())") }
            i += 1
        }
        let (line, column) = position(start)
        var table = root
        for (k, part) in parts.dropLast().enumerated() {
            table = try descend(table, part, pathSoFar: Array(parts[0...k]), forHeader: true)
        }
        let last = parts[parts.count - 1]
        let (kl, kc) = position(last.offset)
        if isArray {
            if table.entries[last.name] != nil {
                // Take the array out of the table so that appending does not copy it: no other
                // reference may be alive here (10,000 `[[steps]]` stay linear).
                guard table.tableArrayKeys.contains(last.name), var node = table.entries.removeValue(forKey: last.name),
                      case .array = node.value else {
                    let existing = table.entries[last.name]
                    throw fail("[[\(displayPath(parts))]]: \(displayPath(parts)) was already defined as \(existing.map(describe) ?? "a value") on line \(existing?.line ?? 0)", at: last.offset)
                }
                let (firstLine, firstColumn) = (node.line, node.column)
                var list: [ConfigNode] = []
                if case .array(let l) = node.value { list = l }
                node.value = .bool(false)
                let t = ConfigTable(file: file, path: "\(table.keyPath(last.name))[\(list.count)]", line: line, column: column, origin: .arrayElement)
                list.append(ConfigNode(value: .table(t), line: line, column: column))
                table.replace(last.name, ConfigNode(value: .array(list), line: firstLine, column: firstColumn))
                current = t
            } else {
                let t = ConfigTable(file: file, path: "\(table.keyPath(last.name))[0]", line: line, column: column, origin: .arrayElement)
                table.insert(last.name, ConfigNode(value: .array([ConfigNode(value: .table(t), line: line, column: column)]), line: line, column: column),
                             keyLine: kl, keyColumn: kc)
                table.tableArrayKeys.insert(last.name)
                current = t
            }
        } else {
            if let existing = table.entries[last.name] {
                guard case .table(let t) = existing.value, t.origin == .implicit else {
                    throw fail("[\(displayPath(parts))] is defined twice (first on line \(existing.line))", at: last.offset)
                }
                t.origin = .header
                t.line = line
                t.column = column
                table.keyPositions[last.name] = (kl, kc)
                current = t
            } else {
                let t = ConfigTable(file: file, path: table.keyPath(last.name), line: line, column: column, origin: .header)
                table.insert(last.name, ConfigNode(value: .table(t), line: line, column: column), keyLine: kl, keyColumn: kc)
                current = t
            }
        }
    }

    func describe(_ n: ConfigNode) -> String {
        switch n.value {
        case .table: return "a table"
        case .array: return "an array"
        default: return "a value"
        }
    }

    /// The sub-table `part` of `table` for a header path or dotted key, created if missing.
    mutating func descend(_ table: ConfigTable, _ part: KeyPart, pathSoFar: [KeyPart], forHeader: Bool) throws -> ConfigTable {
        if let existing = table.entries[part.name] {
            switch existing.value {
            case .table(let t):
                if t.origin == .inline {
                    throw fail("\(displayPath(pathSoFar)) is an inline table (line \(existing.line)) and cannot be extended", at: part.offset)
                }
                if !forHeader, t.origin != .dotted {
                    throw fail("\(displayPath(pathSoFar)) is already defined as a table (line \(existing.line)); a dotted key cannot add to it here", at: part.offset)
                }
                return t
            case .array(let list):
                if forHeader, table.tableArrayKeys.contains(part.name), case .table(let t)? = list.last?.value { return t }
                throw fail("\(displayPath(pathSoFar)) is already an array (line \(existing.line)), not a table", at: part.offset)
            default:
                throw fail("\(displayPath(pathSoFar)) is already a value (line \(existing.line)), not a table", at: part.offset)
            }
        }
        let (l, c) = position(part.offset)
        let t = ConfigTable(file: file, path: table.keyPath(part.name), line: l, column: c, origin: forHeader ? .implicit : .dotted)
        table.insert(part.name, ConfigNode(value: .table(t), line: l, column: c), keyLine: l, keyColumn: c)
        return t
    }

    mutating func parseKeyValue(into table: ConfigTable, inline: Bool) throws {
        let parts = try parseKey()
        guard peek() == 0x3D else {
            if parts.count == 1, atEnd || peek() == 0x0A || peek() == 0x0D || peek() == 0x23 {
                throw fail("expected \"=\" and a value after the key \"\(displayPath(parts))\"")
            }
            throw fail("expected \"=\" after the key \"\(displayPath(parts))\", found \(describeHere())")
        }
        i += 1
        skipSpaces()
        var t = table
        for (k, part) in parts.dropLast().enumerated() {
            t = try descend(t, part, pathSoFar: Array(parts[0...k]), forHeader: false)
        }
        let last = parts[parts.count - 1]
        if let existing = t.entries[last.name] {
            throw fail("the key \(displayPath(parts)) is defined twice (first on line \(existing.line))", at: last.offset)
        }
        let (kl, kc) = position(last.offset)
        let value = try parseValue(path: t.keyPath(last.name))
        t.insert(last.name, value, keyLine: kl, keyColumn: kc)
    }

    // MARK: Values

    mutating func parseValue(path: String) throws -> ConfigNode {
        let (l, c) = position(i)
        guard let ch = peek() else { throw fail("expected a value, found the end of the file") }
        func node(_ v: ConfigValue) -> ConfigNode { ConfigNode(value: v, line: l, column: c) }
        switch ch {
        case 0x22:
            if peek(1) == 0x22, peek(2) == 0x22 { return node(.string(try parseMultilineBasicString())) }
            return node(.string(try parseBasicString()))
        case 0x27:
            if peek(1) == 0x27, peek(2) == 0x27 { return node(.string(try parseMultilineLiteralString())) }
            return node(.string(try parseLiteralString()))
        case 0x5B:
            return node(try parseArray(path: path))
        case 0x7B:
            return node(try parseInlineTable(path: path, line: l, column: c))
        case 0x74, 0x66:
            if match("true") { return node(.bool(true)) }
            if match("false") { return node(.bool(false)) }
            throw fail("expected a value (a string in quotes, a number, true/false, an array or an inline table), found \(describeHere())")
        default:
            if ch == 0x2B || ch == 0x2D || ch == 0x69 || ch == 0x6E || (ch >= 0x30 && ch <= 0x39) {
                return node(try parseNumberOrDate())
            }
            if ch == 0x0A || ch == 0x0D || ch == 0x23 { throw fail("expected a value after \"=\"") }
            throw fail("expected a value (a string in quotes, a number, true/false, an array or an inline table), found \(describeHere())")
        }
    }

    mutating func match(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard i + w.count <= b.count, Array(b[i..<(i + w.count)]) == w else { return false }
        if let next = peek(w.count), isBareKeyByte(next) { return false }
        i += w.count
        return true
    }

    mutating func enter() throws {
        depth += 1
        if depth > ConfigFile.maximumNesting {
            throw fail("arrays and inline tables nested deeper than \(ConfigFile.maximumNesting) levels")
        }
    }

    mutating func parseArray(path: String) throws -> ConfigValue {
        try enter()
        defer { depth -= 1 }
        i += 1
        var items: [ConfigNode] = []
        while true {
            try skipBlank()
            guard let c = peek() else { throw fail("unterminated array: expected \"]\"") }
            if c == 0x5D { i += 1; return .array(items) }
            items.append(try parseValue(path: "\(path)[\(items.count)]"))
            try skipBlank()
            guard let d = peek() else { throw fail("unterminated array: expected \",\" or \"]\"") }
            if d == 0x2C { i += 1; continue }
            if d == 0x5D { i += 1; return .array(items) }
            throw fail("expected \",\" or \"]\" in an array, found \(describeHere())")
        }
    }

    mutating func parseInlineTable(path: String, line: Int, column: Int) throws -> ConfigValue {
        try enter()
        defer { depth -= 1 }
        i += 1
        let t = ConfigTable(file: file, path: path, line: line, column: column, origin: .dotted)
        skipSpaces()
        if peek() == 0x7D { i += 1; seal(t); return .table(t) }
        while true {
            skipSpaces()
            try parseKeyValue(into: t, inline: true)
            skipSpaces()
            guard let d = peek() else { throw fail("unterminated inline table: expected \"}\"") }
            if d == 0x2C {
                i += 1
                skipSpaces()
                if peek() == 0x7D { throw fail("an inline table cannot end with a comma") }
                continue
            }
            if d == 0x7D { i += 1; seal(t); return .table(t) }
            if d == 0x0A || d == 0x0D { throw fail("an inline table must be on one line: expected \"}\"") }
            throw fail("expected \",\" or \"}\" in an inline table, found \(describeHere())")
        }
    }

    func seal(_ t: ConfigTable) {
        t.origin = .inline
        for k in t.keys {
            if case .table(let s)? = t.entries[k]?.value, s.origin == .dotted { seal(s) }
        }
    }

    // MARK: Strings

    mutating func parseBasicString() throws -> String {
        let open = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw fail("unterminated string: expected a closing \"", at: open) }
            if c == 0x22 { i += 1; break }
            if c == 0x0A || c == 0x0D { throw fail("unterminated string: a \"…\" string must end on its line (use \"\"\" for several lines)", at: open) }
            if c == 0x5C { try parseEscape(into: &out); continue }
            if (c < 0x20 && c != 0x09) || c == 0x7F {
                throw fail("control character 0x\(String(c, radix: 16, uppercase: true)) in a string; write it as an escape such as \\u0007")
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func parseEscape(into out: inout [UInt8]) throws {
        let at = i
        i += 1
        guard let e = peek() else { throw fail("unterminated escape at the end of the file") }
        i += 1
        switch e {
        case 0x62: out.append(0x08)
        case 0x74: out.append(0x09)
        case 0x6E: out.append(0x0A)
        case 0x66: out.append(0x0C)
        case 0x72: out.append(0x0D)
        case 0x22: out.append(0x22)
        case 0x5C: out.append(0x5C)
        case 0x75, 0x55:
            let n = e == 0x75 ? 4 : 8
            guard i + n <= b.count else { throw fail("incomplete \\\(e == 0x75 ? "u" : "U") escape", at: at) }
            var v: UInt32 = 0
            for k in 0..<n {
                guard let d = hexValue(b[i + k]) else { throw fail("\\\(e == 0x75 ? "u" : "U") escape needs \(n) hex digits", at: at) }
                v = v << 4 | UInt32(d)
            }
            i += n
            guard let scalar = Unicode.Scalar(v) else {
                throw fail("\\\(e == 0x75 ? "u" : "U") escape U+\(String(v, radix: 16, uppercase: true)) is not a Unicode scalar value", at: at)
            }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            throw fail("unknown escape \\\(String(decoding: [e], as: UTF8.self)); expected \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX or \\UXXXXXXXX", at: at)
        }
    }

    func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    mutating func parseMultilineBasicString() throws -> String {
        let open = i
        i += 3
        _ = try newline()   // a newline right after the opening quotes is not part of the string
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw fail("unterminated multi-line string: expected a closing \"\"\"", at: open) }
            if c == 0x22, peek(1) == 0x22, peek(2) == 0x22 {
                // Up to two quotes may end the content right before the closing delimiter.
                var extra = 0
                while extra < 2, peek(3 + extra) == 0x22 { extra += 1 }
                out.append(contentsOf: [UInt8](repeating: 0x22, count: extra))
                i += 3 + extra
                break
            }
            if c == 0x5C {
                // A line-ending backslash trims the newline and following whitespace.
                var k = i + 1
                while k < b.count, b[k] == 0x20 || b[k] == 0x09 { k += 1 }
                if k < b.count, b[k] == 0x0A || (b[k] == 0x0D && k + 1 < b.count && b[k + 1] == 0x0A) {
                    i = k
                    while let d = peek(), d == 0x20 || d == 0x09 || d == 0x0A || d == 0x0D {
                        if d == 0x0D { guard peek(1) == 0x0A else { throw fail("a carriage return must be followed by a line feed") } }
                        i += 1
                    }
                    continue
                }
                try parseEscape(into: &out)
                continue
            }
            if c == 0x0D {
                guard peek(1) == 0x0A else { throw fail("a carriage return must be followed by a line feed") }
                out.append(contentsOf: [0x0D, 0x0A]); i += 2; continue
            }
            if (c < 0x20 && c != 0x09 && c != 0x0A) || c == 0x7F {
                throw fail("control character 0x\(String(c, radix: 16, uppercase: true)) in a string; write it as an escape")
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func parseLiteralString() throws -> String {
        let open = i
        i += 1
        let start = i
        while true {
            guard let c = peek() else { throw fail("unterminated literal string: expected a closing '", at: open) }
            if c == 0x27 { break }
            if c == 0x0A || c == 0x0D { throw fail("unterminated literal string: a '…' string must end on its line", at: open) }
            if (c < 0x20 && c != 0x09) || c == 0x7F {
                throw fail("control character 0x\(String(c, radix: 16, uppercase: true)) in a literal string")
            }
            i += 1
        }
        let s = String(decoding: b[start..<i], as: UTF8.self)
        i += 1
        return s
    }

    mutating func parseMultilineLiteralString() throws -> String {
        let open = i
        i += 3
        _ = try newline()
        let start = i
        while true {
            guard let c = peek() else { throw fail("unterminated multi-line literal string: expected '''", at: open) }
            if c == 0x27, peek(1) == 0x27, peek(2) == 0x27 {
                var extra = 0
                while extra < 2, peek(3 + extra) == 0x27 { extra += 1 }
                let s = String(decoding: b[start..<(i + extra)], as: UTF8.self)
                i += 3 + extra
                return s
            }
            if c == 0x0D, peek(1) != 0x0A { throw fail("a carriage return must be followed by a line feed") }
            if (c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D) || c == 0x7F {
                throw fail("control character 0x\(String(c, radix: 16, uppercase: true)) in a literal string")
            }
            i += 1
        }
    }

    // MARK: Numbers and dates

    mutating func parseNumberOrDate() throws -> ConfigValue {
        let start = i
        // Dates: YYYY-MM-DD…, times: HH:MM:SS…
        if let date = scanDateTime() { return .dateTime(date) }
        i = start
        while let c = peek(), isNumberByte(c) { i += 1 }
        let token = String(decoding: b[start..<i], as: UTF8.self)
        if token.isEmpty { throw fail("expected a value, found \(describeHere())") }
        func bad(_ why: String) -> ConfigError { fail("\"\(ConfigError.displayText(token, limit: 40))\" is not a valid number: \(why)", at: start) }
        var body = Substring(token)
        var negative = false
        if body.first == "+" || body.first == "-" { negative = body.first == "-"; body = body.dropFirst() }
        if body == "inf" { return .float(negative ? -.infinity : .infinity) }
        if body == "nan" { return .float(.nan) }
        if body.hasPrefix("0x") || body.hasPrefix("0o") || body.hasPrefix("0b") {
            if token.first == "+" || token.first == "-" { throw bad("hexadecimal, octal and binary integers take no sign") }
            let radix = body.hasPrefix("0x") ? 16 : body.hasPrefix("0o") ? 8 : 2
            let digits = body.dropFirst(2)
            guard try checkUnderscores(digits, token: token, start: start), !digits.isEmpty else { throw bad("no digits after the prefix") }
            guard let v = Int64(digits.filter { $0 != "_" }, radix: radix) else {
                throw bad(digits.allSatisfy({ $0 == "_" || $0.isHexDigit }) ? "larger than a 64-bit integer" : "a digit does not belong to base \(radix)")
            }
            return .integer(v)
        }
        // Decimal integer or float.
        var intPart = body
        var rest = Substring("")
        if let k = body.firstIndex(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            intPart = body[..<k]
            rest = body[k...]
        }
        guard !intPart.isEmpty, intPart.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }) else {
            throw bad("expected digits")
        }
        _ = try checkUnderscores(intPart, token: token, start: start)
        if intPart.count > 1, intPart.first == "0" { throw bad("leading zeros are not allowed") }
        if rest.isEmpty {
            guard let v = Int64(token.filter { $0 != "_" }) else { throw bad("larger than a 64-bit integer") }
            return .integer(v)
        }
        var r = rest
        if r.first == "." {
            r = r.dropFirst()
            let frac = r.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
            guard !frac.isEmpty, frac.first != "_" else { throw bad("a decimal point must be followed by digits") }
            _ = try checkUnderscores(frac, token: token, start: start)
            r = r.dropFirst(frac.count)
        }
        if r.first == "e" || r.first == "E" {
            r = r.dropFirst()
            if r.first == "+" || r.first == "-" { r = r.dropFirst() }
            let exp = r.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
            guard !exp.isEmpty else { throw bad("an exponent needs digits") }
            _ = try checkUnderscores(exp, token: token, start: start)
            r = r.dropFirst(exp.count)
        }
        guard r.isEmpty else { throw bad("unexpected \"\(ConfigError.displayText(String(r), limit: 20))\"") }
        guard let v = Double(token.filter { $0 != "_" }) else { throw bad("cannot be read as a number") }
        return .float(v)
    }

    func isNumberByte(_ c: UInt8) -> Bool {
        isBareKeyByte(c) || c == 0x2B || c == 0x2E
    }

    /// Underscores only between digits.
    func checkUnderscores(_ s: Substring, token: String, start: Int) throws -> Bool {
        var previous: Character? = nil
        for ch in s {
            if ch == "_" && !(previous.map { $0.isHexDigit } ?? false) {
                throw fail("\"\(ConfigError.displayText(token, limit: 40))\" is not a valid number: an underscore must sit between digits", at: start)
            }
            previous = ch
        }
        if previous == "_" {
            throw fail("\"\(ConfigError.displayText(token, limit: 40))\" is not a valid number: an underscore must sit between digits", at: start)
        }
        return true
    }

    /// Scans an RFC 3339 date, time or date-time (kept as text); nil (position unspecified) if there is none.
    mutating func scanDateTime() -> String? {
        let start = i
        func digits(_ n: Int) -> Bool {
            guard i + n <= b.count else { return false }
            for k in 0..<n where !(b[i + k] >= 0x30 && b[i + k] <= 0x39) { return false }
            i += n
            return true
        }
        func char(_ c: UInt8) -> Bool { if peek() == c { i += 1; return true }; return false }
        func time() -> Bool {
            guard digits(2), char(0x3A), digits(2), char(0x3A), digits(2) else { return false }
            if char(0x2E) {
                guard digits(1) else { return false }
                while let c = peek(), c >= 0x30, c <= 0x39 { i += 1 }
            }
            return true
        }
        if digits(4), char(0x2D), digits(2), char(0x2D), digits(2) {
            let dateEnd = i
            if let c = peek(), c == 0x54 || c == 0x74 || (c == 0x20 && peek(1).map { $0 >= 0x30 && $0 <= 0x39 } == true) {
                i += 1
                guard time() else { i = dateEnd; return String(decoding: b[start..<dateEnd], as: UTF8.self) }
                if char(0x5A) || char(0x7A) {} else if let c = peek(), c == 0x2B || c == 0x2D {
                    let mark = i
                    i += 1
                    if !(digits(2) && char(0x3A) && digits(2)) { i = mark }
                }
            }
            if let c = peek(), isBareKeyByte(c) || c == 0x2E || c == 0x3A { return nil }
            return String(decoding: b[start..<i], as: UTF8.self)
        }
        i = start
        if time() {
            if let c = peek(), isBareKeyByte(c) || c == 0x2E || c == 0x3A { return nil }
            return String(decoding: b[start..<i], as: UTF8.self)
        }
        return nil
    }
}
