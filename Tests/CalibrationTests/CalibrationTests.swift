@testable import Calibration
import Dataset
import Imaging
import Foundation
import ParticleModel
import Testing

/// Seed Fig. S2B: e(S, A) has a unique minimum at the (S, A) the data were made with. Firmware-sim
/// datasets (noise and drift on) made with S and A away from the defaults; the calibration recovers
/// both within 5 %.
@Test(arguments: [2.0, 6.0])
func calibrationRecoversScaleAndGainFromSimDataset(scale: Double) throws {
    let gain = 1.2
    let dir = try makeSimDataset(name: "S\(scale)", scale: scale, gain: gain,
                                 steps: ["Rest for 2 minutes", "Charge at C/3 for 25 minutes"])
    let s = try CalibrationRun.run(dataset: dir)   // runs the analysis first: the dataset has none
    print(String(format: "S = %.2f, A = %.2f: recovered S = %.4f ± %.4f (%+.2f %%), A = %.4f ± %.4f (%+.2f %%), e = %.5f; profiles S = %.3f A = %.4f; %d runs, %.1f s",
                 scale, gain, s.centre.scale, s.scaleStandardError, 100 * (s.centre.scale / scale - 1),
                 s.centre.gain, s.gainStandardError, 100 * (s.centre.gain / gain - 1), s.centre.rmse,
                 s.profile.scale, s.profile.gain, s.modelRuns, s.wallSeconds))
    #expect(abs(s.centre.scale / scale - 1) < 0.05, "S \(s.centre.scale) vs \(scale)")
    #expect(abs(s.centre.gain / gain - 1) < 0.05, "A \(s.centre.gain) vs \(gain)")
    #expect(s.scaleStandardError > 0 && s.scaleStandardError < 0.1 * scale)
    // Issue 16 item 4: the interval accounts for the residuals' correlation in time.
    let u = try #require(s.uncertainty)
    print(String(format: "  68 %% interval S %.4f…%.4f (truth %.1f %@), A %.4f…%.4f; block %d frames, 1/e lag %d; ± bootstrap %.2g, Newey–West %.2g, as if independent %.2g, earlier curvature %.2g",
                 u.scaleInterval68.lowerBound, u.scaleInterval68.upperBound, scale, u.scaleInterval68.contains(scale) ? "inside" : "outside",
                 u.gainInterval68.lowerBound, u.gainInterval68.upperBound, u.blockLength, u.correlationLag ?? -1,
                 u.scaleStandardError, u.neweyWestScaleStandardError, u.independentScaleStandardError, s.curvatureScaleStandardError))
    print("  " + s.centreFitDescription)
    #expect(u.scaleInterval68.contains(s.centre.scale) && u.gainInterval68.contains(s.centre.gain))
    // With the offset fitted the as-if-independent error already carries the offset's correlation with S
    // (at S = 6 it is the larger); the bootstrap must not fall far below it.
    #expect(u.scaleStandardError > 0.8 * u.independentScaleStandardError, "\(u.scaleStandardError) vs \(u.independentScaleStandardError)")
    // The particle's area is measured on the first frame (the simulated ellipse is 3.04 × 2.04 µm),
    // and its error is part of S's interval.
    let outline = try #require(s.outline)
    let trueArea = Double.pi * 1.52 * 1.02
    print(String(format: "  outline: mask %.4f µm² (%+.2f %%), measured %.4f µm² (%+.2f %%) ± %.2f %%; offset c = %.2g",
                 outline.maskAreaMicrometres2, 100 * (outline.maskAreaMicrometres2 / trueArea - 1), outline.areaMicrometres2,
                 100 * (outline.areaMicrometres2 / trueArea - 1), 100 * outline.relativeStandardError, s.centre.offset))
    #expect(abs(outline.areaMicrometres2 / trueArea - 1) < 0.004, "\(outline.areaMicrometres2) µm² vs \(trueArea)")
    #expect(u.outlineAreaRelativeStandardError == outline.relativeStandardError && u.fitsOffset)
    #expect(s.centreFitDescription.contains("68 % interval") && !s.centreFitDescription.contains("± 0.0000"))
    // The outputs interfaces.md promises.
    let out = dir + "/calibration"
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/calibration.json"))) as! [String: Any]
    for key in ["scale", "gain", "rmse", "theta0", "scale_standard_error", "gain_standard_error", "scale_interval_68", "gain_interval_68",
                "uncertainty"] { #expect(json[key] != nil, "\(key)") }
    let record = try #require(try CalibrationReader(directory: out).result())
    let written = try #require(record.scaleInterval68)
    #expect(written.count == 2 && abs(written[0] - u.scaleInterval68.lowerBound) < 1e-12 && abs(written[1] - u.scaleInterval68.upperBound) < 1e-12)
    #expect(record.uncertainty?.blockLengthFrames == u.blockLength && record.uncertainty?.method == "circular block bootstrap")
    let map = try String(contentsOfFile: out + "/error_map.csv", encoding: .utf8).split(separator: "\n")
    #expect(map.first == "scale,gain,rmse" && map.count > 13 * 41)
    let centre = try String(contentsOfFile: out + "/centre_fit.csv", encoding: .utf8).split(separator: "\n")
    #expect(centre.first == "time_s,measured,model" && centre.count > 500)
    let trace = try String(contentsOfFile: out + "/model/trace.csv", encoding: .utf8).split(separator: "\n")
    #expect(trace.first == "time_s,theta_centre,theta_mean,theta_min,theta_max,voltage_V,current_A")
    let profiles = try String(contentsOfFile: out + "/model/profiles.csv", encoding: .utf8).split(separator: "\n")
    #expect(profiles.first == "time_s,position_um,theta" && profiles.count > 100)
    try? FileManager.default.removeItem(atPath: dir)
}

/// Issue 11: a mask with two particles is refused (the model is of one particle), naming the mask
/// and the particles' sizes, instead of fitting S to the pair and landing at the range's edge.
@Test func twoParticleMaskIsRefused() throws {
    let dir = temporaryDirectory("twoparticles.operando")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try RunWriter(creating: dir, runInfo: calibrationTestRunInfo(pixelSizeMicrometres: 0.0347, activeMassMilligrams: 1.5,
                                                                           practicalCapacityMilliampHoursPerGram: 210))
    for t in 0..<10 { try run.append(EchemRecord(timeSeconds: Double(t), step: 0, stepKind: "charge", voltageVolts: 3.8, currentAmps: 1e-4,
                                                 capacityMilliampHoursPerGram: 0)) }
    try run.close()
    var mask = BinnedFrame(width: 40, height: 20, repeating: 0)
    for y in 5..<15 { for x in 2..<12 { mask.pixels[y * 40 + x] = 1 }; for x in 25..<31 { mask.pixels[y * 40 + x] = 1 } }
    try writeTestAnalysis(dataset: dir, mask: mask, pixelSizeMicrometres: 0.0347,
                          metrics: (0..<5).map { MetricsRecord(frame: $0, timeSeconds: Double($0) + 0.5, intensityChange: 0, sdcStd: 0, contrastCentre: 0.001) },
                          profiles: [])
    do { _ = try CalibrationDataset.load(path: dir); Issue.record("expected an error") } catch let e as CalibrationError {
        #expect(e == .severalParticles(path: dir + "/analysis/mask.tif", areasPixels: [100, 60]))
        #expect(e.description.contains("2 separate particles") && e.description.contains("--particle-at"), "\(e)")
    }
}

/// Bad inputs give errors that name the file or value at fault.
@Test func badInputsNameTheInput() throws {
    let missing = temporaryDirectory("missing.operando")
    #expect(throws: CalibrationError.self) { try CalibrationRun.run(dataset: missing) }
    do { _ = try CalibrationRun.run(dataset: missing) } catch { #expect("\(error)".contains(missing)) }

    // A dataset with run.json and echem.csv but no frames and no analysis.
    let dir = temporaryDirectory("noframes.operando")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try #"{"pixel_size_um": 0.0347, "active_mass_mg": 1.5, "practical_capacity_mAh_per_g": 210}"#
        .write(toFile: dir + "/run.json", atomically: true, encoding: .utf8)
    try "time_s,step,step_kind,voltage_V,current_A,capacity_mAh_per_g\n0,0,charge,3.8,1e-4,0\n1,0,charge,3.8,1e-4,0\n"
        .write(toFile: dir + "/echem.csv", atomically: true, encoding: .utf8)
    do { _ = try CalibrationRun.run(dataset: dir); Issue.record("expected an error") } catch {
        #expect("\(error)".contains("frames.csv"), "\(error)")
    }
    // A broken echem row names the file and line.
    try "time_s,step,step_kind,voltage_V,current_A,capacity_mAh_per_g\n0,0,charge,3.8,1e-4,0\nx,0,charge,3.8,oops,0\n"
        .write(toFile: dir + "/echem.csv", atomically: true, encoding: .utf8)
    do { _ = try CalibrationRun.run(dataset: dir); Issue.record("expected an error") } catch {
        #expect("\(error)".contains("echem.csv:3"), "\(error)")
    }
    // run.json without a pixel size.
    try #"{"active_mass_mg": 1.5}"#.write(toFile: dir + "/run.json", atomically: true, encoding: .utf8)
    do { _ = try CalibrationRun.run(dataset: dir); Issue.record("expected an error") } catch {
        #expect("\(error)".contains("run.json") && "\(error)".contains("pixel_size_um"), "\(error)")
    }
    // Flags.
    #expect(throws: CalibrationError.badValue(option: "--scale-range", value: "10:1", expected: "LOW:HIGH with 0 < LOW < HIGH, e.g. 1:10")) {
        try CalibrationOptions.parseScaleRange("10:1")
    }
    var o = CalibrationOptions()
    o.theta0 = 1.5
    do { _ = try CalibrationRun.run(dataset: dir, options: o); Issue.record("expected an error") } catch {
        #expect("\(error)".contains("--theta0 1.5"), "\(error)")
    }
    try? FileManager.default.removeItem(atPath: dir)
}

