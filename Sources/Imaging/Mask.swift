// seed, Experimental Procedures, "Masking": a binary mask from an intensity threshold on the first
// frame of the cycle; pixels below it are background. We add what a threshold alone does not give:
// one particle (the largest component or the one the user points at) with its holes filled.

/// A binary image: `true` marks a particle pixel.
public struct Mask: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Row-major flags, `width * height`.
    public var bits: [Bool]

    /// An empty (all background) mask.
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
        self.bits = Array(repeating: false, count: width * height)
    }

    /// A mask from row-major flags.
    public init(width: Int, height: Int, bits: [Bool]) {
        precondition(bits.count == width * height, "Mask: flag count does not match size")
        self.width = width
        self.height = height
        self.bits = bits
    }

    /// Pixels at or above `threshold` (NaN is background).
    public init(_ frame: BinnedFrame, threshold: Float) {
        self.init(width: frame.width, height: frame.height, bits: frame.pixels.map { $0 >= threshold })
    }

    /// The flag at column `x`, row `y`.
    @inlinable public subscript(x: Int, y: Int) -> Bool {
        get { bits[y * width + x] }
        set { bits[y * width + x] = newValue }
    }

    /// Number of particle pixels.
    public var areaPixels: Int { bits.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// Mean position of the particle pixels (nil for an empty mask).
    public var centroid: (x: Double, y: Double)? {
        var sx = 0.0, sy = 0.0, n = 0.0
        for y in 0..<height { for x in 0..<width where bits[y * width + x] { sx += Double(x); sy += Double(y); n += 1 } }
        return n > 0 ? (sx / n, sy / n) : nil
    }

    /// Indices of the particle pixels, row-major order.
    public var indices: [Int] { bits.indices.filter { bits[$0] } }

    /// Labels 8-connected components: label 0 is background, components are numbered from 1 in
    /// scan order. Returns the label image and the number of components.
    public func labelled() -> (labels: [Int32], count: Int) {
        var labels = [Int32](repeating: 0, count: bits.count)
        var next: Int32 = 0
        var stack: [Int] = []
        for start in bits.indices where bits[start] && labels[start] == 0 {
            next += 1
            labels[start] = next
            stack.append(start)
            while let i = stack.popLast() {
                let x = i % width, y = i / width
                for ny in max(0, y - 1)...min(height - 1, y + 1) {
                    for nx in max(0, x - 1)...min(width - 1, x + 1) {
                        let j = ny * width + nx
                        if bits[j] && labels[j] == 0 { labels[j] = next; stack.append(j) }
                    }
                }
            }
        }
        return (labels, Int(next))
    }

    /// Every component as its own mask, largest first, dropping those under `minimumAreaPixels`.
    public func components(minimumAreaPixels: Int = 1) -> [Mask] {
        let (labels, count) = labelled()
        guard count > 0 else { return [] }
        var areas = [Int](repeating: 0, count: count + 1)
        for l in labels { areas[Int(l)] += 1 }
        return (1...count).filter { areas[$0] >= minimumAreaPixels }
            .sorted { areas[$0] > areas[$1] }
            .map { label in Mask(width: width, height: height, bits: labels.map { Int($0) == label }) }
    }

    /// The component containing pixel (x, y), or nil when that pixel is background.
    public func component(at x: Int, _ y: Int) -> Mask? {
        guard x >= 0, y >= 0, x < width, y < height, self[x, y] else { return nil }
        let (labels, _) = labelled()
        let label = labels[y * width + x]
        return Mask(width: width, height: height, bits: labels.map { $0 == label })
    }

    /// Fills holes: background not 4-connected to the frame border becomes particle.
    public func holesFilled() -> Mask {
        var outside = [Bool](repeating: false, count: bits.count)
        var stack: [Int] = []
        func seed(_ i: Int) { if !bits[i] && !outside[i] { outside[i] = true; stack.append(i) } }
        for x in 0..<width { seed(x); seed((height - 1) * width + x) }
        for y in 0..<height { seed(y * width); seed(y * width + width - 1) }
        while let i = stack.popLast() {
            let x = i % width, y = i / width
            if x > 0 { seed(i - 1) }
            if x < width - 1 { seed(i + 1) }
            if y > 0 { seed(i - width) }
            if y < height - 1 { seed(i + width) }
        }
        return Mask(width: width, height: height, bits: outside.map { !$0 })
    }

    /// Grows the particle by a disk of `radiusPixels` (used to keep the fiducial search off the particle).
    ///
    /// The disk's row dy spans |dx| ≤ ⌊√(r² − dy²)⌋, so a run of particle pixels x0…x1 in a row
    /// stamps the span x0 − h…x1 + h into row y + dy: the same pixels as stamping the disk around
    /// every pixel (issue 17: that was a fifth of the analysis' set-up), one span per run and row.
    public func dilated(radiusPixels: Int) -> Mask {
        guard radiusPixels > 0 else { return self }
        var out = self
        let r = radiusPixels, r2 = r * r
        let halfWidths = (-r...r).map { dy -> Int in
            var h = 0
            while (h + 1) * (h + 1) + dy * dy <= r2 { h += 1 }
            return h
        }
        let w = width, h = height
        bits.withUnsafeBufferPointer { src in
            out.bits.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    let row = y * w
                    var x = 0
                    while x < w {
                        guard src[row + x] else { x += 1; continue }
                        let x0 = x
                        while x < w && src[row + x] { x += 1 }
                        let x1 = x - 1
                        for dy in max(-r, -y)...min(r, h - 1 - y) {
                            let half = halfWidths[dy + r]
                            let target = (y + dy) * w
                            for xx in max(0, x0 - half)...min(w - 1, x1 + half) { dst[target + xx] = true }
                        }
                    }
                }
            }
        }
        return out
    }

    /// As a float frame (1 particle, 0 background) for writing `mask.tif`.
    public var frame: BinnedFrame {
        BinnedFrame(width: width, height: height, pixels: bits.map { $0 ? 1 : 0 })
    }
}

