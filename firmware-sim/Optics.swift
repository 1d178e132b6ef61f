import Foundation
import Imaging
import ParticleModel

// Units: sensor pixels for image geometry, µm in the sample plane, electrons and ADC counts (DN) for
// the sensor, seconds for times. Scene values are reflectances relative to the particle at θ_ref.

/// The seed's optics and sensor (Experimental Procedures: 100× oil objective, 166.7× overall
/// magnification, 34.7 nm pixels in the sample plane, 740 nm LED, diffraction-limited to 265 nm,
/// FLIR Grasshopper3 GS3-U3-23S6M-C = Sony IMX174: 1920×1200, 12-bit ADC).
public struct OpticsParameters: Sendable, Equatable {
    /// LED centre wavelength, nm (seed: 740 nm; for the dataset's metadata, the PSF uses the resolution).
    public var ledWavelengthNanometres = 740.0
    /// Pixel size in the sample plane, µm (seed: 34.7 nm px⁻¹).
    public var pixelSizeMicrometres = 0.0347
    /// Lateral resolution, taken as the FWHM of a Gaussian PSF, µm (seed: 265 nm = λ/2NA at 740 nm, NA 1.4).
    public var resolutionMicrometres = 0.265
    /// A of seed Eq. 17: reflectance ∝ 1 + A·(θ_ref − θ).
    public var opticalGain = 1 / 0.95
    /// θ at which the particle's reflectance is its reference (seed Eq. 17: θ0 = 0.95).
    public var referenceTheta = 0.95
    /// Electrons per ms of LED-lit exposure from the particle at θ_ref (≈ 37 % of full well at 2.5 ms,
    /// leaving room for the +60…75 % of a full charge at 3.5 ms).
    public var particleElectronsPerMillisecond = 4800.0
    /// Mean reflectance of the carbon/binder background, relative to the particle.
    public var backgroundLevel = 0.16
    /// Relative rms texture of the background.
    public var backgroundTexture = 0.35
    /// Uniform reflection of the glass/electrolyte interface (the interferometric reference), relative.
    public var glassReflectance = 0.08
    /// Peak of the blurred fiducial spot, relative to the particle at θ_ref.
    public var fiducialPeak = 1.4
    /// Diameter of the illuminated field, µm (seed: field aperture, 35 µm circle).
    public var illuminationDiameterMicrometres = 35.0
    /// Sensor full well, electrons (IMX174 ≈ 32 500 e⁻).
    public var fullWellElectrons = 32_500.0
    /// Conversion gain, electrons per DN: the full well maps just past the 12-bit range, so a
    /// saturated pixel reads 4095 as on the camera.
    public var gainElectronsPerDN = 7.9
    /// Read noise, electrons rms (IMX174 ≈ 7 e⁻).
    public var readNoiseElectrons = 7.0
    /// Black level (offset), DN.
    public var blackLevelDN = 32.0
    /// Dark current, electrons per second.
    public var darkCurrentElectronsPerSecond = 20.0
    /// Hot pixels per megapixel of sensor.
    public var hotPixelsPerMegapixel = 60.0
    /// Mean extra dark signal of a hot pixel, electrons per ms of exposure.
    public var hotPixelElectronsPerMillisecond = 400.0
    /// Multiplier of all noise (0: noiseless frames, for tests).
    public var noise = 1.0
    /// Sensor size, pixels.
    public var sensorWidth = 1920
    public var sensorHeight = 1200
    /// Where the particle's centroid sits on the sensor at zero drift, pixels (off-centre by a
    /// fraction so nothing lines up with the pixel grid by accident).
    public var particleCentrePixels = (x: 960.3, y: 600.4)
    /// Fiducial spot relative to the particle centroid, pixels (outside the particle, inside a 256² ROI).
    public var fiducialOffsetPixels = (x: 52.3, y: -61.7)

    public init() {}

    public static func == (a: OpticsParameters, b: OpticsParameters) -> Bool {
        a.pixelSizeMicrometres == b.pixelSizeMicrometres && a.resolutionMicrometres == b.resolutionMicrometres
            && a.opticalGain == b.opticalGain && a.referenceTheta == b.referenceTheta
            && a.particleElectronsPerMillisecond == b.particleElectronsPerMillisecond && a.noise == b.noise
            && a.particleCentrePixels == b.particleCentrePixels && a.fiducialOffsetPixels == b.fiducialOffsetPixels
            && a.sensorWidth == b.sensorWidth && a.sensorHeight == b.sensorHeight
    }

