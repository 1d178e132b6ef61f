import Foundation
import Testing
@testable import InstrumentFiles

@Suite struct BatteryDataFormatReaderTests {
    static let csv = """
    Test Time / s,Unix Time / s,Voltage / V,Current / A,Cycle Count / 1,Step Count / 1,Net Capacity / Ah,Surface Temperature T1 / degC,Vendor Column / mV
    0,1764580000.5,3.401,0,1,1,0,25.1,
    10,1764580010.5,3.652,0.0012,1,2,3.333e-6,25.2,7
    20,1764580020.5,3.701,0.0012,1,2,6.667e-6,25.3,8
    30,1764580030.5,3.500,-0.0012,2,3,3.333e-6,25.3,9

    """

    /// Every column is kept with its BDF label split into quantity and unit; empty cells are NaN;
    /// the start time comes from Unix Time − Test Time.
    @Test func readsColumnsAndStart() throws {
        let tmp = try TemporaryFolder()
        defer { tmp.remove() }
        let path = tmp.path("UCam__A0001__20241031_001.bdf.csv")
        try Data(Self.csv.utf8).write(to: URL(fileURLWithPath: path))
        let r = try InstrumentFile.read(path: path)
        #expect(r.format == .batteryDataFormat && r.rowCount == 4 && r.columns.count == 9)
        let t1 = try #require(r.column(named: "Surface Temperature T1 / degC"))
        #expect(t1.quantity == "Surface Temperature T1" && t1.unit == "degC")
        let vendor = try #require(r.column(named: "Vendor Column / mV"))
        #expect(vendor.values[0].isNaN && vendor.values[3] == 9)
        #expect(r.acquisitionStart == Date(timeIntervalSince1970: 1_764_580_000.5))
        let s = try r.echemSeries()
        #expect(s.voltageVolts == [3.401, 3.652, 3.701, 3.5])
        #expect(s.currentAmps == [0, 0.0012, 0.0012, -0.0012])
        #expect(s.stepIndex == [1, 2, 2, 3] && s.cycleNumber == [1, 1, 1, 2])
        #expect(s.capacityAmpHours?[2] == 6.667e-6)
        #expect(s.sourceColumns["capacity_Ah"] == "Net Capacity / Ah")
    }

    /// A row of the wrong width or a non-number is refused with its line.
    @Test func badRowsNameTheLine() throws {
        let tmp = try TemporaryFolder()
        defer { tmp.remove() }
        let wide = tmp.path("wide.bdf")
        try Data("Test Time / s,Voltage / V,Current / A\n0,3.4,0\n1,3.5,0,9\n".utf8).write(to: URL(fileURLWithPath: wide))
        #expect { try BatteryDataFormatReader.read(path: wide) } throws: { "\($0)".contains("wide.bdf: line 3") && "\($0)".contains("expected 3") }
        let text = tmp.path("text.bdf")
        try Data("Test Time / s,Voltage / V,Current / A\n0,high,0\n".utf8).write(to: URL(fileURLWithPath: text))
        #expect { try BatteryDataFormatReader.read(path: text) } throws: { "\($0)".contains("line 2, column \"Voltage / V\"") }
        let noLabels = tmp.path("plain.csv")
        try Data("a,b\n1,2\n".utf8).write(to: URL(fileURLWithPath: noLabels))
        #expect { try BatteryDataFormatReader.read(path: noLabels) } throws: { "\($0)".contains("Test Time / s") }
    }
}
