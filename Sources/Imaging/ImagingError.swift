/// The one error type of the Imaging module. Every case names the input at fault and says what was
/// expected, so the CLI can print `description` as its one-line error.
public enum ImagingError: Error, Equatable, CustomStringConvertible {
    /// The file or directory does not exist or cannot be opened.
    case cannotOpen(path: String, reason: String)
    /// The TIFF is readable but not a layout Imaging handles (colour, tiled, odd bit depth …).
    case unsupportedTIFF(path: String, page: Int, found: String, expected: String)
    /// libtiff failed while reading or writing a page.
    case tiffIO(path: String, page: Int, reason: String)
    /// The stack or dataset holds no frames.
    case emptyStack(path: String)
    /// Frames of one stack differ in size.
    case sizeMismatch(path: String, frame: Int, found: String, expected: String)
    /// A command-line style value could not be parsed or is out of range.
    case badValue(option: String, value: String, expected: String)
    /// The particle mask could not be made (no pixel above threshold, nothing at `--particle-at`).
    case noParticle(path: String, reason: String)
    /// Writing an output file failed.
    case cannotWrite(path: String, reason: String)

    /// The one-line message for the user.
    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path): cannot open (\(reason))"
        case let .unsupportedTIFF(path, page, found, expected):
            return "\(path): page \(page) is \(found); expected \(expected)"
        case let .tiffIO(path, page, reason):
            return "\(path): page \(page): \(reason)"
        case let .emptyStack(path):
            return "\(path): no frames; expected a stack with at least one frame"
        case let .sizeMismatch(path, frame, found, expected):
            return "\(path): frame \(frame) is \(found); expected \(expected) like frame 0"
        case let .badValue(option, value, expected):
            return "\(option) \"\(value)\": expected \(expected)"
        case let .noParticle(path, reason):
            return "\(path): no particle found (\(reason))"
        case let .cannotWrite(path, reason):
            return "\(path): cannot write (\(reason))"
        }
    }
}
