// Fallback drift estimate when there is no fiducial: subpixel phase correlation against frame 0.
// A small radix-2 FFT over a Hann-windowed square crop (≤ 256 px, zero-padded to a power of two);
// the subpixel peak is a 3-point parabola per axis. Accuracy ~0.05–0.1 px: coarser than the fit.
import Foundation

/// Translation between two frames by phase correlation.
public enum PhaseCorrelation {
    /// In-place iterative radix-2 FFT (`inverse` without the 1/n scale).
    static func fft(_ re: inout [Double], _ im: inout [Double], inverse: Bool) {
        let n = re.count
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 { j ^= bit; bit >>= 1 }
            j |= bit
            if i < j { re.swapAt(i, j); im.swapAt(i, j) }
        }
        var length = 2
        while length <= n {
            let angle = (inverse ? 2 : -2) * Double.pi / Double(length)
            let wr = cos(angle), wi = sin(angle)
            var start = 0
            while start < n {
                var cr = 1.0, ci = 0.0
                for k in 0..<(length / 2) {
                    let a = start + k, b = a + length / 2
                    let tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr
                    re[b] = re[a] - tr; im[b] = im[a] - ti
                    re[a] += tr; im[a] += ti
                    let nr = cr * wr - ci * wi
                    ci = cr * wi + ci * wr; cr = nr
                }
                start += length
            }
            length <<= 1
        }
    }

    static func fft2D(_ re: inout [Double], _ im: inout [Double], size n: Int, inverse: Bool) {
        var rr = [Double](repeating: 0, count: n), ri = [Double](repeating: 0, count: n)
        for y in 0..<n {
            for x in 0..<n { rr[x] = re[y * n + x]; ri[x] = im[y * n + x] }
            fft(&rr, &ri, inverse: inverse)
            for x in 0..<n { re[y * n + x] = rr[x]; im[y * n + x] = ri[x] }
        }
        for x in 0..<n {
            for y in 0..<n { rr[y] = re[y * n + x]; ri[y] = im[y * n + x] }
            fft(&rr, &ri, inverse: inverse)
            for y in 0..<n { re[y * n + x] = rr[y]; im[y * n + x] = ri[y] }
        }
    }

    /// A reference prepared once: its windowed spectrum.
    public struct Reference: Sendable {
        /// FFT size (power of two), crop size (≤ FFT size) and crop origin in the frame.
        let size: Int, crop: Int, x0: Int, y0: Int
        let window: [Double]
        let lowPass: [Double]
        let re: [Double], im: [Double]

        /// Prepares `frame` (frame 0) as the reference, over a square crop of at most
        /// `extentPixels` (and 256 px) centred on `centre` (default: the frame centre) and kept inside
        /// the frame; the Hann-windowed crop is zero-padded to a power of two.
        public init(_ frame: BinnedFrame, centre: (x: Double, y: Double)? = nil, extentPixels: Int? = nil) {
            let m = max(1, min(frame.width, frame.height, 256, extentPixels ?? Int.max))
            var n = 1
            while n < m { n *= 2 }
            size = n
            crop = m
            let c = centre ?? (Double(frame.width) / 2, Double(frame.height) / 2)
            x0 = min(max(0, Int((c.x - Double(m) / 2).rounded())), frame.width - m)
            y0 = min(max(0, Int((c.y - Double(m) / 2).rounded())), frame.height - m)
            var w = [Double](repeating: 0, count: m * m)
            for y in 0..<m {
                for x in 0..<m {
                    w[y * m + x] = (0.5 - 0.5 * cos(2 * .pi * (Double(x) + 0.5) / Double(m)))
                        * (0.5 - 0.5 * cos(2 * .pi * (Double(y) + 0.5) / Double(m)))
                }
            }
            window = w
            var lp = [Double](repeating: 0, count: n * n)
            let sigma = Double(n) / 8  // 1/8 cycle per pixel
            for v in 0..<n {
                for u in 0..<n {
                    let fu = Double(u <= n / 2 ? u : u - n), fv = Double(v <= n / 2 ? v : v - n)
                    lp[v * n + u] = exp(-(fu * fu + fv * fv) / (2 * sigma * sigma))
                }
            }
            lowPass = lp
            (re, im) = Self.spectrum(frame, size: n, crop: m, x0: x0, y0: y0, window: w)
        }

        static func spectrum(_ frame: BinnedFrame, size n: Int, crop m: Int, x0: Int, y0: Int,
                             window: [Double]) -> ([Double], [Double]) {
            // Window-weighted mean, so the taper does not turn a constant offset into structure.
            var mean = 0.0, weight = 0.0
            for y in 0..<m {
                for x in 0..<m {
                    let v = frame[x0 + x, y0 + y]
                    if v.isFinite { mean += Double(v) * window[y * m + x]; weight += window[y * m + x] }
                }
            }
            mean /= max(weight, 1e-30)
            var re = [Double](repeating: 0, count: n * n), im = [Double](repeating: 0, count: n * n)
            for y in 0..<m {
                for x in 0..<m {
                    let v = frame[x0 + x, y0 + y]
                    re[y * n + x] = v.isFinite ? (Double(v) - mean) * window[y * m + x] : 0
                }
            }
            fft2D(&re, &im, size: n, inverse: false)
            return (re, im)
        }

        /// Displacement (dx, dy) of `frame`'s content relative to the reference, in pixels.
        public func displacement(of frame: BinnedFrame) -> (dx: Double, dy: Double) {
            let n = size
            var (fr, fi) = Self.spectrum(frame, size: n, crop: crop, x0: x0, y0: y0, window: window)
            // Normalised cross-power spectrum F_k · conj(F_0): its inverse peaks at the displacement.
            // Whitening gives noise-dominated high frequencies the same weight as the particle's
            // structure, which breaks the peak in noisy frames; a Gaussian low-pass (σ = n/8 cycles)
            // keeps the frequencies the particle and its edges occupy.
            for i in 0..<(n * n) {
                let r = fr[i] * re[i] + fi[i] * im[i]
                let m = fi[i] * re[i] - fr[i] * im[i]
                let magnitude = max((r * r + m * m).squareRoot(), 1e-30)
                fr[i] = r / magnitude * lowPass[i]; fi[i] = m / magnitude * lowPass[i]
            }
            fft2D(&fr, &fi, size: n, inverse: true)
            var best = 0
            for i in 1..<(n * n) where fr[i] > fr[best] { best = i }
            let bx = best % n, by = best / n
            func value(_ x: Int, _ y: Int) -> Double { fr[((y + n) % n) * n + (x + n) % n] }
            func parabola(_ m: Double, _ c: Double, _ p: Double) -> Double {
                let d = m - 2 * c + p
                return abs(d) > 1e-30 ? max(-0.5, min(0.5, 0.5 * (m - p) / d)) : 0
            }
            var dx = Double(bx) + parabola(value(bx - 1, by), value(bx, by), value(bx + 1, by))
            var dy = Double(by) + parabola(value(bx, by - 1), value(bx, by), value(bx, by + 1))
            if dx > Double(n) / 2 { dx -= Double(n) }
            if dy > Double(n) / 2 { dy -= Double(n) }
            return (dx, dy)
        }
    }
}

