import Foundation
import Imaging

/// A recorded frame as the page draws it: the raw frame quantised to 8 bits between its finite minimum
/// and maximum, and the total contrast ΔI/I₀ quantised on a symmetric scale so that zero is the middle
/// of the diverging colour map. 8 bits is what a screen shows; it keeps a 256 × 256 frame near 90 kB
/// of base64 per client, so a frame reaches a browser on a lab network well inside a second.
struct LiveFrame: Sendable {
    var frame: Int
    var timeSeconds: Double
    var step: Int
    var width: Int
    var height: Int
    var rawLow: Float
    var rawHigh: Float
    /// 0…255 between rawLow and rawHigh; NaN pixels are 0.
    var raw: [UInt8]
    /// |ΔI/I₀| that maps to the ends of the colour map (the 99th percentile of |ΔI/I₀|, at least 1e-4).
    var contrastScale: Float
    /// 0: no value (outside the particle, or no reference yet); 1…255: −scale…+scale, 128 is zero.
    var contrast: [UInt8]
    /// Mean ΔI/I₀ of the image (over its finite pixels), for the page's caption.
    var contrastMean: Double

    static func quantiseRaw(_ f: BinnedFrame) -> (Float, Float, [UInt8]) {
        var lo = Float.infinity, hi = -Float.infinity
        for p in f.pixels where p.isFinite { lo = min(lo, p); hi = max(hi, p) }
        var out = [UInt8](repeating: 0, count: f.pixels.count)
        guard lo.isFinite, hi > lo else { return (lo.isFinite ? lo : 0, lo.isFinite ? lo : 0, out) }
        let k = 255 / (hi - lo)
        for i in f.pixels.indices where f.pixels[i].isFinite { out[i] = UInt8(max(0, min(255, ((f.pixels[i] - lo) * k).rounded()))) }
        return (lo, hi, out)
    }

    static func quantiseContrast(_ c: [Float]) -> (Float, [UInt8], Double) {
        var magnitudes: [Float] = []
        magnitudes.reserveCapacity(c.count)
        var sum = 0.0, n = 0
        for v in c where v.isFinite { magnitudes.append(abs(v)); sum += Double(v); n += 1 }
        var out = [UInt8](repeating: 0, count: c.count)
        guard !magnitudes.isEmpty else { return (0, out, .nan) }
        magnitudes.sort()
        let scale = max(1e-4, magnitudes[min(magnitudes.count - 1, Int(Double(magnitudes.count) * 0.99))])
        for i in c.indices where c[i].isFinite {
            let u = (c[i] / scale) * 127 + 128
            out[i] = UInt8(max(1, min(255, u.rounded())))
        }
        return (scale, out, sum / Double(n))
    }

    /// The `frame` message's JSON text.
    func json(seq: Int, pixelSizeMicrometres: Double, serverMilliseconds: Double) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.field("type", "frame")
        w.field("seq", seq)
        w.field("frame", frame)
        w.field("t", timeSeconds)
        w.field("step", step)
        w.field("width", width)
        w.field("height", height)
        w.field("pixelSizeUm", pixelSizeMicrometres)
        w.field("serverMs", serverMilliseconds)
        w.beginObject("raw")
        w.field("lo", Double(rawLow))
        w.field("hi", Double(rawHigh))
        w.field("b64", Data(raw).base64EncodedString())
        w.endObject()
        w.beginObject("contrast")
        w.field("scale", Double(contrastScale))
        w.field("mean", contrastMean)
        w.field("b64", Data(contrast).base64EncodedString())
        w.endObject()
        w.endObject()
        return w.text
    }
}

/// Total contrast ΔI/I₀ (seed Eq. 1) against the first frame with data, over the particle found in
/// that frame (Otsu threshold, largest component), NaN elsewhere. Not drift-corrected: the on-line
/// monitor's numbers (monitor.csv) are; this image is for the eye.
struct ContrastReference {
    private(set) var reference: BinnedFrame?
    private var mask: Mask?

    /// The contrast of `frame`, or nil when there is no reference yet (or the frame has no data / another size).
    mutating func contrast(of frame: BinnedFrame, exposures: Int) -> [Float]? {
        let hasData = exposures > 0 && frame.pixels.contains { $0.isFinite }
        if reference == nil {
            guard hasData else { return nil }
            reference = frame
            let threshold = Masking.otsuThreshold(frame)
            mask = (try? Masking.particleMask(frame, threshold: threshold, source: "live view")) ?? Mask(frame, threshold: threshold)
        }
        guard let reference, let mask, hasData, frame.width == reference.width, frame.height == reference.height else { return nil }
        return ContrastMetrics.totalContrast(frame, reference: reference, mask: mask).pixels
    }
}
