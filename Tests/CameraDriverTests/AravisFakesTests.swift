import FirmwareSim
import Foundation
import ParticleModel
import Rig
import RigDrivers
import Testing

/// Renders firmware-sim's optical image of the particle as the fake camera would see it at a time:
/// drifting across the ROI and lit by an LED whose on-time varies with time, so every frame's image
/// depends on the moment it was painted.
final class ParticleScene: @unchecked Sendable {
    let optics: OpticsParameters
    let particle: ParticleCell
    let renderer: OpticsRenderer
    let roi: RegionOfInterest
    let originNanoseconds: UInt64
    var rng = SeededRandom(seed: 9)
    var pixels: [UInt16] = []

    /// Drift 20 px/s along x, 10 px/s along y (fast, so consecutive frames differ).
    static let driftPixelsPerSecond = (x: 20.0, y: 10.0)

    init(roi: RegionOfInterest, originNanoseconds: UInt64) throws {
        var o = OpticsParameters()
        o.noise = 0   // deterministic: the test re-renders each frame and compares
        optics = o
        particle = try ParticleCell(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), theta0: 0.6)
        renderer = OpticsRenderer(parameters: o, particle: particle, roiX: roi.x, roiY: roi.y,
                                  roiWidth: roi.width, roiHeight: roi.height, seed: 3)
        self.roi = roi
        self.originNanoseconds = originNanoseconds
    }

    /// The image at a camera timestamp (host real time, ns).
    func render(atNanoseconds t: UInt64, exposureSeconds: Double) -> [UInt16] {
        let s = Double(Int64(bitPattern: t &- originNanoseconds)) * 1e-9
        let led = exposureSeconds * (0.55 + 0.4 * sin(2 * Double.pi * 0.8 * s))
        // Whole-pixel drift: the static scene's blur is cached per sub-pixel phase, so a whole-pixel
        // step costs only the particle's re-blur (keeps the painter fast enough in debug builds).
        renderer.render(particle: particle,
                        driftPixels: ((Self.driftPixelsPerSecond.x * s).rounded(.down), (Self.driftPixelsPerSecond.y * s).rounded(.down)),
                        ledOnSeconds: led, exposureSeconds: exposureSeconds, rng: &rng, into: &pixels)
        return pixels
    }
}

/// Mean over a box of a 16-bit image (the particle's neighbourhood).
func boxMean(_ p: [UInt16], width: Int, x: Range<Int>, y: Range<Int>) -> Double {
    var s = 0.0
    for r in y { for c in x { s += Double(p[r * width + c]) } }
    return s / Double(x.count * y.count)
}

extension AravisSuite {
    @Suite struct InProcessFakeTests {
        func fakeConfiguration() -> AravisCameraConfiguration {
            var c = AravisCameraConfiguration()
            c.enableFakeInterface = true
            c.device = .deviceID("Fake_1")
            c.triggerSource = .freeRunning
            c.pixelFormat = "Mono16"
            c.roi = SimCamera.defaultROI
            c.buffers = 8
            return c
        }

