#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A configuration file read with operando's own TOML 1.0 parser. The parser never aborts: every
/// problem with the text is a thrown `ConfigError` naming file, line, column and the offending text.
/// It refuses NUL bytes, text that is not UTF-8, anything that is not a regular file, and files above
/// `maximumBytes`. Values remember their line; tables track which keys were read (`finish()`).
public struct ConfigFile {
    /// Largest file `load` accepts (configuration files are a few KB; 4 MB leaves room for 100,000 steps).
    public static let maximumBytes = 4 << 20
    /// Deepest nesting of arrays and inline tables (bounds the parser's recursion).
    public static let maximumNesting = 64

    /// File path, or a description such as `command line`.
    public let path: String
    /// The text, as read.
    public let text: String
    /// The top-level table.
    public let root: ConfigTable
    private let lineStarts: [Int]
    private let bytes: [UInt8]

    /// Reads and parses a file.
    /// - Throws: `ConfigError` with kind `.file` when the path is missing, a directory, a FIFO or device,
    ///   too large, or not UTF-8 text; `.syntax` for TOML errors.
    public static func load(path: String, maximumBytes: Int = ConfigFile.maximumBytes) throws -> ConfigFile {
        let bytes = try readRegularFile(path: path, maximumBytes: maximumBytes)
        return try parse(bytes: bytes, path: path)
    }

    /// Parses text; `path` names it in errors.
    public static func parse(text: String, path: String) throws -> ConfigFile {
        try parse(bytes: Array(text.utf8), path: path)
    }

    /// Parses raw bytes (checked for NUL bytes and UTF-8 first); `path` names them in errors.
    public static func parse(bytes: [UInt8], path: String) throws -> ConfigFile {
        if bytes.count > maximumBytes {
            throw ConfigError(kind: .file, file: path, text: "", problem: "the file is \(bytes.count) bytes; configuration files may be at most \(maximumBytes) bytes")
        }
        let starts = lineStartOffsets(bytes)
        func position(_ offset: Int) -> (Int, Int) { linePosition(offset, bytes: bytes, lineStarts: starts) }
        if let nul = bytes.firstIndex(of: 0) {
            let (l, c) = position(nul)
            throw ConfigError(kind: .file, file: path, line: l, column: c, text: "",
                              problem: "the file contains a NUL byte (at byte \(nul)); a configuration file is plain text")
        }
        if let bad = firstInvalidUTF8(bytes) {
            let (l, c) = position(bad)
            throw ConfigError(kind: .file, file: path, line: l, column: c, text: "",
                              problem: "the file is not UTF-8 text (invalid byte 0x\(String(bytes[bad], radix: 16, uppercase: true)) at byte \(bad)); save it as UTF-8")
        }
        var parser = TOMLParser(bytes: bytes, file: path, lineStarts: starts)
        try parser.parseDocument()
        return ConfigFile(path: path, text: String(decoding: bytes, as: UTF8.self), root: parser.root,
                          lineStarts: starts, bytes: bytes)
    }

    /// Every key nobody read is an error (file, line, key, and the keys that are known).
    public func finish() throws { try root.checkAllKeysRead(recursive: true) }

    /// Same as `finish()`.
    public func checkAllKeysRead() throws { try finish() }

    /// The text of 1-based line `n`, trimmed of surrounding spaces ("" outside the file).
    public func sourceLine(_ n: Int?) -> String {
        guard let n, n >= 1, n <= lineStarts.count else { return "" }
        let start = lineStarts[n - 1]
        var end = n < lineStarts.count ? lineStarts[n] : bytes.count
        while end > start, bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D { end -= 1 }
        var s = start
        while s < end, bytes[s] == 0x20 || bytes[s] == 0x09 { s += 1 }
        var e = end
        while e > s, bytes[e - 1] == 0x20 || bytes[e - 1] == 0x09 { e -= 1 }
        return String(decoding: bytes[s..<e], as: UTF8.self)
    }

    /// Number of lines.
    public var lineCount: Int { lineStarts.count }

    // MARK: File reading

    /// Reads a regular file of at most `maximumBytes`, refusing directories, FIFOs and devices with a
    /// plain message (opened non-blocking, so a FIFO never hangs the reader).
    public static func readRegularFile(path: String, maximumBytes: Int) throws -> [UInt8] {
        func fail(_ problem: String) -> ConfigError { ConfigError(kind: .file, file: path, text: "", problem: problem) }
        if path.isEmpty { throw fail("no file name given") }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            switch code {
            case ENOENT: throw fail("no such file")
            case EACCES: throw fail("permission denied")
            case EISDIR: throw fail("is a directory, not a file")
            default: throw fail("cannot open (\(String(cString: strerror(code))))")
            }
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("cannot stat (\(String(cString: strerror(errno))))") }
        let type = st.st_mode & S_IFMT
        if type == S_IFDIR { throw fail("is a directory, not a file") }
        if type == S_IFIFO { throw fail("is a FIFO (named pipe), not a regular file") }
        if type != S_IFREG { throw fail("is not a regular file (a device or socket)") }
        if Int(st.st_size) > maximumBytes {
            throw fail("the file is \(st.st_size) bytes; configuration files may be at most \(maximumBytes) bytes")
        }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var got = 0
        while got < out.count {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("read failed (\(String(cString: strerror(errno))))")
            }
            if n == 0 { break }
            got += n
        }
        out.removeSubrange(got...)
        return out
    }
}

/// Byte offsets where each line starts (line 1 at 0).
func lineStartOffsets(_ b: [UInt8]) -> [Int] {
    var starts = [0]
    for (k, c) in b.enumerated() where c == 0x0A { starts.append(k + 1) }
    if starts.count > 1, starts.last == b.count { starts.removeLast() }
    return starts
}

/// 1-based line and column (in Unicode scalars) of a byte offset.
func linePosition(_ offset: Int, bytes: [UInt8], lineStarts: [Int]) -> (Int, Int) {
    var lo = 0, hi = lineStarts.count - 1
    while lo < hi {
        let mid = (lo + hi + 1) / 2
        if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
    }
    var column = 1
    var k = lineStarts[lo]
    let end = min(offset, bytes.count)
    while k < end {
        if bytes[k] & 0xC0 != 0x80 { column += 1 }
        k += 1
    }
    return (lo + 1, column)
}

/// Offset of the first byte that is not part of valid UTF-8, or nil.
func firstInvalidUTF8(_ b: [UInt8]) -> Int? {
    var i = 0
    let n = b.count
    while i < n {
        let c = b[i]
        if c < 0x80 { i += 1; continue }
        var need = 0
        var minValue: UInt32 = 0
        var value: UInt32 = 0
        if c & 0xE0 == 0xC0 { need = 1; minValue = 0x80; value = UInt32(c & 0x1F) }
        else if c & 0xF0 == 0xE0 { need = 2; minValue = 0x800; value = UInt32(c & 0x0F) }
        else if c & 0xF8 == 0xF0 { need = 3; minValue = 0x10000; value = UInt32(c & 0x07) }
        else { return i }
        for k in 1...need {
            guard i + k < n, b[i + k] & 0xC0 == 0x80 else { return i }
            value = value << 6 | UInt32(b[i + k] & 0x3F)
        }
        if value < minValue || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) { return i }
        i += need + 1
    }
    return nil
}
