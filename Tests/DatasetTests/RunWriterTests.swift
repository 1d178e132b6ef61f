import Foundation
import Imaging
import Testing
@testable import Dataset

func sampleRunInfo() -> RunInfo {
    RunInfo(softwareVersion: "operando test", protocolPath: "p.toml", protocolText: "[[steps]]\ndo = \"Rest for 1 s\"\n",
            rig: .object(["backend": .string("sim")]), backend: "firmware-sim (virtual clock)", startTimeUTC: "2026-12-01T00:00:00Z",
            pixelSizeMicrometres: 0.0347, roi: (10, 20, 8, 6), binning: 3, frameRateHz: 10, exposureMilliseconds: 2.5,
            ledLeadMilliseconds: 0.2, ledWavelengthNanometres: 740, blackLevelSubtractedCounts: 100, activeMassMilligrams: 1.5,
            practicalCapacityMilliampHoursPerGram: 210)
}

@Suite struct RunWriterTests {
    @Test func everyRecordRoundTrips() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.file("r.operando")
        let info = sampleRunInfo()
        let w = try RunWriter(creating: path, runInfo: info, framesPerChunk: 2)
        let echem = [EchemRecord(timeSeconds: 0, step: 0, stepKind: "rest", voltageVolts: 3.7, currentAmps: 0, capacityMilliampHoursPerGram: 0),
                     EchemRecord(timeSeconds: 1.25, step: 1, stepKind: "charge", voltageVolts: 3.71, currentAmps: 1.05e-4,
                                 capacityMilliampHoursPerGram: 0.0123)]
        for e in echem { try w.append(e) }
        let edge = EdgeRecord(frame: 0, step: 0, skipped: false, intendedLedOnMicroseconds: 0, actualLedOnMicroseconds: 1.5,
                              intendedTriggerMicroseconds: 200, actualTriggerMicroseconds: nil, intendedLedOffMicroseconds: 2800,
                              actualLedOffMicroseconds: 2801)
        try w.append(edge)
        let event = EventRecord(timeSeconds: 0.5, event: "step_started", fields: ["step": .number(1), "text": .string("Charge at C/3")])
        try w.append(event)
        var frames: [FrameRecord] = []
        for k in 0..<3 {
            let r = FrameRecord(frame: k, chunk: 0, page: 0, startSeconds: Double(k), endSeconds: Double(k) + 0.3, exposures: 3,
                                ledOnFraction: 1, step: 0, echemTimeSeconds: 0, voltageVolts: 3.7, currentAmps: 0)
            try w.appendFrame(BinnedFrame(width: 8, height: 6, repeating: Float(k)), record: r)
            try w.append(MonitorRecord(frame: k, timeSeconds: r.timeSeconds, intensityChange: 0.01 * Double(k), sdcStd: 0.002,
                                       driftXPixels: 0.1, driftYPixels: -0.2, heterogeneous: k == 2))
            frames.append(r)
        }
        // Frame 2 is still pending: its monitor row must not be on disk yet.
        #expect(try DatasetReader(path).monitor().map(\.frame) == [0, 1])
        try w.writeTiming(.object(["triggers": .number(9)]))
        try w.close()

        let r = try DatasetReader(path)
        #expect(r.runInfo == info)
        #expect(r.runInfo.formatVersion == DatasetFormat.version)
        #expect(try r.echem() == echem)
        #expect(try r.edges() == [edge])
        #expect(try r.events() == [event])
        let read = try r.frames()
        #expect(read.map(\.frame) == [0, 1, 2])
        #expect(read.map(\.chunk) == [0, 0, 1])
        #expect(read.map(\.page) == [0, 1, 0])
        #expect(try r.monitor().map(\.heterogeneous) == [false, false, true])
        #expect(try r.timing()?["triggers"]?.number == 9)
        var view = try r.recording()
        #expect(view.frameCount == 3)
        #expect(view.frameIntervalSeconds == 1)
        #expect(try view.frame(2).frame.pixels.allSatisfy { $0 == 2 })
        #expect(try view.frame(1).frame.pixels.allSatisfy { $0 == 1 })
        #expect(!FileManager.default.fileExists(atPath: path + "/frames/000001.tif.partial"))
    }

    @Test func refusesANonEmptyDirectoryAndAnEmptyPath() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("mine"), withIntermediateDirectories: true)
        try Data("t,v\n".utf8).write(to: URL(fileURLWithPath: dir.file("mine/echem.csv")))
        #expect(throws: DatasetError.self) { _ = try RunWriter(creating: dir.file("mine"), runInfo: sampleRunInfo()) }
        #expect(try String(contentsOfFile: dir.file("mine/echem.csv"), encoding: .utf8) == "t,v\n")
        #expect(throws: DatasetError.self) { _ = try RunWriter(creating: "", runInfo: sampleRunInfo()) }
        // An empty directory is fine.
        try FileManager.default.createDirectory(atPath: dir.file("empty"), withIntermediateDirectories: true)
        let w = try RunWriter(creating: dir.file("empty"), runInfo: sampleRunInfo())
        try w.close()
    }

    @Test func secondWriterIntoTheSameDirectoryFails() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let first = try RunWriter(creating: dir.file("x"), runInfo: sampleRunInfo())
        #expect(throws: DatasetError.self) { _ = try RunWriter(creating: dir.file("x"), runInfo: sampleRunInfo()) }
        #expect(try DatasetReader(dir.file("x")).isBeingWritten)
        try first.close()
        #expect(try !DatasetReader(dir.file("x")).isBeingWritten)
    }

    @Test func concurrentWritersOneWins() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        for attempt in 0..<20 {
            let target = dir.file("race\(attempt)")
            let wins = Mutex2()
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                if let w = try? RunWriter(creating: target, runInfo: sampleRunInfo()) { wins.add(); try? w.close() }
            }
            #expect(wins.count == 1, "attempt \(attempt)")
        }
    }

    @Test func newerMajorFormatIsRefused() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let w = try RunWriter(creating: dir.file("n"), runInfo: sampleRunInfo())
        try w.close()
        let run = dir.file("n/run.json")
        let text = try String(contentsOfFile: run, encoding: .utf8).replacingOccurrences(of: "\"\(DatasetFormat.version)\"", with: "\"2.0\"")
        try Data(text.utf8).write(to: URL(fileURLWithPath: run))
        #expect(throws: DatasetError.newerFormat(path: run, found: "2.0", supported: "1")) { _ = try DatasetReader(dir.file("n")) }
    }

    @Test func notADatasetSaysWhat() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        do { _ = try DatasetReader(dir.path); Issue.record("accepted") } catch let e as DatasetError {
            #expect(e.description.contains("run.json"))
        }
        #expect(throws: DatasetError.self) { _ = try DatasetReader(dir.file("absent")) }
    }
}

final class Mutex2: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return n }
}