    /// Gaussian PSF standard deviation, pixels.
    public var psfSigmaPixels: Double { resolutionMicrometres / (8 * log(2)).squareRoot() / pixelSizeMicrometres }
    /// Highest ADC code (12-bit).
    public static let adcMaximum: UInt16 = 4095
}

/// Renders camera exposures of the imaged particle: scene (textured background, illumination disc,
/// fiducial, particle reflectance from the model's θ field) → separable Gaussian PSF with the drift's
/// sub-pixel shift folded into the kernel → electrons from the LED-lit time → shot and read noise,
/// hot pixels, full well → 12-bit ADC codes in 16-bit words (low 12 bits, GenICam Mono12 unpacked).
///
/// Everything that does not change from frame to frame is precomputed per ROI: the θ sampling points
/// of the particle, the static scene, and its blurred image for the current drift phase (drift is
/// quantised to 1/16 px ≈ 2 nm, so a slow drift re-blurs the background only every few hundred
/// frames). Per frame only the particle's neighbourhood is blurred; `render` does not allocate.
public final class OpticsRenderer {
    /// The optics and sensor rendered.
    public let parameters: OpticsParameters
    /// The region of the sensor rendered, pixels.
    public let roiX: Int, roiY: Int, roiWidth: Int, roiHeight: Int
    let sigma: Double
    let radius: Int                 // taps m ∈ [−radius, radius + 1]
    static let phases = 16

    // Static scene window (sensor coordinates wx0…, size ww × wh), its blur cache.
    private var wx0 = 0, wy0 = 0, ww = 0, wh = 0
    private var anchorX = 0, anchorY = 0          // integer drift the window was built around
    private let driftAllowance = 24
    private var scene: [Float] = []
    private var blurred: [Float] = []
    private var scratch: [Float] = []
    private var cachedPhase = (x: -1, y: -1)

    // Particle region (sensor coordinates, zero drift): bounding box padded by 2(radius+1).
    let px0: Int, py0: Int, pw: Int, ph: Int
    private let particleIllumination: [Float]     // illumination at each particle pixel
    private let particleIndex: [Int32]            // region index of each particle pixel
    private let particleInside: [Bool]
    private let sampler: ThetaSampler
    private var theta: [Float]
    private var pScene: [Float]
    private var pH: [Float]
    private var pV: [Float]

    private var expected: [Float]
    private var gaussians: [Float]
    private var hotIndex: [Int32] = []
    private var hotElectronsPerSecond: [Float] = []
    private let normals: [Float]
    private var kernelX: [Float]
    private var kernelY: [Float]

