import Foundation
import Testing
@testable import Dataset

@Suite struct CSVTests {
    @Test func quotedFieldsCommentsAndLineNumbers() throws {
        let text = "# written by a test\na,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n\n# a comment between rows\n2, z ,\"multi\nline\"\n3,,\n"
        let t = try CSVTable.parse(text, path: "t.csv", required: ["a", "c"])
        #expect(t.header == ["a", "b", "c"])
        #expect(t.rows == [["1", "x, y", "say \"hi\""], ["2", "z", "multi\nline"], ["3", "", ""]])
        #expect(t.lines == [3, 6, 8])
        #expect(try t.doubles("a") == [1, 2, 3])
        #expect(try t.row(2).double("c").isNaN)
    }

    @Test func missingColumnNamesFileAndColumn() {
        #expect(throws: DatasetError.missingColumn(path: "e.csv", column: "current_A", header: "time_s,voltage_V,curent_A")) {
            try CSVTable.parse("time_s,voltage_V,curent_A\n1,2,3\n", path: "e.csv", required: ["time_s", "current_A"])
        }
    }

    @Test func badNumberNamesLineAndValue() throws {
        let t = try CSVTable.parse("a\n1\nx1\n", path: "n.csv", required: ["a"])
        do { _ = try t.doubles("a"); Issue.record("accepted x1") } catch let e as DatasetError {
            #expect(e.description == "n.csv:3: a = x1: expected a number")
        }
    }

    @Test func tooManyFieldsIsAnError() {
        #expect(throws: DatasetError.self) { try CSVTable.parse("a,b\n1,2,3\n", path: "w.csv", required: []) }
    }

    @Test func writerQuotesWhatNeedsIt() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let w = try CSVWriter(path: dir.file("q.csv"), columns: ["text", "n"])
        for s in ["plain", "a,b", "say \"x\"", " padded ", "#not a comment", "line\nbreak"] {
            try w.append([CSVField.text(s), CSVField.number(1.5)])
        }
        try w.close()
        let t = try CSVTable.read(dir.file("q.csv"), required: ["text", "n"])
        #expect(try t.strings("text") == ["plain", "a,b", "say \"x\"", " padded ", "#not a comment", "line\nbreak"])
    }

    @Test func unfinishedLastLineOfAnAppendOnlyFileIsLeftOut() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        try Data("a,b\n1,2\n3,".utf8).write(to: URL(fileURLWithPath: dir.file("p.csv")))
        #expect(try CSVTable.read(dir.file("p.csv"), required: [], appendOnly: true).rows == [["1", "2"]])
        #expect(try CSVTable.read(dir.file("p.csv"), required: []).rows.count == 2)
    }

    @Test func writerRefusesToOverwrite() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: dir.file("x.csv")))
        #expect(throws: DatasetError.exists(path: dir.file("x.csv"), reason: "already exists")) {
            _ = try CSVWriter(path: dir.file("x.csv"), columns: ["a"])
        }
        #expect(try String(contentsOfFile: dir.file("x.csv"), encoding: .utf8) == "mine\n")
    }
}

/// The fast `%g` path (issue 17: number formatting was the costliest part of an analysed frame)
/// writes exactly what C's printf writes, for every precision the files use.
@Test func csvNumbersMatchPrintfGeneralFormat() {
    var state: UInt64 = 0x1234_5678_9abc_def1
    func next() -> UInt64 { state &+= 0x9E37_79B9_7F4A_7C15; var z = state; z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9; z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB; return z ^ (z >> 31) }
    var contrastLike: [Double] = []
    var values: [Double] = [0, -0.0, 1, -1, 0.5, 1.5, 2.5, 100, 1e-5, 1.2345e-5, 0.0001, 0.00012345678, 123456, 1234567, 999999.5,
                            9.9999995, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 1e16, 1.5e300, 5e-324, 1e-310, 123.456789012, 0.0347, 15754, 1.25, 0.125]
    for _ in 0..<4000 {
        let bits = next()
        switch bits % 4 {
        case 0: values.append(Double(bitPattern: next()))                                   // any double
        case 1: values.append(Double(Int64(bitPattern: next()) % 1_000_000) / 1000)         // short decimals
        case 2: values.append((Double(next() >> 11) / Double(1 << 53) - 0.5) * 0.2); contrastLike.append(values.last!)  // contrast-like
        default: values.append(Double(next() % 100_000) * 0.5 + 0.25)                         // times, ties
        }
    }
    // Near ties at 6 and 9 digits (d…d5 × 10ᵏ and its neighbours), where one scaling cannot decide.
    for _ in 0..<1000 {
        let n = Double(next() % 900_000 + 100_000) * 10 + 5, k = Double(Int(next() % 12) - 6)
        let x = n * pow(10, k - 6)
        values += [x, x.nextUp, x.nextDown]
        let m = Double(next() % 900_000_000 + 100_000_000) * 10 + 5
        values.append(m * pow(10, k - 9))
    }
    var mismatches: [String] = []
    var scaled = 0
    for x in contrastLike {
        if let s = CSVField.scaledGeneral(x, precision: 6) {
            scaled += 1
            if s != String(format: "%.6g", x) { mismatches.append("scaled \(x): \(s)") }
        }
    }
    for x in values where x.isFinite {
        for digits in [6, 9, 10] {
            let expected = String(format: "%.\(digits)g", x)
            let got = CSVField.number(x, digits: digits)
            if got != expected { mismatches.append("\(x) %.\(digits)g: \(got) ≠ \(expected)") }
        }
    }
    #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    // The one-scaling path decides nearly every contrast-like value (the rest are near ties).
    #expect(Double(scaled) >= 0.99 * Double(contrastLike.count), "scaled path took \(scaled) of \(contrastLike.count)")
}
