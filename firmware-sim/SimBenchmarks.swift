import Foundation
import ParticleModel
import Rig

/// Benchmarks of the simulated rig, callable from the `Benchmarks` executable and from tests.
public enum SimBenchmarks {
    static func wallSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// Renders exposures of a `width`×`height` ROI centred on the particle for about `seconds` of wall
    /// time and returns exposures per second. `driftPhaseChangesEveryFrame`: move the drift by a
    /// sixteenth of a pixel each frame, forcing the worst case (a full re-blur of the background).
    public static func renderRate(width: Int, height: Int, seconds: Double = 1,
                                  driftPhaseChangesEveryFrame: Bool = false) throws -> Double {
        let optics = OpticsParameters()
        let particle = try ParticleCell(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), theta0: 0.95)
        let x = max(0, min(optics.sensorWidth - width, Int(optics.particleCentrePixels.x) - width / 2))
        let y = max(0, min(optics.sensorHeight - height, Int(optics.particleCentrePixels.y) - height / 2))
        let renderer = OpticsRenderer(parameters: optics, particle: particle, roiX: x, roiY: y,
                                      roiWidth: width, roiHeight: height, seed: 1)
        var rng = SeededRandom(seed: 1, stream: 4)
        var pixels = [UInt16](repeating: 0, count: width * height)
        var frames = 0
        let start = wallSeconds()
        var elapsed = 0.0
        while elapsed < seconds || frames < 3 {
            let dx = driftPhaseChangesEveryFrame ? Double(frames % 32) / 16 : 0.3
            renderer.render(particle: particle, driftPixels: (dx, 0.2), ledOnSeconds: 0.0025, exposureSeconds: 0.0025,
                            rng: &rng, into: &pixels)
            frames += 1
            elapsed = wallSeconds() - start
        }
        return Double(frames) / elapsed
    }

    /// Throughput of the whole simulated rig during a CC charge at `cRate`: the exposure loop as the
    /// rig controller drives it (10 Hz: LED on, 0.2 ms lead, trigger, 2.5 ms exposure, LED off, read
    /// the frame), a potentiostat reading every second. Returns simulated seconds per wall second.
    public static func rigThroughput(cRate: Double = 1.0 / 3, simulatedSeconds: Double = 600,
                                     frameRateHz: Double = 10) throws -> (simulatedSecondsPerWallSecond: Double, frames: Int) {
        var config = SimConfiguration()
        config.seed = 7
        let rig = try SimRig(configuration: config)
        let led = try rig.chip.requestOutput(offset: SimGPIOChip.ledOffset, consumer: "bench", initialHigh: false)
        let trigger = try rig.chip.requestOutput(offset: SimGPIOChip.triggerOffset, consumer: "bench", initialHigh: false)
        try rig.camera.configure(roi: SimCamera.defaultROI, exposureSeconds: 0.0025)
        try rig.camera.start()
        try rig.potentiostat.apply(.constantCurrent(amps: cRate * rig.cell.oneCAmps, voltageComplianceVolts: 2.5...4.4))
        let period = Int64(1e9 / frameRateHz)
        let t0 = rig.clock.monotonicNanoseconds
        let start = wallSeconds()
        var frames = 0
        var k: Int64 = 0
        while Double(rig.clock.monotonicNanoseconds - t0) * 1e-9 < simulatedSeconds {
            let deadline = t0 + k * period
            rig.clock.sleep(untilNanoseconds: deadline)
            try led.set(true)
            rig.clock.sleep(untilNanoseconds: deadline + 200_000)
            try trigger.set(true)
            try trigger.set(false)
            rig.clock.sleep(untilNanoseconds: deadline + 200_000 + 2_600_000)
            try led.set(false)
            _ = try rig.camera.nextFrame(timeoutSeconds: 0.05)
            frames += 1
            if k % Int64(frameRateHz) == 0 { _ = try rig.potentiostat.read() }
            k += 1
        }
        let wall = wallSeconds() - start
        return (Double(rig.clock.monotonicNanoseconds - t0) * 1e-9 / wall, frames)
    }
}