/// A complex FFT of one length 2ᵃ·3ᵇ over eight independent lanes at once: element `k` of lane `l`
/// is `re[k][l] + i·im[k][l]`. Eight rows (or columns) of an image go through the same butterflies
/// together in `SIMD8<Float>`, so the transform vectorises without reordering the arithmetic of any
/// one lane (each lane's result is the same whichever lanes ride with it). Decimation in time: the
/// input in mixed-radix digit-reversed order, then the radix-3 stages, then the radix-2 stages (for a
/// power of two, the classic radix-2 transform). Lengths with a factor 3 let the Fourier shift's box
/// fit the particle (96 rows instead of 128 for a 59-row particle with its guard, issue 17).
struct LaneFFT: Sendable {
    /// Transform length (2ᵃ·3ᵇ ≥ 2).
    let size: Int
    /// Radix of each stage, first stage first: every 3, then every 2.
    private let radices: [Int]
    /// Input position of each element in the order the first stage reads.
    private let digitReversed: [Int32]
    /// e^{−2πi j/n}, j < n (the forward twiddles; the inverse uses their conjugates).
    private let twiddleRe: [Float], twiddleIm: [Float]
    /// The permutation's cycles of more than one element, each as i₀, order[i₀], order[order[i₀]], …
    /// and then −1.
    private let cycles: [Int32]

    /// The lengths a plan exists for: 2ᵃ·3ᵇ from 2 to 2¹⁶.
    static func isValidSize(_ n: Int) -> Bool {
        guard n >= 2, n <= 1 << 16 else { return false }
        var m = n
        while m % 3 == 0 { m /= 3 }
        return m & (m - 1) == 0
    }

    /// The smallest length ≥ `m` that is 16 times a 2ᵃ·3ᵇ (16, 32, 48, 64, 96, 128, 144, 192, …).
    static func sixteenSmooth(atLeast m: Int) -> Int {
        var n = 16
        while n < m || !isValidSize(n) { n += 16 }
        return n
    }

    /// A plan for length `size`; nil unless ``isValidSize(_:)``.
    init?(size n: Int) {
        guard Self.isValidSize(n) else { return nil }
        size = n
        var factors: [Int] = []
        var m = n
        while m % 3 == 0 { factors.append(3); m /= 3 }
        while m % 2 == 0 { factors.append(2); m /= 2 }
        radices = factors
        // The last stage combines the sub-transforms of the inputs ≡ j mod r (its radix) laid out as
        // contiguous blocks j; recursively, element i goes to j·(n/r) + (its place in block j).
        func position(_ i: Int, _ length: Int, _ stages: ArraySlice<Int>) -> Int {
            guard let r = stages.last else { return 0 }
            return (i % r) * (length / r) + position(i / r, length / r, stages.dropLast())
        }
        var order = [Int32](repeating: 0, count: n)
        for i in 0..<n { order[position(i, n, factors[...])] = Int32(i) }
        digitReversed = order
        var walks: [Int32] = []
        var seen = [Bool](repeating: false, count: n)
        for start in 0..<n where !seen[start] && Int(order[start]) != start {
            var i = start
            while !seen[i] { seen[i] = true; walks.append(Int32(i)); i = Int(order[i]) }
            walks.append(-1)
        }
        cycles = walks
        twiddleRe = (0..<n).map { Float(cos(-2 * Double.pi * Double($0) / Double(n))) }
        twiddleIm = (0..<n).map { Float(sin(-2 * Double.pi * Double($0) / Double(n))) }
    }

