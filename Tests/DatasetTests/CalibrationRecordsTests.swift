import Foundation
import Testing
@testable import Dataset

func sampleCalibrationOutputs(diffusivity: Bool = true) -> CalibrationOutputs {
    var result = CalibrationRecord(
        dataset: "run.operando", scale: 3.5, gain: 1.0526, rmse: 0.004, theta0: 0.95, scaleStandardError: 0.05, gainStandardError: .nan,
        scaleInterval95: (3.4, nil), uncertaintyMethod: "curvature", residualAutocorrelation: 0.3, points: 500, objective: "seed Eq. 18",
        profileObjective: .init(scale: 3.6, gain: 1.05, rmse: 0.005, points: 1000, rmseAtCentreFit: 0.0051, edgeMarginMicrometres: 0.1,
                                profiles: 120, note: "line"),
        scaleRange: [1, 10], scaleGrid: [1, 3.16, 10],
        model: .init(kinetics: "butler-volmer", parameterSet: "nmc87", particle: "mask:m.tif,pixel=0.0347um", areaMicrometres2: 4.87,
                     perimeterMicrometres: 8.06, elementSizeMicrometres: 0.1, driveSegments: 2, oneCAmps: 3.15e-4),
        modelRuns: 20, wallTimeSeconds: 12.5, notes: ["ran the image analysis first"],
        diffusivityFit: diffusivity ? .init(knotsX: [0, 0.5], initialCm2PerS: [1e-10, 2e-10], fittedCm2PerS: [1.1e-10, 2.2e-10],
                                            log10StandardError: [0.1, 0.2], freeKnots: [1], visitedX: [0.05, 0.4], scale: 3.5, gain: 1.05,
                                            rmse: 0.0049, rmseScaleOnly: 0.005, iterations: 4, modelRuns: 12, smoothness: 1e-3) : nil)
    result.centreOffset = 4.8e-4
    result.outline = .init(maskAreaMicrometres2: 4.91, measuredAreaMicrometres2: 4.87, relativeStandardError: 0.0015)
    return CalibrationOutputs(
        result: result,
        errorMap: [ErrorMapRecord(scale: 1, gain: 0.5, rmse: 0.02), ErrorMapRecord(scale: 3.5, gain: 1.0526, rmse: 0.004)],
        profileObjective: [ErrorMapRecord(scale: 3.5, gain: 1.05, rmse: 0.005)],
        centreFit: [CentreFitRecord(timeSeconds: 1.5, measured: 0.001, model: 0.0012), CentreFitRecord(timeSeconds: 4.5, measured: .nan, model: 0.002)],
        profileFit: [ProfileFitRecord(timeSeconds: 1.5, positionMicrometres: -0.5, measured: 0.01, model: 0.011)],
        diffusivityFit: diffusivity ? [DiffusivityFitRecord(x: 0.25, theta: 0.75, initialCm2PerS: 1.5e-10, fittedCm2PerS: 1.6e-10,
                                                           fittedLowCm2PerS: 1.2e-10, fittedHighCm2PerS: 2e-10, effectiveCm2PerS: 4.57e-11,
                                                           resolved: true)] : nil,
        modelTrace: [ModelTraceRecord(timeSeconds: 0, thetaCentre: 0.95, thetaMean: 0.95, thetaMin: 0.95, thetaMax: 0.95, voltageVolts: 3.7,
                                      currentAmps: 1e-4)],
        modelProfiles: [ModelProfileRecord(timeSeconds: 300, positionMicrometres: 0, theta: 0.9)])
}

@Suite struct CalibrationRecordsTests {
    @Test func everyCalibrationRecordRoundTrips() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("calibration")
        let o = sampleCalibrationOutputs()
        try CalibrationWriter.write(o, to: out)
        let r = CalibrationReader(directory: out)
        let result = try #require(try r.result())
        #expect(result == o.result && result.formatVersion == DatasetFormat.version)
        #expect(result.gainStandardError.isNaN && result.scaleInterval95.low == 3.4 && result.scaleInterval95.high == nil)
        #expect(try r.errorMap() == o.errorMap)
        #expect(try r.profileObjective() == o.profileObjective)
        let centre = try #require(try r.centreFit())
        #expect(centre[0] == o.centreFit[0] && centre[1].measured.isNaN)
        #expect(try r.profileFit() == o.profileFit)
        #expect(try r.diffusivityFit() == o.diffusivityFit)
        #expect(try r.modelTrace() == o.modelTrace)
        #expect(try r.modelProfiles() == o.modelProfiles)
        // Names and columns as docs/interfaces.md "calibrate outputs" promise.
        #expect(try String(contentsOfFile: r.path("error_map.csv"), encoding: .utf8).hasPrefix("scale,gain,rmse\n1,0.5,0.02\n"))
        #expect(try String(contentsOfFile: r.path("centre_fit.csv"), encoding: .utf8).hasPrefix("time_s,measured,model\n"))
        #expect(try String(contentsOfFile: r.path("model/trace.csv"), encoding: .utf8)
            .hasPrefix("time_s,theta_centre,theta_mean,theta_min,theta_max,voltage_V,current_A\n"))
        let json = try JSONText.read(r.path("calibration.json"))
        for key in ["scale", "gain", "rmse", "theta0", "format_version"] { #expect(json[key] != nil, "\(key)") }
        #expect(result.centreOffset == 4.8e-4 && json["centre_offset"]?.number == 4.8e-4)
        #expect(result.outline == o.result.outline && json["outline"]?["measured_area_um2"]?.number == 4.87)
    }

    @Test func failedCalibrationWriteKeepsThePreviousAndStaleFilesGoAtTheNextOne() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("calibration")
        try CalibrationWriter.write(sampleCalibrationOutputs(), to: out)
        let json = try Data(contentsOf: URL(fileURLWithPath: out + "/calibration.json"))
        // Something in the way of one temporary file: the write fails part-way.
        try FileManager.default.createDirectory(atPath: out + "/model/trace.csv.partial", withIntermediateDirectories: true)
        var next = sampleCalibrationOutputs()
        next.result.scale = 9
        #expect(throws: DatasetError.self) { try CalibrationWriter.write(next, to: out) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/calibration.json")) == json)
        #expect(!FileManager.default.fileExists(atPath: out + "/error_map.csv.partial"))
        try FileManager.default.removeItem(atPath: out + "/model/trace.csv.partial")
        // A calibration without the D(θ) fit replaces the set and removes the old diffusivity_fit.csv.
        try CalibrationWriter.write(sampleCalibrationOutputs(diffusivity: false), to: out)
        let r = CalibrationReader(directory: out)
        #expect(try r.diffusivityFit() == nil && r.result()?.diffusivityFit == nil && r.result()?.scale == 3.5)
    }

    @Test func calibrationWithoutScaleOrWithRenamedColumnIsNamed() throws {
        let dir = try TemporaryDirectory(); defer { dir.remove() }
        let out = dir.file("calibration")
        try CalibrationWriter.write(sampleCalibrationOutputs(), to: out)
        let r = CalibrationReader(directory: out)
        try "scale,gain,error\n1,1,1\n".write(toFile: r.path("error_map.csv"), atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.missingColumn(path: r.path("error_map.csv"), column: "rmse", header: "scale,gain,error")) {
            _ = try r.errorMap()
        }
        try #"{"gain": 1}"#.write(toFile: r.path("calibration.json"), atomically: true, encoding: .utf8)
        do { _ = try r.result(); Issue.record("expected an error") } catch {
            #expect("\(error)".contains("calibration.json") && "\(error)".contains("\"scale\""), "\(error)")
        }
    }
}
