import Foundation
import Testing
@testable import InstrumentFiles

@Suite struct ECLabBinaryReaderTests {
    /// Every fixture `.mpr` agrees with EC-Lab's own `.mpt` export of the same run: each binary column
    /// is an export column of the same name (EC-Lab's version-dependent spellings mapped by
    /// `canonicalName`), in the same order, with the same number of rows, and every value equals the
    /// printed one within half a unit of its last printed digit. The export's extra columns are ones
    /// EC-Lab computes on export (cycle number, Q charge, Efficiency, …), not stored in the binary file.
    @Test(arguments: Fixtures.ecLabStems.filter { $0 != "mb.issue_223" })
    func binaryMatchesTextExport(stem: String) throws {
        guard let mprPath = Fixtures.path("eclab", stem + ".mpr"), let mptPath = Fixtures.path("eclab", stem + ".mpt") else { return }
        let mpr = try ECLabBinaryReader.read(path: mprPath, timeZone: Fixtures.utc)
        let raw = try RawMPT(path: mptPath)
        #expect(mpr.format == .ecLabBinary)
        #expect(mpr.rowCount == raw.rows.count, "\(stem): \(mpr.rowCount) binary rows, \(raw.rows.count) text rows")
        let canonicalText = raw.names.map(ECLabColumns.canonicalName)
        var lastIndex = -1
        for column in mpr.columns {
            guard let k = canonicalText.indices.first(where: { $0 > lastIndex && canonicalText[$0] == ECLabColumns.canonicalName(column.name) }) else {
                Issue.record("\(stem): binary column \"\(column.name)\" (id \(column.ecLabColumnID ?? -1)) not in the export after column \(lastIndex): \(raw.names)")
                continue
            }
            lastIndex = k
            for (r, row) in raw.rows.enumerated() where r < column.values.count {
                let printed = Double(row[k].replacingOccurrences(of: ",", with: "."))!
                let err = abs(column.values[r] - printed)
                // Half a unit of the last printed digit, plus the rounding of the printed decimal
                // to a Double (EC-Lab prints 16 significant digits, finer than a Double's spacing
                // for large mantissas).
                let allowed = RawMPT.halfUnit(row[k]) + 2 * printed.ulp
                if err > allowed {
                    Issue.record("\(stem) row \(r) \"\(column.name)\": binary \(column.values[r]), text \(row[k])")
                    break
                }
            }
        }
    }

