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
        // Through raw pointers, interior pixels without clamping; every pixel's sum still runs over
        // k = −radius…radius in that order from 0, so the values are those of the plain loops.
        kernel.withUnsafeBufferPointer { kp in
        frame.pixels.withUnsafeBufferPointer { src in
        tmp.withUnsafeMutableBufferPointer { t in
        out.withUnsafeMutableBufferPointer { o in
            let kc = kp.baseAddress! + radius   // kc[k] for k in −radius…radius
            for y in 0..<h {
                let row = y * w
                for x in 0..<w {
                    var s: Float = 0
                    if x >= radius && x + radius < w {
                        let p = src.baseAddress! + row + x
                        for k in -radius...radius { s += kc[k] * p[k] }
                    } else {
                        for k in -radius...radius { s += kc[k] * src[row + min(w - 1, max(0, x + k))] }
                    }
                    t[row + x] = s
                }
            }
            for y in 0..<h {
                let dst = o.baseAddress! + y * w
                for k in -radius...radius {
                    let weight = kc[k]
                    let line = t.baseAddress! + min(h - 1, max(0, y + k)) * w
                    for x in 0..<w { dst[x] += weight * line[x] }
                }
            }
        }
        }
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
    /// Past 64 values the middle elements are found by selection instead of a full sort (the fiducial
    /// search's background median over the whole frame was a tenth of the analysis' set-up): the
    /// same order statistics, so the same value (a zero median may come out as −0 instead of +0,
    /// which compares and subtracts the same).
    public static func median(_ values: [Float]) -> Float {
        var finite = values.filter { $0.isFinite }
        guard !finite.isEmpty else { return .nan }
        let n = finite.count
        if n <= 64 {
            finite.sort()
            return n % 2 == 1 ? finite[n / 2] : 0.5 * (finite[n / 2 - 1] + finite[n / 2])
        }
        return finite.withUnsafeMutableBufferPointer { a -> Float in
            let upper = select(a, n / 2)
            guard n % 2 == 0 else { return upper }
            // Selection leaves every element before n/2 at most a[n/2]: the largest of them is the
            // (n/2 − 1)-th smallest.
            var lower = a[0]
            for i in 1..<(n / 2) where a[i] > lower { lower = a[i] }
            return 0.5 * (lower + upper)
        }
    }

    /// Reorders `a` so that `a[k]` is its k-th smallest element (from 0) with nothing larger before
    /// it and nothing smaller after it; returns `a[k]`. The values must not be NaN.
    static func select(_ a: UnsafeMutableBufferPointer<Float>, _ k: Int) -> Float {
        var lo = 0, hi = a.count - 1
        while lo < hi {
            let pivot = a[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { break }
        }
        return a[k]
    }
}

/// A rectangle of pixels in frame coordinates (x, y of its top-left pixel).
public struct PixelRegion: Sendable, Equatable {
    /// Column of the left edge.
    public var x: Int
    /// Row of the top edge.
    public var y: Int
    /// Width, pixels.
    public var width: Int
    /// Height, pixels.
    public var height: Int

    /// A region; see the properties.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// The bounding box of a mask's particle pixels (nil for an empty mask).
    public init?(boundingBoxOf mask: Mask) {
        var minX = mask.width, maxX = -1, minY = mask.height, maxY = -1
        for y in 0..<mask.height {
            let row = y * mask.width
            for x in 0..<mask.width where mask.bits[row + x] {
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
            }
        }
        guard maxX >= 0 else { return nil }
        self.init(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1)
    }

    /// Grown by `margin` on every side and clipped to a `width`×`height` frame.
    public func expanded(by margin: Int, clippedTo width: Int, _ height: Int) -> PixelRegion {
        let x0 = max(0, x - margin), y0 = max(0, y - margin)
        let x1 = min(width, x + self.width + margin), y1 = min(height, y + self.height + margin)
        return PixelRegion(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }
}

/// Sub-pixel resampling by a phase ramp (Fourier shift) over a box around the particle.
///
/// Why not interpolation: a bilinear or cubic kernel is a low-pass filter whose strength depends on
/// the fractional shift (bilinear passes (1−f)² + f² of white-noise power per axis, Keys cubic 1 down
/// to 0.64), so the noise left in a drift-corrected frame — and with it every spread measured on it,
/// such as the SDC standard deviation — ripples with the drift's sub-pixel phase (issue 16). A phase
/// ramp multiplies every frequency by a unit-magnitude factor: the transform is unitary, so white
/// noise keeps exactly its variance at any shift.
///
/// The box is the particle's bounding box plus `guardPixels` on each side, rounded up to a length
/// 16·2ᵃ·3ᵇ (a 59-row particle: 96 rows); the DFT treats it as periodic, and the guard keeps the wrap-around seam (where the left and
/// right edges of the box meet) away from the particle. The integer part of the shift moves the box;
/// only the fractional part (|f| ≤ ½) goes through the transform. The Nyquist frequency of an even
/// length has no real-valued shifted counterpart; it is passed unshifted (factor 1), which keeps the
/// transfer all-pass — an optical image sampled finer than its PSF carries no signal there.
/// Shifting is separable: rows by f_x, then columns by f_y, each pair of rows (columns) one complex
/// transform (the ramp is Hermitian, so the real and imaginary parts stay separate).
public struct FourierShift: Sendable {
    /// The box in frame coordinates at zero shift.
    public let box: PixelRegion
    private let fftX: LaneFFT, fftY: LaneFFT
    /// Gathered frame values (row-major, box size) and the shifted result.
    private var gathered: [Float]
    private var shifted: [Float]
    private var re: [SIMD8<Float>], im: [SIMD8<Float>]
    private var rampX: (re: [Float], im: [Float]), rampY: (re: [Float], im: [Float])
    private var columnIndex: [Int]
    private var rowOffset: [Int]
    /// Box columns the vertical pass needs (the caller's region of interest), box coordinates.
    private let neededColumns: Range<Int>
    /// The shift of the last `shift` call.
    private var lastShift = (dx: 0.0, dy: 0.0)
    private var frameSize = (width: 0, height: 0)

    /// A shifter for `region` (usually the particle's bounding box); the box grows it by
    /// `guardPixels` on each side, then to the next multiple of 16 of the form 16·2ᵃ·3ᵇ (16, 32, 48,
    /// 64, 96, 128, 144, …: the passes take 16 rows or columns at a time).
    public init(covering region: PixelRegion, guardPixels: Int = 16) {
        let w = LaneFFT.sixteenSmooth(atLeast: region.width + 2 * guardPixels)
        let h = LaneFFT.sixteenSmooth(atLeast: region.height + 2 * guardPixels)
        box = PixelRegion(x: region.x - (w - region.width) / 2, y: region.y - (h - region.height) / 2, width: w, height: h)
        fftX = LaneFFT(size: w)!   // 16·2ᵃ·3ᵇ: always a valid plan
        fftY = LaneFFT(size: h)!
        gathered = [Float](repeating: 0, count: w * h)
        shifted = [Float](repeating: 0, count: w * h)
        re = [SIMD8<Float>](repeating: .zero, count: max(w, h))
        im = [SIMD8<Float>](repeating: .zero, count: max(w, h))
        rampX = ([Float](repeating: 0, count: w), [Float](repeating: 0, count: w))
        rampY = ([Float](repeating: 0, count: h), [Float](repeating: 0, count: h))
        columnIndex = [Int](repeating: 0, count: w)
        rowOffset = [Int](repeating: 0, count: h)
        let c0 = region.x - box.x
        neededColumns = c0..<(c0 + region.width)
    }

    /// exp(+2πi k′f/n)/n for each bin k (k′ the signed frequency; Nyquist passed unshifted): sampling
    /// at n + f multiplies bin k by e^{+2πi k′f/n}; the 1/n is the inverse transform's scale.
    private static func fillRamp(_ ramp: inout (re: [Float], im: [Float]), fraction f: Double) {
        let n = ramp.re.count
        for k in 0..<n {
            if 2 * k == n { ramp.re[k] = Float(1 / Double(n)); ramp.im[k] = 0; continue }
            let signed = Double(2 * k < n ? k : k - n)
            let phase = 2 * Double.pi * signed * f / Double(n)
            ramp.re[k] = Float(cos(phase) / Double(n)); ramp.im[k] = Float(sin(phase) / Double(n))
        }
    }

    /// The rows of a `frameHeight`-row frame that ``shift(_:dxPixels:dyPixels:)`` reads for a vertical
    /// shift of `dyPixels` (rows beyond the frame are its edge rows).
    public func rowsRead(dyPixels: Double, frameHeight: Int) -> Range<Int> {
        let iy = Int(dyPixels.rounded())
        let top = min(frameHeight - 1, max(0, box.y + iy)), bottom = min(frameHeight - 1, max(0, box.y + iy + box.height - 1))
        return top..<(bottom + 1)
    }

    /// Samples `frame` at (x + dxPixels, y + dyPixels) for every box pixel (x, y) — the content moves
    /// by (−dx, −dy), as ``ImageOps/shifted(_:dxPixels:dyPixels:)`` does. Frame pixels outside the
    /// frame are the nearest edge pixel's (read ``sample(x:y:)`` only where the source lies
    /// inside). Allocates nothing.
    public mutating func shift(_ frame: BinnedFrame, dxPixels: Double, dyPixels: Double) {
        let w = box.width, h = box.height
        let ix = Int(dxPixels.rounded()), iy = Int(dyPixels.rounded())
        let fx = dxPixels - Double(ix), fy = dyPixels - Double(iy)
        lastShift = (dxPixels, dyPixels)
        frameSize = (frame.width, frame.height)
        for x in 0..<w { columnIndex[x] = min(frame.width - 1, max(0, box.x + ix + x)) }
        for y in 0..<h { rowOffset[y] = min(frame.height - 1, max(0, box.y + iy + y)) * frame.width }
        if fx != 0 { Self.fillRamp(&rampX, fraction: fx) }
        if fy != 0 { Self.fillRamp(&rampY, fraction: fy) }
        let fftX = self.fftX, fftY = self.fftY
        let needed = neededColumns
        frame.pixels.withUnsafeBufferPointer { src in
        gathered.withUnsafeMutableBufferPointer { g in
        shifted.withUnsafeMutableBufferPointer { out in
        re.withUnsafeMutableBufferPointer { re in
        im.withUnsafeMutableBufferPointer { im in
        columnIndex.withUnsafeBufferPointer { col in
        rowOffset.withUnsafeBufferPointer { row in
            let re = re.baseAddress!, im = im.baseAddress!
            // Horizontal pass: 16 rows at a time, rows r0…r0+7 as the real parts, r0+8…r0+15 imaginary.
            if fx == 0 {
                for y in 0..<h { for x in 0..<w { g[y * w + x] = src[row[y] + col[x]] } }
            } else {
                rampX.re.withUnsafeBufferPointer { rr in
                rampX.im.withUnsafeBufferPointer { ri in
                    var r0 = 0
                    while r0 < h {
                        for x in 0..<w {
                            let c = col[x]
                            var a = SIMD8<Float>(), b = SIMD8<Float>()
                            for l in 0..<8 { a[l] = src[row[r0 + l] + c]; b[l] = src[row[r0 + 8 + l] + c] }
                            re[x] = a; im[x] = b
                        }
                        fftX.transform(re, im, inverse: false)
                        for k in 0..<w {
                            let cr = SIMD8<Float>(repeating: rr[k]), ci = SIMD8<Float>(repeating: ri[k])
                            let a = re[k], b = im[k]
                            re[k] = a * cr - b * ci; im[k] = a * ci + b * cr
                        }
                        fftX.transform(re, im, inverse: true)
                        for x in 0..<w {
                            let a = re[x], b = im[x]
                            for l in 0..<8 { g[(r0 + l) * w + x] = a[l]; g[(r0 + 8 + l) * w + x] = b[l] }
                        }
                        r0 += 16
                    }
                }
                }
            }
            // Vertical pass over the needed columns, 16 adjacent columns at a time (contiguous loads);
            // the last group is moved left to end at the box edge (it recomputes a few columns from
            // the unshifted `gathered`, so the overlap changes nothing).
            if fy == 0 {
                for i in 0..<(w * h) { out[i] = g[i] }
            } else {
                rampY.re.withUnsafeBufferPointer { rr in
                rampY.im.withUnsafeBufferPointer { ri in
                    let graw = UnsafeRawPointer(g.baseAddress!), oraw = UnsafeMutableRawPointer(out.baseAddress!)
                    let stride = MemoryLayout<Float>.stride
                    var c = needed.lowerBound
                    while c < needed.upperBound {
                        let c0 = min(c, w - 16)
                        for y in 0..<h {
                            re[y] = graw.loadUnaligned(fromByteOffset: (y * w + c0) * stride, as: SIMD8<Float>.self)
                            im[y] = graw.loadUnaligned(fromByteOffset: (y * w + c0 + 8) * stride, as: SIMD8<Float>.self)
                        }
                        fftY.transform(re, im, inverse: false)
                        for k in 0..<h {
                            let cr = SIMD8<Float>(repeating: rr[k]), ci = SIMD8<Float>(repeating: ri[k])
                            let a = re[k], b = im[k]
                            re[k] = a * cr - b * ci; im[k] = a * ci + b * cr
                        }
                        fftY.transform(re, im, inverse: true)
                        for y in 0..<h {
                            oraw.storeBytes(of: re[y], toByteOffset: (y * w + c0) * stride, as: SIMD8<Float>.self)
                            oraw.storeBytes(of: im[y], toByteOffset: (y * w + c0 + 8) * stride, as: SIMD8<Float>.self)
                        }
                        c = c0 + 16
                    }
                }
                }
            }
        }
        }
        }
        }
        }
        }
        }
    }

    /// The shifted value at frame pixel (x, y) — NaN where its source (x + dx, y + dy) lies outside
    /// the frame, as in ``ImageOps/shifted(_:dxPixels:dyPixels:)``. Only pixels of the region given
    /// at `init` are valid.
    public func sample(x: Int, y: Int) -> Float {
        let sx = Double(x) + lastShift.dx, sy = Double(y) + lastShift.dy
        if sx < 0 || sy < 0 || sx > Double(frameSize.width - 1) || sy > Double(frameSize.height - 1) { return .nan }
        return shifted[(y - box.y) * box.width + (x - box.x)]
    }

    /// Writes the shifted values at frame pixels `indices` (row-major frame indices, inside the
    /// region given at `init`) to `output`, NaN where the source lies outside the frame.
    public func samples(at indices: UnsafeBufferPointer<Int>, frameWidth: Int, into output: UnsafeMutableBufferPointer<Float>) {
        let maxX = Double(frameSize.width - 1), maxY = Double(frameSize.height - 1)
        let (dx, dy) = lastShift
        let bw = box.width, bx = box.x, by = box.y
        shifted.withUnsafeBufferPointer { s in
            // The row (and its check) changes only where the indices enter another row.
            var y = -1, rowStart = -frameWidth, rowInside = false, rowBase = 0
            for k in 0..<indices.count {
                let i = indices[k]
                if i < rowStart || i >= rowStart + frameWidth {
                    y = i / frameWidth
                    rowStart = y * frameWidth
                    let sy = Double(y) + dy
                    rowInside = !(sy < 0 || sy > maxY)
                    rowBase = (y - by) * bw - bx
                }
                let x = i - rowStart
                let sx = Double(x) + dx
                if !rowInside || sx < 0 || sx > maxX { output[k] = .nan; continue }
                output[k] = s[rowBase + x]
            }
        }
    }
}
