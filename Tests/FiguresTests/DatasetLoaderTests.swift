import Dataset
import Foundation
import Testing
@testable import Figures

@Suite struct DatasetLoaderTests {
    @Test func readsWhatIsPresentAndLeavesTheRestNil() throws {
        let ds = try TestDataset(echem: [echem(0, 0, "rest", 3.5, 0), echem(1, 1, "charge", 3.6, 1e-4), echem(2, 2, "hold", 3.0, -1e-5)])
        defer { ds.remove() }
        try ds.writeAnalysis(metrics: [MetricsRecord(frame: 0, timeSeconds: 0, intensityChange: 0, sdcStd: .nan, contrastCentre: 0),
                                       MetricsRecord(frame: 1, timeSeconds: 3, intensityChange: 0.01, sdcStd: 0.002, contrastCentre: 0.004)],
                             sdcDropTimeSeconds: 2.5)
        try ds.writeCalibration(scale: 3.5, gain: 1.05, rmse: 0.004, theta0: 0.95,
                                errorMap: [ErrorMapRecord(scale: 3, gain: 1, rmse: 0.2), ErrorMapRecord(scale: 4, gain: 1, rmse: 0.3),
                                           ErrorMapRecord(scale: 3, gain: 1.1, rmse: 0.1), ErrorMapRecord(scale: 4, gain: 1.1, rmse: 0.4)],
                                modelProfiles: [ModelProfileRecord(timeSeconds: 300, positionMicrometres: -1, theta: 0.9),
                                                ModelProfileRecord(timeSeconds: 300, positionMicrometres: 0, theta: 0.95),
                                                ModelProfileRecord(timeSeconds: 600, positionMicrometres: -1, theta: 0.8),
                                                ModelProfileRecord(timeSeconds: 600, positionMicrometres: 0, theta: 0.9)])
        var frameCalls = 0
        let src = ClosureFrameSource { _ in
            frameCalls += 1
            return ImageStack(width: 2, height: 1, pixelSizeMicrometres: 0.1, timesSeconds: [0], frames: [[0, .nan]])
        }
        let inp = try ReportInputs.load(datasetDirectory: ds.path, frameSource: src)
        #expect(inp.datasetName.hasPrefix("operando-test-figds-") && !inp.datasetName.hasSuffix(".operando"))
        #expect(inp.echem?.timeSeconds == [0, 1, 2])
        #expect(inp.echem?.stepKind == ["rest", "charge", "hold"])
        #expect(inp.sdcStd?.values[0].isNaN == true)
        #expect(inp.sdcDropTimeSeconds == 2.5)   // the analysis' own finding, not re-detected
        #expect(inp.calibration?.gain == 1.05)
        #expect(inp.parameters?.scale == 3.5)
        #expect(inp.errorMap?.scales == [3, 4] && inp.errorMap?.gains == [1, 1.1])
        #expect(inp.errorMap?.rmse == [0.2, 0.3, 0.1, 0.4])
        #expect(inp.errorMap?.best?.gain == 1.05)  // the calibration's optimum wins over the grid minimum
        #expect(inp.modelProfiles?.curves.count == 2)
        #expect(inp.measuredProfiles == nil && inp.centreTrace == nil && inp.modelTrace == nil)
        #expect(frameCalls == 1 && inp.contrast?.width == 2)
    }

    @Test func malformedNumberNamesFileAndLine() throws {
        let ds = try TestDataset(); defer { ds.remove() }
        try "time_s,step,step_kind,voltage_V,current_A\n0,0,rest,3.5,0\n1,1,charge,abc,1e-4\n"
            .write(toFile: ds.file("echem.csv"), atomically: true, encoding: .utf8)
        do {
            _ = try ReportInputs.load(datasetDirectory: ds.path)
            Issue.record("expected an error")
        } catch let e as FigureError {
            #expect(e.description.contains("echem.csv:3"))
            #expect(e.description.contains("voltage_V = abc"))
        }
    }

    @Test func missingColumnIsNamed() throws {
        let ds = try TestDataset(); defer { ds.remove() }
        try "time_s,voltage_V\n0,3.5\n".write(toFile: ds.file("echem.csv"), atomically: true, encoding: .utf8)
        #expect(throws: FigureError.dataset(.missingColumn(path: ds.file("echem.csv"), column: "current_A", header: "time_s,voltage_V"))) {
            _ = try ReportInputs.load(datasetDirectory: ds.path)
        }
    }

    @Test func frameStackOfTheWrongSizeIsRejected() throws {
        let ds = try TestDataset(); defer { ds.remove() }
        let src = ClosureFrameSource { _ in ImageStack(width: 3, height: 2, pixelSizeMicrometres: 0.1, timesSeconds: [0], frames: [[0, 1]]) }
        #expect(throws: FigureError.self) { _ = try ReportInputs.load(datasetDirectory: ds.path, frameSource: src) }
    }

    /// Issue 11: a missing directory, one that is not a dataset, or a corrupt run.json is an error that
    /// names what is missing — not a one-page report.
    @Test func missingUnrelatedOrCorruptDatasetIsAnError() throws {
        let ds = try TestDataset(); defer { ds.remove() }
        let missing = ds.path + "-nope"
        do { _ = try Report.render(datasetDirectory: missing, to: ds.file("r.pdf"), note: { _ in }); Issue.record("expected an error") } catch {
            #expect("\(error)".contains(missing) && "\(error)".contains("no such dataset directory"), "\(error)")
        }
        let unrelated = ds.file("unrelated")
        try FileManager.default.createDirectory(atPath: unrelated, withIntermediateDirectories: true)
        try "hello".write(toFile: unrelated + "/notes.txt", atomically: true, encoding: .utf8)
        do { _ = try Report.render(datasetDirectory: unrelated, to: ds.file("r.pdf"), note: { _ in }); Issue.record("expected an error") } catch {
            #expect("\(error)".contains(unrelated + "/run.json") && "\(error)".contains("missing"), "\(error)")
        }
        try "{ not json".write(toFile: ds.file("run.json"), atomically: true, encoding: .utf8)
        do { _ = try Report.render(datasetDirectory: ds.path, to: ds.file("r.pdf"), note: { _ in }); Issue.record("expected an error") } catch {
            #expect("\(error)".contains(ds.file("run.json")) && "\(error)".contains("JSON"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: ds.file("r.pdf")))
    }
}
