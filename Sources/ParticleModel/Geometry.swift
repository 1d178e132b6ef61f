import Foundation

// Lengths in this file are in micrometres (µm).

/// A point in the particle's ab plane, µm.
public struct Point2: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
}

/// The particle's ab-plane cross-section as a closed boundary curve (counter-clockwise, µm).
public struct ParticleShape: Sendable, Equatable {
    /// Boundary vertices, counter-clockwise, not repeating the first at the end.
    public var boundary: [Point2]
    /// True for smooth outlines (ellipse, circle, rounded corners) that the mesher may resample
    /// freely; false for polygons whose vertices are corners to keep.
    public var isSmooth: Bool
    /// How the shape was specified (for summaries).
    public var specification: String

    public init(boundary: [Point2], isSmooth: Bool, specification: String) {
        var b = boundary
        if b.count > 1, b.first == b.last { b.removeLast() }
        if Self.signedArea(b) < 0 { b.reverse() }
        self.boundary = b
        self.isSmooth = isSmooth
        self.specification = specification
    }

    static func signedArea(_ p: [Point2]) -> Double {
        var a = 0.0
        for i in p.indices {
            let j = (i + 1) % p.count
            a += p[i].x * p[j].y - p[j].x * p[i].y
        }
        return a / 2
    }

    /// Area of the outline, µm².
    public var areaMicrometres2: Double { Self.signedArea(boundary) }

    /// Perimeter of the outline, µm.
    public var perimeterMicrometres: Double {
        var l = 0.0
        for i in boundary.indices {
            let j = (i + 1) % boundary.count
            l += hypot(boundary[j].x - boundary[i].x, boundary[j].y - boundary[i].y)
        }
        return l
    }

    /// Area centroid, µm.
    public var centroid: Point2 {
        var cx = 0.0, cy = 0.0, a = 0.0
        for i in boundary.indices {
            let j = (i + 1) % boundary.count
            let c = boundary[i].x * boundary[j].y - boundary[j].x * boundary[i].y
            a += c
            cx += (boundary[i].x + boundary[j].x) * c
            cy += (boundary[i].y + boundary[j].y) * c
        }
        return Point2(cx / (3 * a), cy / (3 * a))
    }

    /// Longest extent: the largest distance between two boundary points, µm.
    public var longestExtentMicrometres: Double {
        // Search on squared distances (the O(n²) pair loop was 2 % of a default C/3 run in hypot).
        var best = 0.0, pair = (0, 0)
        boundary.withUnsafeBufferPointer { b in
            for i in b.indices {
                let p = b[i]
                for j in (i + 1)..<b.count {
                    let dx = b[j].x - p.x, dy = b[j].y - p.y
                    let d2 = dx * dx + dy * dy
                    if d2 > best { best = d2; pair = (i, j) }
                }
            }
        }
        guard best > 0 else { return 0 }
        return hypot(boundary[pair.1].x - boundary[pair.0].x, boundary[pair.1].y - boundary[pair.0].y)
    }

    /// The same shape scaled about its centroid so that its longest extent is `lengthMicrometres`.
    public func rescaled(toLongestExtent lengthMicrometres: Double) -> ParticleShape {
        let f = lengthMicrometres / longestExtentMicrometres
        let c = centroid
        return ParticleShape(boundary: boundary.map { Point2(c.x + ($0.x - c.x) * f, c.y + ($0.y - c.y) * f) },
                             isSmooth: isSmooth, specification: specification + ",size=\(lengthMicrometres)um")
    }

    /// Ellipse with full axis lengths `a` (x) × `b` (y), µm.
    public static func ellipse(width a: Double, height b: Double) -> ParticleShape {
        let n = 720
        let pts = (0..<n).map { k -> Point2 in
            let t = 2 * Double.pi * Double(k) / Double(n)
            return Point2(a / 2 * cos(t), b / 2 * sin(t))
        }
        return ParticleShape(boundary: pts, isSmooth: true, specification: "ellipse:\(a)x\(b)um")
    }

