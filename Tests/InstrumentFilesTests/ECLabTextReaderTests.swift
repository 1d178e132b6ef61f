import Foundation
import Testing
@testable import InstrumentFiles

@Suite struct ECLabTextReaderTests {
    /// The German export (decimal commas, one more header line) reads to the same columns, values,
    /// technique and start time as the English one.
    @Test func germanExportEqualsEnglish() throws {
        guard let de = Fixtures.path("eclab", "mb.issue_95.de.mpt"), let en = Fixtures.path("eclab", "mb.issue_95.mpt") else { return }
        let g = try ECLabTextReader.read(path: de, timeZone: Fixtures.utc)
        let e = try ECLabTextReader.read(path: en, timeZone: Fixtures.utc)
        #expect(g.rowCount == 33 && e.rowCount == 33)
        #expect(g.columns == e.columns)
        #expect(g.techniques == ["Modulo Bat"] && e.techniques == g.techniques)
        #expect(g.acquisitionStart == e.acquisitionStart && g.acquisitionStart != nil)
        #expect(g.softwareVersion == "11.43" && e.softwareVersion == "11.43")
        // The header keeps each file's own decimal mark.
        #expect(g.settings["Battery capacity"] == "1,300 A.h" && e.settings["Battery capacity"] == "1.300 A.h")
    }

    /// Header facts: technique, device, versions, start time (month/day/year, ms), parameter table.
    @Test func headerFacts() throws {
        guard let path = Fixtures.path("eclab", "gcpl.issue_149.mpt") else { return }
        let r = try ECLabTextReader.read(path: path, timeZone: Fixtures.utc)
        #expect(r.format == .ecLabText)
        #expect(r.techniques == ["Galvanostatic Cycling with Potential Limitation"])
        #expect(r.instrument == "SP-300 (SN 1854)")
        #expect(r.softwareVersion == "11.50" && r.firmwareVersion == "11.50")
        let expected = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: Fixtures.utc,
                                      year: 2024, month: 1, day: 10, hour: 11, minute: 2, second: 29, nanosecond: 886_000_000).date!
        #expect(abs(r.acquisitionStart!.timeIntervalSince(expected)) < 1e-3)
        #expect(r.settings["Is"] == "0,000 | 30,000 | -30,000")
        #expect(r.settings["Technique started on"] == "01/10/2024 11:03:00.039")
        #expect(r.rowCount == 132)
        let ewe = try #require(r.column(named: "Ewe/V"))
        #expect(ewe.quantity == "Ewe" && ewe.unit == "V")
        #expect(abs(ewe.values[0] - 3.4228721) < 1e-12)
        #expect(r.column(named: "control/V/mA")?.unit == "V/mA")
        #expect(r.column(named: "Q charge/discharge/mA.h")?.quantity == "Q charge/discharge")
        #expect(r.column(named: "Capacitance charge/µF")?.unit == "µF")
    }

    /// Column names differ between EC-Lab versions and are kept as written: `<Ewe/V>` (11.50 CP/OCV),
    /// `Energy we charge/W.h` (11.5x with Ece), unknown names such as `Re(Y)/Ohm-1` too.
    @Test func columnNamesAcrossVersionsAreKept() throws {
        guard let ocv = Fixtures.path("eclab", "ocv.issue_149.mpt"), let mb = Fixtures.path("eclab", "mb.issue_223.mpt"),
              let gcpl = Fixtures.path("eclab", "gcpl.issue_226.CxN.mpt") else { return }
        let o = try ECLabTextReader.read(path: ocv)
        #expect(o.columns.map(\.name) == ["mode", "error", "time/s", "<Ewe/V>"])
        #expect(o.columns[3].quantity == "<Ewe>" && o.columns[3].unit == "V")
        let m = try ECLabTextReader.read(path: mb)
        #expect(m.column(named: "Re(Y)/Ohm-1") != nil && m.column(named: "Tan(Delta)")?.unit == nil)
        #expect(m.column(named: "Re(Conductivity)/mS/cm")?.unit == "mS/cm")
        #expect(m.softwareVersion == "11.61")
        let g = try ECLabTextReader.read(path: gcpl)
        #expect(g.column(named: "Energy we charge/W.h") != nil)
        #expect(ECLabColumns.canonicalName("Energy we charge/W.h") == "Energy charge/W.h")
        #expect(ECLabColumns.canonicalName("<Ewe/V>") == "<Ewe>/V")
    }

    /// A three-line header (no settings) still reads: the column names are line 3.
    @Test func minimalHeader() throws {
        guard let path = Fixtures.path("eclab", "gcpl.pr_182.1.mpt") else { return }
        let r = try ECLabTextReader.read(path: path)
        #expect(r.techniques.isEmpty && r.acquisitionStart == nil)
        #expect(r.rowCount == 2533 && r.columns.count == 31)
    }

    /// Broken files are refused with the file, the line and what was expected.
    @Test func malformedFilesNameTheLine() throws {
        let tmp = try TemporaryFolder()
        defer { tmp.remove() }
        func write(_ name: String, _ text: String) throws -> String {
            let p = tmp.path(name)
            try Data(text.utf8).write(to: URL(fileURLWithPath: p))
            return p
        }
        let badCount = try write("count.mpt", "EC-Lab ASCII FILE\r\nNb header lines : 40\r\nmode\ttime/s\t\r\n1\t2\r\n")
        #expect { try ECLabTextReader.read(path: badCount) } throws: { "\($0)".contains("count.mpt") && "\($0)".contains("Nb header lines is 40") }
        let badNumber = try write("number.mpt", "EC-Lab ASCII FILE\r\nNb header lines : 3\r\nmode\ttime/s\t\r\n1\t2,5\t\r\n1\tx\t\r\n")
        #expect { try ECLabTextReader.read(path: badNumber) } throws: { "\($0)".contains("line 5, column \"time/s\"") && "\($0)".contains("\"x\"") }
        let short = try write("short.mpt", "EC-Lab ASCII FILE\r\nNb header lines : 3\r\nmode\ttime/s\tEwe/V\t\r\n1\t2,5\r\n")
        #expect { try ECLabTextReader.read(path: short) } throws: { "\($0)".contains("line 4") && "\($0)".contains("2 fields; expected 3") }
        let good = try write("good.mpt", "EC-Lab ASCII FILE\r\nNb header lines : 3\r\nmode\ttime/s\t\r\n1\t2,5\t\r\n3\t1.5E+001\t\r\n")
        let r = try ECLabTextReader.read(path: good)
        #expect(r.columns.map(\.values) == [[1, 3], [2.5, 15]])
    }
}
