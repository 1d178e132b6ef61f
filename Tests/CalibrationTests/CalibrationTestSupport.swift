@testable import Calibration
import Electrochemistry
import FirmwareSim
import Foundation
import Imaging
import ParticleModel
import Rig

/// A firmware-sim rig wired as `operando run` wires it (as in RigTests).
func makeSimRig(rigText: String, protocolFile: ProtocolFile, parameters: ParameterSet = .nmc87) throws -> (SimRig, RigHardware) {
    try SimRig.hardware(rigText: rigText, rigFile: "test-rig.toml", protocolFile: protocolFile, parameters: parameters)
}

func temporaryDirectory(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "operando-calibtest-\(getpid())-\(name)"
    try? FileManager.default.removeItem(atPath: dir)
    return dir
}

/// A firmware-sim dataset of `steps` with the given S and A, noise and drift on (the sim's defaults).
func makeSimDataset(name: String, scale: Double, gain: Double, steps: [String],
                    parameters: ParameterSet = .nmc87) throws -> String {
    var text = """
    [cell]
    active_mass_mg = 1.5
    practical_capacity_mAh_per_g = 210
    [limits]
    voltage_min_V = 2.8
    voltage_max_V = 4.4
    [imaging]
    frame_rate_Hz = 10
    exposure_ms = 2.5
    bin = 30
    led_lead_ms = 0.2

    """
    for s in steps { text += "[[steps]]\ndo = \"\(s)\"\n" }
    let proto = try ProtocolFile.parse(text: text, path: "calibration-test.toml")
    let rig = "[sim]\nscale = \(scale)\noptical_gain = \(gain)\nnoise = 1.0\ndrift_nm_per_min = 5\nseed = 7\n"
    let (_, hw) = try makeSimRig(rigText: rig, protocolFile: proto, parameters: parameters)
    var options = RunOptions(outputDirectory: temporaryDirectory(name + ".operando"))
    options.roi = RegionOfInterest(x: 880, y: 500, width: 160, height: 160)   // the particle and the drift fiducial
    _ = try RunEngine(protocolFile: proto, hardware: hw, options: options).run()
    return options.outputDirectory
}

/// A dataset whose contrast is the model's own (no images): an ellipse mask, the measured current of a
/// constant-current charge, and metrics/profiles from `ParticleCell` with `parameters` through the same
/// blur and averaging the calibration applies, so a fit can be checked against a known truth.
func makeSyntheticDataset(name: String, parameters: ParameterSet, scale: Double, gain: Double, cRate: Double,
                          chargeSeconds: Double, frameSeconds: Double, elementSize: Double) throws -> String {
    let dir = temporaryDirectory(name + ".operando")
    let fm = FileManager.default
    try fm.createDirectory(atPath: dir + "/analysis", withIntermediateDirectories: true)
    let pixel = 0.0347, mass = 1.5, capacity = 210.0
    let run: [String: Any] = ["pixel_size_um": pixel, "active_mass_mg": mass, "practical_capacity_mAh_per_g": capacity]
    try JSONSerialization.data(withJSONObject: run).write(to: URL(fileURLWithPath: dir + "/run.json"))
    let amps = cRate * mass * 1e-3 * capacity * 1e-3
    var echem = "time_s,step,step_kind,voltage_V,current_A,capacity_mAh_per_g\n"
    for t in stride(from: 0.0, through: chargeSeconds, by: 1) { echem += "\(t),0,charge,3.8,\(amps),0\n" }
    try echem.write(toFile: dir + "/echem.csv", atomically: true, encoding: .utf8)
    // Ellipse mask 3.04 × 2.04 µm, centred on a pixel centre.
    let w = 121, h = 91
    var pixels = [Float](repeating: 0, count: w * h)
    let cx = 60.0, cy = 45.0
    for r in 0..<h { for c in 0..<w {
        let x = (Double(c) - cx) * pixel / 1.52, y = (Double(r) - cy) * pixel / 1.02
        if x * x + y * y <= 1 { pixels[r * w + c] = 1 }
    } }
    let writer = try TIFFStackWriter(path: dir + "/analysis/mask.tif", sampleType: .uint16, pixelSizeMicrometres: pixel)
    try writer.append(BinnedFrame(width: w, height: h, pixels: pixels))
    try writer.close()
    // Placeholder metrics/profiles give the times and positions; then the model fills them in.
    let times = Array(stride(from: frameSeconds / 2, to: chargeSeconds, by: frameSeconds))
    let positions = (-48...48).map { Double($0) * pixel }
    func writeData(centre: [Double], profiles: [[Double]]) throws {
        var m = "frame,time_s,intensity_change,sdc_std,contrast_centre\n"
        var p = "frame,time_s,position_um,contrast\n"
        for (k, t) in times.enumerated() {
            m += "\(k),\(t),0,0,\(centre[k])\n"
            for (j, x) in positions.enumerated() { p += "\(k),\(t),\(x),\(profiles[k][j])\n" }
        }
        try m.write(toFile: dir + "/analysis/metrics.csv", atomically: true, encoding: .utf8)
        try p.write(toFile: dir + "/analysis/profiles.csv", atomically: true, encoding: .utf8)
    }
    try writeData(centre: times.map { _ in 0 }, profiles: times.map { _ in positions.map { _ in 0 } })
    var options = CalibrationOptions()
    options.elementSizeMicrometres = elementSize
    options.edgeMarginMicrometres = 0
    let data = try CalibrationDataset.load(path: dir)
    let problem = try CalibrationProblem(data: data, options: options)
    var request = problem.request(scale: scale, parameters: parameters)
    request.profilePositions = positions
    request.profileStencil = Stencil.profile(positions: positions, pixelSizeMicrometres: pixel,
                                             widthPixels: options.profileWidthPixels,
                                             sigma: options.psfFWHMMicrometres / (8 * log(2)).squareRoot())
    request.profileTimes = times
    let m = try runModel(request)
    let contrast = { (th: Double) -> Double in th.isFinite ? gain * (options.theta0 - th) : .nan }
    try writeData(centre: m.centreTheta.map(contrast), profiles: m.profileTheta.map { $0.map(contrast) })
    return dir
}
