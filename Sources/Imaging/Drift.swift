// seed, Experimental Procedures, "Drift correction": a bright sub-diffraction spot unrelated to the
// particle is fitted with a 2D Gaussian in every frame; its centre's track is the stage drift.
// Convention (interfaces.md, drift.csv): (dx, dy) is the displacement of frame k's content relative to
// frame 0, x right, y down; correction samples frame k at (x + dx, y + dy), moving it by (−dx, −dy).
import Foundation

/// Finds a fiducial: a bright, compact (PSF-sized) spot outside the particle.
public enum FiducialSearch {
    /// The best fiducial candidate in `frame`, or nil when none is clearly above the noise.
    ///
    /// Candidates are local maxima of the lightly smoothed frame, at least `marginPixels` from the
    /// particle (`exclusion`) and from the frame border. Each is fitted with a Gaussian; it must be
    /// compact (σ between 0.5 and 3.5 px, aspect ratio under 2) and its amplitude at least
    /// `minimumSNR` times the pixel noise. The brightest survivor wins.
    public static func find(in frame: BinnedFrame, excluding exclusion: Mask?, marginPixels: Int = 6,
                            minimumSNR: Double = 10) -> Gaussian2D? {
        let smooth = ImageOps.gaussianBlur(frame, sigmaPixels: 1)
        // Pixel noise from the high-pass residual (MAD, every 4th pixel), robust to the particle and
        // spots. Subtracting the σ = 1 px smoothed value removes part of the noise itself (its std
        // is ≈ 0.87 of the pixel noise), hence the 1.2.
        var residual = [Float]()
        residual.reserveCapacity(frame.pixels.count / 4 + 1)
        for i in stride(from: 0, to: frame.pixels.count, by: 4) { residual.append(abs(frame.pixels[i] - smooth.pixels[i])) }
        let noise = max(Double(ImageOps.median(residual)) * 1.4826 * 1.2, 1e-6)
        let keepOut = exclusion?.dilated(radiusPixels: marginPixels)
        let border = max(marginPixels, 4)
        let w = frame.width, h = frame.height
        guard w > 2 * border, h > 2 * border else { return nil }
        var candidates: [(x: Int, y: Int, height: Float)] = []
        let background = ImageOps.median(Array(smooth.pixels.enumerated().compactMap { i, v in
            (keepOut?.bits[i] ?? false) ? nil : v }))
        for y in border..<(h - border) {
            for x in border..<(w - border) {
                if keepOut?[x, y] == true { continue }
                let v = smooth[x, y]
                // Loose pre-filter (smoothing lowers a spot's peak): the Gaussian fit below decides.
                guard v.isFinite, Double(v - background) > minimumSNR * noise * 0.3 else { continue }
                var isMax = true
                scan: for dy in -2...2 {
                    for dx in -2...2 where dx != 0 || dy != 0 {
                        if smooth[x + dx, y + dy] > v { isMax = false; break scan }
                    }
                }
                if isMax { candidates.append((x, y, v - background)) }
            }
        }
        candidates.sort { $0.height > $1.height }
        var best: Gaussian2D?
        for c in candidates.prefix(40) {
            let fit = GaussianFitter.fit(frame, guessX: Double(c.x), guessY: Double(c.y))
            let g = fit.gaussian
            guard fit.isValid, g.sigmaX >= 0.5, g.sigmaY >= 0.5, g.sigmaX <= 3.5, g.sigmaY <= 3.5,
                  max(g.sigmaX, g.sigmaY) / min(g.sigmaX, g.sigmaY) < 2,
                  g.amplitude >= minimumSNR * noise else { continue }
            if best == nil || g.amplitude > best!.amplitude { best = g }
        }
        return best
    }
}

/// How drift is being measured.
public enum DriftMethod: Sendable, Equatable {
    /// Gaussian fit of a fiducial found (or given) at this frame-0 position.
    case fiducial(x: Double, y: Double)
    /// Phase correlation against frame 0 (no fiducial found).
    case phaseCorrelation
}

/// Measures each frame's drift against frame 0, tracking the fiducial from frame to frame.
public struct DriftTracker: Sendable {
    /// The method in use.
    public let method: DriftMethod
    /// Frames in which the fiducial fit failed (the previous drift was reused).
    public private(set) var failedFits: [Int] = []
    private let reference: Gaussian2D?
    private let phase: PhaseCorrelation.Reference?
    private var last: (dx: Double, dy: Double) = (0, 0)
    private let halfWidth: Int
    private var frameIndex = 0