    /// The start time in the log module is the export's "Acquisition started on", to the millisecond;
    /// the technique and software version are the export's.
    @Test(arguments: Fixtures.ecLabStems.filter { $0 != "mb.issue_223" })
    func headerFactsMatchTextExport(stem: String) throws {
        guard let mprPath = Fixtures.path("eclab", stem + ".mpr"), let mptPath = Fixtures.path("eclab", stem + ".mpt") else { return }
        let mpr = try ECLabBinaryReader.read(path: mprPath, timeZone: Fixtures.utc)
        let mpt = try ECLabTextReader.read(path: mptPath, timeZone: Fixtures.utc)
        if let start = mpt.acquisitionStart {
            let s = try #require(mpr.acquisitionStart, "\(stem): no start time from the log module")
            #expect(abs(s.timeIntervalSince(start)) < 0.0015, "\(stem): \(s) vs \(start)")
        } else {
            // pr_182 has no log module and its export no header: neither knows the start.
            #expect(mpr.acquisitionStart == nil)
        }
        if !mpt.techniques.isEmpty { #expect(mpr.techniques == mpt.techniques) }
        if let v = mpt.softwareVersion { #expect(mpr.softwareVersion == v) }
    }

    /// mb.issue_223 (EC-Lab 11.61) stores column ids 368 and 981, whose widths no public note
    /// gives: the reader refuses it by id instead of guessing the row layout.
    @Test func unknownColumnIDIsRefusedByID() throws {
        guard let path = Fixtures.path("eclab", "mb.issue_223.mpr") else { return }
        #expect(throws: InstrumentFileError.unknownColumnID(path: path, id: 368, afterColumn: "half cycle")) {
            try ECLabBinaryReader.read(path: path)
        }
        do { _ = try ECLabBinaryReader.read(path: path) } catch {
            let message = "\(error)"
            #expect(message.contains("368") && message.contains("mb.issue_223.mpr"))
        }
    }

    /// Cell characteristics in the settings module match the export's header.
    @Test func cellCharacteristics() throws {
        guard let path = Fixtures.path("eclab", "gcpl.issue_226.CxN.mpr"), let ocv = Fixtures.path("eclab", "ocv.mpr") else { return }
        let r = try ECLabBinaryReader.read(path: path)
        #expect(r.settings["Comments"] == "Test comment" && r.settings["Electrode material"] == "Test material")
        #expect(r.settings["Battery capacity"] == "0.12 mA.h")   // the export shows 120.000 µA.h
        let o = try ECLabBinaryReader.read(path: ocv)
        #expect(o.settings["Comments"]?.hasPrefix("25°C\nAl bot") == true)
        #expect(o.settings["Electrode material"] == "LMO(Ti) vs C-TiO2 (Al)")
    }

    /// Flag bits decode to EC-Lab's numbers: mode 0…3, the others 0/1.
    @Test func flagsDecodeToTheirBitFields() throws {
        guard let path = Fixtures.path("eclab", "gcpl.issue_149.mpr") else { return }
        let r = try ECLabBinaryReader.read(path: path)
        let mode = try #require(r.column(named: "mode"))
        #expect(Set(mode.values).isSubset(of: [0, 1, 2, 3]))
        #expect(mode.values.contains(1) && mode.values.contains(3))
        for name in ["ox/red", "error", "control changes", "Ns changes", "counter inc."] {
            let c = try #require(r.column(named: name))
            #expect(Set(c.values).isSubset(of: [0, 1]), "\(name)")
        }
        #expect(r.column(named: "ox/red")!.values.contains(0) && r.column(named: "ox/red")!.values.contains(1))
    }

    /// Old (v11.4x) and new (v11.50+) module headers are both read, with their own data offsets.
    @Test func oldAndNewModuleHeaders() throws {
        guard let old = Fixtures.path("eclab", "mb.issue_95.mpr"), let new = Fixtures.path("eclab", "mb.issue_149.mpr") else { return }
        let oldModules = try ECLabBinaryReader.readModules(try TextBytes.load(old), path: old)
        let newModules = try ECLabBinaryReader.readModules(try TextBytes.load(new), path: new)
        #expect(oldModules.map(\.shortName) == ["VMP Set", "VMP data", "VMP LOG"])
        #expect(newModules.map(\.shortName) == ["VMP Set", "VMP data", "VMP LOG", "VMP loop"])
        #expect(oldModules.allSatisfy { !$0.newHeader } && newModules.allSatisfy(\.newHeader))
        #expect(oldModules[1].version == 3 && newModules[1].version == 0)
        let r = try ECLabBinaryReader.read(path: new)
        #expect(r.settings["loop start rows"]?.hasPrefix("0, ") == true)
    }

    /// A cut file or a foreign file is refused with the file and the place named.
    @Test func truncatedAndForeignFilesAreRefused() throws {
        guard let path = Fixtures.path("eclab", "ocv.mpr") else { return }
        let tmp = try TemporaryFolder()
        defer { tmp.remove() }
        let bytes = try TextBytes.load(path)
        let cut = tmp.path("cut.mpr")
        try Data(bytes.prefix(bytes.count - 100)).write(to: URL(fileURLWithPath: cut))
        #expect { try ECLabBinaryReader.read(path: cut) } throws: { error in
            "\(error)".contains("cut.mpr") && "\(error)".contains("declares")
        }
        let foreign = tmp.path("foreign.mpr")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: foreign))
        #expect { try ECLabBinaryReader.read(path: foreign) } throws: { error in
            "\(error)".contains("foreign.mpr") && "\(error)".contains("BIO-LOGIC")
        }
    }
}
