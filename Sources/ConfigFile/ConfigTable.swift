/// A TOML table that records which keys were asked for and read (Klipper's configfile idea): after
/// a reader has taken what it knows, `checkAllKeysRead()` makes every key nobody read an error naming
/// file, line, key and the keys that are known. Getters check type and physical range and throw one
/// line errors naming file, line, key, value and what was expected.
public final class ConfigTable {
    /// How the table came to exist (TOML's rules on defining a table twice depend on it).
    enum Origin { case implicit, header, dotted, inline, arrayElement, root }

    /// File the table was read from.
    public let file: String
    /// Dotted path of the table (`""` for the root, `cell`, `steps[2]`, `sim.faults[0]`).
    public let path: String
    /// 1-based line and column where the table was defined (its header, or its first key).
    public internal(set) var line: Int
    public internal(set) var column: Int
    var origin: Origin

    /// Keys in the order they were written.
    public private(set) var keys: [String] = []
    var entries: [String: ConfigNode] = [:]
    /// Where each key was written (the key itself, which may differ from where its value starts).
    var keyPositions: [String: (line: Int, column: Int)] = [:]
    /// Keys holding arrays of tables made by `[[name]]` headers (they may be appended to).
    var tableArrayKeys: Set<String> = []
    /// Keys a reader asked for, present or not (they are the "known" keys of messages).
    public private(set) var knownKeys: [String] = []
    private var knownSet: Set<String> = []
    /// Keys whose value was read.
    public private(set) var readKeys: Set<String> = []

    init(file: String, path: String, line: Int, column: Int, origin: Origin) {
        self.file = file
        self.path = path
        self.line = line
        self.column = column
        self.origin = origin
    }

    func insert(_ key: String, _ node: ConfigNode, keyLine: Int, keyColumn: Int) {
        keys.append(key)
        entries[key] = node
        keyPositions[key] = (keyLine, keyColumn)
    }

    func replace(_ key: String, _ node: ConfigNode) { entries[key] = node }

    // MARK: Names for messages

    /// The key's full dotted path (`cell.active_mass_mg`).
    public func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// How the table is named in messages: `[cell]`, `[[steps]] entry 3`, or `the top level`.
    public var displayName: String {
        if path.isEmpty { return "the top level" }
        if path.hasSuffix("]"), let open = path.lastIndex(of: "[") {
            let name = path[..<open]
            let index = Int(path[path.index(after: open)..<path.index(before: path.endIndex)]) ?? 0
            return "[[\(name)]] entry \(index + 1)"
        }
        return "[\(path)]"
    }

    /// 1-based line where `key` was written, if present.
    public func line(of key: String) -> Int? { keyPositions[key]?.line }

    /// An error located at `key` (or at the table itself when `key` is nil or absent).
    public func error(_ key: String?, _ problem: String, kind: ConfigError.Kind = .invalid, text: String? = nil) -> ConfigError {
        if let key, let pos = keyPositions[key] {
            let shown = text ?? entries[key].map { $0.value.displayText } ?? ""
            return ConfigError(kind: kind, file: file, line: pos.line, column: pos.column, key: keyPath(key),
                               text: shown, problem: problem)
        }
        return ConfigError(kind: kind, file: file, line: line > 0 ? line : nil, column: line > 0 ? column : nil,
                           key: key.map(keyPath) ?? (path.isEmpty ? nil : path), text: text ?? "", problem: problem)
    }

    // MARK: Tracked access

    private func know(_ key: String) {
        if knownSet.insert(key).inserted { knownKeys.append(key) }
    }

    /// Declares keys as known without reading them (for messages and `checkKeys`).
    public func declare(_ keys: [String]) { for k in keys { know(k) } }

    /// True when `key` is present; the key becomes known but is not marked read.
    public func contains(_ key: String) -> Bool {
        know(key)
        return entries[key] != nil
    }

    /// The raw node at `key`, marked read.
    public func node(_ key: String) -> ConfigNode? {
        know(key)
        guard let n = entries[key] else { return nil }
        readKeys.insert(key)
        return n
    }

    /// Marks `key` read without looking at it (a key deliberately ignored, e.g. a comment field).
    public func ignore(_ key: String) {
        know(key)
        if entries[key] != nil { readKeys.insert(key) }
    }

