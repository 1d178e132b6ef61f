import Foundation
import Testing
import FirmwareSim
import ParticleModel
@testable import Imaging

/// A sink that keeps nothing but the row count (the analysis' numbers come back in the summary).
final class DiscardingSink: AnalysisSink {
    var destination: String { "memory" }
    var frames = 0
    var contrastSize: (width: Int, height: Int)?
    var layout: AnalysisLayout?
    func begin(_ layout: AnalysisLayout) throws { self.layout = layout }
    func mask(_ mask: Mask) throws {}
    func labels(_ labels: BinnedFrame, count: Int) throws {}
    func frame(_ row: AnalysisFrameRow, contrast: BinnedFrame) throws { frames += 1; contrastSize = (contrast.width, contrast.height) }
    func profile(frame: Int, timeSeconds: Double, points: [AnalysisProfilePoint]) throws {}
    func finish(_ summary: AnalysisSummary, contrastDisplayRange: (min: Double, max: Double)?) throws {}
    func abort() {}
}

/// A short charge in firmware-sim's world: the seed's particle (3.04 × 2.04 µm ellipse, NMC-87,
/// flux kinetics as in seed Supplementary Section 1) charged at 1C from θ = 0.95, imaged every 10 s
/// through the sim's optics (PSF, texture, fiducial, shot and read noise; 2 exposures averaged).
/// Truth: θ at the particle centre from the model.
struct SimulatedCharge {
    var frames: [BinnedFrame] = []
    var timesSeconds: [Double] = []
    var centreTheta: [Double] = []
    let frameSeconds = 10.0

    init(minutes: Double, cRate: Double = 1) throws {
        let particle = try ParticleCell(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), theta0: 0.95, kinetics: .flux)
        let optics = OpticsParameters()
        let w = 160, h = 128
        let x0 = Int(optics.particleCentrePixels.x) - w / 2, y0 = Int(optics.particleCentrePixels.y) - h / 2 - 8
        let renderer = OpticsRenderer(parameters: optics, particle: particle, roiX: x0, roiY: y0, roiWidth: w, roiHeight: h, seed: 11)
        let centre = particle.sampler(points: [Point2(0, 0)])
        var theta = [Float](repeating: 0, count: 1)
        var rng = SeededRandom(seed: 5, stream: 4)
        var pixels = [UInt16](repeating: 0, count: w * h)
        let count = Int(minutes * 60 / frameSeconds)
        for k in 0..<count {
            // Frame 0 at rest (the reference I_0), then constant current.
            if k > 0 { try particle.advance(by: frameSeconds, drive: .current(cRate: cRate)) }
            particle.sample(centre, into: &theta)
            var sum = [Float](repeating: 0, count: w * h)
            for _ in 0..<2 {
                renderer.render(particle: particle, driftPixels: (0.004 * Double(k), -0.002 * Double(k)), ledOnSeconds: 0.0025,
                                exposureSeconds: 0.0025, rng: &rng, into: &pixels)
                for i in 0..<(w * h) { sum[i] += Float(pixels[i]) - Float(optics.blackLevelDN) }
            }
            frames.append(BinnedFrame(width: w, height: h, pixels: sum.map { $0 / 2 }))
            timesSeconds.append(Double(k) * frameSeconds)
            centreTheta.append(Double(theta[0]))
        }
    }

    /// When the centre's delithiation rate −dθ_c/dt first reaches half its maximum: the front has
    /// reached the centre (seed Fig. 3F: the centre lags, then delithiates quickly).
    var centreRateRiseSeconds: Double {
        let rates = (1..<centreTheta.count).map { -(centreTheta[$0] - centreTheta[$0 - 1]) / frameSeconds }
        let peak = rates.max() ?? 0
        let k = rates.firstIndex { $0 >= 0.5 * peak } ?? 0
        // Rate k spans frames k … k+1: its time is the interval's midpoint.
        return 0.5 * (timesSeconds[k] + timesSeconds[k + 1])
    }
}

/// Issue 16 item 2: the SDC drop — defined once, in `ContrastMetrics.sdcDropTime` — against the truth of
/// the simulated world: the time the centre's delithiation rate rises (seed Fig. S12 E–H: the drop
/// "occurs when the propagating delithiation front reaches the centre of the particle").
@Test func sdcDropFallsWhenTheSimulatedCentreStartsToDelithiate() throws {
    let charge = try SimulatedCharge(minutes: 30)
    var options = AnalysisOptions()
    options.sdcLagFrames = 20
    let source = InMemoryStack(name: "sim charge", frames: charge.frames, frameIntervalSeconds: charge.frameSeconds,
                               pixelSizeMicrometres: 0.0347)
    let sink = DiscardingSink()
    let summary = try Analysis.run(source: source, options: options, sink: sink)
    let truth = charge.centreRateRiseSeconds
    let drop = try #require(summary.sdcDropTimeSeconds)
    print(String(format: "SDC drop %.0f s; truth (centre delithiation rate at half its peak) %.0f s; difference %.0f s (lag %.0f s)",
                 drop, truth, drop - truth, Double(options.sdcLagFrames) * charge.frameSeconds))
    // SDC σ compares frames one lag apart, so the drop is resolved to about one lag; and it marks the
    // end of the heterogeneity — the centre catching up, after its rate rose — so it falls after the
    // rise, within 1.5 lags (the centre's fast delithiation lasts about that long at 1C here).
    let lagSeconds = Double(options.sdcLagFrames) * charge.frameSeconds
    #expect(drop >= truth - 0.25 * lagSeconds && drop <= truth + 1.5 * lagSeconds)
}
