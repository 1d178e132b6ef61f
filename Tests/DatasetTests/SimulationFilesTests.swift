import Foundation
import Testing
@testable import Dataset

@Suite struct SimulationFilesTests {
    @Test func writesTheThreeFilesAndReplacesAnEarlierRun() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("sim")
        let trace = (0..<3).map { ModelTraceRecord(timeSeconds: Double($0) * 10, thetaCentre: 0.95, thetaMean: 0.94, thetaMin: 0.9,
                                                   thetaMax: 0.95, voltageVolts: 3.7, currentAmps: 1e-4) }
        let profiles = [ModelProfileRecord(timeSeconds: 0, positionMicrometres: -1.52, theta: 0.95)]
        try SimulationFiles.write(trace: trace, profiles: profiles, summary: .object(["nodes": .number(573)]), to: out)
        try SimulationFiles.write(trace: Array(trace.prefix(2)), profiles: profiles, summary: .object(["nodes": .number(600)]), to: out)
        let t = try CSVTable.read(out + "/trace.csv", required: ModelTraceRecord.columns)
        #expect(t.header == ModelTraceRecord.columns)
        #expect(t.rows.count == 2)
        #expect(try CSVTable.read(out + "/profiles.csv", required: ModelProfileRecord.columns).rows.count == 1)
        #expect(try JSONText.read(out + "/summary.json")["nodes"]?.number == 600)
    }

    @Test func anUnwritableFolderIsNamed() {
        do {
            try SimulationFiles.write(trace: [], profiles: [], summary: .null, to: "/proc/operando-cannot-write")
            Issue.record("wrote into /proc")
        } catch {
            #expect("\(error)".contains("/proc/operando-cannot-write"))
        }
    }
}
