import Foundation
import Testing
@testable import Dataset

@Suite struct FollowRecordsTests {
    /// triggers.csv round-trips every field, nanoseconds exact; instrument.csv keeps names with units and
    /// its comment lines; the import's rewrites replace echem.csv (with a cycle column), frames.csv and
    /// run.json whole, leaving no `.partial` behind.
    @Test func triggersInstrumentTableAndRewritesRoundTrip() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.file("f.operando")
        var info = sampleRunInfo()
        info.extra["follow"] = .object(["trigger_input": .object(["line": .string("trigger-in")])])
        let w = try RunWriter(creating: path, runInfo: info)
        let t = try TriggerWriter(directory: path)
        let edges = [TriggerRecord(edge: 0, timeSeconds: 6.95, monotonicNanoseconds: 17_598_186_044_416, kind: "rising", lineOffset: 2,
                                   globalSequence: 1, lineSequence: 1),
                     TriggerRecord(edge: 1, timeSeconds: 66.952400001, monotonicNanoseconds: 17_658_188_444_417, kind: "falling", lineOffset: 2,
                                   globalSequence: 3, lineSequence: 3)]
        for e in edges { try t.append(e) }
        try t.close()
        try w.close()
        let r = try DatasetReader(path)
        #expect(try r.triggers() == edges)
        #expect(r.isFollowMode)

        let table = InstrumentTable(columns: ["Ewe/V", "<I>/mA", "file", "instrument_time_s", "rig_time_s"],
                                    values: [[3.7, 3.71], [0.3, .nan], [0, 0], [0, 1], [6.95, 7.95004]], comments: ["file 0: x.mpt", "two\nlines"])
        try DatasetRewrite.writeInstrumentTable(table, directory: path)
        let back = try #require(try r.instrumentTable())
        #expect(back.columns == table.columns && back.rowCount == 2)
        #expect(back.values[0] == [3.7, 3.71] && back.values[1][1].isNaN && back.values[4] == [6.95, 7.95004])
        let text = try String(contentsOfFile: path + "/instrument.csv", encoding: .utf8)
        #expect(text.hasPrefix("# file 0: x.mpt\n# two lines\n\"Ewe/V\"") || text.hasPrefix("# file 0: x.mpt\n# two lines\nEwe/V"))

        let echem = [EchemRecord(timeSeconds: 6.95, step: 0, stepKind: "rest", voltageVolts: 3.7, currentAmps: 0, capacityMilliampHoursPerGram: 0),
                     EchemRecord(timeSeconds: 7.95, step: 1, stepKind: "charge", voltageVolts: 3.71, currentAmps: 3e-4, capacityMilliampHoursPerGram: 0.05)]
        try DatasetRewrite.replaceEchem(echem, cycles: [0, 1], directory: path)
        // The instrument's cycles land in echem.csv's own `cycle` column (format 1.2).
        #expect(try r.echem().map(\.cycle) == [0, 1])
        #expect(try r.echem().map(\.capacityMilliampHoursPerGram) == echem.map(\.capacityMilliampHoursPerGram))
        let header = try String(contentsOfFile: path + "/echem.csv", encoding: .utf8).split(separator: "\n").first
        #expect(header == "time_s,step,step_kind,voltage_V,current_A,capacity_mAh_per_g,cycle,charge_capacity_mAh_per_g,discharge_capacity_mAh_per_g")
        let frames = [FrameRecord(frame: 0, chunk: 0, page: 0, startSeconds: 8, endSeconds: 11, exposures: 6, ledOnFraction: 1, step: 1,
                                  echemTimeSeconds: 7.95, voltageVolts: 3.71, currentAmps: 3e-4)]
        try DatasetRewrite.replaceFrames(frames, directory: path)
        #expect(try r.frames() == frames)
        var updated = r.runInfo
        updated.extra["instrument"] = .object(["rows": .number(2)])
        try DatasetRewrite.replaceRunInfo(updated, directory: path)
        #expect(try DatasetReader(path).runInfo == updated)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty)
    }

    /// The import's lock refuses a dataset a run is still writing.
    @Test func exclusiveLockRefusesALiveRun() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.file("live.operando")
        let w = try RunWriter(creating: path, runInfo: sampleRunInfo())
        #expect { try DatasetRewrite.withExclusiveLock(path) { 1 } } throws: { "\($0)".contains("writing this dataset") }
        try w.close()
        #expect(try DatasetRewrite.withExclusiveLock(path) { 7 } == 7)
    }

    /// A malformed triggers.csv names the file, line and field.
    @Test func badTriggerRowNamesItsLine() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.file("b.operando")
        try RunWriter(creating: path, runInfo: sampleRunInfo()).close()
        try "edge,time_s,monotonic_ns,kind\n0,1.5,12x,rising\n".write(toFile: path + "/triggers.csv", atomically: true, encoding: .utf8)
        #expect { try DatasetReader(path).triggers() } throws: { "\($0)".contains("triggers.csv:2") && "\($0)".contains("monotonic_ns") }
    }
}
