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
