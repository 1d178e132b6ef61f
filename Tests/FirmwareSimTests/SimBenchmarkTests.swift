import Foundation
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