    /// In-place transform of `size` elements at `re`, `im` (`inverse` without the 1/n scale).
    func transform(_ re: UnsafeMutablePointer<SIMD8<Float>>, _ im: UnsafeMutablePointer<SIMD8<Float>>, inverse: Bool) {
        let n = size
        // Into digit-reversed order: for mixed radices it is not an involution, so by its cycles.
        digitReversed.withUnsafeBufferPointer { order in
            if radices.first == 2 {
                // Powers of two: bit reversal is an involution, swap pairs.
                for i in 0..<n {
                    let j = Int(order[i])
                    if i < j { swap(&re[i], &re[j]); swap(&im[i], &im[j]) }
                }
            } else {
                permute(re, im)
            }
        }
        let sign: Float = inverse ? -1 : 1
        var span = 1
        twiddleRe.withUnsafeBufferPointer { wr in
            twiddleIm.withUnsafeBufferPointer { wi in
                for r in radices {
                    let step = n / (r * span)
                    if r == 3 {
                        // y_q = Σ_j x_j·w^{jk}·e^{∓2πi jq/3}; with u = x₁ + x₂, v = x₁ − x₂:
                        // y₀ = x₀ + u, y₁,₂ = x₀ − u/2 ∓ i(√3/2)v (forward; the inverse swaps them).
                        let half = SIMD8<Float>(repeating: 0.5), s = SIMD8<Float>(repeating: sign * 0.866_025_403_784_438_6)
                        var start = 0
                        while start < n {
                            for k in 0..<span {
                                let p0 = start + k, p1 = p0 + span, p2 = p1 + span
                                var x1r = re[p1], x1i = im[p1], x2r = re[p2], x2i = im[p2]
                                if span > 1 {
                                    let c1 = SIMD8<Float>(repeating: wr[k * step]), d1 = SIMD8<Float>(repeating: sign * wi[k * step])
                                    let c2 = SIMD8<Float>(repeating: wr[2 * k * step]), d2 = SIMD8<Float>(repeating: sign * wi[2 * k * step])
                                    (x1r, x1i) = (x1r * c1 - x1i * d1, x1r * d1 + x1i * c1)
                                    (x2r, x2i) = (x2r * c2 - x2i * d2, x2r * d2 + x2i * c2)
                                }
                                let ur = x1r + x2r, ui = x1i + x2i, vr = x1r - x2r, vi = x1i - x2i
                                let x0r = re[p0], x0i = im[p0]
                                let mr = x0r - half * ur, mi = x0i - half * ui
                                re[p0] = x0r + ur; im[p0] = x0i + ui
                                re[p1] = mr + s * vi; im[p1] = mi - s * vr
                                re[p2] = mr - s * vi; im[p2] = mi + s * vr
                            }
                            start += 3 * span
                        }
                    } else if span == 1 {
                        // First stage of a power of two: twiddle 1, no multiplies.
                        var a = 0
                        while a < n {
                            let tr = re[a + 1], ti = im[a + 1]
                            re[a + 1] = re[a] - tr; im[a + 1] = im[a] - ti
                            re[a] += tr; im[a] += ti
                            a += 2
                        }
                    } else {
                        var start = 0
                        while start < n {
                            for k in 0..<span {
                                let cr = SIMD8<Float>(repeating: wr[k * step]), ci = SIMD8<Float>(repeating: sign * wi[k * step])
                                let p = start + k, q = p + span
                                let xr = re[q], xi = im[q]
                                let tr = xr * cr - xi * ci, ti = xr * ci + xi * cr
                                re[q] = re[p] - tr; im[q] = im[p] - ti
                                re[p] += tr; im[p] += ti
                            }
                            start += 2 * span
                        }
                    }
                    span *= r
                }
            }
        }
    }

    /// Element i takes the value at `order[i]`, one cycle of the permutation at a time (`cycles`).
    private func permute(_ re: UnsafeMutablePointer<SIMD8<Float>>, _ im: UnsafeMutablePointer<SIMD8<Float>>) {
        cycles.withUnsafeBufferPointer { c in
            var k = 0
            while k < c.count {
                let first = Int(c[k])
                let firstRe = re[first], firstIm = im[first]
                var i = first
                k += 1
                while c[k] >= 0 {
                    let from = Int(c[k])
                    re[i] = re[from]; im[i] = im[from]
                    i = from
                    k += 1
                }
                re[i] = firstRe; im[i] = firstIm
                k += 1
            }
        }
    }
}
