// seed Eq. 1 and Fig. S12 metrics on drift-corrected float frames. Contrast images carry NaN outside
// the particle mask; every reduction skips NaN, so a pixel lost at the frame edge by the drift shift
// simply drops out.
import Foundation

/// Per-frame contrast metrics.
public enum ContrastMetrics {
    /// Total contrast I_k/I_0 − 1 (seed Eq. 1) inside `mask`, NaN outside it.
    public static func totalContrast(_ frame: BinnedFrame, reference: BinnedFrame, mask: Mask) -> BinnedFrame {
        var out = [Float](repeating: .nan, count: frame.pixels.count)
        for i in mask.bits.indices where mask.bits[i] {
            let r = reference.pixels[i]
            if r != 0 { out[i] = frame.pixels[i] / r - 1 }
        }
        return BinnedFrame(width: frame.width, height: frame.height, pixels: out)
    }

    /// Sequential differential contrast (I_k − I_{k−x})/I_{k−x} (seed Fig. S12) inside `mask`.
    public static func sequentialDifferentialContrast(_ frame: BinnedFrame, earlier: BinnedFrame, mask: Mask) -> BinnedFrame {
        totalContrast(frame, reference: earlier, mask: mask)
    }

    /// Mean and population standard deviation of the finite pixels of `image` inside `mask`.
    public static func meanAndStandardDeviation(_ image: BinnedFrame, mask: Mask) -> (mean: Double, standardDeviation: Double) {
        var n = 0.0, sum = 0.0, sumSquares = 0.0
        for i in mask.bits.indices where mask.bits[i] {
            let v = Double(image.pixels[i])
            if v.isFinite { n += 1; sum += v; sumSquares += v * v }
        }
        guard n > 0 else { return (.nan, .nan) }
        let mean = sum / n
        return (mean, max(0, sumSquares / n - mean * mean).squareRoot())
    }

    /// Normalised intensity change: the mean total contrast over the particle (seed: "integrating the
    /// total contrast values over an entire active particle", taken per pixel so particles compare).
    public static func normalisedIntensityChange(_ contrast: BinnedFrame, mask: Mask) -> Double {
        meanAndStandardDeviation(contrast, mask: mask).mean
    }

    /// Mean of the finite pixels within `radiusPixels` of `centre` (the particle centre contrast).
    public static func diskMean(_ image: BinnedFrame, centre: (x: Double, y: Double), radiusPixels: Double = 3) -> Double {
        var n = 0.0, sum = 0.0
        let r = Int(radiusPixels.rounded(.up)) + 1
        let cx = Int(centre.x.rounded()), cy = Int(centre.y.rounded())
        for y in max(0, cy - r)...min(image.height - 1, cy + r) {
            for x in max(0, cx - r)...min(image.width - 1, cx + r) {
                let dx = Double(x) - centre.x, dy = Double(y) - centre.y
                guard dx * dx + dy * dy <= radiusPixels * radiusPixels else { continue }
                let v = Double(image[x, y])
                if v.isFinite { n += 1; sum += v }
            }
        }
        return n > 0 ? sum / n : .nan
    }

    /// A line profile from `start` to `end`, sampled every `stepPixels` and averaged across the line
    /// over `widthPixels` (1 = the line itself), bilinear interpolation, NaN-skipping.
    /// Positions are distances from `start` in pixels.
    public static func lineProfile(_ image: BinnedFrame, from start: (x: Double, y: Double), to end: (x: Double, y: Double),
                                   widthPixels: Int = 3, stepPixels: Double = 1) -> [(positionPixels: Double, value: Double)] {
        let length = hypot(end.x - start.x, end.y - start.y)
        guard length > 0, stepPixels > 0 else { return [] }
        let ux = (end.x - start.x) / length, uy = (end.y - start.y) / length
        let nx = -uy, ny = ux
        let half = Double(max(1, widthPixels) - 1) / 2
        var out: [(Double, Double)] = []
        var s = 0.0
        while s <= length + 1e-9 {
            var n = 0.0, sum = 0.0
            var o = -half
            while o <= half + 1e-9 {
                let v = Double(ImageOps.bilinear(image, x: start.x + s * ux + o * nx, y: start.y + s * uy + o * ny))
                if v.isFinite { n += 1; sum += v }
                o += 1
            }
            out.append((s, n > 0 ? sum / n : .nan))
            s += stepPixels
        }
        return out
    }

