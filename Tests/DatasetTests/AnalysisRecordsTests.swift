import Foundation
import Imaging
import Testing
@testable import Dataset

/// A summary record with every field set (particles included).
func sampleAnalysisSummary() -> AnalysisSummaryRecord {
    AnalysisSummaryRecord(input: "run.operando", frames: 3, droppedFrames: [1], pixelSizeMicrometres: 0.0347, threshold: 1234.5,
                          particleAreaPixels: 12, particleAreaMicrometres2: 0.0144, particlePerimeterMicrometres: 0.5,
                          centroidPixels: [2.5, 3.25], outlineMicrometres: [[0, 0], [0.1, 0], [0.1, 0.1]], sdcLagFrames: 2,
                          binFrames: 1, sdcDropTimeSeconds: 4.5, driftMethod: "fiducial", fiducialPixels: [7, 1.5], failedDriftFits: 1,
                          maximumDriftPixels: 0.25, notes: ["a note, with a comma"], wallTimeSeconds: 0.01,
                          particles: [.init(label: 1, areaPixels: 12, areaMicrometres2: 0.0144, centroidPixels: [2.5, 3.25])])
}

/// Writes a small analysis folder through `AnalysisWriter`: three frames, the middle one dropped.
func writeSampleAnalysis(_ directory: String, summary: AnalysisSummaryRecord = sampleAnalysisSummary(), labels: Bool = true) throws {
    let w = AnalysisWriter(directory: directory)
    try w.begin(pixelSizeMicrometres: 0.0347, contrastFrameIntervalSeconds: 3)
    var mask = BinnedFrame(width: 8, height: 6, repeating: 0)
    for y in 2..<5 { for x in 1..<5 { mask.pixels[y * 8 + x] = 1 } }
    try w.writeMask(mask)
    if labels { try w.writeLabels(mask, count: 1) }
    for k in 0..<3 {
        try w.append(DriftRecord(frame: k, dxPixels: k == 1 ? .nan : 0.125 * Double(k), dyPixels: -0.5))
        try w.append(MetricsRecord(frame: k, timeSeconds: 1.5 + 3 * Double(k), intensityChange: k == 1 ? .nan : 0.01 * Double(k),
                                   sdcStd: k < 2 ? .nan : 0.002, contrastCentre: 0.004 * Double(k)))
        if k != 1 {
            try w.append((0..<4).map { ProfileRecord(frame: k, timeSeconds: 1.5 + 3 * Double(k), positionMicrometres: 0.0347 * Double($0 - 2),
                                                     contrast: 0.001 * Double($0)) })
        }
        try w.appendContrast(BinnedFrame(width: 8, height: 6, repeating: Float(k) * 0.01))
    }
    try w.commit(summary, contrastDisplayRange: (-0.02, 0.02))
}

