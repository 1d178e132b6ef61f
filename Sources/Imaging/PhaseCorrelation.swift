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

/// A radix-2 complex FFT of one power-of-two length over eight independent lanes at once: element
/// `k` of lane `l` is `re[k][l] + i·im[k][l]`. Eight rows (or columns) of an image go through the
/// same butterflies together in `SIMD8<Float>`, so the transform vectorises without reordering the
/// arithmetic of any one lane (each lane's result is the same whichever lanes ride with it).
struct LaneFFT: Sendable {
    /// Transform length (a power of two ≥ 2).
    let size: Int
    private let bitReversed: [Int32]
    /// e^{−2πi j/n}, j < n/2 (the forward twiddles; the inverse uses their conjugates).
    private let twiddleRe: [Float], twiddleIm: [Float]

    /// A plan for length `size`; nil unless it is a power of two from 2 to 2¹⁶.
    init?(size n: Int) {
        guard n >= 2, n <= 1 << 16, n & (n - 1) == 0 else { return nil }
        size = n
        var bits = 0
        while 1 << bits < n { bits += 1 }
        bitReversed = (0..<n).map { i in
            var r = 0
            for b in 0..<bits where i & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
            return Int32(r)
        }
        twiddleRe = (0..<(n / 2)).map { Float(cos(-2 * Double.pi * Double($0) / Double(n))) }
        twiddleIm = (0..<(n / 2)).map { Float(sin(-2 * Double.pi * Double($0) / Double(n))) }
    }

    /// In-place transform of `size` elements at `re`, `im` (`inverse` without the 1/n scale).
    func transform(_ re: UnsafeMutablePointer<SIMD8<Float>>, _ im: UnsafeMutablePointer<SIMD8<Float>>, inverse: Bool) {
        let n = size
        bitReversed.withUnsafeBufferPointer { rev in
            for i in 0..<n {
                let j = Int(rev[i])
                if i < j { swap(&re[i], &re[j]); swap(&im[i], &im[j]) }
            }
        }
        // First stage: twiddle 1, no multiplies.
        var a = 0
        while a < n {
            let tr = re[a + 1], ti = im[a + 1]
            re[a + 1] = re[a] - tr; im[a + 1] = im[a] - ti
            re[a] += tr; im[a] += ti
            a += 2
        }
        let sign: Float = inverse ? -1 : 1
        twiddleRe.withUnsafeBufferPointer { wr in
            twiddleIm.withUnsafeBufferPointer { wi in
                var half = 2
                while half < n {
                    let step = n / (2 * half)
                    var start = 0
                    while start < n {
                        for k in 0..<half {
                            let cr = SIMD8<Float>(repeating: wr[k * step]), ci = SIMD8<Float>(repeating: sign * wi[k * step])
                            let p = start + k, q = p + half
                            let xr = re[q], xi = im[q]
                            let tr = xr * cr - xi * ci, ti = xr * ci + xi * cr
                            re[q] = re[p] - tr; im[q] = im[p] - ti
                            re[p] += tr; im[p] += ti
                        }
                        start += 2 * half
                    }
                    half *= 2
                }
            }
        }
    }
}
