import Foundation
import Testing
@testable import InstrumentFiles

@Suite struct GamryReaderTests {
    /// Every Gamry fixture parses; the tagged header, tables and units come through.
    @Test(arguments: Fixtures.gamryFiles)
    func everyFileParses(name: String) throws {
        guard let path = Fixtures.path("gamry", name) else { return }
        let r = try GamryReader.read(path: path, timeZone: Fixtures.utc)
        #expect(r.format == .gamryDTA)
        #expect(!r.techniques.isEmpty)
        #expect(r.acquisitionStart != nil)
        if name != "cv_data_incompleteheader.dta" { #expect(r.rowCount > 0) }
    }

    /// Chronoamperometry: header settings, the CURVE table with its units line, the Over bits.
    @Test func chronoamperometry() throws {
        guard let path = Fixtures.path("gamry", "chronoa_data.dta") else { return }
        let r = try GamryReader.read(path: path, timeZone: Fixtures.utc)
        #expect(r.techniques == ["CHRONOA"])
        #expect(r.settings["VSTEP1"] == "5.00000E-001" && r.settings["TITLE"] == "Experiment-Title")
        #expect(r.settings["CONDIT"] == "F 1.50000E+001 0.00000E+000")
        #expect(r.columns.map(\.name) == ["Pt", "T", "Vf", "Im", "Vu", "Sig", "Ach", "IERange", "Over"])
        #expect(r.column(named: "Vf")?.unit == "V vs. Ref." && r.column(named: "Im")?.unit == "A" && r.column(named: "Pt")?.unit == nil)
        #expect(r.rowCount == 10)
        #expect(r.column(named: "Im")?.values[1] == 1.40441E-008)
        #expect(r.column(named: "Over")?.values.allSatisfy { $0 == 0 } == true)
        let expected = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: Fixtures.utc,
                                      year: 2019, month: 3, day: 10, hour: 12).date!
        #expect(r.acquisitionStart == expected)
        // Declared 5258 points, holds 10: flagged as a curve that ended early.
        #expect(r.aborted && r.notes.contains { $0.contains("declares 5258") })
    }

    /// The German-locale file (decimal commas) gives the same data. (Its first row was edited in the
    /// published fixture: -5,00000E-004 V and -2,00000E-008 A where the English file has
    /// -5.40000E-004 and -2.34197E-008; those are checked as written.)
    @Test func germanLocaleMatches() throws {
        guard let de = Fixtures.path("gamry", "chronoa_de_data.dta"), let en = Fixtures.path("gamry", "chronoa_data.dta") else { return }
        let g = try GamryReader.read(path: de), e = try GamryReader.read(path: en)
        #expect(g.columns.map(\.name) == e.columns.map(\.name))
        #expect(g.columns.map(\.unit) == e.columns.map(\.unit))
        #expect(g.columns.map { Array($0.values.dropFirst()) } == e.columns.map { Array($0.values.dropFirst()) })
        #expect(g.column(named: "Vf")?.values[0] == -5e-4 && g.column(named: "Im")?.values[0] == -2e-8)
        #expect(g.rowCount == 10)
        #expect(g.settings["VSTEP1"] == "5,00000E-001")
        #expect(TextBytes.number(g.settings["VSTEP1"]!) == TextBytes.number(e.settings["VSTEP1"]!))
    }

    /// The EIS file ends with EXPERIMENTABORTED T after a short ZCURVE: flagged aborted, data kept.
    @Test func abortedCurveIsFlagged() throws {
        guard let path = Fixtures.path("gamry", "eispot_data_curveaborted.dta") else { return }
        let r = try GamryReader.read(path: path)
        #expect(r.aborted)
        #expect(r.rowCount == 5)
        #expect(r.column(named: "Zphz")?.unit == "°")
        #expect(r.notes.contains { $0.contains("EXPERIMENTABORTED") })
    }

    /// A header that stops before any table parses to a record without data, and says so.
    @Test func incompleteHeader() throws {
        guard let path = Fixtures.path("gamry", "cv_data_incompleteheader.dta") else { return }
        let r = try GamryReader.read(path: path)
        #expect(r.columns.isEmpty && r.techniques == ["CV"])
        #expect(r.settings["CHECKNOTES"] == "test-notes-data")
        #expect(r.notes.contains { $0.contains("no data table") })
        #expect(!r.aborted)
    }

    /// CV: CURVE1…5 concatenate with a Curve column; OCVCURVE goes to otherTables.
    @Test func multipleCurvesAndOCVCurve() throws {
        guard let cv = Fixtures.path("gamry", "cv_data.dta"), let ocv = Fixtures.path("gamry", "ocvcurve_data.dta") else { return }
        let c = try GamryReader.read(path: cv)
        let curve = try #require(c.column(named: "Curve"))
        #expect(Set(curve.values) == [1, 2, 3, 4, 5])
        #expect(c.column(named: "T")!.values.count == curve.values.count)
        let o = try GamryReader.read(path: ocv)
        #expect(o.otherTables.map(\.name) == ["OCVCURVE"])
        #expect(o.otherTables[0].columns.map(\.name) == ["Pt", "T", "Vf", "Vm", "Ach", "Over"])
        // "....ih..i.." sets bits 4, 5 and 8.
        #expect(o.column(named: "Over")?.values.first == Double(1 << 4 | 1 << 5 | 1 << 8))
    }

    /// A row with a non-number is refused with its line and column.
    @Test func badCellNamesLineAndColumn() throws {
        let tmp = try TemporaryFolder()
        defer { tmp.remove() }
        let p = tmp.path("bad.DTA")
        try Data("EXPLAIN\nTAG\tCHRONOA\nCURVE\tTABLE\n\tPt\tT\tVf\n\t#\ts\tV\n\t0\t0\t1.0\n\t1\tzz\t1.1\n".utf8).write(to: URL(fileURLWithPath: p))
        #expect { try GamryReader.read(path: p) } throws: { "\($0)".contains("bad.DTA") && "\($0)".contains("line 7, column \"T\"") }
    }
}
