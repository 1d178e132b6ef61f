// Fallback drift estimate when there is no fiducial: subpixel phase correlation against frame 0.
// A small radix-2 FFT on the largest centred power-of-two square (≤ 256 px) with a Hann window;
// the subpixel peak is a 3-point parabola per axis. Accuracy ~0.1 px: coarser than the Gaussian fit.
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
        let size: Int, x0: Int, y0: Int
        let window: [Double]
        let lowPass: [Double]
        let re: [Double], im: [Double]

        /// Prepares `frame` (frame 0) as the reference.
        public init(_ frame: BinnedFrame) {
            var n = 1
            while n * 2 <= min(frame.width, frame.height, 256) { n *= 2 }
            size = n
            x0 = (frame.width - n) / 2
            y0 = (frame.height - n) / 2
            var w = [Double](repeating: 0, count: n * n)
            for y in 0..<n {
                for x in 0..<n {
                    w[y * n + x] = (0.5 - 0.5 * cos(2 * .pi * Double(x) / Double(n)))
                        * (0.5 - 0.5 * cos(2 * .pi * Double(y) / Double(n)))
                }
            }
            window = w
            var lp = [Double](repeating: 0, count: n * n)
            let sigma = Double(n) / 8
            for v in 0..<n {
                for u in 0..<n {
                    let fu = Double(u <= n / 2 ? u : u - n), fv = Double(v <= n / 2 ? v : v - n)
                    lp[v * n + u] = exp(-(fu * fu + fv * fv) / (2 * sigma * sigma))
                }
            }
            lowPass = lp
            (re, im) = Self.spectrum(frame, size: n, x0: x0, y0: y0, window: w)
        }

        static func spectrum(_ frame: BinnedFrame, size n: Int, x0: Int, y0: Int, window: [Double]) -> ([Double], [Double]) {
            var mean = 0.0, count = 0.0
            for y in 0..<n { for x in 0..<n { let v = frame[x0 + x, y0 + y]; if v.isFinite { mean += Double(v); count += 1 } } }
            mean /= max(count, 1)
            var re = [Double](repeating: 0, count: n * n), im = [Double](repeating: 0, count: n * n)
            for y in 0..<n {
                for x in 0..<n {
                    let v = frame[x0 + x, y0 + y]
                    re[y * n + x] = v.isFinite ? (Double(v) - mean) * window[y * n + x] : 0
                }
            }
            fft2D(&re, &im, size: n, inverse: false)
            return (re, im)
        }

        /// Displacement (dx, dy) of `frame`'s content relative to the reference, in pixels.
        public func displacement(of frame: BinnedFrame) -> (dx: Double, dy: Double) {
            let n = size
            var (fr, fi) = Self.spectrum(frame, size: n, x0: x0, y0: y0, window: window)
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