        @Test func freeRunningFakeDeliversFirmwareSimImagesPaintedAtEachFramesTime() throws {
            let camera = try AravisCamera(configuration: fakeConfiguration())
            defer { camera.stop() }
            #expect(camera.triggerMode == .freeRunning)
            #expect(camera.settings.triggerMode == "Off")
            #expect(camera.settings.roi == SimCamera.defaultROI)
            let rate = try camera.setFrameRate(hertz: 20)
            #expect(abs(rate - 20) < 0.01)

            let origin = UInt64(Date().timeIntervalSince1970 * 1e9)
            let roi = SimCamera.defaultROI
            let exposure = camera.settings.exposureMicroseconds * 1e-6
            let painterScene = try ParticleScene(roi: roi, originNanoseconds: origin)
            let checkScene = try ParticleScene(roi: roi, originNanoseconds: origin)
            let fake = try #require(camera.inProcessFake)
            let painter = AravisFakePainter(camera: fake) { fill in
                guard fill.pixelFormat == "Mono16", fill.width == roi.width, fill.height == roi.height,
                      fill.byteCount >= roi.width * roi.height * 2 else { return 0 }
                let image = painterScene.render(atNanoseconds: fill.timestampNanoseconds, exposureSeconds: exposure)
                image.withUnsafeBytes { fill.bytes.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                return image.count * 2
            }
            defer { painter.uninstall() }

            try camera.start()
            // The fake ignores software triggers: the driver refuses them in free-running mode.
            #expect(throws: CameraError.self) { try camera.softwareTrigger() }
            var previous: CameraFrame? = nil
            var means: [Double] = []
            // Particle centre (960.3, 600.4) − ROI origin, padded by the drift over the test.
            let box = (x: 100..<190, y: 105..<165)
            for _ in 0..<12 {
                let frame = try camera.nextFrame(timeoutSeconds: 1.0)
                let meta = try #require(frame.metadata)
                #expect(meta.status == .success)
                #expect(meta.cameraTimestampNanoseconds > origin)
                let expected = checkScene.render(atNanoseconds: meta.cameraTimestampNanoseconds, exposureSeconds: exposure)
                #expect(frame.pixels == expected, "frame \(frame.frameID) carries the image rendered for its own time")
                let m = boxMean(frame.pixels, width: roi.width, x: box.x, y: box.y)
                #expect(abs(m - boxMean(expected, width: roi.width, x: box.x, y: box.y)) < 1e-9)
                #expect(m > optics(checkScene).blackLevelDN + 50, "the particle is lit, not a black frame")
                means.append(m)
                if let p = previous, let pm = p.metadata {
                    #expect(frame.frameID == p.frameID + 1)
                    // Free-running at 20 Hz: never faster than one frame per 50 ms period (slower when
                    // painting a frame takes longer than a period, as in a debug build).
                    let dt = Double(meta.cameraTimestampNanoseconds - pm.cameraTimestampNanoseconds) * 1e-9
                    #expect(dt > 0.04, "frame interval \(dt) s at 20 Hz")
                    // Exposure dated on the rig's clock from the camera's timestamp: same spacing.
                    let rigDt = Double(frame.exposureStartNanoseconds - p.exposureStartNanoseconds) * 1e-9
                    #expect(abs(rigDt - dt) < 0.005)
                }
                previous = frame
            }
            // The LED modulation makes the painted brightness change from frame to frame.
            #expect((means.max() ?? 0) - (means.min() ?? 0) > 20)
            #expect(camera.takeDroppedFrames().isEmpty)
        }

        /// A frame the fake hands out short (the painter reports fewer bytes than the image needs)
        /// is a SIZE_MISMATCH drop with the sizes in its reason; the next good frame follows it.
        @Test func aShortBufferIsADroppedFrameWithItsSizes() throws {
            var c = fakeConfiguration()
            c.roi = RegionOfInterest(x: 0, y: 0, width: 64, height: 32)
            let camera = try AravisCamera(configuration: c)
            defer { camera.stop() }
            try camera.setFrameRate(hertz: 100)
            let fake = try #require(camera.inProcessFake)
            let painter = AravisFakePainter(camera: fake) { fill in
                memset(fill.bytes, 0x11, fill.width * fill.height * 2)
                return fill.frameID % 3 == 0 ? 100 : fill.width * fill.height * 2
            }
            defer { painter.uninstall() }
            try camera.start()
            var good = 0, short = 0
            for _ in 0..<9 {
                do {
                    let f = try camera.nextFrame(timeoutSeconds: 1)
                    #expect(f.frameID % 3 != 0)
                    #expect(f.pixels.allSatisfy { $0 == 0x1111 })
                    good += 1
                } catch CameraError.frameDropped(_, let id, let reason) {
                    #expect(id.map { $0 % 3 == 0 } == true)
                    #expect(reason.contains("SIZE_MISMATCH") && reason.contains("100 bytes for 64×32 Mono16"), "\(reason)")
                    short += 1
                }
            }
            #expect(short == 3 && good == 6)
            let records = camera.takeDroppedFrames()
            #expect(records.count == 3 && records.allSatisfy { $0.status == .sizeMismatch })
        }

        @Test func mono8IsWidenedOnceAndRangesComeFromTheFakesNodes() throws {
            var c = fakeConfiguration()
            c.pixelFormat = "Mono8"
            c.roi = RegionOfInterest(x: 0, y: 0, width: 64, height: 32)
            let camera = try AravisCamera(configuration: c)
            defer { camera.stop() }
            #expect(camera.settings.pixelFormat == "Mono8")
            #expect(camera.settings.payloadBytes == 64 * 32)
            try camera.setFrameRate(hertz: 100)
            let fake = try #require(camera.inProcessFake)
            // Paint a known ramp: value = (x + 3y) mod 256.
            let painter = AravisFakePainter(camera: fake) { fill in
                let p = fill.bytes.assumingMemoryBound(to: UInt8.self)
                for y in 0..<fill.height { for x in 0..<fill.width { p[y * fill.width + x] = UInt8((x + 3 * y) & 0xFF) } }
                return fill.width * fill.height
            }
            defer { painter.uninstall() }
            try camera.start()
            let frame = try camera.nextFrame(timeoutSeconds: 1.0)
            #expect(frame.metadata?.pixelFormat == "Mono8")
            #expect(frame.pixels.count == 64 * 32)
            #expect(frame.pixels[5 * 64 + 7] == UInt16(7 + 15))
            #expect(frame.pixels[31 * 64 + 63] == UInt16((63 + 93) & 0xFF))
            // The borrowing path gives the same pixels without a copy of our own.
            let sum = try camera.withNextFrame(timeoutSeconds: 1.0) { v in v.pixels.reduce(0) { $0 + Int($1) } }
            #expect(sum == frame.pixels.reduce(0) { $0 + Int($1) })
        }
    }
}

func optics(_ s: ParticleScene) -> OpticsParameters { s.optics }