    /// Circle of diameter `d`, µm.
    public static func circle(diameter d: Double) -> ParticleShape {
        var s = ellipse(width: d, height: d)
        s.specification = "circle:\(d)um"
        return s
    }

    /// Regular hexagon with flat-to-flat width `w` and corners rounded with radius `r`, µm.
    public static func hexagon(flatToFlat w: Double, cornerRadius r: Double) -> ParticleShape {
        let apothem = w / 2
        if r <= 0 {
            let R = apothem / cos(Double.pi / 6)
            let pts = (0..<6).map { k -> Point2 in
                let t = Double.pi / 3 * Double(k)
                return Point2(R * cos(t), R * sin(t))
            }
            return ParticleShape(boundary: pts, isSmooth: false, specification: "hexagon:\(w)um")
        }
        // Rounded: arcs of radius r centred on a hexagon of apothem (apothem − r).
        let Rin = (apothem - r) / cos(Double.pi / 6)
        var pts: [Point2] = []
        let perCorner = 30
        for k in 0..<6 {
            let tc = Double.pi / 3 * Double(k)
            let cx = Rin * cos(tc), cy = Rin * sin(tc)
            for m in 0...perCorner {
                let t = tc - Double.pi / 6 + Double.pi / 3 * Double(m) / Double(perCorner)
                pts.append(Point2(cx + r * cos(t), cy + r * sin(t)))
            }
        }
        return ParticleShape(boundary: pts, isSmooth: true, specification: "hexagon:\(w)um,corner=\(r)um")
    }

