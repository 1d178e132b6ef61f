/// An error in a configuration file: names the file, line, column, key and the offending text, and
/// says what was expected. Messages escape control characters and truncate long text, so an error is
/// always one readable line whatever the input held.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of mistake this is (callers map kinds onto their own error types).
    public enum Kind: Sendable, Equatable {
        /// The file could not be read, or is not a text file (NUL bytes, not UTF-8, too large, a directory).
        case file
        /// The text is not valid TOML.
        case syntax
        /// A key the reader does not know (a misspelling, or a key in the wrong table).
        case unknownKey
        /// A value of the wrong type (a string where a number was expected, …).
        case wrongType
        /// A value of the right type outside its physical range.
        case outOfRange
        /// A required key is absent.
        case missing
        /// A value that is otherwise meaningless (an unknown choice, contradicting another key).
        case invalid
    }

    public var kind: Kind
    /// File path, or a description such as `command line`.
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// 1-based column (in characters), when known.
    public var column: Int?
    /// Dotted path of the key at fault (`cell.active_mass_mg`, `steps[2].do`), when there is one.
    public var key: String?
    /// The offending text, verbatim (escaped and shortened only when displayed).
    public var text: String
    /// What was wrong and what was expected, in one sentence.
    public var problem: String

    public init(kind: Kind, file: String, line: Int? = nil, column: Int? = nil, key: String? = nil,
                text: String, problem: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.text = text
        self.problem = problem
    }

    /// `file:line:column`, as far as known.
    public var locationDescription: String {
        var s = ConfigError.displayText(file, limit: 200, escapeQuotes: false)
        if let line { s += ":\(line)" }
        if let line, let column, line > 0 { s += ":\(column)" }
        return s
    }

    public var description: String {
        var s = locationDescription + ": "
        if let key { s += ConfigError.displayText(key, limit: 120, escapeQuotes: false) + ": " }
        if !text.isEmpty { s += "\"" + ConfigError.displayText(text) + "\": " }
        return s + ConfigError.displayText(problem, limit: 600, escapeQuotes: false)
    }

    /// Text safe to print on one line: control characters escaped (`\r`, `\n`, `\t`, `\u{1B}`), and at
    /// most `limit` characters of the original kept (long values end in `…(N more characters)`).
    public static func displayText(_ raw: String, limit: Int = 80, escapeQuotes: Bool = true) -> String {
        var out = ""
        var kept = 0
        var total = 0
        for ch in raw.unicodeScalars {
            total += 1
            if kept >= limit { continue }
            kept += 1
            switch ch {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\"" where escapeQuotes: out += "\\\""
            case "\\" where escapeQuotes: out += "\\\\"
            default:
                if ch.value < 0x20 || ch.value == 0x7F || (0x80...0x9F).contains(ch.value)
                    || ch.value == 0x2028 || ch.value == 0x2029 || (0x202A...0x202E).contains(ch.value)
                    || (0x2066...0x2069).contains(ch.value) {
                    out += "\\u{" + String(ch.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        if total > kept { out += "…(\(total - kept) more characters)" }
        return out
    }
}
