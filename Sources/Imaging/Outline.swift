// Particle outline for the model: marching squares on the mask (level 0.5 between pixel centres),
// then Douglas–Peucker simplification. The polygon is what `mask:FILE.tif` particle specs use.
import Foundation

/// A particle outline polygon.
public struct ParticleOutline: Sendable {
    /// Vertices in µm, counter-clockwise, origin at the mask centroid, x to the right and y **up**
    /// (mathematical convention; the image's row axis points down, so y = −(row − centroid row)).
    public var verticesMicrometres: [(x: Double, y: Double)]

    /// Enclosed area in µm² (shoelace formula).
    public var areaMicrometres2: Double {
        var s = 0.0
        let v = verticesMicrometres
        for i in v.indices { let j = (i + 1) % v.count; s += v[i].x * v[j].y - v[j].x * v[i].y }
        return abs(s) / 2
    }

    /// Perimeter in µm.
    public var perimeterMicrometres: Double {
        let v = verticesMicrometres
        var s = 0.0
        for i in v.indices { let j = (i + 1) % v.count; s += hypot(v[j].x - v[i].x, v[j].y - v[i].y) }
        return s
    }

    /// The outline of `mask` (its largest closed contour), simplified so no removed vertex lies
    /// further than `tolerancePixels` from the polygon, scaled by `pixelSizeMicrometres`.
    public init(mask: Mask, pixelSizeMicrometres: Double, tolerancePixels: Double = 0.6) {
        let loop = Self.largestContour(mask)
        let simplified = Self.simplify(loop, tolerance: tolerancePixels)
        let c = mask.centroid ?? (0, 0)
        var v = simplified.map { (x: ($0.x - c.x) * pixelSizeMicrometres, y: -($0.y - c.y) * pixelSizeMicrometres) }
        var signed = 0.0
        for i in v.indices { let j = (i + 1) % v.count; signed += v[i].x * v[j].y - v[j].x * v[i].y }
        if signed < 0 { v.reverse() }
        verticesMicrometres = v
    }

    /// Reads a mask TIFF (nonzero = particle; the largest particle is used) and returns its outline.
    /// The pixel size comes from `pixelSizeMicrometres` or else from the file's metadata.
    public init(maskTIFF path: String, pixelSizeMicrometres: Double? = nil) throws {
        let reader = try TIFFStackReader(path: path)
        guard let px = pixelSizeMicrometres ?? reader.info.pixelSizeMicrometres, px > 0 else {
            throw ImagingError.badValue(option: "mask:", value: path,
                                        expected: "a pixel size (pixel=0.0347um) or a TIFF that records one")
        }
        let frame = try reader.readFrame(0)
        let mask = try Masking.particleMask(frame, threshold: 0.5, source: path)
        self.init(mask: mask, pixelSizeMicrometres: px)
    }

    /// Marching squares over the mask padded by one background pixel; contour points lie half-way
    /// between a particle pixel centre and a background pixel centre. Returns the longest loop in
    /// pixel coordinates.
    static func largestContour(_ mask: Mask) -> [(x: Double, y: Double)] {
        let w = mask.width, h = mask.height
        func inside(_ x: Int, _ y: Int) -> Bool { x >= 0 && y >= 0 && x < w && y < h && mask[x, y] }
        // Edge points are keyed by doubled coordinates so they are exact integers.
        struct Point: Hashable { var x2: Int; var y2: Int }
        var next: [Point: Point] = [:]
        for y in -1..<h {
            for x in -1..<w {
                let tl = inside(x, y), tr = inside(x + 1, y), br = inside(x + 1, y + 1), bl = inside(x, y + 1)
                let top = Point(x2: 2 * x + 1, y2: 2 * y), right = Point(x2: 2 * x + 2, y2: 2 * y + 1)
                let bottom = Point(x2: 2 * x + 1, y2: 2 * y + 2), left = Point(x2: 2 * x, y2: 2 * y + 1)
                // Segments are oriented with the particle on their left in image coordinates; the
                // saddle cases join diagonal particle pixels, as the 8-connected labelling does.
                var segments: [(Point, Point)] = []
                switch (tl, tr, br, bl) {
                case (false, false, false, false), (true, true, true, true): break
                case (true, false, false, false): segments = [(top, left)]
                case (false, true, false, false): segments = [(right, top)]
                case (false, false, true, false): segments = [(bottom, right)]
                case (false, false, false, true): segments = [(left, bottom)]
                case (true, true, false, false): segments = [(right, left)]
                case (false, true, true, false): segments = [(bottom, top)]
                case (false, false, true, true): segments = [(left, right)]
                case (true, false, false, true): segments = [(top, bottom)]
                case (true, true, true, false): segments = [(bottom, left)]
                case (true, true, false, true): segments = [(right, bottom)]
                case (true, false, true, true): segments = [(top, right)]
                case (false, true, true, true): segments = [(left, top)]
                case (true, false, true, false): segments = [(bottom, left), (top, right)]
                case (false, true, false, true): segments = [(left, top), (right, bottom)]
                }
                for (a, b) in segments { next[a] = b }
            }
        }
        var best: [Point] = []
        var visited = Set<Point>()
        // Sorted starts: dictionary order is seeded per process, and the simplified polygon depends
        // on where the loop starts, so this keeps outlines identical from run to run.
        let starts = next.keys.sorted { ($0.y2, $0.x2) < ($1.y2, $1.x2) }
        for start in starts where !visited.contains(start) {
            var loop: [Point] = []
            var p = start
            while !visited.contains(p), let q = next[p] {
                visited.insert(p)
                loop.append(p)
                p = q
            }
            if loop.count > best.count { best = loop }
        }
        return best.map { (x: Double($0.x2) / 2, y: Double($0.y2) / 2) }
    }

    /// Douglas–Peucker on a closed loop: split at the two mutually furthest-apart vertices.
    static func simplify(_ loop: [(x: Double, y: Double)], tolerance: Double) -> [(x: Double, y: Double)] {
        guard loop.count > 4 else { return loop }
        var far = 0, farDistance = -1.0
        for i in loop.indices {
            let d = hypot(loop[i].x - loop[0].x, loop[i].y - loop[0].y)
            if d > farDistance { farDistance = d; far = i }
        }
        func reduce(_ points: ArraySlice<(x: Double, y: Double)>) -> [(x: Double, y: Double)] {
            guard points.count > 2, let a = points.first, let b = points.last else { return Array(points) }
            let lx = b.x - a.x, ly = b.y - a.y, length = max(hypot(lx, ly), 1e-12)
            var worst = points.startIndex, worstDistance = -1.0
            for i in points.indices.dropFirst().dropLast() {
                let d = abs((points[i].x - a.x) * ly - (points[i].y - a.y) * lx) / length
                if d > worstDistance { worstDistance = d; worst = i }
            }
            if worstDistance <= tolerance { return [a, b] }
            return reduce(points[points.startIndex...worst]).dropLast() + reduce(points[worst...points.endIndex - 1])
        }
        let first = reduce(loop[0...far])
        let second = reduce((loop[far...] + [loop[0]])[...])
        return Array(first.dropLast()) + Array(second.dropLast())
    }
}