    /// - Parameters:
    ///   - particle: the imaged particle (its mesh fixes where θ is sampled).
    ///   - roi: sensor region to render (must lie on the sensor).
    ///   - seed: fixes the background texture and the hot pixels.
    public init(parameters: OpticsParameters, particle: ParticleCell, roiX: Int, roiY: Int, roiWidth: Int, roiHeight: Int, seed: UInt64) {
        self.parameters = parameters
        self.roiX = roiX; self.roiY = roiY; self.roiWidth = roiWidth; self.roiHeight = roiHeight
        sigma = parameters.psfSigmaPixels
        radius = Int((3.5 * sigma).rounded(.up))
        let taps = 2 * radius + 2
        kernelX = Array(repeating: 0, count: taps)
        kernelY = Array(repeating: 0, count: taps)
        normals = NormalTable().values
        expected = Array(repeating: 0, count: roiWidth * roiHeight)
        gaussians = Array(repeating: 0, count: roiWidth * roiHeight)

        // Particle bounding box on the sensor (y up in the particle's plane, rows down on the sensor).
        let p = parameters.pixelSizeMicrometres
        let (cx, cy) = parameters.particleCentrePixels
        let xs = particle.mesh.nodes.map(\.x), ys = particle.mesh.nodes.map(\.y)
        let pad = 2 * (radius + 1)
        let bx0 = Int((cx + xs.min()! / p).rounded(.down)) - 1, bx1 = Int((cx + xs.max()! / p).rounded(.up)) + 1
        let by0 = Int((cy - ys.max()! / p).rounded(.down)) - 1, by1 = Int((cy - ys.min()! / p).rounded(.up)) + 1
        px0 = bx0 - pad; py0 = by0 - pad
        pw = bx1 - bx0 + 2 * pad; ph = by1 - by0 + 2 * pad
        var points: [Point2] = []
        points.reserveCapacity(pw * ph)
        for r in 0..<ph {
            for c in 0..<pw {
                points.append(Point2((Double(px0 + c) + 0.5 - cx) * p, -(Double(py0 + r) + 0.5 - cy) * p))
            }
        }
        // Find the pixels inside the particle once, then sample θ only there every frame.
        let probe = particle.sampler(points: points)
        var probeTheta = [Float](repeating: .nan, count: pw * ph)
        particle.sample(probe, into: &probeTheta)
        var inside = [Bool](repeating: false, count: pw * ph)
        var index: [Int32] = [], illum: [Float] = [], insidePoints: [Point2] = []
        for k in 0..<(pw * ph) where !probeTheta[k].isNaN {
            inside[k] = true
            index.append(Int32(k))
            insidePoints.append(points[k])
            illum.append(Float(OpticsRenderer.illumination(parameters, Double(px0 + k % pw) + 0.5, Double(py0 + k / pw) + 0.5)))
        }
        particleInside = inside
        particleIndex = index
        particleIllumination = illum
        sampler = particle.sampler(points: insidePoints)
        theta = Array(repeating: 0, count: insidePoints.count)
        pScene = Array(repeating: 0, count: pw * ph)
        pH = Array(repeating: 0, count: pw * ph)
        pV = Array(repeating: 0, count: pw * ph)

        // Hot pixels: fixed on the sensor (they do not drift), drawn from the seed.
        var rng = SeededRandom(seed: seed, stream: 5)
        let count = Int((parameters.hotPixelsPerMegapixel * Double(parameters.sensorWidth * parameters.sensorHeight) / 1e6).rounded())
        for _ in 0..<count {
            let x = Int(rng.next() % UInt64(parameters.sensorWidth)), y = Int(rng.next() % UInt64(parameters.sensorHeight))
            let strength = parameters.hotPixelElectronsPerMillisecond * 1000 * exp(0.7 * rng.normal() - 0.245)
            if x >= roiX, x < roiX + roiWidth, y >= roiY, y < roiY + roiHeight {
                hotIndex.append(Int32((y - roiY) * roiWidth + (x - roiX)))
                hotElectronsPerSecond.append(Float(strength))
            }
        }
        textureSeed = seed
        buildWindow(anchorX: 0, anchorY: 0)
    }

    private let textureSeed: UInt64

    /// Hot pixels inside the ROI (ROI-relative x, y).
    public var hotPixels: [(x: Int, y: Int)] { hotIndex.map { (Int($0) % roiWidth, Int($0) / roiWidth) } }

    /// Relative illumination at a sensor position (flat-top disc of the field aperture, soft 1 µm edge).
    static func illumination(_ o: OpticsParameters, _ x: Double, _ y: Double) -> Double {
        let p = o.pixelSizeMicrometres
        let dx = (x - Double(o.sensorWidth) / 2) * p, dy = (y - Double(o.sensorHeight) / 2) * p
        let r = (dx * dx + dy * dy).squareRoot()
        return 0.5 * erfc((r - o.illuminationDiameterMicrometres / 2) / 1.0)
    }

    /// Deterministic lattice noise in sensor coordinates (independent of the window), roughly N(0, 1).
    private func latticeNormal(_ i: Int, _ j: Int, _ octave: UInt64) -> Double {
        var h = SplitMix64(seed: textureSeed &* 0x9E37_79B9 ^ (UInt64(bitPattern: Int64(i)) &* 0xA24B_AED4_963E_E407)
                           ^ (UInt64(bitPattern: Int64(j)) &* 0x9FB2_1C65_1E98_DF25) ^ (octave << 56))
        return Double(normals[Int(h.next() >> 52)])
    }

    private func valueNoise(_ x: Double, _ y: Double, spacing: Double, octave: UInt64) -> Double {
        let u = x / spacing, v = y / spacing
        let i = Int(u.rounded(.down)), j = Int(v.rounded(.down))
        let fu = u - Double(i), fv = v - Double(j)
        let su = fu * fu * (3 - 2 * fu), sv = fv * fv * (3 - 2 * fv)
        let a = latticeNormal(i, j, octave), b = latticeNormal(i + 1, j, octave)
        let c = latticeNormal(i, j + 1, octave), d = latticeNormal(i + 1, j + 1, octave)
        return (a * (1 - su) + b * su) * (1 - sv) + (c * (1 - su) + d * su) * sv
    }