    /// Throws at once for the first key (in file order) not in `allowed`; the allowed keys become known.
    public func checkKeys(allowed: [String]) throws {
        declare(allowed)
        let allowedSet = Set(allowed)
        for k in keys where !allowedSet.contains(k) {
            throw unknownKeyError(k)
        }
    }

    func unknownKeyError(_ k: String) -> ConfigError {
        let expected = knownKeys.isEmpty ? "no keys are expected here"
            : "expected one of " + knownKeys.joined(separator: ", ")
        return error(k, "unknown key \"\(ConfigError.displayText(k, limit: 60))\" in \(displayName); \(expected)",
                     kind: .unknownKey, text: "")
    }

    /// Every key not read is an error naming file, line, key and the known keys. With `recursive`,
    /// tables that were read are checked too (tables nobody read are reported as unread keys).
    public func checkAllKeysRead(recursive: Bool = true) throws {
        for k in keys where !readKeys.contains(k) {
            throw unknownKeyError(k)
        }
        guard recursive else { return }
        for k in keys {
            guard let n = entries[k] else { continue }
            switch n.value {
            case .table(let t): try t.checkAllKeysRead(recursive: true)
            case .array(let a):
                for e in a { if case .table(let t) = e.value { try t.checkAllKeysRead(recursive: true) } }
            default: break
            }
        }
    }

    // MARK: Typed getters

    private func wrongType(_ key: String, _ n: ConfigNode, _ expected: String) -> ConfigError {
        error(key, "\(key) must be \(expected); got \(article(n.value.typeName)) \(n.value.typeName)", kind: .wrongType)
    }

    /// A number (integer or float) in `range`, in `unit` (named in messages).
    public func number(_ key: String, unit: String = "", range: NumberRange? = nil) throws -> Double? {
        guard let n = node(key) else { return nil }
        let x: Double
        switch n.value {
        case .float(let d): x = d
        case .integer(let i): x = Double(i)
        default: throw wrongType(key, n, "a number" + (unit.isEmpty ? "" : " of \(unit)"))
        }
        if let range, !range.contains(x) {
            throw error(key, "\(key) = \(formatNumber(x))\(unit.isEmpty ? "" : " " + unit): expected \(range.describe(unit: unit))",
                        kind: .outOfRange)
        }
        if range == nil, !x.isFinite {
            throw error(key, "\(key) = \(formatNumber(x)): expected a finite number", kind: .outOfRange)
        }
        return x
    }

    /// A number in a closed range.
    public func number(_ key: String, unit: String = "", range: ClosedRange<Double>) throws -> Double? {
        try number(key, unit: unit, range: NumberRange(range))
    }

    /// A number with a default used when the key is absent.
    public func number(_ key: String, unit: String = "", range: NumberRange? = nil, default value: Double) throws -> Double {
        try number(key, unit: unit, range: range) ?? value
    }

    /// A number in a closed range with a default.
    public func number(_ key: String, unit: String = "", range: ClosedRange<Double>, default value: Double) throws -> Double {
        try number(key, unit: unit, range: NumberRange(range)) ?? value
    }

    /// A whole number (a TOML integer) in `range`.
    public func integer(_ key: String, range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let n = node(key) else { return nil }
        guard case .integer(let i) = n.value else {
            let words = range.map { " from \($0.lowerBound) to \($0.upperBound)" } ?? ""
            throw error(key, "\(key) must be a whole number\(words); got \(article(n.value.typeName)) \(n.value.typeName)", kind: .wrongType)
        }
        if let range, !(i >= Int64(range.lowerBound) && i <= Int64(range.upperBound)) {
            throw error(key, "\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound); got \(i)", kind: .outOfRange)
        }
        guard let v = Int(exactly: i) else {
            throw error(key, "\(key) = \(i) does not fit this machine's integers", kind: .outOfRange)
        }
        return v
    }

    /// A whole number with a default.
    public func integer(_ key: String, range: ClosedRange<Int>? = nil, default value: Int) throws -> Int {
        try integer(key, range: range) ?? value
    }

