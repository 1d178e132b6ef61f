import Foundation

// Lengths in µm. The mesher is written here rather than taken from a Debian library: Debian 12's
// triangle (libtriangle-dev) has a non-free licence, and gmsh is a large GUI-oriented dependency for
// what is a convex-ish 2D outline of a few hundred to a few thousand nodes. The recipe — boundary
// nodes at spacing h, interior nodes on a hexagonal lattice, Delaunay triangulation (Bowyer–Watson),
// Laplacian smoothing, re-triangulation — gives near-equilateral elements; Delaunay in 2D makes the
// P1 stiffness an M-matrix (non-negative cotangent weights), which is what keeps the solution free
// of overshoot and oscillation at steep fronts.

/// An unstructured triangular mesh of a particle cross-section.
public struct TriangleMesh: Sendable {
    /// Node positions, µm.
    public let nodes: [Point2]
    /// Triangles as counter-clockwise node triples.
    public let triangles: [SIMD3<Int32>]
    /// Boundary nodes in counter-clockwise cyclic order.
    public let boundaryNodes: [Int]
    /// The element size the mesh was made for, µm.
    public let elementSizeMicrometres: Double

    /// Area of the discretised domain, µm².
    public var areaMicrometres2: Double {
        triangles.reduce(0) { $0 + TriangleMesh.area(nodes, $1) }
    }

    /// Perimeter of the discretised domain, µm.
    public var perimeterMicrometres: Double {
        var l = 0.0
        for k in boundaryNodes.indices {
            let a = nodes[boundaryNodes[k]], b = nodes[boundaryNodes[(k + 1) % boundaryNodes.count]]
            l += hypot(b.x - a.x, b.y - a.y)
        }
        return l
    }

    static func area(_ p: [Point2], _ t: SIMD3<Int32>) -> Double {
        let a = p[Int(t.x)], b = p[Int(t.y)], c = p[Int(t.z)]
        return 0.5 * ((b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y))
    }

    /// Element quality: radius ratio 2·r_in/R_circ (1 for equilateral) and smallest angle (degrees).
    public var quality: (minRadiusRatio: Double, meanRadiusRatio: Double, minAngleDegrees: Double) {
        var qmin = 1.0, qsum = 0.0, amin = 180.0
        for t in triangles {
            let a = nodes[Int(t.x)], b = nodes[Int(t.y)], c = nodes[Int(t.z)]
            let la = hypot(b.x - c.x, b.y - c.y), lb = hypot(a.x - c.x, a.y - c.y), lc = hypot(a.x - b.x, a.y - b.y)
            let s = (la + lb + lc) / 2
            let area = TriangleMesh.area(nodes, t)
            let rin = area / s
            let rcirc = la * lb * lc / (4 * area)
            let q = 2 * rin / rcirc
            qmin = min(qmin, q)
            qsum += q
            for (opp, u, v) in [(la, lb, lc), (lb, la, lc), (lc, la, lb)] {
                let cosA = max(-1, min(1, (u * u + v * v - opp * opp) / (2 * u * v)))
                amin = min(amin, acos(cosA) * 180 / Double.pi)
            }
        }
        return (qmin, qsum / Double(max(1, triangles.count)), amin)
    }

