import Foundation
import Testing
@testable import Imaging

/// A drifting 160 × 120 stack with a contrast front, so shifts are subpixel and contrast varies.
private func driftingStack() -> SyntheticStack {
    var s = SyntheticStack()
    s.width = 160
    s.height = 120
    s.particleCentre = (70, 60)
    s.fiducial = (130, 25)
    s.drift = { k in (0.37 * Double(k), -0.21 * Double(k)) }
    s.contrast = { x, y, k in 0.02 * Double(k) * (x * x + y * y < 64 ? 1 : 0.3) }
    return s
}

@Test func monitorMatchesTheFullFramePipelineBitForBit() throws {
    // The monitor computes the drift-corrected frame only inside the mask; its metrics must equal the
    // full-frame path (ImageOps.shifted → totalContrast → meanAndStandardDeviation) exactly.
    let stack = driftingStack()
    var options = AnalysisOptions()
    options.sdcLagFrames = 2
    let frames = (0..<6).map { stack.frame($0) }
    var monitor = try ParticleMonitor(reference: frames[0], options: options, source: "test")
    var tracker = try DriftTracker(reference: frames[0], particle: monitor.mask)
    var particles: [[Float]] = []
    for k in 0..<frames.count {
        let m = monitor.process(frames[k])
        let d = k == 0 ? (dx: 0.0, dy: 0.0) : tracker.measure(frames[k])
        if k == 0 { _ = tracker.measure(frames[0]) }
        let corrected = k == 0 ? frames[0] : ImageOps.shifted(frames[k], dxPixels: d.dx, dyPixels: d.dy)
        let contrast = ContrastMetrics.totalContrast(corrected, reference: frames[0], mask: monitor.mask)
        #expect(m.driftXPixels == d.dx && m.driftYPixels == d.dy)
        #expect(m.contrast.pixels.elementsEqual(contrast.pixels) { $0 == $1 || ($0.isNaN && $1.isNaN) }, "frame \(k)")
        #expect(m.intensityChange == ContrastMetrics.normalisedIntensityChange(contrast, mask: monitor.mask))
        let particle = monitor.mask.indices.map { corrected.pixels[$0] }
        if k >= 2 {
            let earlier = particles[k - 2]
            var n = 0.0, s = 0.0, s2 = 0.0
            for j in particle.indices {
                let v = Double(particle[j] / earlier[j] - 1)
                if v.isFinite { n += 1; s += v; s2 += v * v }
            }
            let mean = s / n
            #expect(m.sdcStandardDeviation == max(0, s2 / n - mean * mean).squareRoot())
        } else {
            #expect(m.sdcStandardDeviation.isNaN)
        }
        particles.append(particle)
    }
}

@Test func aContrastImageKeptByTheCallerIsNotChangedByTheNextFrame() throws {
    // The monitor reuses its contrast buffer; a caller holding the previous image must keep it as it was.
    let stack = driftingStack()
    var monitor = try ParticleMonitor(reference: stack.frame(0), source: "test")
    _ = monitor.process(stack.frame(0))
    let first = monitor.process(stack.frame(3))
    let snapshot = first.contrast.pixels
    let second = monitor.process(stack.frame(5))
    #expect(first.contrast.pixels.elementsEqual(snapshot) { $0 == $1 || ($0.isNaN && $1.isNaN) })
    #expect(!second.contrast.pixels.elementsEqual(snapshot) { $0 == $1 || ($0.isNaN && $1.isNaN) })
}

@Test func shiftedSamplesEqualTheFullFrameShiftIncludingEdges() {
    let stack = driftingStack()
    let frame = stack.frame(1)
    let indices = Array(stride(from: 0, to: frame.pixels.count, by: 7))   // interior, edges and corners
    for (dx, dy) in [(0.37, -0.21), (-2.6, 3.4), (0.0, 0.0), (5.5, -4.25)] {
        let full = ImageOps.shifted(frame, dxPixels: dx, dyPixels: dy)
        var out = [Float](repeating: 0, count: indices.count)
        indices.withUnsafeBufferPointer { idx in
            out.withUnsafeMutableBufferPointer { o in
                ImageOps.shiftedSamples(frame, dxPixels: dx, dyPixels: dy, at: idx, into: o)
            }
        }
        for (k, i) in indices.enumerated() {
            let a = out[k], b = full.pixels[i]
            #expect(a == b || (a.isNaN && b.isNaN), "(\(dx), \(dy)) pixel \(i): \(a) vs \(b)")
        }
    }
}
