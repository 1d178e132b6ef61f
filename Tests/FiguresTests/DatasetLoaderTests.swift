import Foundation
import Testing
@testable import Figures

@Suite struct DatasetLoaderTests {
    func makeDataset(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("figds-\(UUID().uuidString).operando").path
        for (name, text) in files {
            let p = (dir as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: p, atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func readsWhatIsPresentAndLeavesTheRestNil() throws {
        let dir = try makeDataset([
            "echem.csv": "time_s,step,step_kind,voltage_V,current_A,capacity_mAh_per_g\n0,0,rest,3.5,0,0\n1,1,charge,3.6,1e-4,0.01\n2,2,hold,3.0,-1e-5,0.02\n",
            "analysis/metrics.csv": "frame,time_s,intensity_change,sdc_std,contrast_centre\n0,0,0,nan,0\n1,3,0.01,0.002,0.004\n",
            "calibration/calibration.json": "{\"scale\": 3.5, \"gain\": 1.05, \"rmse\": 0.004, \"theta0\": 0.95}",
            "calibration/error_map.csv": "scale,gain,rmse\n3,1,0.2\n4,1,0.3\n3,1.1,0.1\n4,1.1,0.4\n",
            "model/profiles.csv": "time_s,position_um,theta\n300,-1,0.9\n300,0,0.95\n600,-1,0.8\n600,0,0.9\n",
        ])
        var frameCalls = 0
        let src = ClosureFrameSource { _ in
            frameCalls += 1
            return ImageStack(width: 2, height: 1, pixelSizeMicrometres: 0.1, timesSeconds: [0], frames: [[0, .nan]])
        }
        let inp = try ReportInputs.load(datasetDirectory: dir, frameSource: src)
        #expect(inp.datasetName.hasPrefix("figds-") && !inp.datasetName.hasSuffix(".operando"))
        #expect(inp.echem?.timeSeconds == [0, 1, 2])
        #expect(inp.echem?.stepKind == ["rest", "charge", "hold"])
        #expect(inp.sdcStd?.values[0].isNaN == true)
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
        let dir = try makeDataset(["echem.csv": "time_s,step,step_kind,voltage_V,current_A\n0,0,rest,3.5,0\n1,1,charge,abc,1e-4\n"])
        do {
            _ = try ReportInputs.load(datasetDirectory: dir)
            Issue.record("expected an error")
        } catch let e as FigureError {
            #expect(e.description.contains("echem.csv:3"))
            #expect(e.description.contains("'abc'"))
        }
    }

    @Test func missingColumnIsNamed() throws {
        let dir = try makeDataset(["echem.csv": "time_s,voltage_V\n0,3.5\n"])
        #expect(throws: FigureError.missingColumn(file: dir + "/echem.csv", column: "current_A")) {
            _ = try ReportInputs.load(datasetDirectory: dir)
        }
    }

    @Test func frameStackOfTheWrongSizeIsRejected() throws {
        let dir = try makeDataset([:])
        let src = ClosureFrameSource { _ in ImageStack(width: 3, height: 2, pixelSizeMicrometres: 0.1, timesSeconds: [0], frames: [[0, 1]]) }
        #expect(throws: FigureError.self) { _ = try ReportInputs.load(datasetDirectory: dir, frameSource: src) }
    }
}

@Suite struct CSVTableTests {
    @Test func windowsLineEndingsCommentsAndSpacesAreRead() throws {
        let t = try CSVTable.parse("# written by EC-Lab export\r\ntime_s, voltage_V\r\n0, 3.5\r\n\r\n1 ,3.6\r\n", file: "x.csv")
        #expect(t.header == ["time_s", "voltage_V"])
        #expect(try t.numbers("voltage_V") == [3.5, 3.6])
        #expect(t.lines == [3, 5])
    }
}
