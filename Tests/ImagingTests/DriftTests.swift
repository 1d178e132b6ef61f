import Foundation
import Testing
@testable import Imaging

/// Realistic drift: slow linear creep plus a subpixel wobble (stage settling, thermal).
let realisticDrift: @Sendable (Int) -> (dx: Double, dy: Double) = { k in
    (0.031 * Double(k) + 0.37 * sin(Double(k) / 5.3), -0.018 * Double(k) + 0.29 * cos(Double(k) / 3.1) - 0.29)
}

@Test func gaussianFitRecoversSubpixelCentreAndWidths() {
    var stack = SyntheticStack()
    stack.fiducial = (40.37, 33.81)
    stack.noiseSigma = 5
    let frame = stack.frame(0)
    let fit = GaussianFitter.fit(frame, guessX: 40, guessY: 34)
    #expect(fit.isValid)
    #expect(abs(fit.gaussian.centreX - 40.37) < 0.03)
    #expect(abs(fit.gaussian.centreY - 33.81) < 0.03)
    #expect(abs(fit.gaussian.sigmaX - 1.4) < 0.05)
    #expect(abs(fit.gaussian.amplitude - 2500) < 60)
}

@Test func fiducialIsFoundOutsideTheParticle() throws {
    let stack = SyntheticStack()
    let frame = stack.frame(0)
    let mask = try Masking.particleMask(frame, source: "synthetic")
    let spot = try #require(FiducialSearch.find(in: frame, excluding: mask))
    #expect(abs(spot.centreX - 104) < 0.1 && abs(spot.centreY - 30) < 0.1)
}

/// Fiducial peak over pixel noise: 2500/8 (a bright spot in a 30-exposure binned frame) and 800/15.
/// (At 400/20 the error reaches ~0.08 px, most of it frame 0's own fit error shared by every frame.)
@Test(arguments: [(2500.0, 8.0), (800.0, 15.0)])
func driftFromFiducialIsWithinFiveHundredthsOfAPixelRMS(amplitude: Double, noise: Double) throws {
    var stack = SyntheticStack()
    stack.fiducialAmplitude = amplitude
    stack.noiseSigma = noise
    stack.drift = realisticDrift
    stack.contrast = { x, _, k in 0.002 * Double(k) * (1 + x / 40) }  // particle changes; fiducial must not care
    let reference = stack.frame(0)
    var tracker = try DriftTracker(reference: reference, particle: try Masking.particleMask(reference, source: "synthetic"))
    #expect(tracker.method != .phaseCorrelation)
    var squared = 0.0
    let frames = 60
    for k in 0..<frames {
        let d = tracker.measure(k == 0 ? reference : stack.frame(k))
        let truth = realisticDrift(k)
        squared += pow(d.dx - truth.dx, 2) + pow(d.dy - truth.dy, 2)
    }
    let rms = (squared / Double(frames)).squareRoot()
    print("fiducial drift RMS error (peak \(amplitude), noise \(noise)): \(rms) px")
    #expect(rms <= 0.05)
    #expect(tracker.failedFits.isEmpty)
}

@Test func phaseCorrelationFallbackIsUsedWithoutFiducialAndTracksDrift() throws {
    var stack = SyntheticStack()
    stack.fiducial = nil
    stack.drift = realisticDrift
    let reference = stack.frame(0)
    var tracker = try DriftTracker(reference: reference, particle: try Masking.particleMask(reference, source: "synthetic"))
    #expect(tracker.method == .phaseCorrelation)
    var worst = 0.0
    for k in [0, 7, 19, 33] {
        let d = tracker.measure(k == 0 ? reference : stack.frame(k))
        let truth = realisticDrift(k)
        worst = max(worst, hypot(d.dx - truth.dx, d.dy - truth.dy))
    }
    print("phase correlation worst error: \(worst) px")
    #expect(worst < 0.25)
}

@Test func subpixelShiftUndoesDrift() {
    var stack = SyntheticStack()
    stack.noiseSigma = 0
    stack.drift = { k in k == 0 ? (0, 0) : (1.37, -0.62) }
    let f0 = stack.frame(0), f1 = stack.frame(1)
    let corrected = ImageOps.shifted(f1, dxPixels: 1.37, dyPixels: -0.62)
    // Cubic interpolation smooths the sharpest features (the σ = 1.4 px fiducial) by ~2 %; over the
    // frame the RMS relative error stays far below the contrasts measured (≥ 1 %).
    var squared: Float = 0, worst: Float = 0
    for y in 10..<118 { for x in 10..<118 {
        let e = abs(corrected[x, y] - f0[x, y]) / f0[x, y]
        squared += e * e; worst = max(worst, e)
    } }
    #expect((squared / Float(108 * 108)).squareRoot() < 0.002)
    #expect(worst < 0.03)
}

@Test func badFiducialPositionIsRefusedNamingTheValue() {
    let frame = SyntheticStack().frame(0)
    #expect { _ = try DriftTracker(reference: frame, fiducialAt: (500, 3), particle: nil) } throws: { e in
        (e as? ImagingError)?.description.contains("--fiducial \"500.0,3.0\"") == true
    }
    #expect { _ = try DriftTracker(reference: frame, fiducialAt: (10, 120), particle: nil) } throws: { e in
        (e as? ImagingError)?.description.contains("bright compact spot") == true
    }
}

@Test func fiducialSearchSkipsHotPixelsBlobsAndSpotsOnTheParticle() throws {
    var stack = SyntheticStack()
    stack.fiducialAmplitude = 900
    var frame = stack.frame(0)
    let mask = try Masking.particleMask(frame, source: "synthetic")
    frame[20, 100] = 20_000                         // hot pixel: brighter, but one pixel wide
    for y in 0..<128 { for x in 0..<128 {          // a second, larger particle: bright but not compact
        let r2 = Double((x - 100) * (x - 100) + (y - 100) * (y - 100))
        frame[x, y] += Float(3000 * exp(-r2 / (2 * 36)))
        let d2 = Double((x - 52) * (x - 52) + (y - 64) * (y - 64))
        frame[x, y] += Float(5000 * exp(-d2 / (2 * 1.5 * 1.5)))  // a bright spot on the particle
    } }
    let spot = try #require(FiducialSearch.find(in: frame, excluding: mask))
    #expect(abs(spot.centreX - 104) < 0.1 && abs(spot.centreY - 30) < 0.1)
}

@Test func phaseCorrelationStaysUnderATenthOfAPixelWhileTheParticleChanges() throws {
    // A fast, strong core–shell front (8 % rim contrast, front at the centre by frame 40) and no fiducial.
    var stack = SyntheticStack()
    stack.fiducial = nil
    stack.drift = realisticDrift
    let field = CoreShell(centreFrame: 40, shellContrast: 0.08, uniformPerFrame: 0.002)
    stack.contrast = { x, y, k in field.contrast(x, y, k) }
    let reference = stack.frame(0)
    var tracker = try DriftTracker(reference: reference, particle: try Masking.particleMask(reference, source: "synthetic"))
    var squared = 0.0
    for k in 0..<60 {
        let d = tracker.measure(k == 0 ? reference : stack.frame(k))
        let truth = realisticDrift(k)
        squared += pow(d.dx - truth.dx, 2) + pow(d.dy - truth.dy, 2)
    }
    let rms = (squared / 60).squareRoot()
    print("phase correlation RMS error with a changing particle: \(rms) px")
    #expect(rms < 0.1)
}
