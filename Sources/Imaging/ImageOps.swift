// Small image operations shared by drift correction, masking and metrics. Pixels are Float; sums
// that could lose precision over 65k pixels are accumulated in Double.

import Foundation

/// Image operations on float frames.
public enum ImageOps {
    /// Separable Gaussian blur with standard deviation `sigmaPixels`, edges clamped.
    public static func gaussianBlur(_ frame: BinnedFrame, sigmaPixels: Double) -> BinnedFrame {
        guard sigmaPixels > 0 else { return frame }
        let radius = max(1, Int((3 * sigmaPixels).rounded(.up)))
        var kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigmaPixels * sigmaPixels))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        let w = frame.width, h = frame.height
        var tmp = [Float](repeating: 0, count: w * h)
        var out = [Float](repeating: 0, count: w * h)
        frame.pixels.withUnsafeBufferPointer { src in
            for y in 0..<h {
                let row = y * w
                for x in 0..<w {
                    var s: Float = 0
                    for k in -radius...radius { s += kernel[k + radius] * src[row + min(w - 1, max(0, x + k))] }
                    tmp[row + x] = s
                }
            }
        }
        for y in 0..<h {
            for x in 0..<w {
                var s: Float = 0
                for k in -radius...radius { s += kernel[k + radius] * tmp[min(h - 1, max(0, y + k)) * w + x] }
                out[y * w + x] = s
            }
        }
        return BinnedFrame(width: w, height: h, pixels: out)
    }

    /// Keys cubic-convolution weights (a = −0.5) for taps at −1, 0, 1, 2 and fractional offset t.
    @inlinable static func cubicWeights(_ t: Double) -> (Float, Float, Float, Float) {
        let t2 = t * t, t3 = t2 * t
        return (Float((-t3 + 2 * t2 - t) / 2), Float((3 * t3 - 5 * t2 + 2) / 2),
                Float((-3 * t3 + 4 * t2 + t) / 2), Float((t3 - t2) / 2))
    }

    /// Samples `frame` at (x + dxPixels, y + dyPixels) for every pixel (x, y): the content moves by
    /// (−dx, −dy). Bicubic (Keys) interpolation; pixels whose source lies outside the frame are NaN.
    ///
    /// The shift is the same for every pixel, so the cubic weights are computed once and the
    /// interpolation is two separable 4-tap passes.
    public static func shifted(_ frame: BinnedFrame, dxPixels: Double, dyPixels: Double) -> BinnedFrame {
        let w = frame.width, h = frame.height
        let ix = Int(dxPixels.rounded(.down)), iy = Int(dyPixels.rounded(.down))
        let wx = cubicWeights(dxPixels - Double(ix)), wy = cubicWeights(dyPixels - Double(iy))
        var tmp = [Float](repeating: 0, count: w * h)
        var out = [Float](repeating: .nan, count: w * h)
        @inline(__always) func clampX(_ x: Int) -> Int { min(w - 1, max(0, x)) }
        @inline(__always) func clampY(_ y: Int) -> Int { min(h - 1, max(0, y)) }
        frame.pixels.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { t in
                for y in 0..<h {
                    let row = y * w
                    for x in 0..<w {
                        let x0 = x + ix
                        if x0 >= 1 && x0 + 2 < w {
                            t[row + x] = wx.0 * src[row + x0 - 1] + wx.1 * src[row + x0]
                                + wx.2 * src[row + x0 + 1] + wx.3 * src[row + x0 + 2]
                        } else {
                            t[row + x] = wx.0 * src[row + clampX(x0 - 1)] + wx.1 * src[row + clampX(x0)]
                                + wx.2 * src[row + clampX(x0 + 1)] + wx.3 * src[row + clampX(x0 + 2)]
                        }
                    }
                }
            }
        }
        let maxX = Double(w - 1), maxY = Double(h - 1)
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<h {
                    let sy = Double(y) + dyPixels
                    if sy < 0 || sy > maxY { continue }
                    let y0 = y + iy
                    let r0 = clampY(y0 - 1) * w, r1 = clampY(y0) * w, r2 = clampY(y0 + 1) * w, r3 = clampY(y0 + 2) * w
                    for x in 0..<w {
                        let sx = Double(x) + dxPixels
                        if sx < 0 || sx > maxX { continue }
                        o[y * w + x] = wy.0 * t[r0 + x] + wy.1 * t[r1 + x] + wy.2 * t[r2 + x] + wy.3 * t[r3 + x]
                    }
                }
            }
        }
        return BinnedFrame(width: w, height: h, pixels: out)
    }

    /// `shifted(frame, dxPixels:dyPixels:)` evaluated only at the pixels `indices` (row-major
    /// indices), written to `output[k]` for `indices[k]`: the same taps in the same order, so the values
    /// are bit-identical. The on-line monitor needs the corrected frame only inside the particle mask
    /// (a few thousand of the 2.3 M pixels of a full frame), so it skips the full-frame passes.
    public static func shiftedSamples(_ frame: BinnedFrame, dxPixels: Double, dyPixels: Double,
                                      at indices: UnsafeBufferPointer<Int>, into output: UnsafeMutableBufferPointer<Float>) {
        let w = frame.width, h = frame.height
        let ix = Int(dxPixels.rounded(.down)), iy = Int(dyPixels.rounded(.down))
        let wx = cubicWeights(dxPixels - Double(ix)), wy = cubicWeights(dyPixels - Double(iy))
        let maxX = Double(w - 1), maxY = Double(h - 1)
        @inline(__always) func clampX(_ x: Int) -> Int { min(w - 1, max(0, x)) }
        @inline(__always) func clampY(_ y: Int) -> Int { min(h - 1, max(0, y)) }
        frame.pixels.withUnsafeBufferPointer { src in
            @inline(__always) func horizontal(_ row: Int, _ x: Int) -> Float {
                let x0 = x + ix
                if x0 >= 1 && x0 + 2 < w {
                    return wx.0 * src[row + x0 - 1] + wx.1 * src[row + x0] + wx.2 * src[row + x0 + 1] + wx.3 * src[row + x0 + 2]
                }
                return wx.0 * src[row + clampX(x0 - 1)] + wx.1 * src[row + clampX(x0)]
                    + wx.2 * src[row + clampX(x0 + 1)] + wx.3 * src[row + clampX(x0 + 2)]
            }
            for k in 0..<indices.count {
                let i = indices[k]
                let y = i / w, x = i - y * w
                let sx = Double(x) + dxPixels, sy = Double(y) + dyPixels
                if sy < 0 || sy > maxY || sx < 0 || sx > maxX { output[k] = .nan; continue }
                let y0 = y + iy
                let t0 = horizontal(clampY(y0 - 1) * w, x), t1 = horizontal(clampY(y0) * w, x)
                let t2 = horizontal(clampY(y0 + 1) * w, x), t3 = horizontal(clampY(y0 + 2) * w, x)
                output[k] = wy.0 * t0 + wy.1 * t1 + wy.2 * t2 + wy.3 * t3
            }
        }
    }

    /// Bilinear sample at a fractional position; NaN outside the frame.
    public static func bilinear(_ frame: BinnedFrame, x: Double, y: Double) -> Float {
        guard x >= 0, y >= 0, x <= Double(frame.width - 1), y <= Double(frame.height - 1) else { return .nan }
        let x0 = min(Int(x), frame.width - 2 < 0 ? 0 : frame.width - 2)
        let y0 = min(Int(y), frame.height - 2 < 0 ? 0 : frame.height - 2)
        let x1 = min(x0 + 1, frame.width - 1), y1 = min(y0 + 1, frame.height - 1)
        let fx = Float(x - Double(x0)), fy = Float(y - Double(y0))
        let top = frame[x0, y0] * (1 - fx) + frame[x1, y0] * fx
        let bottom = frame[x0, y1] * (1 - fx) + frame[x1, y1] * fx
        return top * (1 - fy) + bottom * fy
    }

    /// Median of the finite values (NaN for none). Copies; use on small sets or once per frame.
    public static func median(_ values: [Float]) -> Float {
        let finite = values.filter { $0.isFinite }.sorted()
        guard !finite.isEmpty else { return .nan }
        let n = finite.count
        return n % 2 == 1 ? finite[n / 2] : 0.5 * (finite[n / 2 - 1] + finite[n / 2])
    }
}
