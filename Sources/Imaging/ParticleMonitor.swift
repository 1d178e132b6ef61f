// The per-frame core shared by the on-line monitor (Rig) and the offline analysis: frame 0 fixes the
// reference, the particle mask and the drift fiducial; every later frame is drift-corrected and
// reduced to the seed's metrics. Holds only the last `sdcLag` particles, never the stack.
import Foundation

/// Metrics of one frame (NaN where a frame was dropped or a metric is not yet defined).
public struct FrameMetrics: Sendable {
    /// Index of the frame in the series given to the monitor.
    public var frame: Int
    /// Drift of the frame's content relative to frame 0, pixels (drift.csv convention).
    public var driftXPixels: Double
    /// See ``driftXPixels``.
    public var driftYPixels: Double
    /// Normalised intensity change: mean total contrast over the particle.
    public var intensityChange: Double
    /// Standard deviation over the particle of the sequential differential contrast at the set lag.
    public var sdcStandardDeviation: Double
    /// Total contrast averaged over the centre disk.
    public var centreContrast: Double
    /// True when the frame had no data (kept in place so time does not shift).
    public var isDropped: Bool
    /// Total-contrast image (NaN outside the particle) — contrast.tif's page.
    public var contrast: BinnedFrame
}

/// Drift-corrects frames against frame 0 and measures them; feed frames in order.
public struct ParticleMonitor: Sendable {
    /// Frame 0, the reference I_0 of seed Eq. 1.
    public let reference: BinnedFrame
    /// The particle mask (from frame 0).
    public let mask: Mask
    /// Threshold the mask used.
    public let threshold: Float
    /// Particle centroid in frame 0, pixels.
    public let centroid: (x: Double, y: Double)
    /// SDC lag, frames.
    public let sdcLagFrames: Int
    /// Radius of the centre disk, pixels.
    public let centreRadiusPixels: Double
    /// The drift tracker (its method says fiducial or phase correlation).
    public private(set) var tracker: DriftTracker
    private let particleIndices: [Int]
    /// The last `sdcLag + 1` frames' drift-corrected particle pixels (buffers reused; `earlierValid`
    /// says which hold a frame that was not dropped).
    private var ring: [[Float]?]
    private var earlierValid: [Bool]
    /// The contrast image under construction: NaN outside the particle, reused between frames.
    private var contrastPixels: [Float]
    private var nextFrame = 0

    /// Sets up on `reference` (frame 0) with the mask and drift options of `options`
    /// (threshold, particleAt, fiducial, sdcLagFrames, centreRadiusPixels). `source` names the input
    /// in errors.
    public init(reference: BinnedFrame, options: AnalysisOptions = AnalysisOptions(), source: String) throws {
        guard reference.pixels.contains(where: { $0.isFinite }) else {
            throw ImagingError.emptyStack(path: source + " (frame 0 has no data)")
        }
        self.reference = reference
        threshold = options.threshold ?? Masking.otsuThreshold(reference)
        mask = try Masking.particleMask(reference, threshold: threshold, particleAt: options.particleAt, source: source)
        guard let c = mask.centroid else { throw ImagingError.noParticle(path: source, reason: "empty mask") }
        centroid = c
        sdcLagFrames = max(1, options.sdcLagFrames)
        centreRadiusPixels = options.centreRadiusPixels
        tracker = try DriftTracker(reference: reference, fiducialAt: options.fiducial, particle: mask)
        particleIndices = mask.indices
        ring = Array(repeating: nil, count: sdcLagFrames + 1)
        earlierValid = Array(repeating: false, count: sdcLagFrames + 1)
        contrastPixels = [Float](repeating: .nan, count: reference.pixels.count)
    }

