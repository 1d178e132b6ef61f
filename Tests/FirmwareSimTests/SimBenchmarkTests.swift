import Foundation
import Rig
import Testing
@testable import FirmwareSim

// Benchmarks, not timed tests: run with OPERANDO_BENCH=1 to print the numbers.
@Test(.enabled(if: ProcessInfo.processInfo.environment["OPERANDO_BENCH"] != nil))
func printSimBenchmarks() throws {
    let small = try SimBenchmarks.renderRate(width: 256, height: 256, seconds: 2)
    let smallWorst = try SimBenchmarks.renderRate(width: 256, height: 256, seconds: 2, driftPhaseChangesEveryFrame: true)
    let full = try SimBenchmarks.renderRate(width: 1920, height: 1200, seconds: 3)
    let fullWorst = try SimBenchmarks.renderRate(width: 1920, height: 1200, seconds: 3, driftPhaseChangesEveryFrame: true)
    print(String(format: "render 256×256:   %.0f exposures/s (drift phase changing every frame: %.0f)", small, smallWorst))
    print(String(format: "render 1920×1200: %.1f exposures/s (drift phase changing every frame: %.1f)", full, fullWorst))
    let rig = try SimBenchmarks.rigThroughput(cRate: 1.0 / 3, simulatedSeconds: 600)
    print(String(format: "whole rig, C/3 charge, 10 Hz frames 256×256: %.1f simulated s per wall s (%d frames)",
                 rig.simulatedSecondsPerWallSecond, rig.frames))
}

// The demo protocol on the sim cell alone (no frames): C/3 charge to 4.3 V, C/3 discharge to 3.0 V,
// 2 h hold at 3.0 V. Long; run with OPERANDO_BENCH=1.
@Test(.enabled(if: ProcessInfo.processInfo.environment["OPERANDO_BENCH"] != nil))
func demoProtocolRunsOnTheSimCell() throws {
    var config = SimConfiguration()
    config.populationCount = Int(ProcessInfo.processInfo.environment["OPERANDO_SIM_POPULATION"] ?? "0") ?? 0
    let rig = try SimRig(configuration: config)
    let p = rig.potentiostat
    let oneC = rig.cell.oneCAmps
    let start = SimBenchmarks.wallSeconds()
    func runUntil(_ done: (ElectrochemSample) -> Bool, maxSeconds: Double) throws -> ElectrochemSample {
        let t0 = rig.runTimeSeconds
        while true {
            rig.clock.sleep(untilNanoseconds: rig.clock.monotonicNanoseconds + 1_000_000_000)
            let s = try p.read()
            if done(s) || rig.runTimeSeconds - t0 >= maxSeconds { return s }
        }
    }
    try p.apply(.constantCurrent(amps: oneC / 3, voltageComplianceVolts: 2.5...4.4))
    let charged = try runUntil({ $0.voltageVolts >= 4.3 }, maxSeconds: 6 * 3600)
    let tCharge = rig.runTimeSeconds
    let capCharge = (0.95 - rig.cell.meanTheta) * 275
    try p.apply(.constantCurrent(amps: -oneC / 3, voltageComplianceVolts: 2.5...4.4))
    let discharged = try runUntil({ $0.voltageVolts <= 3.0 }, maxSeconds: 6 * 3600)
    let tDischarge = rig.runTimeSeconds - tCharge
    let thetaEndCC = rig.cell.meanTheta
    try p.apply(.constantVoltage(volts: 3.0, currentComplianceAmps: 10 * oneC))
    let held = try runUntil({ _ in false }, maxSeconds: 2 * 3600)
    print(String(format: "charge: %.0f s to %.3f V, %.1f mAh/g; discharge: %.0f s to %.3f V, θ %.3f; hold 2 h: θ %.3f, I %.3g A (C/%.0f); wall %.1f s",
                 tCharge, charged.voltageVolts, capCharge, tDischarge, discharged.voltageVolts, thetaEndCC,
                 rig.cell.meanTheta, held.currentAmps, oneC / max(1e-12, abs(held.currentAmps)), SimBenchmarks.wallSeconds() - start))
}

// Writes a frame as PGM for a look (OPERANDO_SIM_FRAME=path).
@Test(.enabled(if: ProcessInfo.processInfo.environment["OPERANDO_SIM_FRAME"] != nil))
func writeOneFrameForInspection() throws {
    let path = ProcessInfo.processInfo.environment["OPERANDO_SIM_FRAME"]!
    let (rig, led, trigger) = try quietRig { $0.noise = 1; $0.hotPixelsPerMegapixel = 60 }
    try rig.potentiostat.apply(.constantCurrent(amps: rig.cell.oneCAmps / 3, voltageComplianceVolts: 2.5...4.4))
    wait(rig, untilSeconds: 900)
    let f = try expose(rig, led, trigger, ledOn: -200_000, ledOff: 2_500_000)
    var data = Data("P5\n\(f.width) \(f.height)\n4095\n".utf8)
    for p in f.pixels { data.append(UInt8(p >> 8)); data.append(UInt8(p & 0xFF)) }
    try data.write(to: URL(fileURLWithPath: path))
}
