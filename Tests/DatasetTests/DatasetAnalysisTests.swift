import Foundation
import Imaging
import Testing
@testable import Dataset

/// A recorded dataset of `frames` synthetic frames (particle, fiducial, slow drift), five per chunk.
func makeRecordedDataset(_ path: String, frames: Int = 10) throws {
    var info = sampleRunInfo()
    info.binning = 30
    let writer = try RunWriter(creating: path, runInfo: info, framesPerChunk: 5)
    var stack = SyntheticStack()
    stack.drift = { k in (0.02 * Double(k), -0.01 * Double(k)) }
    for k in 0..<frames {
        try writer.appendFrame(stack.frame(k), record: FrameRecord(frame: k, chunk: 0, page: 0, startSeconds: 3 * Double(k),
                                                                   endSeconds: 3 * Double(k) + 3, exposures: 30, ledOnFraction: 1, step: 0))
    }
    try writer.close()
}

@Suite struct DatasetAnalysisTests {
    @Test func analysingADatasetWritesItsAnalysisFolder() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let dataset = dir.file("r.operando")
        try makeRecordedDataset(dataset)
        var options = AnalysisOptions()
        options.sdcLagFrames = 2
        let s = try DatasetAnalysis.run(input: dataset, options: options)
        #expect(s.outputDirectory == (dataset as NSString).appendingPathComponent("analysis"))
        #expect(s.frameCount == 10 && s.pixelSizeMicrometres == 0.0347 && s.input == dataset)
        let r = try DatasetReader(dataset).analysis()
        #expect(try r.metrics()?.map(\.timeSeconds) == (0..<10).map { 3 * Double($0) + 1.5 })
        #expect(try r.summary()?.frames == 10)
        #expect(try r.summary()?.sdcDropTimeSeconds == s.sdcDropTimeSeconds)
        #expect(DatasetAnalysis.defaultOutputDirectory(stack: "/a/b.ome.tif") == "/a/b.analysis")
    }

    /// Issue 11: a re-analysis that fails half-way (here a chunk went missing) leaves the previous
    /// results exactly as they were — no 0-byte metrics.csv beside a stale summary.json.
    @Test func failedReanalysisLeavesThePreviousResultsIntact() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let dataset = dir.file("r.operando")
        try makeRecordedDataset(dataset)
        var options = AnalysisOptions()
        options.sdcLagFrames = 2
        _ = try DatasetAnalysis.run(input: dataset, options: options)
        let analysis = (dataset as NSString).appendingPathComponent("analysis")
        func snapshot() throws -> [String: Data] {
            var out: [String: Data] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: analysis) {
                out[name] = try Data(contentsOf: URL(fileURLWithPath: (analysis as NSString).appendingPathComponent(name)))
            }
            return out
        }
        let before = try snapshot()
        #expect(before.keys.sorted() == ["contrast.tif", "drift.csv", "mask.tif", "metrics.csv", "profiles.csv", "summary.json"])
        try FileManager.default.removeItem(atPath: (dataset as NSString).appendingPathComponent(DatasetFormat.File.chunk(1)))
        options.sdcLagFrames = 3
        #expect(throws: (any Error).self) { _ = try DatasetAnalysis.run(input: dataset, options: options) }
        #expect(try snapshot() == before)
    }

    @Test func missingInputAndNonDatasetDirectoryAreNamed() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        #expect(throws: DatasetError.missingFile(path: dir.file("nope"), what: "no such file or directory; expected a dataset directory or a TIFF stack")) {
            _ = try DatasetAnalysis.run(input: dir.file("nope"))
        }
        do { _ = try DatasetAnalysis.run(input: dir.path); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("run.json") && "\(error)".contains(dir.path), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("analysis")))
    }
}