    /// Meshes `shape` with target element size `h` (µm).
    public init(shape: ParticleShape, elementSize h: Double) throws {
        guard h.isFinite, h > 0 else {
            throw GeometryError(input: "element size \(h) µm", problem: "expected a positive element size")
        }
        let outline = TriangleMesh.boundaryPoints(shape: shape, h: h)
        guard outline.count >= 3 else {
            throw GeometryError(input: shape.specification, problem: "the outline is too small for element size \(h) µm")
        }
        if outline.count + Int(shape.areaMicrometres2 / (h * h) * 1.2) > 400_000 {
            throw GeometryError(input: "element size \(h) µm",
                                problem: "would give more than 400000 nodes for \(shape.specification); choose a larger element size")
        }
        var points = outline
        // Interior nodes: hexagonal lattice, kept away from the boundary by 0.6 h.
        let xs = outline.map(\.x), ys = outline.map(\.y)
        let (x0, x1, y0, y1) = (xs.min()!, xs.max()!, ys.min()!, ys.max()!)
        let dy = h * sqrt(3) / 2
        var row = 0
        var y = y0 + dy / 2
        while y < y1 {
            var x = x0 + (row % 2 == 0 ? h / 2 : 0)
            while x < x1 {
                let p = Point2(x, y)
                if TriangleMesh.inside(p, outline), TriangleMesh.distance(p, outline) > 0.6 * h {
                    points.append(p)
                }
                x += h
            }
            y += dy
            row += 1
        }
        let nb = outline.count
        var tris = TriangleMesh.delaunay(points, outline: outline)
        // Laplacian smoothing of interior nodes, then re-triangulate.
        for _ in 0..<3 {
            var sx = [Double](repeating: 0, count: points.count)
            var sy = [Double](repeating: 0, count: points.count)
            var cnt = [Double](repeating: 0, count: points.count)
            for t in tris {
                let v = [Int(t.x), Int(t.y), Int(t.z)]
                for i in 0..<3 {
                    for j in 0..<3 where j != i {
                        sx[v[i]] += points[v[j]].x
                        sy[v[i]] += points[v[j]].y
                        cnt[v[i]] += 1
                    }
                }
            }
            for i in nb..<points.count where cnt[i] > 0 {
                let p = Point2(sx[i] / cnt[i], sy[i] / cnt[i])
                if TriangleMesh.inside(p, outline) { points[i] = p }
            }
            tris = TriangleMesh.delaunay(points, outline: outline)
        }
        // Drop nodes no triangle uses (possible only for degenerate outlines) by renumbering.
        var used = [Bool](repeating: false, count: points.count)
        for t in tris { used[Int(t.x)] = true; used[Int(t.y)] = true; used[Int(t.z)] = true }
        var newIndex = [Int](repeating: -1, count: points.count)
        var kept: [Point2] = []
        for i in points.indices where used[i] { newIndex[i] = kept.count; kept.append(points[i]) }
        tris = tris.map { SIMD3(Int32(newIndex[Int($0.x)]), Int32(newIndex[Int($0.y)]), Int32(newIndex[Int($0.z)])) }

        // Boundary loop from edges that belong to one triangle.
        var edgeCount: [Int64: Int] = [:]
        var directed: [Int: Int] = [:]
        func key(_ a: Int, _ b: Int) -> Int64 { Int64(min(a, b)) << 32 | Int64(max(a, b)) }
        for t in tris {
            for (a, b) in [(t.x, t.y), (t.y, t.z), (t.z, t.x)] { edgeCount[key(Int(a), Int(b)), default: 0] += 1 }
        }
        for t in tris {
            for (a, b) in [(t.x, t.y), (t.y, t.z), (t.z, t.x)] where edgeCount[key(Int(a), Int(b))] == 1 {
                directed[Int(a)] = Int(b)
            }
        }
        guard let start = directed.keys.min() else {
            throw GeometryError(input: shape.specification, problem: "meshing produced no boundary")
        }
        var loop = [start]
        var cur = directed[start]!
        while cur != start {
            loop.append(cur)
            guard let nxt = directed[cur], loop.count <= directed.count else {
                throw GeometryError(input: shape.specification,
                                    problem: "meshing produced a boundary that is not one closed loop; try a smaller element size")
            }
            cur = nxt
        }
        guard loop.count == directed.count else {
            throw GeometryError(input: shape.specification,
                                problem: "meshing produced a domain with holes or several pieces; try a smaller element size")
        }
        self.nodes = kept
        self.triangles = tris
        self.boundaryNodes = loop
        self.elementSizeMicrometres = h
    }

    /// Boundary nodes at spacing ≈ h: smooth outlines resampled by arc length, polygon corners kept.
    static func boundaryPoints(shape: ParticleShape, h: Double) -> [Point2] {
        let b = shape.boundary
        if shape.isSmooth {
            var cum = [0.0]
            for i in b.indices {
                let j = (i + 1) % b.count
                cum.append(cum.last! + hypot(b[j].x - b[i].x, b[j].y - b[i].y))
            }
            let total = cum.last!
            let n = max(12, Int((total / h).rounded()))
            var out: [Point2] = []
            var seg = 0
            for k in 0..<n {
                let s = total * Double(k) / Double(n)
                while cum[seg + 1] < s { seg += 1 }
                let f = (s - cum[seg]) / max(1e-300, cum[seg + 1] - cum[seg])
                let a = b[seg], c = b[(seg + 1) % b.count]
                out.append(Point2(a.x + f * (c.x - a.x), a.y + f * (c.y - a.y)))
            }
            return out
        }
        var out: [Point2] = []
        for i in b.indices {
            let a = b[i], c = b[(i + 1) % b.count]
            let m = max(1, Int((hypot(c.x - a.x, c.y - a.y) / h).rounded()))
            for k in 0..<m {
                let f = Double(k) / Double(m)
                out.append(Point2(a.x + f * (c.x - a.x), a.y + f * (c.y - a.y)))
            }
        }
        return out
    }

    static func inside(_ p: Point2, _ poly: [Point2]) -> Bool {
        var c = false
        var j = poly.count - 1
        for i in poly.indices {
            let a = poly[i], b = poly[j]
            if (a.y > p.y) != (b.y > p.y), p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x { c.toggle() }
            j = i
        }
        return c
    }

    static func distance(_ p: Point2, _ poly: [Point2]) -> Double {
        var d = Double.infinity
        for i in poly.indices {
            let a = poly[i], b = poly[(i + 1) % poly.count]
            let vx = b.x - a.x, vy = b.y - a.y
            let t = max(0, min(1, ((p.x - a.x) * vx + (p.y - a.y) * vy) / (vx * vx + vy * vy)))
            d = min(d, hypot(p.x - a.x - t * vx, p.y - a.y - t * vy))
        }
        return d
    }

