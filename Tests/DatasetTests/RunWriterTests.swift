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

    /// Issue 16: chunks written on the background thread (as the recorder does) end up exactly as the
    /// synchronous ones — deflate-compressed, indexed in order, monitor rows only once their chunk is on
    /// disk — and tifffile reads a compressed chunk to the same float bits (NaN included).
    @Test func backgroundDeflateChunksAreIndexedInOrderAndReadByTifffile() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.file("bg.operando")
        let w = try RunWriter(creating: path, runInfo: sampleRunInfo(), framesPerChunk: 4, compression: .deflate, backgroundChunks: true)
        func pixels(_ k: Int) -> [Float] {
            (0..<48).map { i in i == k ? .nan : Float(i) * 1.25 + Float(k) / 3 }
        }
        for k in 0..<10 {
            let r = FrameRecord(frame: k, chunk: 0, page: 0, startSeconds: Double(k), endSeconds: Double(k) + 0.3, exposures: 3,
                                ledOnFraction: 1, step: 0)
            try w.appendFrame(BinnedFrame(width: 8, height: 6, pixels: pixels(k)), record: r)
            try w.append(MonitorRecord(frame: k, timeSeconds: r.timeSeconds, intensityChange: 0, sdcStd: 0,
                                       driftXPixels: 0, driftYPixels: 0, heterogeneous: false))
            // Whatever the writer thread has done, no row runs ahead of its chunk.
            let indexed = try DatasetReader(path).frames()
            #expect(try DatasetReader(path).monitor().count <= indexed.count)
            for row in indexed { #expect(FileManager.default.fileExists(atPath: path + "/" + DatasetFormat.File.chunk(row.chunk))) }
        }
        try w.close()
        #expect(w.recordedFrames == 10 && w.chunksInFlight == 0)
        let r = try DatasetReader(path)
        #expect(try r.frames().map(\.chunk) == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
        #expect(try r.monitor().map(\.frame) == Array(0..<10))
        var view = try r.recording()
        for k in 0..<10 { #expect(try view.frame(k).frame.pixels.map(\.bitPattern) == pixels(k).map(\.bitPattern), "frame \(k)") }
        let chunk = path + "/" + DatasetFormat.File.chunk(1)
        #expect(try TIFFStackReader(path: chunk).compressionCode == 8)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: path + "/frames").filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty)
        // The issue's recipe: one stack from the chunks with tifffile.
        let script = """
        import sys, glob, numpy, tifffile
        stack = numpy.concatenate([tifffile.imread(p) for p in sorted(glob.glob(sys.argv[1] + '/frames/*.tif'))])
        with tifffile.TiffFile(sys.argv[2]) as t:
            print(stack.shape, stack.dtype, int(t.pages[0].compression), int(numpy.isnan(stack).sum()))
        print(repr(float(stack[5, 0, 1])), repr(float(stack[9, 5, 7])))
        """
        let output = try #require(tifffile(script, [path, chunk]))
        #expect(output == "(10, 6, 8) float32 8 10\n\(Double(pixels(5)[1])) \(Double(pixels(9)[47]))\n")
    }

    /// The rig file's `[recording] compression = "none"` path: plain chunks, read the same way.
    @Test func uncompressedChunksStillWork() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.file("plain.operando")
        let w = try RunWriter(creating: path, runInfo: sampleRunInfo(), framesPerChunk: 2, compression: .none, backgroundChunks: true)
        for k in 0..<3 {
            try w.appendFrame(BinnedFrame(width: 8, height: 6, repeating: Float(k)),
                              record: FrameRecord(frame: k, chunk: 0, page: 0, startSeconds: Double(k), endSeconds: Double(k) + 1,
                                                  exposures: 1, ledOnFraction: 1, step: 0))
        }
        try w.close()
        #expect(try TIFFStackReader(path: path + "/" + DatasetFormat.File.chunk(0)).compressionCode == 1)
        var view = try DatasetReader(path).recording()
        #expect(view.frameCount == 3)
        #expect(try view.frame(2).frame.pixels.allSatisfy { $0 == 2 })
    }

    /// A chunk the background thread cannot write (its directory is gone) is thrown on the next call,
    /// and leaves no `.partial` behind.
    @Test func aBackgroundChunkFailureIsThrownToTheCaller() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let path = dir.file("fail.operando")
        let w = try RunWriter(creating: path, runInfo: sampleRunInfo(), framesPerChunk: 1, backgroundChunks: true)
        try FileManager.default.removeItem(atPath: path + "/frames")
        var thrown: Error? = nil
        for k in 0..<50 where thrown == nil {
            do {
                try w.appendFrame(BinnedFrame(width: 8, height: 6, repeating: 1),
                                  record: FrameRecord(frame: k, chunk: 0, page: 0, startSeconds: Double(k), endSeconds: Double(k) + 1,
                                                      exposures: 1, ledOnFraction: 1, step: 0))
                if k > 3 { usleep(20_000) }
            } catch { thrown = error }
        }
        if thrown == nil { do { try w.close() } catch { thrown = error } }
        let e = try #require(thrown as? DatasetError)
        #expect("\(e)".contains("frame chunk") || "\(e)".contains("frames/"), "\(e)")
        w.discardPending()
        #expect(w.recordedFrames == 0)
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
