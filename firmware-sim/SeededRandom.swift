import Foundation
import Imaging

// Deterministic randomness for the simulated rig: the same seed gives the same frames, samples and
// drift path on every machine. Foundation's generators are not seedable (and differ across platforms),
// so this file carries its own: xoshiro256** for the streams, seeded through Imaging's SplitMix64.

/// xoshiro256** (Blackman & Vigna): fast, 256-bit state, passes BigCrush. One independent stream per
/// noise source (`stream:`), so adding frames never changes the potentiostat's noise and vice versa.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spareNormal: Double?

    /// - Parameters:
    ///   - seed: the rig's seed.
    ///   - stream: which noise source; different streams of one seed are independent.
    public init(seed: UInt64, stream: UInt64 = 0) {
        var sm = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }   // the all-zero state is a fixed point
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal by the Box–Muller transform (exact; the spare value is kept for the next call).
    public mutating func normal() -> Double {
        if let z = spareNormal { spareNormal = nil; return z }
        var u1 = uniform()
        while u1 <= 0 { u1 = uniform() }
        let u2 = uniform()
        let r = (-2 * log(u1)).squareRoot()
        spareNormal = r * sin(2 * Double.pi * u2)
        return r * cos(2 * Double.pi * u2)
    }
}

/// Standard normals for per-pixel noise, five per 64-bit draw, from a 4096-entry inverse-CDF table
/// (bin mid-points, so tails stop at ±3.6σ). Box–Muller costs a log, a sqrt and a cosine per pair;
/// a 1920×1200 frame needs 2.3 M normals, so the table is what keeps rendering near memory speed.
/// The table's variance is renormalised to exactly 1 so noise statistics are unbiased.
public struct NormalTable: Sendable {
    /// Table values, Φ⁻¹((k + ½)/4096) scaled to unit variance.
    public let values: [Float]

    public init() {
        let n = 4096
        var v = [Double](repeating: 0, count: n)
        for k in 0..<n { v[k] = NormalTable.inverseCDF((Double(k) + 0.5) / Double(n)) }
        let variance = v.reduce(0) { $0 + $1 * $1 } / Double(n)
        let s = 1 / variance.squareRoot()
        values = v.map { Float($0 * s) }
    }

    /// Φ⁻¹(p) by Acklam's rational approximation refined with one Halley step (|error| < 1e-12).
    public static func inverseCDF(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549671010243485e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let plow = 0.02425
        var x: Double
        if p < plow {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - plow {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
                (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}