    /// Bowyer–Watson Delaunay triangulation; triangles whose centroid lies outside `outline` dropped.
    static func delaunay(_ pts: [Point2], outline: [Point2]) -> [SIMD3<Int32>] {
        let n = pts.count
        let xs = pts.map(\.x), ys = pts.map(\.y)
        let cx = (xs.min()! + xs.max()!) / 2, cy = (ys.min()! + ys.max()!) / 2
        let span = max(xs.max()! - xs.min()!, ys.max()! - ys.min()!) * 20 + 1
        var p = pts
        p.append(Point2(cx - 2 * span, cy - span))
        p.append(Point2(cx + 2 * span, cy - span))
        p.append(Point2(cx, cy + 2 * span))
        struct Tri { var a: Int; var b: Int; var c: Int; var ox: Double; var oy: Double; var r2: Double; var alive: Bool }
        func make(_ a: Int, _ b: Int, _ c: Int) -> Tri {
            let A = p[a], B = p[b], C = p[c]
            let d = 2 * (A.x * (B.y - C.y) + B.x * (C.y - A.y) + C.x * (A.y - B.y))
            let a2 = A.x * A.x + A.y * A.y, b2 = B.x * B.x + B.y * B.y, c2 = C.x * C.x + C.y * C.y
            let ox = (a2 * (B.y - C.y) + b2 * (C.y - A.y) + c2 * (A.y - B.y)) / d
            let oy = (a2 * (C.x - B.x) + b2 * (A.x - C.x) + c2 * (B.x - A.x)) / d
            return Tri(a: a, b: b, c: c, ox: ox, oy: oy, r2: (A.x - ox) * (A.x - ox) + (A.y - oy) * (A.y - oy), alive: true)
        }
        var tris = [make(n, n + 1, n + 2)]
        var bad: [Int] = []
        var edges: [(Int, Int)] = []
        for i in 0..<n {
            let q = p[i]
            bad.removeAll(keepingCapacity: true)
            for (k, t) in tris.enumerated() where t.alive {
                let dx = q.x - t.ox, dy = q.y - t.oy
                if dx * dx + dy * dy < t.r2 * (1 - 1e-12) { bad.append(k) }
            }
            edges.removeAll(keepingCapacity: true)
            for k in bad {
                let t = tris[k]
                edges.append((t.a, t.b))
                edges.append((t.b, t.c))
                edges.append((t.c, t.a))
                tris[k].alive = false
            }
            // The cavity's boundary: edges of exactly one bad triangle. A cavity has a handful of
            // edges, so a linear scan replaces the per-point dictionary (callgrind, issue 17: hashing
            // was the largest part of meshing).
            for (e, (u, v)) in edges.enumerated() {
                var shared = false
                for (f, (x, y)) in edges.enumerated() where f != e && ((x == u && y == v) || (x == v && y == u)) {
                    shared = true
                    break
                }
                if !shared { tris.append(make(u, v, i)) }
            }
            if tris.count > 4 * n + 64 { tris.removeAll { !$0.alive } }
        }
        var out: [SIMD3<Int32>] = []
        for t in tris where t.alive && t.a < n && t.b < n && t.c < n {
            let g = Point2((p[t.a].x + p[t.b].x + p[t.c].x) / 3, (p[t.a].y + p[t.b].y + p[t.c].y) / 3)
            let area = (p[t.b].x - p[t.a].x) * (p[t.c].y - p[t.a].y) - (p[t.c].x - p[t.a].x) * (p[t.b].y - p[t.a].y)
            if area > 1e-14 * span * span, inside(g, outline) { out.append(SIMD3(Int32(t.a), Int32(t.b), Int32(t.c))) }
        }
        return out
    }

    /// Locates `p`: the triangle holding it and its barycentric weights (nearest triangle if outside).
    public func locate(_ p: Point2) -> (triangle: Int, weights: SIMD3<Double>) {
        var best = (0, SIMD3<Double>(1, 0, 0))
        var bestViolation = Double.infinity
        for (k, t) in triangles.enumerated() {
            let a = nodes[Int(t.x)], b = nodes[Int(t.y)], c = nodes[Int(t.z)]
            let d = (b.y - c.y) * (a.x - c.x) + (c.x - b.x) * (a.y - c.y)
            let w1 = ((b.y - c.y) * (p.x - c.x) + (c.x - b.x) * (p.y - c.y)) / d
            let w2 = ((c.y - a.y) * (p.x - c.x) + (a.x - c.x) * (p.y - c.y)) / d
            let w3 = 1 - w1 - w2
            let violation = max(0, -w1) + max(0, -w2) + max(0, -w3)
            if violation < bestViolation {
                bestViolation = violation
                best = (k, SIMD3(w1, w2, w3))
                if violation == 0 { break }
            }
        }
        if bestViolation > 0 {
            let w = SIMD3(max(0, best.1.x), max(0, best.1.y), max(0, best.1.z))
            best.1 = w / (w.x + w.y + w.z)
        }
        return best
    }
}