    /// A string, optionally one of a fixed set of choices, at most `maxLength` characters.
    public func string(_ key: String, oneOf choices: [String]? = nil, maxLength: Int = 10_000) throws -> String? {
        guard let n = node(key) else { return nil }
        guard case .string(let s) = n.value else {
            throw wrongType(key, n, choices.map { "one of " + $0.map { "\"\($0)\"" }.joined(separator: ", ") } ?? "a string")
        }
        if s.unicodeScalars.count > maxLength {
            throw error(key, "\(key) is \(s.unicodeScalars.count) characters long; expected at most \(maxLength)", kind: .outOfRange)
        }
        if let choices, !choices.contains(s) {
            throw error(key, "\(key) = \"\(ConfigError.displayText(s))\": expected one of " + choices.map { "\"\($0)\"" }.joined(separator: ", "),
                        kind: .invalid)
        }
        return s
    }

    /// A string with a default.
    public func string(_ key: String, oneOf choices: [String]? = nil, default value: String) throws -> String {
        try string(key, oneOf: choices) ?? value
    }

    /// A boolean.
    public func bool(_ key: String) throws -> Bool? {
        guard let n = node(key) else { return nil }
        guard case .bool(let b) = n.value else { throw wrongType(key, n, "true or false") }
        return b
    }

    /// A sub-table (`[name]`, a dotted key, or an inline table).
    public func table(_ key: String) throws -> ConfigTable? {
        guard let n = node(key) else { return nil }
        guard case .table(let t) = n.value else {
            throw error(key, "\(key) must be a table [\(keyPath(key))]; got \(article(n.value.typeName)) \(n.value.typeName)", kind: .wrongType)
        }
        return t
    }

    /// An array of tables (`[[name]]` entries, or an array of inline tables).
    public func tables(_ key: String) throws -> [ConfigTable]? {
        guard let n = node(key) else { return nil }
        guard case .array(let a) = n.value else {
            throw error(key, "\(key) must be an array of tables [[\(keyPath(key))]]; got \(article(n.value.typeName)) \(n.value.typeName)", kind: .wrongType)
        }
        return try a.enumerated().map { k, e in
            guard case .table(let t) = e.value else {
                throw ConfigError(kind: .wrongType, file: file, line: e.line, column: e.column, key: "\(keyPath(key))[\(k)]",
                                  text: e.value.displayText, problem: "each entry of \(key) must be a table; got \(article(e.value.typeName)) \(e.value.typeName)")
            }
            return t
        }
    }

    /// An array of values, at most `maxCount` long.
    public func array(_ key: String, maxCount: Int = 100_000) throws -> [ConfigNode]? {
        guard let n = node(key) else { return nil }
        guard case .array(let a) = n.value else { throw wrongType(key, n, "an array") }
        if a.count > maxCount {
            throw error(key, "\(key) has \(a.count) entries; expected at most \(maxCount)", kind: .outOfRange, text: "")
        }
        return a
    }

    /// An array of numbers, each in `range`.
    public func numbers(_ key: String, unit: String = "", range: NumberRange? = nil, maxCount: Int = 100_000) throws -> [Double]? {
        guard let a = try array(key, maxCount: maxCount) else { return nil }
        return try a.enumerated().map { k, e in
            let x: Double
            switch e.value {
            case .float(let d): x = d
            case .integer(let i): x = Double(i)
            default:
                throw ConfigError(kind: .wrongType, file: file, line: e.line, column: e.column, key: "\(keyPath(key))[\(k)]",
                                  text: e.value.displayText, problem: "\(key)[\(k)] must be a number; got \(article(e.value.typeName)) \(e.value.typeName)")
            }
            if let range, !range.contains(x) {
                throw ConfigError(kind: .outOfRange, file: file, line: e.line, column: e.column, key: "\(keyPath(key))[\(k)]",
                                  text: formatNumber(x), problem: "\(key)[\(k)] = \(formatNumber(x)): expected \(range.describe(unit: unit))")
            }
            return x
        }
    }

    /// An array of strings.
    public func strings(_ key: String, maxCount: Int = 100_000) throws -> [String]? {
        guard let a = try array(key, maxCount: maxCount) else { return nil }
        return try a.enumerated().map { k, e in
            guard case .string(let s) = e.value else {
                throw ConfigError(kind: .wrongType, file: file, line: e.line, column: e.column, key: "\(keyPath(key))[\(k)]",
                                  text: e.value.displayText, problem: "item \(k + 1) of \(key) must be a string; got \(article(e.value.typeName)) \(e.value.typeName)")
            }
            return s
        }
    }
}

func article(_ word: String) -> String {
    guard let c = word.first else { return "a" }
    return "aeiou".contains(c) ? "an" : "a"
}
