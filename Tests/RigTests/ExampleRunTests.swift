import Electrochemistry
import FirmwareSim
import Foundation
import Rig
import Testing

private let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/protocols").standardizedFileURL.path

/// Seed Fig. 2C on firmware-sim: the charge–rest example runs to completion in virtual time, its
/// dataset is valid, and the on-line monitor shows the beginning-of-charge heterogeneity (SDC standard
/// deviation) rise and fall while the intensity change follows the charge and holds at rest.
@Test func chargeRestExampleShowsHeterogeneityRiseAndFall() throws {
    let proto = try ProtocolFile.load(path: examples + "/charge-rest.toml")
    let (sim, hw) = try makeSimRig(protocolFile: proto)
    let tmp = try TestDirectory(); defer { tmp.remove() }
    var options = RunOptions(outputDirectory: tmp.file("charge-rest.operando"))
    options.roi = RegionOfInterest(x: 880, y: 500, width: 160, height: 160)   // the particle and the drift fiducial
    let summary = try RunEngine(protocolFile: proto, hardware: hw, options: options).run()
    #expect(summary.completed, "\(summary.endReason)")
    #expect(summary.runSeconds >= 65 * 60 - 1)
    #expect(try verifyDataset(options.outputDirectory) == 65 * 60 * 10 / 30)
    #expect(!sim.chip.value(ofLine: SimGPIOChip.ledOffset))
    let monitor = try readCSV(options.outputDirectory + "/monitor.csv").map {
        (t: Double($0["time_s"]!)!, change: Double($0["intensity_change"]!)!, sdc: Double($0["sdc_std"]!) ?? .nan)
    }
    #expect(monitor.count == 1300)
    let restBefore = monitor.filter { $0.t > 120 && $0.t < 300 && $0.sdc.isFinite }.map(\.sdc)
    let charge = monitor.filter { $0.t > 300 && $0.t < 1500 }
    let baseline = restBefore.reduce(0, +) / Double(restBefore.count)
    let peak = charge.max { $0.sdc < $1.sdc }!
    #expect(peak.sdc > 2 * baseline, "SDC std peak \(peak.sdc) vs rest baseline \(baseline)")
    #expect(peak.t < 300 + 600, "the peak comes early in the charge (at \(peak.t) s)")
    let endOfCharge = charge.suffix(10).map(\.sdc).reduce(0, +) / 10
    #expect(endOfCharge < 0.6 * peak.sdc, "and falls by the end of the charge (\(endOfCharge))")
    // The on-line heterogeneity flag is raised early in the charge and cleared before its end.
    let flags = try readCSV(options.outputDirectory + "/monitor.csv").map { (t: Double($0["time_s"]!)!, on: $0["heterogeneous"] == "1") }
    #expect(flags.contains { $0.on && $0.t > 300 && $0.t < 900 })
    #expect(!flags.contains { $0.on && $0.t < 300 })
    // Intensity change (seed Eq. 1) grows through the charge and holds at rest.
    let atStart = charge.first!.change, atEnd = charge.last!.change
    #expect(atEnd - atStart > 0.05)
    let rest = monitor.filter { $0.t > 2000 }.map(\.change)
    #expect(rest.max()! - rest.min()! < 0.02 * atEnd)
    // Electrochemistry: C/3 for 20 min on 1.5 mg at 210 mAh/g = 70 mAh/g … 23.3 mAh/g of charge.
    let echem = try readCSV(options.outputDirectory + "/echem.csv")
    let capacity = Double(echem.last!["capacity_mAh_per_g"]!)!
    #expect(abs(capacity - 70.0 / 3) < 0.5, "capacity \(capacity) mAh/g")
}

/// The C/3 CCCV example (seed Fig. 1E) runs to completion in virtual time with a valid dataset:
/// charge to 4.3 V, discharge to 3.0 V, CV hold; the capacity counts up then down; the hold's current decays.
@Test func cccvExampleRunsToCompletion() throws {
    let proto = try ProtocolFile.load(path: examples + "/c3-cccv.toml")
    let (sim, hw) = try makeSimRig(protocolFile: proto)
    let tmp = try TestDirectory(); defer { tmp.remove() }
    var options = RunOptions(outputDirectory: tmp.file("cccv.operando"))
    options.roi = RegionOfInterest(x: 880, y: 500, width: 160, height: 160)
    let summary = try RunEngine(protocolFile: proto, hardware: hw, options: options).run()
    #expect(summary.completed, "\(summary.endReason)")
    #expect(summary.lockstepViolations == 0 && summary.droppedFrames == 0 && summary.skippedFrames == 0)
    try verifyDataset(options.outputDirectory)
    #expect(!sim.chip.value(ofLine: SimGPIOChip.ledOffset))
    let events = try readEvents(options.outputDirectory)
    let ends = events.filter { $0["event"] as? String == "step_ended" }.map { $0["reason"] as! String }
    #expect(ends.count == 4)
    #expect(ends[1].contains("4.3 V") && ends[2].contains("3 V"))
    let echem = try readCSV(options.outputDirectory + "/echem.csv")
    let capacity = echem.map { Double($0["capacity_mAh_per_g"]!)! }
    let peak = capacity.max()!
    #expect(peak > 100, "charge capacity \(peak) mAh/g")
    let hold = echem.filter { $0["step_kind"] == "hold" }.map { abs(Double($0["current_A"]!)!) }
    #expect(hold.count > 600)
    let holdStart: Double = hold.prefix(10).reduce(0, +) / 10
    let holdEnd: Double = hold.suffix(10).reduce(0, +) / 10
    #expect(holdEnd < 0.2 * holdStart)
    let monitor = try readCSV(options.outputDirectory + "/monitor.csv")
    let change = monitor.compactMap { Double($0["intensity_change"]!) }.filter(\.isFinite)
    #expect(change.max()! > 0.2)                 // delithiation brightens the particle (A·Δθ)
}
