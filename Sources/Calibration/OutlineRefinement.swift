import Foundation
import Imaging

// Units: pixels and frame intensity (whatever the frame holds) inside, µm² for the area returned.
//
// Why this file exists (issue 16 item 4): S is fitted through the time the delithiation front takes to
// reach the centre, L²·S/D, so the modelled particle's area enters S one for one (S ∝ 1/area). The
// analysis mask is a global (Otsu) threshold of the first frame; on firmware-sim that mask was 0.4–0.9 %
// larger than the simulated particle, the amount changing with each seed's background texture, and S
// came out 0.5–1 % low (mean −0.9 % over ten seeds), several times the statistical error.
//
// The refinement: each part of the outline is thresholded half-way between the particle's level and
// the background just outside that part (16 sectors around the centroid), and the area of the region
// above those thresholds is counted. The half-level contour of a blurred outline sits inside the true
// outline by σ²κ/2 (κ the curvature, σ the PSF's standard deviation: the half-level set of a Gaussian-
// smoothed region moves as curvature flow for a time σ²/2), and ∮κ ds = 2π for any simple closed
// outline, so the true area is the counted area plus πσ² (0.8 % of the firmware-sim particle).

/// The particle area measured from the first frame, blur-aware, and its uncertainty.
public struct OutlineRefinement: Sendable, Equatable {
    /// The area of the analysis mask's outline (marching squares), µm².
    public var maskAreaMicrometres2: Double
    /// The refined area, µm²: the half-level region counted with local thresholds, plus πσ².
    public var areaMicrometres2: Double
    /// Relative standard error of the refined area: the background under each sector's edge is known
    /// only through the ring outside it, which differs from it by about the sectors' spread.
    public var relativeStandardError: Double
    /// The particle's level and the median background level of the ring (frame units).
    public var particleLevel: Double
    public var backgroundLevel: Double
    /// Sectors used.
    public var sectors: Int

    /// Measures the area of the particle in `mask` from `frame` (the frame the mask was made on, or
    /// another frame at rest), the image blurred by a Gaussian PSF of standard deviation
    /// `psfSigmaMicrometres`. Nil when the frame and mask do not match, the particle is not brighter
    /// than its background, or too little background surrounds it.
    public static func measure(frame: BinnedFrame, mask: Mask, outlineAreaMicrometres2: Double, pixelSizeMicrometres p: Double,
                               psfSigmaMicrometres: Double, sectors: Int = 16) -> OutlineRefinement? {
        guard frame.width == mask.width, frame.height == mask.height, p > 0, let c = mask.centroid else { return nil }
        let w = mask.width, h = mask.height
        let sigma = max(psfSigmaMicrometres / p, 0.5)          // pixels; at least half a pixel of transition
        let inner = 3 * sigma, outer = 6 * sigma, band = 3 * sigma
        // Boundary pixels: particle pixels with a 4-neighbour outside (or on the frame's edge).
        var boundary: [(Int, Int)] = []
        var x0 = w, x1 = -1, y0 = h, y1 = -1
        for y in 0..<h { for x in 0..<w where mask[x, y] {
            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            if x == 0 || y == 0 || x == w - 1 || y == h - 1 || !mask[x - 1, y] || !mask[x + 1, y] || !mask[x, y - 1] || !mask[x, y + 1] {
                boundary.append((x, y))
            }
        } }
        guard !boundary.isEmpty else { return nil }
        let margin = Int(outer.rounded(.up)) + 1
        let bx0 = max(0, x0 - margin), bx1 = min(w - 1, x1 + margin), by0 = max(0, y0 - margin), by1 = min(h - 1, y1 + margin)
        // Signed distance to the boundary pixels' centres (negative inside), angle sector about the centroid.
        var inside: [Float] = [], rings = [[Float]](repeating: [], count: sectors)
        var bandPixels: [(value: Float, sector: Int)] = []
        var deepCount = 0
        for y in by0...by1 {
            for x in bx0...bx1 {
                var d2 = Double.infinity
                for (bx, by) in boundary {
                    let dx = Double(x - bx), dy = Double(y - by)
                    let e = dx * dx + dy * dy
                    if e < d2 { d2 = e }
                }
                let isIn = mask[x, y]
                let d = isIn ? -d2.squareRoot() : d2.squareRoot()
                let v = frame.pixels[y * w + x]
                guard v.isFinite else { continue }
                let angle = atan2(Double(y) - c.y, Double(x) - c.x)
                let k = min(sectors - 1, max(0, Int((angle + Double.pi) / (2 * Double.pi) * Double(sectors))))
                if d <= -inner { inside.append(v) }
                if d <= -band { deepCount += 1 } else if d <= band { bandPixels.append((v, k)) }
                if d >= inner && d <= outer { rings[k].append(v) }
            }
        }
        guard inside.count >= 10, rings.allSatisfy({ $0.count >= 5 }) else { return nil }
        func median(_ a: [Float]) -> Double {
            let s = a.sorted()
            return s.count % 2 == 1 ? Double(s[s.count / 2]) : 0.5 * Double(s[s.count / 2 - 1] + s[s.count / 2])
        }
        let particle = median(inside)
        let local = rings.map(median)
        let background = median(rings.flatMap { $0 })
        guard particle > background, local.allSatisfy({ $0 < particle }) else { return nil }
        // Pixels of the band above each sector's half level (deep pixels are all above it).
        func count(_ shift: Double) -> [Double] {
            var n = [Double](repeating: 0, count: sectors)
            for b in bandPixels where Double(b.value) > 0.5 * (particle + local[b.sector]) + shift { n[b.sector] += 1 }
            return n
        }
        let counts = count(0)
        let area = (Double(deepCount) + counts.reduce(0, +)) * p * p + Double.pi * psfSigmaMicrometres * psfSigmaMicrometres
        // How each sector's area moves with its threshold, and how uncertain its background is: the
        // ring's level stands for the background under the edge, which differs from it by about the
        // sectors' spread of local levels.
        let step = 0.05 * (particle - background)
        let up = count(step), down = count(-step)
        let meanLocal = local.reduce(0, +) / Double(sectors)
        let spread = (local.map { ($0 - meanLocal) * ($0 - meanLocal) }.reduce(0, +) / Double(max(1, sectors - 1))).squareRoot()
        var variance = 0.0
        for k in 0..<sectors {
            let slope = (down[k] - up[k]) / (2 * step) * p * p       // µm² per unit of threshold
            variance += (0.5 * slope * spread) * (0.5 * slope * spread)
        }
        return OutlineRefinement(maskAreaMicrometres2: outlineAreaMicrometres2, areaMicrometres2: area,
                                 relativeStandardError: variance.squareRoot() / area, particleLevel: particle,
                                 backgroundLevel: background, sectors: sectors)
    }
}
