import Foundation
import Testing
@testable import Imaging

/// A smooth scene sampled exactly at any position: a Gaussian blob (σ = 2.5 px) on a gentle slope.
private func scene(_ x: Double, _ y: Double) -> Double {
    let u = (x - 40.3) / 2.5, v = (y - 33.7) / 2.5
    return 1000 + 800 * exp(-0.5 * (u * u + v * v)) + 0.5 * x - 0.25 * y
}

@Test func fourierShiftSamplesASmoothSceneAtTheShiftedPosition() {
    let w = 160, h = 140
    let frame = BinnedFrame(width: w, height: h, pixels: (0..<(w * h)).map { Float(scene(Double($0 % w), Double($0 / w))) })
    // A 64 × 64 box (radix 2) and a 96 × 96 one (radix 3 and 2: a seed-sized particle's 59 rows).
    for region in [PixelRegion(x: 30, y: 24, width: 20, height: 20), PixelRegion(x: 15, y: 10, width: 60, height: 59)] {
    var shifter = FourierShift(covering: region)
    #expect(shifter.box.width == (region.width == 20 ? 64 : 96) && shifter.box.height == shifter.box.width)
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
        #expect(worst < 1, "box \(shifter.box.width): shift (\(dx), \(dy)): worst error \(worst) counts of a 800-count blob")
    }
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

/// The mixed-radix transform (lengths 2ᵃ·3ᵇ, issue 17's 96-row Fourier box) equals the direct DFT
/// Σ x_j e^{∓2πi jk/n} in every lane, forward and inverse, and is the classic radix-2 transform for
/// powers of two.
@Test func laneFFTEqualsTheDirectDFTForLengthsTwoToTheAThreeToTheB() {
    var rng = SplitMix64(seed: 11)
    for n in [2, 3, 6, 9, 12, 16, 18, 27, 48, 96, 128, 144] {
        guard let plan = LaneFFT(size: n) else { Issue.record("no plan for \(n)"); continue }
        let inputRe = (0..<n).map { _ in SIMD8<Float>((0..<8).map { _ in Float(rng.nextGaussian()) }) }
        let inputIm = (0..<n).map { _ in SIMD8<Float>((0..<8).map { _ in Float(rng.nextGaussian()) }) }
        for inverse in [false, true] {
            var re = inputRe, im = inputIm
            re.withUnsafeMutableBufferPointer { r in im.withUnsafeMutableBufferPointer { i in
                plan.transform(r.baseAddress!, i.baseAddress!, inverse: inverse)
            } }
            var worst = 0.0
            for lane in 0..<8 {
                for k in 0..<n {
                    var sr = 0.0, si = 0.0
                    for j in 0..<n {
                        let phase = (inverse ? 2 : -2) * Double.pi * Double(j * k % n) / Double(n)
                        let xr = Double(inputRe[j][lane]), xi = Double(inputIm[j][lane])
                        sr += xr * cos(phase) - xi * sin(phase); si += xr * sin(phase) + xi * cos(phase)
                    }
                    worst = max(worst, abs(Double(re[k][lane]) - sr), abs(Double(im[k][lane]) - si))
                }
            }
            // Float32 butterflies: error grows like √n·log n times 6e-8 of the values' size (~√n).
            #expect(worst < 1e-5 * Double(n), "n = \(n) inverse \(inverse): worst error \(worst)")
        }
    }
    #expect(LaneFFT(size: 80) == nil && LaneFFT(size: 1) == nil)
    #expect([59 + 32, 88 + 32, 16, 17, 100, 129].map { LaneFFT.sixteenSmooth(atLeast: $0) } == [96, 128, 16, 32, 128, 144])
}

/// `samples(at:)` (the analysis's gather of the shifted particle) gives `sample(x:y:)` at every index,
/// in any order, NaN where the source lies outside the frame (a shift past the top-left edge).
@Test func fourierShiftSamplesAtIndicesEqualSampleAtEachPixel() {
    let w = 64, h = 48
    let frame = BinnedFrame(width: w, height: h, pixels: (0..<(w * h)).map { Float(scene(Double($0 % w), Double($0 / w))) })
    let region = PixelRegion(x: 2, y: 0, width: 30, height: 20)   // from row 0: the first row is found too
    var shifter = FourierShift(covering: region)
    var rng = SplitMix64(seed: 9)
    var indices = (region.y..<(region.y + region.height)).flatMap { y in (region.x..<(region.x + region.width)).map { y * w + $0 } }
    for (dx, dy) in [(0.3, 0.2), (-2.6, -1.4)] {
        shifter.shift(frame, dxPixels: dx, dyPixels: dy)
        for order in 0..<2 {
            if order == 1 { for i in stride(from: indices.count - 1, to: 0, by: -1) { indices.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
            var out = [Float](repeating: 0, count: indices.count)
            indices.withUnsafeBufferPointer { idx in out.withUnsafeMutableBufferPointer { shifter.samples(at: idx, frameWidth: w, into: $0) } }
            let expected = indices.map { shifter.sample(x: $0 % w, y: $0 / w) }
            #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "shift (\(dx), \(dy)), order \(order)")
            #expect(dx > 0 || out.contains { $0.isNaN }, "the shift past the edge leaves NaN")
        }
    }
}
