import Foundation
import ParticleModel
import Rig

/// The simulated camera (FLIR Grasshopper3 GS3-U3-23S6M-C on the seed's optics) in hardware-trigger
/// mode: each rising edge of the chip's `trigger` line while armed starts one exposure of the
/// configured length; the frame is read out `readoutSeconds` after the exposure ends and rendered
/// then, from the LED line's edge log (light = LED-on time inside the exposure window) and the cell's
/// θ field at mid-exposure. A frame whose exposure misses the LED is dark, as on the bench.
///
/// A trigger that arrives while an exposure is running is ignored (counted in `ignoredTriggers`), as
/// the sensor is busy. Frame ids start just below 2³² so 32-bit truncation bugs show within 8 frames.
public final class SimCamera: Camera {
    /// Device name in error messages (`sim-camera`).
    public let name: String
    public var sensorWidth: Int { optics.sensorWidth }
    public var sensorHeight: Int { optics.sensorHeight }
    public var pixelSizeMicrometres: Double { optics.pixelSizeMicrometres }
    public var blackLevelCounts: Double { optics.blackLevelDN }
    /// The default ROI: 256 × 256 centred on the particle.
    public static let defaultROI = RegionOfInterest(x: 832, y: 472, width: 256, height: 256)
    /// First frame id.
    public static let firstFrameID: UInt64 = UInt64(UInt32.max) - 7

    let optics: OpticsParameters
    let chip: SimGPIOChip
    let clock: any Clock
    let particle: ParticleCell
    let drift: DriftPath
    /// Called with a time (ns) to bring the cell's state to it before a frame is rendered.
    let synchronise: (Int64) -> Void
    let originNanoseconds: Int64
    let seed: UInt64
    private let lock = NSLock()

    /// Current ROI and exposure.
    public private(set) var roi = SimCamera.defaultROI
    public private(set) var exposureSeconds = 0.0025
    /// True while armed for triggers.
    public private(set) var isAcquiring = false
    /// Triggers ignored because the sensor was busy (or the camera disarmed).
    public private(set) var ignoredTriggers = 0
    /// Exposures lost (injected drops, timeouts, or a full frame queue).
    public private(set) var droppedFrames = 0
    private var renderer: OpticsRenderer?
    private var rng: SeededRandom
    private var nextFrameID = SimCamera.firstFrameID

    private struct Exposure { var frameID: UInt64; var start: Int64; var end: Int64 }
    private var queue: [Exposure] = []
    private let queueCapacity = 64
    private var busyUntil: Int64 = .min
    private var dropRemaining = 0
    private var timeoutWindows: [(Int64, Int64)] = []
    private var schedule: [ScheduledFault]

    /// - Parameters:
    ///   - chip: the chip whose `trigger` line starts exposures and whose `led` line lights them.
    ///   - particle: the imaged particle (θ field).
    ///   - synchronise: brings the cell to a clock time (the rig passes the potentiostat's).
    ///   - faults: camera faults at run times (others ignored).
    public init(name: String = "sim-camera", optics: OpticsParameters, chip: SimGPIOChip, clock: any Clock,
                particle: ParticleCell, drift: DriftPath, seed: UInt64, faults: [ScheduledFault] = [],
                synchronise: @escaping (Int64) -> Void = { _ in }) {
        self.name = name
        self.optics = optics
        self.chip = chip
        self.clock = clock
        self.particle = particle
        self.drift = drift
        self.seed = seed
        self.synchronise = synchronise
        originNanoseconds = clock.monotonicNanoseconds
        rng = SeededRandom(seed: seed, stream: 4)
        schedule = faults.filter {
            switch $0.fault { case .cameraDrop, .cameraTimeout: return true; default: return false }
        }.sorted { $0.atSeconds < $1.atSeconds }
        queue.reserveCapacity(queueCapacity)
        // Weak: the chip may outlive the camera (a caller keeping only the chip).
        chip.addEdgeObserver { [weak self] offset, rising, t in
            if offset == SimGPIOChip.triggerOffset && rising { self?.trigger(at: t) }
        }
    }

    /// Delay from the trigger's rising edge to the start of the exposure (GS3 datasheet: ≈ 7.5 µs),
    /// so an LED switched on exactly at the trigger still covers the exposure, but a loop must not
    /// assume the edge time is the exposure start: frames carry the true window.
    public var triggerLatencySeconds = 7.5e-6

    /// Readout time after the exposure ends: IMX174 row time ≈ 6 µs per row plus transfer set-up.
    public var readoutSeconds: Double { 6e-6 * Double(roi.height) + 2e-4 }

    /// Sets ROI and exposure; only while stopped.
    /// - Throws: `CameraError.invalidSetting` naming the setting for an ROI off the sensor, an exposure
    ///   outside 10 µs…1 s, or a change while acquiring.
    public func configure(roi: RegionOfInterest, exposureSeconds: Double) throws {
        guard !isAcquiring else {
            throw CameraError.invalidSetting(device: name, setting: "roi", reason: "cannot change while acquiring; stop first")
        }
        guard roi.width >= 8, roi.height >= 8, roi.x >= 0, roi.y >= 0,
              roi.x + roi.width <= sensorWidth, roi.y + roi.height <= sensorHeight else {
            throw CameraError.invalidSetting(device: name, setting: "roi",
                                             reason: "\(roi.width)×\(roi.height) at (\(roi.x), \(roi.y)) does not fit the \(sensorWidth)×\(sensorHeight) sensor (minimum 8×8)")
        }
        guard exposureSeconds.isFinite, exposureSeconds >= 1e-5, exposureSeconds <= 1 else {
            throw CameraError.invalidSetting(device: name, setting: "exposure",
                                             reason: "\(exposureSeconds) s is outside 10 µs…1 s")
        }
        if roi != self.roi || renderer == nil {
            renderer = nil   // rebuilt lazily for the new ROI
        }
        self.roi = roi
        self.exposureSeconds = exposureSeconds
    }