@Suite struct AnalysisRecordsTests {
    @Test func everyAnalysisRecordRoundTrips() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("analysis")
        try writeSampleAnalysis(out)
        let r = AnalysisReader(directory: out)
        #expect(r.hasResults)
        let drift = try #require(try r.drift())
        #expect(drift.count == 3 && drift[2] == DriftRecord(frame: 2, dxPixels: 0.25, dyPixels: -0.5) && drift[1].dxPixels.isNaN)
        let metrics = try #require(try r.metrics())
        #expect(metrics.map(\.timeSeconds) == [1.5, 4.5, 7.5])
        #expect(metrics[2] == MetricsRecord(frame: 2, timeSeconds: 7.5, intensityChange: 0.02, sdcStd: 0.002, contrastCentre: 0.008))
        #expect(metrics[1].intensityChange.isNaN && metrics[0].sdcStd.isNaN)
        let profiles = try #require(try r.profiles())
        #expect(profiles.count == 8 && Set(profiles.map(\.frame)) == [0, 2])
        #expect(profiles[5] == ProfileRecord(frame: 2, timeSeconds: 7.5, positionMicrometres: -0.0347, contrast: 0.001))
        let summary = try #require(try r.summary())
        #expect(summary == sampleAnalysisSummary())
        #expect(summary.formatVersion == DatasetFormat.version)
        let (mask, pixel) = try #require(try r.mask())
        #expect(mask.areaPixels == 12 && mask[1, 2] && !mask[0, 0] && pixel.map { abs($0 - 0.0347) < 1e-6 } == true)
        #expect(try r.labels()?.labels.pixels.filter { $0 == 1 }.count == 12)
        let contrast = try #require(try r.sampledContrast(maximumFrames: 2))
        #expect(contrast.timesSeconds == [1.5, 7.5] && contrast.frames[1].pixels[0] == 0.02)
        // The names and columns users rely on (docs/analyse.md) are unchanged.
        let metricsText = try String(contentsOfFile: r.path(DatasetFormat.AnalysisFile.metrics), encoding: .utf8)
        #expect(metricsText.hasPrefix("frame,time_s,intensity_change,sdc_std,contrast_centre\n0,1.5,0,nan,0\n"))
        let json = try JSONText.read(r.path("summary.json"))
        #expect(json["format_version"]?.string == DatasetFormat.version && json["sdc_drop_time_s"]?.number == 4.5)
        #expect(json["drift"]?["fiducial_px"]?.array?.count == 2)
        // Nothing temporary is left.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).allSatisfy { !$0.hasSuffix(".partial") })
    }

    @Test func missingOrRenamedColumnNamesFileAndColumn() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("analysis")
        try writeSampleAnalysis(out)
        let r = AnalysisReader(directory: out)
        let metrics = r.path(DatasetFormat.AnalysisFile.metrics)
        try "frame,time,intensity_change,sdc_std,contrast_centre\n0,1.5,0,nan,0\n".write(toFile: metrics, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.missingColumn(path: metrics, column: "time_s",
                                                   header: "frame,time,intensity_change,sdc_std,contrast_centre")) { _ = try r.metrics() }
        let profiles = r.path(DatasetFormat.AnalysisFile.profiles)
        try "frame,time_s,position_um\n0,1.5,0\n".write(toFile: profiles, atomically: true, encoding: .utf8)
        do { _ = try r.profiles(); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("profiles.csv") && "\(error)".contains("\"contrast\""), "\(error)")
        }
        let drift = r.path(DatasetFormat.AnalysisFile.drift)
        try "frame,dx_px,dy_px\n0,0,0\n1,x,0\n".write(toFile: drift, atomically: true, encoding: .utf8)
        do { _ = try r.drift(); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("drift.csv:3") && "\(error)".contains("dx_px = x"), "\(error)")
        }
        // A summary from a newer major format is refused.
        let summary = r.path(DatasetFormat.AnalysisFile.summary)
        try #"{"format_version": "2.0", "frames": 3, "pixel_size_um": 0.0347}"#.write(toFile: summary, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.newerFormat(path: summary, found: "2.0", supported: "1")) { _ = try r.summary() }
    }

    @Test func abortedAnalysisLeavesThePreviousResultsAndAStaleFileGoesAtTheNextCommit() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("analysis")
        try writeSampleAnalysis(out)
        let metricsPath = (out as NSString).appendingPathComponent(DatasetFormat.AnalysisFile.metrics)
        let before = try Data(contentsOf: URL(fileURLWithPath: metricsPath))
        // A second analysis that fails after writing some rows.
        let w = AnalysisWriter(directory: out)
        try w.begin(pixelSizeMicrometres: 0.0347)
        try w.append(MetricsRecord(frame: 0, timeSeconds: 99, intensityChange: 1, sdcStd: 1, contrastCentre: 1))
        try w.appendContrast(BinnedFrame(width: 8, height: 6, repeating: 5))
        w.abort()
        #expect(try Data(contentsOf: URL(fileURLWithPath: metricsPath)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == DatasetFormat.AnalysisFile.all.sorted())
        // A successful analysis without labels replaces the set and removes the old labels.tif.
        var summary = sampleAnalysisSummary()
        summary.particles = nil
        try writeSampleAnalysis(out, summary: summary, labels: false)
        let r = AnalysisReader(directory: out)
        #expect(!r.has(DatasetFormat.AnalysisFile.labels) && r.has(DatasetFormat.AnalysisFile.contrast))
        #expect(try r.summary()?.particles == nil)
        // An aborted first analysis leaves no folder behind.
        let fresh = dir.file("fresh/analysis")
        let f = AnalysisWriter(directory: fresh)
        try f.begin(pixelSizeMicrometres: 0.0347)
        f.abort()
        #expect(!FileManager.default.fileExists(atPath: fresh))
    }

    /// A process killed between a commit's renames leaves its journal: the next reader finishes the
    /// commit, so the folder holds the new set whole, never half of each.
    @Test func aCommitKilledBetweenRenamesIsFinishedByTheNextReader() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("analysis"), next = dir.file("next")
        try writeSampleAnalysis(out)
        var newer = sampleAnalysisSummary()
        newer.input = "newer.operando"
        try writeSampleAnalysis(next, summary: newer, labels: false)
        // The newer set, staged in `out` as a commit would leave it: journal durable, two renames done.
        let fm = FileManager.default
        let names = DatasetFormat.AnalysisFile.all
        var journal = ["operando commit journal 1"]
        for name in names {
            let src = (next as NSString).appendingPathComponent(name)
            if fm.fileExists(atPath: src) {
                try fm.copyItem(atPath: src, toPath: (out as NSString).appendingPathComponent(name) + ".partial")
                journal.append("rename\t\(name)")
            } else {
                journal.append("remove\t\(name)")
            }
        }
        try (journal.joined(separator: "\n") + "\n").write(toFile: (out as NSString).appendingPathComponent(StagedOutputs.journalName),
                                                            atomically: true, encoding: .utf8)
        for name in names.prefix(2) {
            let p = (out as NSString).appendingPathComponent(name)
            #expect(rename(p + ".partial", p) == 0)
        }
        // Before recovery the folder mixes the two sets: new drift.csv, old summary.json.
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/drift.csv")) == Data(contentsOf: URL(fileURLWithPath: next + "/drift.csv")))
        let r = AnalysisReader(directory: out)
        #expect(try r.summary()?.input == "newer.operando")
        #expect(!r.has(DatasetFormat.AnalysisFile.labels), "the newer set has no labels.tif: the old one is removed")
        for name in names where fm.fileExists(atPath: (next as NSString).appendingPathComponent(name)) {
            #expect(try Data(contentsOf: URL(fileURLWithPath: r.path(name))) == Data(contentsOf: URL(fileURLWithPath: (next as NSString).appendingPathComponent(name))), "\(name)")
        }
        #expect(try fm.contentsOfDirectory(atPath: out).allSatisfy { !$0.hasSuffix(".partial") && $0 != StagedOutputs.journalName })
    }

    /// A journal that is not one is an error naming it and its line, not a guess.
    @Test func aDamagedCommitJournalIsAClearError() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("analysis")
        try writeSampleAnalysis(out)
        let journal = (out as NSString).appendingPathComponent(StagedOutputs.journalName)
        try "operando commit journal 1\nmove\tdrift.csv\n".write(toFile: journal, atomically: true, encoding: .utf8)
        let w = AnalysisWriter(directory: out)
        #expect(throws: DatasetError.badFile(path: journal, line: 2, text: "move\tdrift.csv", expected: "rename<TAB>NAME or remove<TAB>NAME")) {
            try w.begin(pixelSizeMicrometres: 0.0347)
        }
        // Nothing of the previous analysis was touched.
        #expect(try AnalysisReader(directory: out).summary() == sampleAnalysisSummary())
    }

    /// profiles.csv built from cached texts is byte-for-byte what each record's own fields give
    /// (positions repeated across frames, NaN contrast, −0, a frame whose rows are given twice).
    @Test func profileRowsFromCachedTextsEqualTheRecordsFields() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("analysis")
        let w = AnalysisWriter(directory: out)
        try w.begin(pixelSizeMicrometres: 0.0347)
        var expected = ProfileRecord.columns.joined(separator: ",") + "\n"
        for k in 0..<5 {
            let t = 1.5 + 12.000000001 * Double(k)
            let rows = (0..<40).map { j in
                ProfileRecord(frame: k, timeSeconds: t, positionMicrometres: j == 20 ? -0.0 : 0.0347 * Double(j - 20),
                              contrast: j == 3 ? .nan : sin(Double(j * (k + 1))) * 1e-3)
            }
            try w.append(Array(rows[..<25]))
            try w.append(Array(rows[25...]))
            for r in rows { expected += r.fields.joined(separator: ",") + "\n" }
        }
        try w.commit(sampleAnalysisSummary(), contrastDisplayRange: (-0.02, 0.02))
        #expect(try String(contentsOfFile: (out as NSString).appendingPathComponent(DatasetFormat.AnalysisFile.profiles), encoding: .utf8) == expected)
    }
}