    /// Polygon from a CSV file with columns `x_um,y_um` (header required).
    public static func polygon(csvPath path: String) throws -> ParticleShape {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw GeometryError(input: path, problem: "cannot read the file (\(error.localizedDescription))")
        }
        var pts: [Point2] = []
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        guard let header = lines.first?.trimmingCharacters(in: .whitespaces),
              header.replacingOccurrences(of: " ", with: "") == "x_um,y_um" else {
            throw GeometryError(input: "\(path):1", problem: "expected the header \"x_um,y_um\"")
        }
        lines.removeFirst()
        for (k, line) in lines.enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            let f = t.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard f.count == 2, let x = f[0], let y = f[1], x.isFinite, y.isFinite else {
                throw GeometryError(input: "\(path):\(k + 2)", problem: "\"\(t)\": expected two numbers x_um,y_um")
            }
            guard abs(x) <= maximumLengthMicrometres, abs(y) <= maximumLengthMicrometres else {
                throw GeometryError(input: "\(path):\(k + 2)", problem: "\"\(t)\": coordinates must lie within ±\(Int(maximumLengthMicrometres)) µm")
            }
            pts.append(Point2(x, y))
            if pts.count > maximumPolygonVertices {
                throw GeometryError(input: path, problem: "the polygon has more than \(maximumPolygonVertices) vertices; simplify the outline")
            }
        }
        guard pts.count >= 3 else {
            throw GeometryError(input: path, problem: "a polygon needs at least 3 vertices, found \(pts.count)")
        }
        let shape = ParticleShape(boundary: pts, isSmooth: false, specification: "polygon:\(path)")
        guard shape.areaMicrometres2 > 0, !shape.selfIntersects else {
            throw GeometryError(input: path, problem: "the polygon has zero area or crosses itself")
        }
        return shape
    }

    var selfIntersects: Bool {
        let n = boundary.count
        func cross(_ o: Point2, _ a: Point2, _ b: Point2) -> Double {
            (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
        }
        for i in 0..<n {
            let a = boundary[i], b = boundary[(i + 1) % n]
            for j in stride(from: i + 2, to: n, by: 1) where !(i == 0 && j == n - 1) {
                let c = boundary[j], d = boundary[(j + 1) % n]
                if cross(a, b, c) * cross(a, b, d) < 0 && cross(c, d, a) * cross(c, d, b) < 0 { return true }
            }
        }
        return false
    }

    /// Largest particle length a shape may have, µm (single cathode particles are 1–20 µm).
    public static let maximumLengthMicrometres = 50.0
    /// Most vertices a polygon may have (its self-intersection check is quadratic).
    public static let maximumPolygonVertices = 10_000

    /// A length with an optional unit: `2.5`, `2.5um`, `2.5 µm` (U+00B5 or U+03BC), `600nm`; µm.
    /// Nil unless it is a finite positive number.
    public static func lengthMicrometres(_ text: String) -> Double? {
        var t = text.trimmingCharacters(in: .whitespaces)
        var factor = 1.0
        if t.hasSuffix("nm") { t = String(t.dropLast(2)); factor = 1e-3 }
        else if t.hasSuffix("mm") { t = String(t.dropLast(2)); factor = 1e3 }
        else { for unit in ["um", "µm", "μm"] where t.hasSuffix(unit) { t = String(t.dropLast(unit.count)); break } }
        guard let v = Double(t.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0, (v * factor).isFinite else { return nil }
        return v * factor
    }

    /// Parses a particle specification of docs/interfaces.md: `ellipse:3.04x2.04um`, `circle:2.5um`,
    /// `hexagon:2.4um[,corner=0.25um]`, `polygon:FILE.csv`. (`mask:FILE.tif` needs the Imaging module
    /// and is resolved by the caller.)
    public static func parse(_ spec: String) throws -> ParticleShape {
        func fail(_ p: String) -> GeometryError { GeometryError(input: spec, problem: p) }
        guard let colon = spec.firstIndex(of: ":") else {
            throw fail("expected KIND:SIZE, e.g. ellipse:3.04x2.04um, circle:2.5um, hexagon:2.4um,corner=0.25um or polygon:FILE.csv")
        }
        let kind = spec[..<colon].lowercased()
        let arg = String(spec[spec.index(after: colon)...])
        func length(_ s: Substring) throws -> Double {
            guard let v = lengthMicrometres(String(s)) else {
                throw fail("\"\(s)\" is not a positive length in µm (e.g. 2.5um)")
            }
            guard v <= maximumLengthMicrometres else {
                throw fail("\"\(s)\" is \(v) µm; expected a particle length up to \(Int(maximumLengthMicrometres)) µm")
            }
            return v
        }
        switch kind {
        case "ellipse":
            var a = arg
            for unit in ["um", "µm", "μm"] where a.hasSuffix(unit) { a = String(a.dropLast(unit.count)); break }
            let parts = a.split(separator: "x")
            guard parts.count == 2 else { throw fail("expected ellipse:AxBum with full axis lengths, e.g. ellipse:3.04x2.04um") }
            return ellipse(width: try length(parts[0]), height: try length(parts[1]))
        case "circle":
            let d = try length(Substring(arg))
            var s = ellipse(width: d, height: d)
            s.specification = "circle:\(d)um"
            return s
        case "hexagon":
            let parts = arg.split(separator: ",")
            guard let first = parts.first else { throw fail("expected hexagon:WIDTHum[,corner=Rum]") }
            let w = try length(first)
            var r = 0.0
            for p in parts.dropFirst() {
                guard p.hasPrefix("corner=") else { throw fail("unknown hexagon option \"\(p)\"; expected corner=Rum") }
                r = try length(p.dropFirst("corner=".count))
                guard r < w / 2 else { throw fail("corner radius \(r) µm must be below half the width (\(w / 2) µm)") }
            }
            return hexagon(flatToFlat: w, cornerRadius: r)
        case "polygon":
            return try polygon(csvPath: arg)
        case "mask":
            throw fail("mask: particles are read by the Imaging module (operando analyse / calibrate)")
        default:
            throw fail("unknown shape \"\(kind)\"; expected ellipse, circle, hexagon, polygon or mask")
        }
    }
}

/// A bad particle specification or geometry file.
public struct GeometryError: Error, Sendable, Equatable, CustomStringConvertible {
    public var input: String
    public var problem: String
    public init(input: String, problem: String) { self.input = input; self.problem = problem }
    public var description: String { "\(input): \(problem)" }
}
