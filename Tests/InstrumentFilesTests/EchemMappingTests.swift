import Foundation
import Testing
@testable import InstrumentFiles

@Suite struct EchemMappingTests {
    /// The binary file and its text export map to the same series (time, voltage, current in A,
    /// capacity in A·h, step, cycle), even where the binary file stores no current (GCPL: derived
    /// from dq) or no cycle number (derived from half cycle).
    @Test(arguments: Fixtures.ecLabStems.filter { $0 != "mb.issue_223" })
    func binaryAndTextMapAlike(stem: String) throws {
        guard let mprPath = Fixtures.path("eclab", stem + ".mpr"), let mptPath = Fixtures.path("eclab", stem + ".mpt") else { return }
        let b = try ECLabBinaryReader.read(path: mprPath).echemSeries()
        let t = try ECLabTextReader.read(path: mptPath).echemSeries()
        #expect(b.count == t.count)
        func close(_ x: [Double], _ y: [Double], relative: Double, absolute: Double) -> Bool {
            x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= absolute + relative * max(abs($0), abs($1)) }
        }
        #expect(close(b.timeSeconds, t.timeSeconds, relative: 1e-12, absolute: 0))
        #expect(close(b.voltageVolts, t.voltageVolts, relative: 1e-7, absolute: 0))
        #expect(close(b.currentAmps, t.currentAmps, relative: 1e-6, absolute: 1e-15), "\(stem): current from \(b.sourceColumns["current_A"] ?? "-") vs \(t.sourceColumns["current_A"] ?? "-")")
        if let bc = b.capacityAmpHours, let tc = t.capacityAmpHours { #expect(close(bc, tc, relative: 1e-6, absolute: 1e-15)) }
        #expect((b.capacityAmpHours == nil) == (t.capacityAmpHours == nil))
        #expect(b.stepIndex == t.stepIndex)
        if let tc = t.cycleNumber, b.cycleNumber != nil { #expect(b.cycleNumber == tc) }
    }

    /// Sign: EC-Lab records current positive on oxidation (ox/red = 1), operando's convention; the
    /// mapping keeps it, in A.
    @Test func ecLabCurrentIsPositiveOnCharge() throws {
        guard let path = Fixtures.path("eclab", "gcpl.issue_226.CxN.mpt") else { return }
        let r = try ECLabTextReader.read(path: path)
        let s = try r.echemSeries()
        let oxred = r.column(named: "ox/red")!.values
        var checked = 0
        for k in s.currentAmps.indices where abs(s.currentAmps[k]) > 1e-9 {
            #expect((s.currentAmps[k] > 0) == (oxred[k] == 1), "row \(k)")
            checked += 1
        }
        #expect(checked > 5)
        #expect(abs(s.currentAmps[1] - 0.120007875538332e-3) < 1e-15)
        #expect(s.sourceColumns == ["time_s": "time/s", "voltage_V": "Ewe/V", "current_A": "<I>/mA", "capacity_Ah": "(Q-Qo)/mA.h",
                                    "step": "Ns", "cycle": "cycle number"])
    }

    /// Gamry: CONVENTION 1 is anodic-positive (kept), 0 cathodic-positive (negated); Im is in A.
    @Test func gamryConvention() throws {
        guard let path = Fixtures.path("gamry", "chronoa_data.dta") else { return }
        var r = try GamryReader.read(path: path)
        #expect(r.settings["CONVENTION"] == "1")
        let anodic = try r.echemSeries()
        #expect(anodic.currentAmps == r.column(named: "Im")!.values)
        #expect(anodic.voltageVolts == r.column(named: "Vf")!.values)
        r.settings["CONVENTION"] = "0"
        let cathodic = try r.echemSeries()
        #expect(cathodic.currentAmps == r.column(named: "Im")!.values.map { -$0 })
        #expect(cathodic.notes.contains { $0.contains("negated") })
    }

    /// Open-circuit files have no current: zero current and a note. No time or no voltage: an error
    /// naming the file and what it has.
    @Test func missingColumns() throws {
        guard let ocv = Fixtures.path("eclab", "ocv.mpr"), let header = Fixtures.path("gamry", "cv_data_incompleteheader.dta") else { return }
        let s = try ECLabBinaryReader.read(path: ocv).echemSeries()
        #expect(s.currentAmps.allSatisfy { $0 == 0 } && s.notes.contains { $0.contains("open circuit") })
        let empty = try GamryReader.read(path: header)
        #expect { try empty.echemSeries() } throws: { "\($0)".contains("cv_data_incompleteheader.dta") && "\($0)".contains("no time") }
        var noVoltage = try ECLabBinaryReader.read(path: ocv)
        noVoltage.columns.removeAll { $0.name == "Ewe/V" }
        #expect { try noVoltage.echemSeries() } throws: { "\($0)".contains("no voltage") && "\($0)".contains("time/s") }
    }

    /// Step starts: the first sample and each change of Ns; technique start from the export header.
    @Test func stepAndTechniqueStarts() throws {
        guard let path = Fixtures.path("eclab", "gcpl.issue_149.mpt") else { return }
        let r = try ECLabTextReader.read(path: path)
        let s = try r.echemSeries()
        let starts = s.stepStartSeconds
        #expect(starts.first == s.timeSeconds.first)
        let ns = r.column(named: "Ns")!.values
        let changes = (1..<ns.count).filter { ns[$0] != ns[$0 - 1] }.count
        #expect(starts.count == changes + 1 && changes >= 3)
        // 11:02:29.886 → 11:03:00.039
        #expect(abs(r.techniqueStartSeconds! - 30.153) < 1e-6)
        #expect(abs(s.timeSeconds[0] - 30.153) < 0.01)
    }
}
