import Foundation
import Testing
@testable import InstrumentFiles

@Suite struct ECLabTextWriterTests {
    static func samples() -> [ECLabGCPLSample] {
        var out: [ECLabGCPLSample] = []
        var q = 0.0
        for k in 0..<400 {
            let t = 30.152999238271 + Double(k) * 1.000000047
            let step = k < 100 ? 0 : (k < 250 ? 1 : 2)
            let iMilliamps = step == 0 ? 0 : (step == 1 ? 0.03 : -0.03)
            let dq = k == 0 ? 0 : iMilliamps * 1.000000047 / 3600
            q += dq
            out.append(ECLabGCPLSample(mode: step == 0 ? 3 : 1, oxRed: iMilliamps >= 0 ? 1 : 0, controlChanges: k == 100 || k == 250 ? 1 : 0,
                                       nsChanges: k == 100 || k == 250 ? 1 : 0, ns: step, timeSeconds: t,
                                       controlVoltsOrMilliamps: iMilliamps, eweVolts: 3.4 + 0.001 * Double(k).squareRoot() * (step == 2 ? -1 : 1),
                                       currentMilliamps: iMilliamps, dqMilliampHours: dq, qMinusQ0MilliampHours: q,
                                       qChargeDischargeMilliampHours: q, halfCycle: step == 2 ? 1 : 0, cycleNumber: 0))
        }
        return out
    }

    /// What the writer writes, the reader reads back: the same columns (names and units of EC-Lab's
    /// GCPL exports), every value to the precision written (8-byte fields 16 digits, 4-byte fields
    /// as Float), the technique and start time. With decimal commas too.
    @Test(arguments: [false, true])
    func roundTrip(decimalComma: Bool) throws {
        let tmp = try TemporaryFolder()
        defer { tmp.remove() }
        let start = Date(timeIntervalSince1970: 1_764_580_000.125)
        let header = ECLabGCPLHeader(acquisitionStart: start, techniqueStart: start.addingTimeInterval(30.153), device: "firmware-sim (SN 7)",
                                     settings: [("Cycle Definition", "Charge/Discharge alternance")],
                                     sequenceParameters: [("Is", ["0.000", "30.000", "-30.000"]), ("unit Is", ["mA", "µA", "µA"])],
                                     decimalComma: decimalComma)
        let samples = Self.samples()
        let path = tmp.path("sim.mpt")
        try ECLabTextWriter.writeGCPL(path: path, header: header, samples: samples)
        let r = try ECLabTextReader.read(path: path, timeZone: header.timeZone)
        #expect(r.techniques == [ECLabTextWriter.gcplTechnique])
        #expect(r.acquisitionStart == start)
        #expect(r.instrument == "firmware-sim (SN 7)")
        #expect(abs((r.techniqueStartSeconds ?? 0) - 30.153) < 1e-6)
        #expect(r.settings["unit Is"] == "mA | µA | µA")
        #expect(r.columns.map(\.name) == ECLabTextWriter.gcplColumns)
        #expect(r.rowCount == samples.count)
        func col(_ n: String) -> [Double] { r.column(named: n)!.values }
        func same64(_ a: [Double], _ b: [Double]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) <= 1e-15 * abs($1) + 1e-300 } }
        // 4-byte fields are printed like EC-Lab's, 8 significant digits: within half a unit of the
        // 8th digit of the Float value.
        func same32(_ a: [Double], _ b: [Double]) -> Bool {
            zip(a, b).allSatisfy { abs($0 - Double(Float($1))) <= 5e-8 * abs($1) + Double(Float($1).ulp) }
        }
        #expect(col("mode") == samples.map { Double($0.mode) })
        #expect(col("ox/red") == samples.map { Double($0.oxRed) })
        #expect(col("control changes") == samples.map { Double($0.controlChanges) })
        #expect(col("Ns changes") == samples.map { Double($0.nsChanges) })
        #expect(col("Ns") == samples.map { Double($0.ns) })
        #expect(col("half cycle") == samples.map { Double($0.halfCycle) })
        #expect(same64(col("time/s"), samples.map(\.timeSeconds)))
        #expect(same64(col("dq/mA.h"), samples.map(\.dqMilliampHours)))
        #expect(same64(col("(Q-Qo)/mA.h"), samples.map(\.qMinusQ0MilliampHours)))
        #expect(same32(col("Ewe/V"), samples.map(\.eweVolts)))
        #expect(same32(col("<I>/mA"), samples.map(\.currentMilliamps)))
        #expect(same32(col("control/V/mA"), samples.map(\.controlVoltsOrMilliamps)))
        // And the mapping sees a GCPL run: A, positive on charge.
        let s = try r.echemSeries()
        #expect(abs(s.currentAmps[150] - 30e-6) < 1e-12 && abs(s.currentAmps[300] + 30e-6) < 1e-12)
    }

    /// The header looks like EC-Lab's: first lines, padded "Nb header lines" equal to the line of the
    /// column names, three-digit exponents, trailing tab, CRLF.
    @Test func textLooksLikeECLab() throws {
        let text = ECLabTextWriter.gcplText(header: ECLabGCPLHeader(acquisitionStart: Date(timeIntervalSince1970: 0)),
                                            samples: Array(Self.samples().prefix(2)))
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines[0] == "EC-Lab ASCII FILE")
        #expect(lines[1].hasPrefix("Nb header lines : ") && lines[1].count == 44)
        let n = Int(lines[1].split(separator: ":")[1].trimmingCharacters(in: .whitespaces))!
        #expect(lines[n - 1].hasPrefix("mode\tox/red\terror\tcontrol changes\tNs changes\tcounter inc.\tNs\ttime/s\t"))
        #expect(lines[n].contains("\t3.015299923827100E+001\t") && lines[n].hasSuffix("\t"))
        #expect(lines[3] == "Galvanostatic Cycling with Potential Limitation")
        #expect(lines.contains("Acquisition started on : 01/01/1970 00:00:00.000"))
        #expect(ECLabTextWriter.number(-0.00012, digits: 7, comma: true) == "-1,2000000E-004")
        #expect(ECLabTextWriter.number(0, digits: 15, comma: false) == "0.000000000000000E+000")
    }

    /// Every column the writer writes is a column of EC-Lab's own GCPL exports, same name and unit.
    @Test func columnsAreThoseOfECLabGCPLExports() throws {
        guard let path = Fixtures.path("eclab", "gcpl.issue_149.mpt") else { return }
        let names = Set(try ECLabTextReader.read(path: path).columns.map(\.name))
        #expect(Set(ECLabTextWriter.gcplColumns).isSubset(of: names), "\(Set(ECLabTextWriter.gcplColumns).subtracting(names))")
    }
}
