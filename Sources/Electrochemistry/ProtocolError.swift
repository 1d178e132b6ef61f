import ConfigFile

/// Where a piece of protocol text came from, so that errors can name it.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    /// File path, or a description such as `command line`.
    public var file: String
    /// 1-based line in `file`, or the 1-based argument index on the command line; nil if unknown.
    public var line: Int?

    public init(file: String, line: Int? = nil) {
        self.file = file
        self.line = line
    }

    public var description: String {
        if let line { return "\(file):\(line)" }
        return file
    }
}

/// Errors in protocol text: every case names the input at fault and says what was expected.
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the text was read from.
    public var location: SourceLocation
    /// The offending text, verbatim.
    public var text: String
    /// What was wrong and what was expected, in one sentence.
    public var problem: String

    public init(location: SourceLocation, text: String, problem: String) {
        self.location = location
        self.text = text
        self.problem = problem
    }

    /// The error of a configuration file, as a protocol error at the same place. The offending text
    /// is the source line when `source` is given, else the error's own text.
    public init(_ e: ConfigError, source: ConfigFile?) {
        var location = SourceLocation(file: e.file, line: e.line)
        if e.line == nil { location.line = nil }
        let line = source?.sourceLine(e.line) ?? ""
        self.init(location: location, text: line.isEmpty ? e.text : line, problem: e.problem)
    }

    /// One line: control characters escaped, long text shortened.
    public var description: String {
        let text = ConfigError.displayText(self.text)
        return "\(ConfigError.displayText(location.description, limit: 200, escapeQuotes: false))" + ": \"\(text)\""
            + ": " + ConfigError.displayText(problem, limit: 600, escapeQuotes: false)
    }
}