    /// Arms the camera for hardware triggers.
    public func start() throws {
        if renderer == nil {
            renderer = OpticsRenderer(parameters: optics, particle: particle, roiX: roi.x, roiY: roi.y,
                                      roiWidth: roi.width, roiHeight: roi.height, seed: seed)
        }
        lock.lock(); isAcquiring = true; lock.unlock()
    }

    /// Disarms the camera; exposures not yet read out are discarded.
    public func stop() {
        lock.lock(); isAcquiring = false; queue.removeAll(keepingCapacity: true); lock.unlock()
    }

    /// Loses the next `count` exposures now.
    public func injectDrop(count: Int) { lock.lock(); dropRemaining += max(0, count); lock.unlock() }

    /// Exposures starting in the next `seconds` are never read out.
    public func injectTimeout(seconds: Double) {
        let now = clock.monotonicNanoseconds
        lock.lock(); timeoutWindows.append((now, now + Int64(seconds * 1e9))); lock.unlock()
    }

    private func fireScheduledFaults(upTo t: Int64) {
        while let f = schedule.first, originNanoseconds + Int64(f.atSeconds * 1e9) <= t {
            schedule.removeFirst()
            let at = originNanoseconds + Int64(f.atSeconds * 1e9)
            switch f.fault {
            case .cameraDrop(let n): dropRemaining += n
            case .cameraTimeout(let s): timeoutWindows.append((at, at + Int64(s * 1e9)))
            default: break
            }
        }
    }

    /// Trigger edge handler (called from `DigitalLine.set` on the loop's thread): no allocation.
    private func trigger(at t: Int64) {
        lock.lock(); defer { lock.unlock() }
        guard isAcquiring, t >= busyUntil else { ignoredTriggers += 1; return }
        fireScheduledFaults(upTo: t)
        let start = t + Int64((triggerLatencySeconds * 1e9).rounded())
        let end = start + Int64((exposureSeconds * 1e9).rounded())
        busyUntil = end
        var lost = false
        if dropRemaining > 0 { dropRemaining -= 1; lost = true }
        for (a, b) in timeoutWindows where t >= a && t < b { lost = true }
        let id = nextFrameID
        nextFrameID &+= 1
        if lost || queue.count >= queueCapacity { droppedFrames += 1; return }
        queue.append(Exposure(frameID: id, start: start, end: end))
    }

    /// The next frame read out, waiting up to `timeoutSeconds` of the rig's clock. On the virtual
    /// clock this advances the clock to the frame's read-out time (or by the timeout if none comes).
    /// - Throws: `CameraError.notStarted` when disarmed, `.timeout` when no frame arrives in time.
    public func nextFrame(timeoutSeconds: Double) throws -> CameraFrame {
        guard isAcquiring, let renderer else { throw CameraError.notStarted(device: name) }
        let now = clock.monotonicNanoseconds
        let deadline = now + Int64(max(0, timeoutSeconds) * 1e9)
        let readout = Int64(readoutSeconds * 1e9)
        var exposure: Exposure?
        while true {
            lock.lock()
            if let first = queue.first, first.end + readout <= deadline {
                exposure = first
                queue.removeFirst()
            }
            lock.unlock()
            if exposure != nil || clock.isVirtual || clock.monotonicNanoseconds >= deadline { break }
            // Wall clock: another thread may still trigger; poll in 1 ms steps.
            clock.sleep(untilNanoseconds: min(deadline, clock.monotonicNanoseconds + 1_000_000))
        }
        guard let e = exposure else {
            clock.sleep(untilNanoseconds: deadline)
            throw CameraError.timeout(device: name, seconds: timeoutSeconds)
        }
        clock.sleep(untilNanoseconds: e.end + readout)
        let mid = e.start + (e.end - e.start) / 2
        synchronise(mid)
        let ledOn = chip.highNanoseconds(line: SimGPIOChip.ledOffset, from: e.start, to: e.end)
        let d = drift.displacementMicrometres(atSeconds: Double(mid - originNanoseconds) * 1e-9)
        var pixels = [UInt16](repeating: 0, count: roi.width * roi.height)
        renderer.render(particle: particle,
                        driftPixels: (d.x / optics.pixelSizeMicrometres, d.y / optics.pixelSizeMicrometres),
                        ledOnSeconds: Double(ledOn) * 1e-9, exposureSeconds: Double(e.end - e.start) * 1e-9,
                        rng: &rng, into: &pixels)
        return CameraFrame(frameID: e.frameID, width: roi.width, height: roi.height, pixels: pixels,
                        exposureStartNanoseconds: e.start, exposureEndNanoseconds: e.end)
    }

    /// Drift of the image content at a clock time, pixels (x right, y down) — ground truth for tests.
    public func driftPixels(atNanoseconds t: Int64) -> (x: Double, y: Double) {
        let d = drift.displacementMicrometres(atSeconds: Double(t - originNanoseconds) * 1e-9)
        return (d.x / optics.pixelSizeMicrometres, d.y / optics.pixelSizeMicrometres)
    }
}