    /// The SDC drop — the one definition the analysis, its summary (`sdc_drop_time_s`), the report
    /// and the demo use: the moment the delithiation front reaches the particle centre.
    ///
    /// Seed Fig. S12 E–H (red arrows): "a sharp drop in standard deviation [of the sequential
    /// differential contrast] which occurs when the propagating delithiation front reaches the centre
    /// of the particle, marking the disappearance of the core-shell type lithium heterogeneity";
    /// Fig. S12 I uses it to bound the SoC range over which that heterogeneity exists, and the model of
    /// Supplementary Section 1 shows the same moment as the centre's delayed, then quick, delithiation
    /// (Fig. 3F). So it is a feature of the first delithiation (charge), not of the start-of-charge
    /// transient or of a later discharge.
    ///
    /// Operationally: `sdcStandardDeviation[k]` compares frame k with frame k − `lagFrames`, so it
    /// measures change over that interval and is placed at the interval's midpoint time. The series is
    /// smoothed over ~lag/4 frames. With `intensityChange` (the normalised intensity change, which rises
    /// as lithium leaves), the search is limited to the first delithiation: frames up to the maximum of
    /// the smoothed intensity change. There, the drop is the stretch after the last prominent SDC
    /// maximum (one the series falls from by ≥ 20 % of its overall peak; a start-of-charge transient
    /// can be higher and earlier) where its slope (over ±lag/2) is at least half the steepest descent, and its time is the slope-weighted
    /// centre of that stretch. A drop smaller than 20 % of the peak is not reported (nil).
    public static func sdcDropTime(timesSeconds: [Double], sdcStandardDeviation: [Double], lagFrames: Int,
                                   intensityChange: [Double]? = nil) -> Double? {
        var n = min(timesSeconds.count, sdcStandardDeviation.count)
        if let change = intensityChange, change.count >= n, n > 0 {
            // End of the first delithiation: the smoothed intensity change's maximum (± lag/4 frames).
            let half = max(1, lagFrames / 4)
            var best = -Double.infinity, end = n - 1
            var sum = 0.0, count = 0.0
            for k in 0..<min(n, half) where change[k].isFinite { sum += change[k]; count += 1 }
            for k in 0..<n {
                if k + half < n, change[k + half].isFinite { sum += change[k + half]; count += 1 }
                if k - half - 1 >= 0, change[k - half - 1].isFinite { sum -= change[k - half - 1]; count -= 1 }
                if count > 0, sum / count > best { best = sum / count; end = k }
            }
            // Only a maximum that leaves room for a lagged series and its fall narrows the search.
            if end + 1 > lagFrames + 4 { n = end + 1 }
        }
        guard lagFrames >= 1, n > lagFrames + 4 else { return nil }
        let smoothHalf = max(0, lagFrames / 8)
        var smooth = [Double](repeating: .nan, count: n)
        for k in 0..<n {
            var c = 0.0, s = 0.0
            for j in max(0, k - smoothHalf)...min(n - 1, k + smoothHalf) where sdcStandardDeviation[j].isFinite {
                c += 1; s += sdcStandardDeviation[j]
            }
            if c > 0 { smooth[k] = s / c }
        }
        guard let top = smooth.indices.filter({ smooth[$0].isFinite }).max(by: { smooth[$0] < smooth[$1] }) else { return nil }
        // The heterogeneity the front carries ends at the *last* prominent maximum: a start-of-charge
        // transient (the rim changing while nothing else does) can be the series' highest point, with
        // the front's own rise and fall after it. Prominent: the series falls by ≥ 20 % of the overall
        // peak after it before it climbs above it again.
        var peak = top
        for k in stride(from: n - 2, to: top, by: -1) where smooth[k].isFinite {
            guard k >= 1, smooth[k] >= smooth[k - 1] || !smooth[k - 1].isFinite, smooth[k] >= smooth[k + 1] || !smooth[k + 1].isFinite else { continue }
            var lowest = smooth[k]
            var j = k + 1
            while j < n, !(smooth[j] > smooth[k]) { if smooth[j] < lowest { lowest = smooth[j] }; j += 1 }
            if smooth[k] - lowest >= 0.2 * smooth[top] { peak = k; break }
        }
        let h = max(1, lagFrames / 2)
        var slope = [Double](repeating: .nan, count: n)
        for k in peak..<n {
            let a = max(peak, k - h), b = min(n - 1, k + h)
            if b > a, smooth[a].isFinite, smooth[b].isFinite { slope[k] = (smooth[b] - smooth[a]) / Double(b - a) }
        }
        guard let steepest = (peak..<n).filter({ slope[$0].isFinite }).min(by: { slope[$0] < slope[$1] }),
              slope[steepest] < 0 else { return nil }
        let after = smooth[min(n - 1, steepest + h)], before = smooth[max(peak, steepest - h)]
        guard before - after > 0.2 * smooth[peak] else { return nil }
        var lo = steepest, hi = steepest
        while lo - 1 >= peak, slope[lo - 1].isFinite, slope[lo - 1] <= 0.5 * slope[steepest] { lo -= 1 }
        while hi + 1 < n, slope[hi + 1].isFinite, slope[hi + 1] <= 0.5 * slope[steepest] { hi += 1 }
        var weight = 0.0, time = 0.0
        for k in lo...hi where k - lagFrames >= 0 {
            let midpoint = 0.5 * (timesSeconds[k] + timesSeconds[k - lagFrames])
            weight += -slope[k]; time += -slope[k] * midpoint
        }
        return weight > 0 ? time / weight : nil
    }
}
