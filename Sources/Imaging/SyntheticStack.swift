// Synthetic operando stacks with known truth, for tests, benchmarks and demos: an elliptical particle
// whose total contrast field is prescribed, a Gaussian fiducial, subpixel drift, PSF blur and noise.
// The scene is evaluated at (x − dx, y − dy), so drift is exact at any subpixel value.
import Foundation

/// A recipe for a synthetic stack. All lengths in pixels, intensities in camera counts.
public struct SyntheticStack: Sendable {
    /// Frame width.
    public var width = 128
    /// Frame height.
    public var height = 128
    /// Particle centre in frame 0.
    public var particleCentre: (x: Double, y: Double) = (52, 64)
    /// Particle semi-axes (x, y).
    public var particleSemiAxes: (a: Double, b: Double) = (22, 15)
    /// Background intensity.
    public var backgroundIntensity = 1000.0
    /// Particle intensity at zero contrast.
    public var particleIntensity = 3000.0
    /// Fiducial centre in frame 0 (nil: no fiducial).
    public var fiducial: (x: Double, y: Double)? = (104, 30)
    /// Fiducial peak height above background.
    public var fiducialAmplitude = 2500.0
    /// Fiducial standard deviation.
    public var fiducialSigma = 1.4
    /// PSF blur (Gaussian σ) applied to the particle.
    public var psfSigma = 1.0
    /// Additive Gaussian noise σ (a binned frame's residual shot noise).
    public var noiseSigma = 8.0
    /// Random seed for the noise.
    public var seed: UInt64 = 1
    /// Total contrast I_k/I_0 − 1 at a particle point (x, y relative to the particle centre, pixels)
    /// in frame k.
    public var contrast: @Sendable (_ x: Double, _ y: Double, _ frame: Int) -> Double = { _, _, _ in 0 }
    /// Drift (dx, dy) of frame k's content relative to frame 0.
    public var drift: @Sendable (_ frame: Int) -> (dx: Double, dy: Double) = { _ in (0, 0) }

    /// A default recipe (no contrast, no drift).
    public init() {}

    /// Renders frame `k`.
    public func frame(_ k: Int) -> BinnedFrame {
        let d = drift(k)
        var scene = [Float](repeating: 0, count: width * height)
        let a = particleSemiAxes.a, b = particleSemiAxes.b
        for y in 0..<height {
            let sy = Double(y) - d.dy - particleCentre.y
            for x in 0..<width {
                let sx = Double(x) - d.dx - particleCentre.x
                // Signed distance to the ellipse, approximated by the radial scaling (good near the rim).
                let r = ((sx / a) * (sx / a) + (sy / b) * (sy / b)).squareRoot()
                let radius = r > 0 ? (sx * sx + sy * sy).squareRoot() / r : min(a, b)
                let inside = 1 / (1 + exp(-(1 - r) * radius / 0.5))
                var value = backgroundIntensity + (particleIntensity - backgroundIntensity) * inside
                if inside > 1e-4 { value *= 1 + inside * contrast(sx, sy, k) }
                scene[y * width + x] = Float(value)
            }
        }
        var out = ImageOps.gaussianBlur(BinnedFrame(width: width, height: height, pixels: scene), sigmaPixels: psfSigma)
        var rng = SplitMix64(seed: seed &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15)
        for y in 0..<height {
            for x in 0..<width {
                var v = Double(out[x, y])
                if let f = fiducial {
                    let u = (Double(x) - d.dx - f.x) / fiducialSigma, w = (Double(y) - d.dy - f.y) / fiducialSigma
                    v += fiducialAmplitude * exp(-0.5 * (u * u + w * w))
                }
                out[x, y] = Float(v + noiseSigma * rng.nextGaussian())
            }
        }
        return out
    }

    /// Writes `frameCount` frames to a float32 TIFF with ImageJ metadata.
    public func write(to path: String, frameCount: Int, pixelSizeMicrometres: Double = 0.0347,
                      frameIntervalSeconds: Double = 3) throws {
        let writer = try TIFFStackWriter(path: path, sampleType: .float32, pixelSizeMicrometres: pixelSizeMicrometres,
                                         frameIntervalSeconds: frameIntervalSeconds)
        for k in 0..<frameCount { try writer.append(frame(k)) }
        try writer.close()
    }
}

/// SplitMix64: a small seeded generator, the same on every platform, for everything that must
/// reproduce (synthetic stacks, the calibration's bootstrap, fuzzing campaigns, benchmark resampling).
public struct SplitMix64: Sendable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Double {
        let u1 = max(nextUniform(), 1e-300), u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    /// Uniform in 0..<n (n > 0; the modulo bias is below n/2⁶⁴).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
