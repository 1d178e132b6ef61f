import Foundation
import Testing
@testable import Imaging

/// A smooth scene sampled exactly at any position: a Gaussian blob (σ = 2.5 px) on a gentle slope.
private func scene(_ x: Double, _ y: Double) -> Double {
    let u = (x - 40.3) / 2.5, v = (y - 33.7) / 2.5
    return 1000 + 800 * exp(-0.5 * (u * u + v * v)) + 0.5 * x - 0.25 * y
}

@Test func fourierShiftSamplesASmoothSceneAtTheShiftedPosition() {
    let w = 96, h = 80
    let frame = BinnedFrame(width: w, height: h, pixels: (0..<(w * h)).map { Float(scene(Double($0 % w), Double($0 / w))) })
    let region = PixelRegion(x: 30, y: 24, width: 20, height: 20)
    var shifter = FourierShift(covering: region)
    for (dx, dy) in [(0.0, 0.0), (0.37, -0.21), (-1.5, 2.25), (3.49, 0.5)] {
        shifter.shift(frame, dxPixels: dx, dyPixels: dy)
        var worst = 0.0
        for y in region.y..<(region.y + region.height) {
            for x in region.x..<(region.x + region.width) {
                worst = max(worst, abs(Double(shifter.sample(x: x, y: y)) - scene(Double(x) + dx, Double(y) + dy)))
            }
        }
        // The slope is not periodic over the box: its seam (a 64-count step) rings a little through
        // the guard band; under 1 count of an 800-count blob remains.
        #expect(worst < 1, "shift (\(dx), \(dy)): worst error \(worst) counts of a 800-count blob")
    }
}

@Test func fourierShiftKeepsTheEnergyOfWhiteNoiseAtEveryShift() {
    // A 64 × 64 region with no guard is its own box, inside the frame: the shift is then one unitary
    // transform of frame pixels, so their sum of squares is kept exactly at every fractional shift
    // (bilinear keeps (1 − f)² + f² of it per axis, Keys cubic down to 0.64).
    let w = 128, h = 128
    var rng = SplitMix64(seed: 3)
    let frame = BinnedFrame(width: w, height: h, pixels: (0..<(w * h)).map { _ in Float(rng.nextGaussian()) })
    let region = PixelRegion(x: 32, y: 40, width: 64, height: 64)
    var shifter = FourierShift(covering: region, guardPixels: 0)
    #expect(shifter.box == region)
    var input = 0.0
    for y in region.y..<(region.y + region.height) { for x in region.x..<(region.x + region.width) { input += Double(frame[x, y] * frame[x, y]) } }
    var ratios: [Double] = []
    for f in [0, 0.125, 0.25, 0.375, 0.49] {
        shifter.shift(frame, dxPixels: 2 + f, dyPixels: -f / 2)
        var output = 0.0
        // Box coordinates: the integer part of the shift moved the box by (2, 0).
        for y in region.y..<(region.y + region.height) {
            for x in region.x..<(region.x + region.width) { let v = Double(shifter.sample(x: x, y: y)); output += v * v }
        }
        ratios.append(output / input)
    }
    print("Fourier shift, white-noise energy kept at f = 0, 1/8, 1/4, 3/8, 0.49: \(ratios)")
    // Sum of squares of the box moved by the integer shift, not the same pixels as `input`: compare
    // the shifts with each other instead (each is the moved box's energy, unchanged by f).
    for r in ratios { #expect(abs(r / ratios[0] - 1) < 1e-4) }
}

/// The blur's pointer loops give the plain clamped loops' values bit for bit (the fiducial search and
/// the synthetic stacks depend on them), at the edges too and for kernels wider than the frame.
@Test func gaussianBlurEqualsThePlainClampedLoopsBitForBit() {
    var rng = SplitMix64(seed: 17)
    for (w, h, sigma) in [(23, 17, 1.0), (64, 9, 1.5), (5, 4, 2.0), (31, 40, 0.6)] {
        let frame = BinnedFrame(width: w, height: h, pixels: (0..<(w * h)).map { _ in Float(1000 + 50 * rng.nextGaussian()) })
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        var tmp = [Float](repeating: 0, count: w * h), expected = [Float](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w {
            var s: Float = 0
            for k in -radius...radius { s += kernel[k + radius] * frame.pixels[y * w + min(w - 1, max(0, x + k))] }
            tmp[y * w + x] = s
        } }
        for y in 0..<h { for x in 0..<w {
            var s: Float = 0
            for k in -radius...radius { s += kernel[k + radius] * tmp[min(h - 1, max(0, y + k)) * w + x] }
            expected[y * w + x] = s
        } }
        #expect(ImageOps.gaussianBlur(frame, sigmaPixels: sigma).pixels.map(\.bitPattern) == expected.map(\.bitPattern), "\(w)×\(h) σ \(sigma)")
    }
}

/// The median by selection (past 64 values) is the sorted median: odd and even counts, ties, NaN
/// and infinities left out.
@Test func medianBySelectionEqualsTheSortedMedian() {
    var rng = SplitMix64(seed: 5)
    for n in [1, 2, 63, 64, 65, 66, 200, 1001, 4096] {
        for ties in [false, true] {
            var values = (0..<n).map { _ in Float(ties ? (rng.nextUniform() * 7).rounded() : rng.nextGaussian()) }
            if n > 3 { values[1] = .nan; values[2] = .infinity }
            let sorted = values.filter { $0.isFinite }.sorted()
            let m = sorted.count
            let expected = m % 2 == 1 ? sorted[m / 2] : 0.5 * (sorted[m / 2 - 1] + sorted[m / 2])
            #expect(ImageOps.median(values) == expected, "n \(n), ties \(ties)")
        }
    }
    #expect(ImageOps.median([.nan, .infinity]).isNaN)
}
