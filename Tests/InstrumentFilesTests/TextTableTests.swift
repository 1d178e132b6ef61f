import Foundation
import Testing
@testable import InstrumentFiles

@Suite struct TextTableTests {
    static func parse(_ s: String) -> Double? { TextBytes.number(s) }

    /// The fast path gives exactly what strtod gives for the instruments' formats, with either
    /// decimal mark; anything it does not handle falls back to strtod.
    @Test func fastPathEqualsStrtod() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let v = Double.random(in: -1...1, using: &g) * pow(10, Double(Int.random(in: -30...30, using: &g)))
            for text in [ECLabTextWriter.number(v, digits: 15, comma: false), ECLabTextWriter.number(v, digits: 7, comma: true),
                         String(format: "%.6g", v), String(v)] {
                let dotted = text.replacingOccurrences(of: ",", with: ".")
                let expected = strtod(dotted, nil)
                #expect(Self.parse(text) == expected, "\(text)")
            }
        }
        #expect(Self.parse("39") == 39 && Self.parse("-0") == 0 && Self.parse("1,5") == 1.5 && Self.parse(" 2.5 ") == 2.5)
        #expect(Self.parse("12345678901234567890123") == 12345678901234567890123.0)
        #expect(Self.parse("1E-320") == strtod("1E-320", nil))
    }

    /// Not numbers: empty, a lone sign or mark, trailing text, two marks.
    @Test func rejectsNonNumbers() {
        for text in ["", "-", ".", ",", "1.2.3", "12abc", "E5", "1E", "1E+", "...........", "x"] {
            #expect(Self.parse(text) == nil, "\(text)")
        }
    }

    /// Lines end with LF or CRLF; a last line without a terminator counts.
    @Test func lineRanges() {
        let b = Array("a\r\nbb\n\nccc".utf8)
        #expect(TextBytes.lineRanges(b).map { String(decoding: b[$0], as: UTF8.self) } == ["a", "bb", "", "ccc"])
    }
}
