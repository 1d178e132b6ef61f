import Foundation
import Testing
@testable import Imaging

/// Two bright blobs on a dark background, the big one with a dark hole.
func twoParticles() -> BinnedFrame {
    var f = BinnedFrame(width: 60, height: 40, repeating: 100)
    for y in 0..<40 { for x in 0..<60 {
        let big = pow(Double(x - 20) / 12, 2) + pow(Double(y - 20) / 9, 2) <= 1
        let hole = pow(Double(x - 22), 2) + pow(Double(y - 20), 2) <= 4
        let small = pow(Double(x - 48), 2) + pow(Double(y - 12), 2) <= 16
        if (big && !hole) || small { f[x, y] = 400 + Float((x * 7 + y * 3) % 11) }
    } }
    return f
}

@Test func otsuSplitsTheTwoIntensityLevels() {
    let t = Masking.otsuThreshold(twoParticles())
    #expect(t > 100 && t <= 400)
}

@Test func particleMaskKeepsTheLargestComponentAndFillsItsHole() throws {
    let mask = try Masking.particleMask(twoParticles(), source: "two")
    #expect(mask[22, 20])           // the hole is filled
    #expect(!mask[48, 12])          // the small particle is not kept
    let c = try #require(mask.centroid)
    #expect(abs(c.x - 20) < 0.3 && abs(c.y - 20) < 0.3)
}

@Test func particleAtSelectsTheOtherParticleAndThresholdOverrides() throws {
    let small = try Masking.particleMask(twoParticles(), particleAt: (48, 12), source: "two")
    #expect(small[48, 12] && !small[20, 20])
    #expect(small.areaPixels == 49)
    #expect(throws: ImagingError.self) { try Masking.particleMask(twoParticles(), threshold: 1000, source: "two") }
    #expect { try Masking.particleMask(twoParticles(), particleAt: (99, 1), source: "two") } throws: { e in
        (e as? ImagingError)?.description.hasPrefix("--particle-at \"99,1\"") == true
    }
}

@Test func severalParticlesAreLabelledByDecreasingArea() {
    let (labels, particles) = Masking.labelledParticles(twoParticles(), minimumAreaPixels: 10)
    #expect(particles.count == 2)
    #expect(labels[20 * 60 + 20] == 1 && labels[12 * 60 + 48] == 2 && labels[0] == 0)
}

@Test func outlinePolygonMatchesTheEllipseAreaAndPerimeter() {
    // Ellipse with semi-axes 40 × 27 px at 0.0347 µm/px: the seed's 3.04 × 2.04 µm-like particle scaled.
    var mask = Mask(width: 120, height: 90)
    for y in 0..<90 { for x in 0..<120 where pow((Double(x) - 60) / 40, 2) + pow((Double(y) - 45) / 27, 2) <= 1 {
        mask[x, y] = true
    } }
    let px = 0.0347
    let outline = ParticleOutline(mask: mask, pixelSizeMicrometres: px)
    let a = 40 * px, b = 27 * px
    let area = Double.pi * a * b
    let h = pow(a - b, 2) / pow(a + b, 2)
    let perimeter = Double.pi * (a + b) * (1 + 3 * h / (10 + (4 - 3 * h).squareRoot()))  // Ramanujan
    #expect(abs(outline.areaMicrometres2 - area) / area < 0.02)
    #expect(abs(outline.perimeterMicrometres - perimeter) / perimeter < 0.03)
    #expect(outline.verticesMicrometres.count < 80)  // simplified, not one vertex per pixel edge
    // Counter-clockwise (positive shoelace) with the centroid at the origin.
    var signed = 0.0
    let v = outline.verticesMicrometres
    for i in v.indices { let j = (i + 1) % v.count; signed += v[i].x * v[j].y - v[j].x * v[i].y }
    #expect(signed > 0)
    #expect(abs(v.map(\.x).max()! - a) < 2 * px && abs(v.map(\.y).max()! - b) < 2 * px)
}

@Test func outlineFromMaskTIFFReadsThePixelSizeFromTheFile() throws {
    let path = temporaryDirectory().appendingPathComponent("mask.tif").path
    let w = try TIFFStackWriter(path: path, sampleType: .uint16, pixelSizeMicrometres: 0.05)
    var mask = Mask(width: 30, height: 30)
    for y in 10..<20 { for x in 5..<25 { mask[x, y] = true } }
    try w.append(mask.frame)
    try w.close()
    let outline = try ParticleOutline(maskTIFF: path)
    // Marching squares cuts the 4 corners (20 × 10 px − 4 × 1/8 px²); simplification within 0.6 px
    // may then shave slivers off the edges: at most tolerance × perimeter (0.6 px × 60 px).
    let exact = (200 - 0.5) * 0.0025
    #expect(abs(outline.areaMicrometres2 - exact) <= 0.6 * 60 * 0.0025)
    #expect(outline.verticesMicrometres.count >= 4)
    #expect(throws: ImagingError.self) { try ParticleOutline(maskTIFF: fixture("plain_u8.tif")) }
}

/// `dilated` stamps row spans per run of particle pixels: the same mask as stamping the disk around
/// every pixel, for blobs touching the frame's edges and for every radius used.
@Test func dilationBySpansEqualsStampingTheDiskAroundEveryPixel() {
    var rng = SystemRandomNumberGenerator()
    for trial in 0..<6 {
        let w = 37 + trial, h = 29
        var mask = Mask(width: w, height: h)
        for _ in 0..<(3 + trial) {
            let cx = Int.random(in: 0..<w, using: &rng), cy = Int.random(in: 0..<h, using: &rng), rr = Int.random(in: 0...5, using: &rng)
            for y in 0..<h { for x in 0..<w where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= rr * rr { mask[x, y] = true } }
        }
        mask[0, 0] = true; mask[w - 1, h - 1] = true
        for radius in [1, 2, 3, 6, 9] {
            var expected = mask
            for y in 0..<h { for x in 0..<w where mask[x, y] {
                for dy in -radius...radius { for dx in -radius...radius
                    where dx * dx + dy * dy <= radius * radius && x + dx >= 0 && x + dx < w && y + dy >= 0 && y + dy < h {
                    expected[x + dx, y + dy] = true
                } }
            } }
            #expect(mask.dilated(radiusPixels: radius) == expected, "trial \(trial), radius \(radius)")
        }
    }
}
