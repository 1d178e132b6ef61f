import Glibc

/// Errors reading or writing a dataset. Every case names the file and, where there is one, the line,
/// the offending text and what was expected.
public enum DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file the dataset needs is absent.
    case missingFile(path: String, what: String)
    /// A file is present but malformed at `line` (1-based; 0 when the file as a whole is wrong).
    case badFile(path: String, line: Int, text: String, expected: String)
    /// A CSV header lacks a column (or has it renamed).
    case missingColumn(path: String, column: String, header: String)
    /// Writing failed (ENOSPC, EIO, a blocked path…): the system's reason.
    case cannotWrite(path: String, reason: String)
    /// The output already exists and holds something: nothing was overwritten.
    case exists(path: String, reason: String)
    /// A dataset written by a newer operando whose format this one cannot read.
    case newerFormat(path: String, found: String, supported: String)

    public var description: String {
        switch self {
        case .missingFile(let p, let w): return "\(p): missing (\(w))"
        case .badFile(let p, let l, let t, let e):
            return l > 0 ? "\(p):\(l): \(DatasetError.quote(t)): expected \(e)" : "\(p): \(DatasetError.quote(t)): expected \(e)"
        case .missingColumn(let p, let c, let h): return "\(p):1: no column \"\(c)\" in the header \(DatasetError.quote(h))"
        case .cannotWrite(let p, let r): return "\(p): cannot write (\(r))"
        case .exists(let p, let r): return "\(p): \(r); nothing was overwritten"
        case .newerFormat(let p, let f, let s):
            return "\(p): format_version \(f) was written by a newer operando; this one reads format \(s).x (upgrade operando)"
        }
    }

    /// Text for a message: control characters escaped, at most 120 characters.
    static func quote(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if out.count >= 120 { out += "…"; break }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    /// The system's message for `errno`.
    static func reason(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }
}