    /// Processes the next frame (the first call must be frame 0 itself). `exposures == 0`, an
    /// all-NaN frame or one of another size marks a dropped frame: its metrics are NaN and it still
    /// takes its slot.
    public mutating func process(_ frame: BinnedFrame, exposures: Int = 1) -> FrameMetrics {
        let k = nextFrame
        nextFrame += 1
        let slot = k % (sdcLagFrames + 1)
        // A frame of another size cannot be compared with frame 0: it is treated like a dropped one.
        let isDropped = exposures == 0 || frame.width != reference.width || frame.height != reference.height
            || !frame.pixels.contains { $0.isFinite }
        if isDropped {
            earlierValid[slot] = false
            tracker.skipFrame()
            return FrameMetrics(frame: k, driftXPixels: .nan, driftYPixels: .nan, intensityChange: .nan,
                                sdcStandardDeviation: .nan, centreContrast: .nan, isDropped: true,
                                contrast: BinnedFrame(width: reference.width, height: reference.height, repeating: .nan))
        }
        // Frame 0 is the reference: its drift is zero by definition (the fit still runs to keep the
        // tracker's frame count in step).
        let measured = tracker.measure(frame)
        let d = k == 0 ? (dx: 0.0, dy: 0.0) : measured
        // Everything below touches only the particle's pixels: the drift-corrected values are computed
        // there alone (the full-frame shift was 2 of the 3 full-frame passes per frame), into this
        // slot's preallocated ring buffer, and the contrast image is a frame of NaN kept between frames
        // whose particle pixels are overwritten in place (a caller that still holds the previous one
        // gets its own copy by copy-on-write, never a changed image).
        var current = ring[slot] ?? [Float](repeating: .nan, count: particleIndices.count)
        ring[slot] = nil   // unique, so the writes below do not copy
        particleIndices.withUnsafeBufferPointer { idx in
            current.withUnsafeMutableBufferPointer { out in
                if k == 0 {
                    frame.pixels.withUnsafeBufferPointer { px in
                        for j in 0..<idx.count { out[j] = px[idx[j]] }
                    }
                } else {
                    ImageOps.shiftedSamples(frame, dxPixels: d.dx, dyPixels: d.dy, at: idx, into: out)
                }
            }
        }
        // seed Eq. 1 inside the mask; mean over the particle's finite pixels (ascending index order,
        // the order `ContrastMetrics.meanAndStandardDeviation` sums in).
        var n = 0.0, sum = 0.0
        particleIndices.withUnsafeBufferPointer { idx in
            current.withUnsafeBufferPointer { cur in
                reference.pixels.withUnsafeBufferPointer { ref in
                    contrastPixels.withUnsafeMutableBufferPointer { out in
                        for j in 0..<idx.count {
                            let i = idx[j]
                            let r = ref[i]
                            let c: Float = r != 0 ? cur[j] / r - 1 : .nan
                            out[i] = c
                            let v = Double(c)
                            if v.isFinite { n += 1; sum += v }
                        }
                    }
                }
            }
        }
        let contrast = BinnedFrame(width: reference.width, height: reference.height, pixels: contrastPixels)
        var sdcStd = Double.nan
        if k >= sdcLagFrames, let earlier = ring[(k - sdcLagFrames) % (sdcLagFrames + 1)], earlierValid[(k - sdcLagFrames) % (sdcLagFrames + 1)] {
            // Fig. S12: (I_k − I_{k−x}) / I_{k−x} over the particle pixels, population std.
            var n = 0.0, s = 0.0, s2 = 0.0
            current.withUnsafeBufferPointer { particle in
                earlier.withUnsafeBufferPointer { earlier in
                    for j in 0..<particle.count {
                        let v = Double(particle[j] / earlier[j] - 1)
                        if v.isFinite { n += 1; s += v; s2 += v * v }
                    }
                }
            }
            if n > 0 { let m = s / n; sdcStd = max(0, s2 / n - m * m).squareRoot() }
        }
        ring[slot] = current
        earlierValid[slot] = true
        return FrameMetrics(frame: k, driftXPixels: d.dx, driftYPixels: d.dy,
                            intensityChange: n > 0 ? sum / n : .nan,
                            sdcStandardDeviation: sdcStd,
                            centreContrast: ContrastMetrics.diskMean(contrast, centre: centroid, radiusPixels: centreRadiusPixels),
                            isDropped: false, contrast: contrast)
    }
}
