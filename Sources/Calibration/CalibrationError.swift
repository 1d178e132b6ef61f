import Dataset
import Foundation

/// Everything that can go wrong in a calibration, each case naming the input at fault.
public enum CalibrationError: Error, Equatable, CustomStringConvertible {
    /// A file the calibration needs is missing or unreadable.
    case cannotRead(path: String, reason: String)
    /// A file's content is not what was expected (line 0: the file as a whole).
    case badFile(path: String, line: Int, text: String, expected: String)
    /// A command-line or option value is out of range.
    case badValue(option: String, value: String, expected: String)
    /// The dataset has no usable frames or contrast data.
    case noData(path: String, reason: String)
    /// The image analysis the calibration depends on failed.
    case analysisFailed(dataset: String, reason: String)
    /// The particle model could not be run for these settings.
    case modelFailed(settings: String, reason: String)
    /// An output could not be written.
    case cannotWrite(path: String, reason: String)
    /// The mask holds more than one particle; the model is of one.
    case severalParticles(path: String, areasPixels: [Int])
    /// A dataset file is missing or malformed (the dataset's own message: file, line, column).
    case dataset(DatasetError)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "\(path): \(reason)"
        case let .badFile(path, line, text, expected):
            return line > 0 ? "\(path):\(line): \"\(text)\": expected \(expected)" : "\(path): \(text): expected \(expected)"
        case let .badValue(option, value, expected): return "\(option) \(value): expected \(expected)"
        case let .noData(path, reason): return "\(path): \(reason)"
        case let .analysisFailed(dataset, reason): return "\(dataset): image analysis failed: \(reason)"
        case let .modelFailed(settings, reason): return "particle model (\(settings)): \(reason)"
        case let .cannotWrite(path, reason): return "\(path): cannot write (\(reason))"
        case let .severalParticles(path, areas):
            return "\(path): the mask holds \(areas.count) separate particles (\(areas.map { "\($0) px" }.joined(separator: ", "))); "
                + "the model is of one particle: analyse again with --particle-at x,y to keep one"
        case let .dataset(e): return e.description
        }
    }
}