    /// Prepares tracking on `reference` (frame 0). With `fiducialAt` the spot there is fitted (an
    /// error if nothing compact fits there); without it one is searched for outside `particle`;
    /// failing that, phase correlation is used.
    public init(reference frame: BinnedFrame, fiducialAt: (x: Double, y: Double)? = nil, particle: Mask?) throws {
        if let given = fiducialAt {
            guard given.x >= 0, given.y >= 0, given.x <= Double(frame.width - 1), given.y <= Double(frame.height - 1) else {
                throw ImagingError.badValue(option: "--fiducial", value: "\(given.x),\(given.y)",
                                            expected: "a position inside the \(frame.width)×\(frame.height) frame")
            }
            let fit = GaussianFitter.fit(frame, guessX: given.x, guessY: given.y)
            guard fit.isValid, fit.gaussian.sigmaX < 5, fit.gaussian.sigmaY < 5 else {
                throw ImagingError.badValue(option: "--fiducial", value: "\(given.x),\(given.y)",
                                            expected: "the position of a bright compact spot (no 2D Gaussian fits there)")
            }
            reference = fit.gaussian
        } else {
            reference = FiducialSearch.find(in: frame, excluding: particle)
        }
        if let g = reference {
            method = .fiducial(x: g.centreX, y: g.centreY)
            halfWidth = max(5, Int((3 * max(g.sigmaX, g.sigmaY)).rounded(.up)))
            phase = nil
        } else {
            method = .phaseCorrelation
            halfWidth = 0
            phase = Self.phaseReference(frame, particle: particle)
        }
    }

    /// Phase correlation over a square centred on the particle, so the window is symmetric about it:
    /// the particle's contrast changes roughly symmetrically and then pull the peak far less than
    /// under an off-centre window (0.05 instead of 0.12 px on the synthetic core–shell stack).
    static func phaseReference(_ frame: BinnedFrame, particle: Mask?) -> PhaseCorrelation.Reference {
        guard let mask = particle, let c = mask.centroid else { return PhaseCorrelation.Reference(frame) }
        var minX = mask.width, maxX = 0, minY = mask.height, maxY = 0
        for i in mask.indices {
            minX = min(minX, i % mask.width); maxX = max(maxX, i % mask.width)
            minY = min(minY, i / mask.width); maxY = max(maxY, i / mask.width)
        }
        let room = 2 * min(c.x, Double(frame.width - 1) - c.x, c.y, Double(frame.height - 1) - c.y)
        let extent = min(room, 2 * Double(max(maxX - minX, maxY - minY) + 1))
        guard extent >= 32 else { return PhaseCorrelation.Reference(frame) }
        return PhaseCorrelation.Reference(frame, centre: c, extentPixels: Int(extent))
    }

    /// The rows of a `frameHeight`-row frame the next ``measure(_:)`` reads: the fit window around
    /// the fiducial's last position, or the phase-correlation window; nil when it reads none.
    public func rowsRead(frameHeight: Int) -> Range<Int>? {
        if let phase { return phase.y0..<(phase.y0 + phase.crop) }
        guard let g = reference else { return nil }
        let cy = Int((g.centreY + last.dy).rounded())
        let rows = max(0, cy - halfWidth)..<min(frameHeight, cy + halfWidth + 1)
        return rows.isEmpty ? nil : rows
    }

    /// Notes that the next frame has no data (dropped), so later frame numbers stay right.
    public mutating func skipFrame() { frameIndex += 1 }

    /// The drift of the next frame (frames must be given in order, frame 0 first).
    public mutating func measure(_ frame: BinnedFrame) -> (dx: Double, dy: Double) {
        defer { frameIndex += 1 }
        if let phase {
            last = phase.displacement(of: frame)
            return last
        }
        guard let g = reference else { return (0, 0) }
        // Track from the last position so slow drift of many pixels stays inside the fit window.
        let fit = GaussianFitter.fit(frame, guessX: g.centreX + last.dx, guessY: g.centreY + last.dy,
                                     halfWidthPixels: halfWidth, guessSigmaPixels: (g.sigmaX + g.sigmaY) / 2)
        if fit.isValid {
            last = (fit.gaussian.centreX - g.centreX, fit.gaussian.centreY - g.centreY)
        } else {
            failedFits.append(frameIndex)
        }
        return last
    }
}