    /// Builds the static scene around an integer drift (rare: only when drift leaves the margin).
    private func buildWindow(anchorX ax: Int, anchorY ay: Int) {
        anchorX = ax; anchorY = ay
        let margin = radius + 2 + driftAllowance
        wx0 = roiX - ax - margin; wy0 = roiY - ay - margin
        ww = roiWidth + 2 * margin; wh = roiHeight + 2 * margin
        let o = parameters
        scene = Array(repeating: 0, count: ww * wh)
        for r in 0..<wh {
            for c in 0..<ww {
                let x = Double(wx0 + c) + 0.5, y = Double(wy0 + r) + 0.5
                let tex = 0.75 * valueNoise(x, y, spacing: 9, octave: 1) + 0.45 * valueNoise(x, y, spacing: 3.5, octave: 2)
                let bg = max(0.02, o.backgroundLevel * (1 + o.backgroundTexture * tex))
                scene[r * ww + c] = Float((bg + o.glassReflectance) * OpticsRenderer.illumination(o, x, y))
            }
        }
        // The particle occludes the background: zero here, its reflectance is added per frame.
        for r in 0..<ph {
            for c in 0..<pw where particleInside[r * pw + c] {
                let sx = px0 + c - wx0, sy = py0 + r - wy0
                if sx >= 0, sx < ww, sy >= 0, sy < wh { scene[sy * ww + sx] = 0 }
            }
        }
        // Fiducial: a point source splatted bilinearly, so its blurred image peaks at `fiducialPeak`.
        let fx = o.particleCentrePixels.x + o.fiducialOffsetPixels.x - 0.5 - Double(wx0)
        let fy = o.particleCentrePixels.y + o.fiducialOffsetPixels.y - 0.5 - Double(wy0)
        let flux = o.fiducialPeak * 2 * Double.pi * sigma * sigma
            * OpticsRenderer.illumination(o, fx + Double(wx0) + 0.5, fy + Double(wy0) + 0.5)
        let ix = Int(fx.rounded(.down)), iy = Int(fy.rounded(.down))
        let ax = fx - Double(ix), ay = fy - Double(iy)
        for (dx, dy, w) in [(0, 0, (1 - ax) * (1 - ay)), (1, 0, ax * (1 - ay)), (0, 1, (1 - ax) * ay), (1, 1, ax * ay)] {
            let sx = ix + dx, sy = iy + dy
            if sx >= 0, sx < ww, sy >= 0, sy < wh { scene[sy * ww + sx] += Float(flux * w) }
        }
        blurred = Array(repeating: 0, count: ww * wh)
        scratch = Array(repeating: 0, count: ww * wh)
        cachedPhase = (-1, -1)
    }

