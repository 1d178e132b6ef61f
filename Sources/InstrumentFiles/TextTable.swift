import Foundation

/// Byte-level helpers shared by the text readers. Instrument exports run to millions of numbers, so
/// fields are parsed straight from the file's bytes (no per-line `String`), and a decimal comma is
/// read like a decimal point: EC-Lab and Gamry write the number format of the Windows locale.
enum TextBytes {
    static let tab: UInt8 = 9, lf: UInt8 = 10, cr: UInt8 = 13, space: UInt8 = 32, comma: UInt8 = 44, dot: UInt8 = 46

    /// Reads the file's bytes.
    static func load(_ path: String) throws -> [UInt8] {
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return [UInt8](data)
        } catch {
            throw InstrumentFileError.unreadable(path: path, reason: error.localizedDescription)
        }
    }

    /// Text of a byte range: UTF-8 when valid, else Latin-1 (EC-Lab writes µ as 0xB5).
    static func text(_ bytes: ArraySlice<UInt8>) -> String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }

    /// The ranges of the lines in `bytes[from...]`, without their CR/LF terminators.
    static func lineRanges(_ bytes: [UInt8], from start: Int = 0) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = start
        let n = bytes.count
        var lineStart = start
        while i < n {
            if bytes[i] == lf {
                var end = i
                if end > lineStart, bytes[end - 1] == cr { end -= 1 }
                out.append(lineStart..<end)
                lineStart = i + 1
            }
            i += 1
        }
        if lineStart < n {
            var end = n
            if bytes[end - 1] == cr { end -= 1 }
            out.append(lineStart..<end)
        }
        return out
    }

    /// Splits a line on one separator byte into field ranges.
    static func fields(_ bytes: [UInt8], _ line: Range<Int>, separator: UInt8) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var s = line.lowerBound
        var i = line.lowerBound
        while i < line.upperBound {
            if bytes[i] == separator {
                out.append(s..<i)
                s = i + 1
            }
            i += 1
        }
        out.append(s..<line.upperBound)
        return out
    }

    /// Parses a decimal number (point or comma as the decimal mark), nil when the field is not
    /// wholly a number. Leading and trailing blanks are ignored.
    static func number(_ bytes: [UInt8], _ range: Range<Int>) -> Double? {
        var lo = range.lowerBound, hi = range.upperBound
        while lo < hi, bytes[lo] == space || bytes[lo] == tab { lo += 1 }
        while hi > lo, bytes[hi - 1] == space || bytes[hi - 1] == tab { hi -= 1 }
        let len = hi - lo
        if len == 0 || len > 63 { return nil }
        if let v = fastNumber(bytes, lo, hi) { return v }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: len + 1) { buf -> Double? in
            guard let base = buf.baseAddress else { return nil }
            for k in 0..<len {
                let b = bytes[lo + k]
                buf[k] = CChar(bitPattern: b == comma ? dot : b)
            }
            buf[len] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(base, &end)
            guard let e = end, e == base + len else { return nil }
            return v
        }
    }

    static let exactPowersOfTen: [Double] = (0...22).map { k in (0..<k).reduce(1.0) { r, _ in r * 10 } }

    /// Clinger's fast path for the instruments' plain formats (`-3,4228721E+000`, `39`, `0.25`):
    /// a mantissa of at most 2^53 and a power of ten of at most 10^22 are both exact Doubles, so one
    /// multiplication or division gives the correctly rounded value. Anything else returns nil and
    /// goes to `strtod`.
    @inline(__always)
    static func fastNumber(_ bytes: [UInt8], _ lo: Int, _ hi: Int) -> Double? {
        var i = lo
        var negative = false
        if bytes[i] == 45 || bytes[i] == 43 { negative = bytes[i] == 45; i += 1 }   // - +
        var mantissa: UInt64 = 0
        var digits = 0, decimals = 0
        var sawMark = false, sawDigit = false
        while i < hi {
            let b = bytes[i]
            if b >= 48 && b <= 57 {
                sawDigit = true
                if digits >= 19 { return nil }
                mantissa = mantissa &* 10 &+ UInt64(b - 48)
                if mantissa != 0 { digits += 1 }
                if sawMark { decimals += 1 }
            } else if (b == dot || b == comma) && !sawMark {
                sawMark = true
            } else { break }
            i += 1
        }
        guard sawDigit else { return nil }
        var exponent = 0
        if i < hi {
            guard bytes[i] == 69 || bytes[i] == 101 else { return nil }   // E e
            i += 1
            guard i < hi else { return nil }
            var expNegative = false
            if bytes[i] == 45 || bytes[i] == 43 { expNegative = bytes[i] == 45; i += 1 }
            guard i < hi else { return nil }
            while i < hi {
                let b = bytes[i]
                guard b >= 48 && b <= 57, exponent < 10_000 else { return nil }
                exponent = exponent * 10 + Int(b - 48)
                i += 1
            }
            if expNegative { exponent = -exponent }
        }
        guard mantissa <= (1 << 53) else { return nil }
        let power = exponent - decimals
        var v = Double(mantissa)
        if mantissa == 0 { return negative ? -0.0 : 0 }
        if power >= 0 {
            guard power <= 22 else { return nil }
            v *= exactPowersOfTen[power]
        } else {
            guard power >= -22 else { return nil }
            v /= exactPowersOfTen[-power]
        }
        return negative ? -v : v
    }

    /// Parses a number from text (decimal point or comma).
    static func number(_ text: String) -> Double? {
        let b = Array(text.utf8)
        return number(b, 0..<b.count)
    }
}