/// Thresholds and particle selection.
public enum Masking {
    /// Otsu's threshold over the finite pixels (256-bin histogram between min and max): the level that
    /// maximises the between-class variance.
    public static func otsuThreshold(_ frame: BinnedFrame) -> Float {
        let finite = frame.pixels.filter { $0.isFinite }
        guard let lo = finite.min(), let hi = finite.max(), hi > lo else { return finite.first ?? 0 }
        let bins = 256
        var histogram = [Double](repeating: 0, count: bins)
        let scale = Float(bins) / (hi - lo)
        for v in finite { histogram[min(bins - 1, Int((v - lo) * scale))] += 1 }
        let total = Double(finite.count)
        var sumAll = 0.0
        for i in 0..<bins { sumAll += Double(i) * histogram[i] }
        var weightBelow = 0.0, sumBelow = 0.0, best = -1.0, bestBin = 0
        for i in 0..<bins {
            weightBelow += histogram[i]
            if weightBelow == 0 { continue }
            let weightAbove = total - weightBelow
            if weightAbove == 0 { break }
            sumBelow += Double(i) * histogram[i]
            let meanBelow = sumBelow / weightBelow, meanAbove = (sumAll - sumBelow) / weightAbove
            let between = weightBelow * weightAbove * (meanBelow - meanAbove) * (meanBelow - meanAbove)
            if between > best { best = between; bestBin = i }
        }
        // Pixels in bins above bestBin are foreground: the threshold is that bin's upper edge.
        return lo + Float(bestBin + 1) / scale
    }

    /// The particle mask of `frame` (the first frame of the cycle): threshold (Otsu unless given),
    /// keep the largest component or the one containing `particleAt`, fill holes.
    /// `source` names the input in errors.
    public static func particleMask(_ frame: BinnedFrame, threshold: Float? = nil,
                                    particleAt: (x: Int, y: Int)? = nil, source: String) throws -> Mask {
        let level = threshold ?? otsuThreshold(frame)
        let binary = Mask(frame, threshold: level)
        let chosen: Mask?
        if let p = particleAt {
            guard p.x >= 0, p.y >= 0, p.x < frame.width, p.y < frame.height else {
                throw ImagingError.badValue(option: "--particle-at", value: "\(p.x),\(p.y)",
                                            expected: "a pixel inside the \(frame.width)×\(frame.height) frame")
            }
            chosen = binary.component(at: p.x, p.y)
            if chosen == nil {
                throw ImagingError.noParticle(path: source, reason: "pixel \(p.x),\(p.y) is below the threshold \(level)")
            }
        } else {
            chosen = binary.components().first
        }
        guard let particle = chosen, particle.areaPixels > 0 else {
            throw ImagingError.noParticle(path: source, reason: "no pixel at or above the threshold \(level)")
        }
        return particle.holesFilled()
    }

    /// Several particles, labelled 1, 2, … by decreasing area (holes filled), as a label image
    /// (0 = background) plus one mask per particle. Components under `minimumAreaPixels` are dropped.
    public static func labelledParticles(_ frame: BinnedFrame, threshold: Float? = nil,
                                         minimumAreaPixels: Int = 20) -> (labels: [Int32], particles: [Mask]) {
        let binary = Mask(frame, threshold: threshold ?? otsuThreshold(frame))
        let particles = binary.components(minimumAreaPixels: minimumAreaPixels).map { $0.holesFilled() }
        var labels = [Int32](repeating: 0, count: frame.width * frame.height)
        for (n, p) in particles.enumerated() { for i in p.indices where labels[i] == 0 { labels[i] = Int32(n + 1) } }
        return (labels, particles)
    }
}