    private static func fillKernel(_ k: inout [Float], sigma: Double, radius: Int, phase: Double) {
        var sum = 0.0
        for t in 0..<k.count {
            let m = Double(t - radius) - phase
            let w = exp(-m * m / (2 * sigma * sigma))
            k[t] = Float(w); sum += w
        }
        for t in 0..<k.count { k[t] = Float(Double(k[t]) / sum) }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self) }

    /// dst[i] = Σ_t k[t] · src[i − (t − radius)·stride] for i in 0..<n: all taps accumulated in
    /// registers, eight outputs at a time (explicit SIMD: the auto-vectoriser leaves this scalar).
    @inline(__always)
    static func convolve(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, n: Int, stride: Int,
                         kernel k: UnsafeBufferPointer<Float>, radius: Int) {
        var i = 0
        while i + 8 <= n {
            var acc = SIMD8<Float>()
            for t in 0..<k.count { acc += SIMD8(repeating: k[t]) * load8(src + i - (t - radius) * stride) }
            store8(acc, dst + i)
            i += 8
        }
        while i < n {
            var acc: Float = 0
            for t in 0..<k.count { acc += k[t] * src[i - (t - radius) * stride] }
            dst[i] = acc
            i += 1
        }
    }

    /// out[r, c] = Σ_m kx[m] · in[r, c − m], then Σ_n ky[n] · ·[r − n, c], over a w × h buffer; the
    /// border of width radius+1 is left invalid.
    private static func separableBlur(_ input: UnsafeBufferPointer<Float>, _ tmp: UnsafeMutableBufferPointer<Float>,
                                      _ output: UnsafeMutableBufferPointer<Float>, width w: Int, height h: Int,
                                      kx: UnsafeBufferPointer<Float>, ky: UnsafeBufferPointer<Float>, radius: Int,
                                      nonzeroRows: Range<Int>? = nil) {
        let lo = radius + 1, hiX = w - radius, hiY = h - radius
        guard hiX > lo, hiY > lo else { return }
        let n = hiX - lo
        // Rows known to be zero in the input stay zero in `tmp` (it starts zeroed and is never written there).
        for r in nonzeroRows ?? 0..<h {
            convolve(tmp.baseAddress! + r * w + lo, input.baseAddress! + r * w + lo, n: n, stride: 1, kernel: kx, radius: radius)
        }
        for r in lo..<hiY {
            convolve(output.baseAddress! + r * w + lo, UnsafePointer(tmp.baseAddress!) + r * w + lo, n: n, stride: w,
                     kernel: ky, radius: radius)
        }
    }

    /// Renders one exposure into `pixels` (resized only if its count is wrong).
    /// - Parameters:
    ///   - particle: θ is sampled from its current state.
    ///   - driftPixels: displacement of the image content, pixels (x right, y down).
    ///   - ledOnSeconds: time the LED was on during the exposure (the light collected).
    ///   - exposureSeconds: exposure length (dark current, hot pixels).
    ///   - rng: per-pixel noise source.
    public func render(particle: ParticleCell, driftPixels: (x: Double, y: Double), ledOnSeconds: Double,
                       exposureSeconds: Double, rng: inout SeededRandom, into pixels: inout [UInt16]) {
        let o = parameters
        if pixels.count != roiWidth * roiHeight { pixels = Array(repeating: 0, count: roiWidth * roiHeight) }
        let fdx = driftPixels.x.rounded(.down), fdy = driftPixels.y.rounded(.down)
        var ix = Int(fdx), iy = Int(fdy)
        var qx = Int(((driftPixels.x - fdx) * Double(Self.phases)).rounded())
        var qy = Int(((driftPixels.y - fdy) * Double(Self.phases)).rounded())
        if qx == Self.phases { qx = 0; ix += 1 }
        if qy == Self.phases { qy = 0; iy += 1 }
        if abs(ix - anchorX) > driftAllowance || abs(iy - anchorY) > driftAllowance {
            buildWindow(anchorX: ix, anchorY: iy)
        }
        if cachedPhase != (qx, qy) {
            Self.fillKernel(&kernelX, sigma: sigma, radius: radius, phase: Double(qx) / Double(Self.phases))
            Self.fillKernel(&kernelY, sigma: sigma, radius: radius, phase: Double(qy) / Double(Self.phases))
            let (w, h, rad) = (ww, wh, radius)
            scene.withUnsafeBufferPointer { s in
                scratch.withUnsafeMutableBufferPointer { t in
                    blurred.withUnsafeMutableBufferPointer { b in
                        kernelX.withUnsafeBufferPointer { kx in
                            kernelY.withUnsafeBufferPointer { ky in
                                Self.separableBlur(s, t, b, width: w, height: h, kx: kx, ky: ky, radius: rad)
                            }
                        }
                    }
                }
            }
            cachedPhase = (qx, qy)
        }

        // Particle reflectance from θ (seed Eq. 17: I/I0 − 1 = A·(θ0 − θ)).
        particle.sample(sampler, into: &theta)
        let a = Float(o.opticalGain), ref = Float(o.referenceTheta)
        // Outside the particle pScene stays 0 from construction.
        for k in 0..<particleIndex.count {
            pScene[Int(particleIndex[k])] = particleIllumination[k] * (1 + a * (ref - theta[k]))
        }
        let (pwv, phv, rad) = (pw, ph, radius)
        let padRows = (2 * (radius + 1))..<(ph - 2 * (radius + 1))
        pScene.withUnsafeBufferPointer { s in
            pH.withUnsafeMutableBufferPointer { t in
                pV.withUnsafeMutableBufferPointer { b in
                    kernelX.withUnsafeBufferPointer { kx in
                        kernelY.withUnsafeBufferPointer { ky in
                            Self.separableBlur(s, t, b, width: pwv, height: phv, kx: kx, ky: ky, radius: rad,
                                               nonzeroRows: padRows)
                        }
                    }
                }
            }
        }

        // Expected electrons: light × (blurred static scene + blurred particle) + dark signal.
        let light = Float(o.particleElectronsPerMillisecond * 1000 * max(0, ledOnSeconds))
        let dark = Float(o.darkCurrentElectronsPerSecond * exposureSeconds)
        let (rw, rh, wwv, wx, wy, lo) = (roiWidth, roiHeight, ww, wx0, wy0, radius + 1)
        expected.withUnsafeMutableBufferPointer { e in
            blurred.withUnsafeBufferPointer { b in
                for r in 0..<rh {
                    let srow = (roiY + r - iy - wy) * wwv + (roiX - ix - wx)
                    let erow = r * rw
                    for c in 0..<rw { e[erow + c] = light * b[srow + c] + dark }
                }
            }
            pV.withUnsafeBufferPointer { v in
                // Region pixel (c, r) sits at sensor (px0 + c + ix, py0 + r + iy) in this frame.
                for r in lo..<(phv - rad) {
                    let y = py0 + r + iy - roiY
                    guard y >= 0, y < rh else { continue }
                    let c0 = max(lo, roiX - px0 - ix), c1 = min(pwv - rad, roiX + rw - px0 - ix)
                    guard c1 > c0 else { continue }
                    let erow = y * rw + px0 + ix - roiX
                    for c in c0..<c1 { e[erow + c] += light * v[r * pwv + c] }
                }
            }
            for (k, idx) in hotIndex.enumerated() { e[Int(idx)] += hotElectronsPerSecond[k] * Float(exposureSeconds) }
        }

        // Sensor: shot noise (Poisson, as a Gaussian of variance = mean), read noise, full well, ADC.
        let noise = Float(o.noise)
        let read2 = Float(o.readNoiseElectrons * o.readNoiseElectrons)
        let full = Float(o.fullWellElectrons)
        let invGain = Float(1 / o.gainElectronsPerDN)
        let black = Float(o.blackLevelDN)
        let top = Float(OpticsParameters.adcMaximum)
        let n = roiWidth * roiHeight
        // Two passes: the scalar one draws the normals (one 64-bit draw gives five table lookups), the
        // arithmetic one has no dependencies between pixels and vectorises.
        gaussians.withUnsafeMutableBufferPointer { g in
            normals.withUnsafeBufferPointer { z in
                var k = 0
                while k + 5 <= n {
                    let bits = rng.next()
                    g[k] = z[Int(bits & 4095)]
                    g[k + 1] = z[Int((bits >> 12) & 4095)]
                    g[k + 2] = z[Int((bits >> 24) & 4095)]
                    g[k + 3] = z[Int((bits >> 36) & 4095)]
                    g[k + 4] = z[Int((bits >> 48) & 4095)]
                    k += 5
                }
                if k < n {
                    var bits = rng.next()
                    while k < n { g[k] = z[Int(bits & 4095)]; bits >>= 12; k += 1 }
                }
            }
        }
        // Round to nearest by the 2²³ trick (exact for 0 ≤ v < 2²²): no trapping float→int conversion.
        let magic = SIMD8<Float>(repeating: 8_388_608)
        expected.withUnsafeBufferPointer { e in
            gaussians.withUnsafeBufferPointer { g in
                pixels.withUnsafeMutableBufferPointer { out in
                    let ep = e.baseAddress!, gp = g.baseAddress!
                    var k = 0
                    while k + 8 <= n {
                        let mean = Self.load8(ep + k).replacing(with: full, where: Self.load8(ep + k) .> full)
                        let sd = (mean.replacing(with: 0, where: mean .< 0) + read2).squareRoot() * noise
                        var v = mean + sd * Self.load8(gp + k)
                        v = v.replacing(with: full, where: v .> full) * invGain + black
                        v = v.replacing(with: 0, where: v .< 0)
                        v = v.replacing(with: top, where: v .> top) + magic
                        let bits = unsafeBitCast(v, to: SIMD8<UInt32>.self)
                        for j in 0..<8 { out[k + j] = UInt16(truncatingIfNeeded: bits[j]) }
                        k += 8
                    }
                    while k < n {
                        let mean = min(e[k], full)
                        let sd = (max(mean, 0) + read2).squareRoot() * noise
                        let v = min(max(min(mean + sd * g[k], full) * invGain + black, 0), top) + 8_388_608
                        out[k] = UInt16(truncatingIfNeeded: v.bitPattern)
                        k += 1
                    }
                }
            }
        }
    }
}
