import Foundation
import ParticleModel
import Rig
import Testing
@testable import FirmwareSim

/// The default particle at a uniform θ.
func uniformParticle(theta: Double) throws -> ParticleCell {
    try ParticleCell(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), theta0: theta)
}

func renderer(_ o: OpticsParameters, _ particle: ParticleCell) -> OpticsRenderer {
    let roi = SimCamera.defaultROI
    return OpticsRenderer(parameters: o, particle: particle, roiX: roi.x, roiY: roi.y,
                          roiWidth: roi.width, roiHeight: roi.height, seed: 3)
}

/// Mean of `pixels` (256-wide) over a box, minus the black level.
func boxMean(_ pixels: [UInt16], x: ClosedRange<Int>, y: ClosedRange<Int>, black: Double, width: Int = 256) -> Double {
    var s = 0.0, n = 0.0
    for r in y { for c in x { s += Double(pixels[r * width + c]) - black; n += 1 } }
    return s / n
}

/// Particle centroid in default-ROI pixel coordinates (960.3, 600.4) − (832, 472).
let particleCentreInROI = (x: 128.3, y: 128.4)

// Seed Eq. 17: the particle's total contrast I/I0 − 1 is A·(θ0 − θ); the sim must reproduce A.
@Test func meanParticleIntensityIsLinearInThetaWithSlopeA() throws {
    var o = OpticsParameters()
    o.noise = 0
    o.hotPixelsPerMegapixel = 0
    var rng = SeededRandom(seed: 1)
    var pixels: [UInt16] = []
    // Interior box: ≥ 3.5 σ of PSF inside the 88 × 59 px ellipse, so no background leaks in.
    let bx = 113...143, by = 121...135
    var xs: [Double] = [], ys: [Double] = []
    var i0 = 0.0
    for theta in [0.95, 0.85, 0.7, 0.55, 0.4] {
        let p = try uniformParticle(theta: theta)
        renderer(o, p).render(particle: p, driftPixels: (0, 0), ledOnSeconds: 0.0025, exposureSeconds: 0.0025,
                              rng: &rng, into: &pixels)
        let m = boxMean(pixels, x: bx, y: by, black: o.blackLevelDN + o.darkCurrentElectronsPerSecond * 0.0025 / o.gainElectronsPerDN)
        if theta == 0.95 { i0 = m }
        xs.append(0.95 - theta); ys.append(m / i0 - 1)
    }
    let n = Double(xs.count)
    let mx = xs.reduce(0, +) / n, my = ys.reduce(0, +) / n
    let slope = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
    let intercept = my - slope * mx
    #expect(abs(slope - 1 / 0.95) < 0.005, "slope \(slope), expected A = \(1 / 0.95)")
    #expect(abs(intercept) < 0.003)
    for (x, y) in zip(xs, ys) { #expect(abs(y - (intercept + slope * x)) < 0.003) }   // linear
}

/// Intensity-weighted centroid and rms width of a spot on a flat background.
func spotMoments(_ pixels: [UInt16], around centre: (x: Double, y: Double), halfWidth: Int, background: Double,
                 width: Int = 256) -> (x: Double, y: Double, sigma: Double) {
    var s = 0.0, sx = 0.0, sy = 0.0
    let cx = Int(centre.x.rounded()), cy = Int(centre.y.rounded())
    for r in (cy - halfWidth)...(cy + halfWidth) {
        for c in (cx - halfWidth)...(cx + halfWidth) {
            let w = Double(pixels[r * width + c]) - background
            s += w; sx += w * (Double(c) + 0.5); sy += w * (Double(r) + 0.5)
        }
    }
    let mx = sx / s, my = sy / s
    var v = 0.0
    for r in (cy - halfWidth)...(cy + halfWidth) {
        for c in (cx - halfWidth)...(cx + halfWidth) {
            let w = Double(pixels[r * width + c]) - background
            let dx = Double(c) + 0.5 - mx, dy = Double(r) + 0.5 - my
            v += w * (dx * dx + dy * dy)
        }
    }
    return (mx, my, (v / s / 2).squareRoot())
}

// Seed Experimental Procedures: diffraction-limited to 265 nm at 740 nm with 34.7 nm pixels; the
// sub-diffraction fiducial images as the PSF itself.
@Test func fiducialSpotHasTheDiffractionLimitedWidth() throws {
    var o = OpticsParameters()
    o.noise = 0
    o.hotPixelsPerMegapixel = 0
    o.backgroundTexture = 0           // flat background so the spot's moments are clean
    o.fiducialPeak = 6                // bright, so ADC rounding is negligible
    o.particleElectronsPerMillisecond = 1500
    let p = try uniformParticle(theta: 0.95)
    var rng = SeededRandom(seed: 1)
    var pixels: [UInt16] = []
    let r = renderer(o, p)
    let spot = (x: particleCentreInROI.x + o.fiducialOffsetPixels.x, y: particleCentreInROI.y + o.fiducialOffsetPixels.y)
    for drift in [(0.0, 0.0), (0.4, -0.7), (2.25, 1.5)] {
        r.render(particle: p, driftPixels: drift, ledOnSeconds: 0.0025, exposureSeconds: 0.0025, rng: &rng, into: &pixels)
        let bg = Double(pixels[(Int(spot.y) + 18) * 256 + Int(spot.x) + 18])
        let m = spotMoments(pixels, around: (spot.x + drift.0, spot.y + drift.1), halfWidth: 15, background: bg)
        let fwhmMicrometres = m.sigma * (8 * log(2.0)).squareRoot() * o.pixelSizeMicrometres
        #expect(abs(fwhmMicrometres - 0.265) < 0.012, "FWHM \(fwhmMicrometres) µm")
        // The drift moves the spot by exactly the drift (to the 1/16 px phase quantisation).
        #expect(abs(m.x - (spot.x + drift.0)) < 0.07, "x \(m.x) vs \(spot.x + drift.0)")
        #expect(abs(m.y - (spot.y + drift.1)) < 0.07, "y \(m.y) vs \(spot.y + drift.1)")
    }
}

// Sensor statistics: variance in DN = (mean − black)/g + (read/g)² + 1/12 (shot noise, read noise,
// quantisation), measured pixel by pixel over repeated exposures of the same scene.
@Test func pixelNoiseFollowsShotAndReadNoise() throws {
    var o = OpticsParameters()
    o.hotPixelsPerMegapixel = 0
    let p = try uniformParticle(theta: 0.95)
    let r = renderer(o, p)
    var rng = SeededRandom(seed: 11)
    let frames = 48
    var sum = [Double](repeating: 0, count: 256 * 256), sum2 = sum
    var pixels: [UInt16] = []
    for _ in 0..<frames {
        r.render(particle: p, driftPixels: (0, 0), ledOnSeconds: 0.0025, exposureSeconds: 0.0025, rng: &rng, into: &pixels)
        for k in 0..<pixels.count { let v = Double(pixels[k]); sum[k] += v; sum2[k] += v * v }
    }
    // Least squares of variance against mean.
    var xs: [Double] = [], ys: [Double] = []
    for k in stride(from: 0, to: pixels.count, by: 7) {
        let m = sum[k] / Double(frames)
        xs.append(m); ys.append((sum2[k] - Double(frames) * m * m) / Double(frames - 1))
    }
    let n = Double(xs.count)
    let mx = xs.reduce(0, +) / n, my = ys.reduce(0, +) / n
    let slope = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
    let intercept = my - slope * mx
    #expect(abs(slope - 1 / o.gainElectronsPerDN) < 0.01, "variance/mean slope \(slope), expected 1/g = \(1 / o.gainElectronsPerDN)")
    let expectedAtBlack = o.readNoiseElectrons * o.readNoiseElectrons / (o.gainElectronsPerDN * o.gainElectronsPerDN) + 1.0 / 12
    let fittedAtBlack = intercept + slope * o.blackLevelDN
    #expect(abs(fittedAtBlack - expectedAtBlack) < 0.4, "variance at black \(fittedAtBlack), expected \(expectedAtBlack)")
    // The mean is unbiased: a noiseless render matches the mean of noisy ones.
    var quiet = o
    quiet.noise = 0
    renderer(quiet, p).render(particle: p, driftPixels: (0, 0), ledOnSeconds: 0.0025, exposureSeconds: 0.0025, rng: &rng, into: &pixels)
    var bias = 0.0
    for k in 0..<pixels.count { bias += sum[k] / Double(frames) - Double(pixels[k]) }
    #expect(abs(bias / Double(pixels.count)) < 0.1)
}

@Test func framesAre12BitWithHotPixelsInTheDark() throws {
    let o = OpticsParameters()
    let p = try uniformParticle(theta: 0.95)
    let r = renderer(o, p)
    var rng = SeededRandom(seed: 2)
    var pixels: [UInt16] = []
    r.render(particle: p, driftPixels: (0, 0), ledOnSeconds: 0.0035, exposureSeconds: 0.0035, rng: &rng, into: &pixels)
    #expect(pixels.max()! <= 4095)
    #expect(!r.hotPixels.isEmpty)
    r.render(particle: p, driftPixels: (0, 0), ledOnSeconds: 0, exposureSeconds: 0.0035, rng: &rng, into: &pixels)
    let sorted = pixels.sorted()
    #expect(abs(Double(sorted[sorted.count / 2]) - o.blackLevelDN) <= 1)     // dark frame: black level
    for h in r.hotPixels { #expect(Double(pixels[h.y * 256 + h.x]) > o.blackLevelDN + 20) }
}

@Test func overexposedPixelsSaturateAtTheTopADCCode() throws {
    let o = OpticsParameters()
    let p = try uniformParticle(theta: 0.95)
    var rng = SeededRandom(seed: 4)
    var pixels: [UInt16] = []
    renderer(o, p).render(particle: p, driftPixels: (0, 0), ledOnSeconds: 0.02, exposureSeconds: 0.02, rng: &rng, into: &pixels)
    #expect(pixels[128 * 256 + 128] == 4095)
    #expect(pixels.max()! == 4095)
}
