import Dataset

/// The one error type of the `Figures` module. Every case names the input at fault and says what
/// was expected, so the message a user sees is enough to fix the problem.
public enum FigureError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A CSV/JSON input file could not be read or parsed.
    case unreadableInput(file: String, line: Int, reason: String, expected: String)
    /// A CSV file lacks a column the report needs.
    case missingColumn(file: String, column: String)
    /// Data handed to a figure is inconsistent (e.g. image size vs pixel count).
    case invalidData(input: String, reason: String)
    /// Cairo refused to create or write a surface.
    case cairo(output: String, status: String)
    /// The dataset is missing, not a dataset, or has a malformed file (the dataset's own message).
    case dataset(DatasetError)

    /// One-line message naming the input and what was expected.
    public var description: String {
        switch self {
        case let .unreadableInput(file, line, reason, expected):
            return line > 0 ? "\(file):\(line): \(reason); expected \(expected)"
                            : "\(file): \(reason); expected \(expected)"
        case let .missingColumn(file, column):
            return "\(file): no column '\(column)' in the header"
        case let .invalidData(input, reason):
            return "\(input): \(reason)"
        case let .cairo(output, status):
            return "\(output): cairo failed: \(status)"
        case let .dataset(e):
            return e.description
        }
    }
}
