import Foundation
import Rig
import Testing
@testable import FirmwareSim

/// A noiseless sim rig with the camera armed and both lines requested.
func quietRig(_ edit: (inout SimConfiguration) -> Void = { _ in }) throws -> (SimRig, DigitalLine, DigitalLine) {
    var c = SimConfiguration()
    c.noise = 0
    c.hotPixelsPerMegapixel = 0
    edit(&c)
    let rig = try SimRig(configuration: c)
    let led = try rig.chip.requestOutput(offset: SimGPIOChip.ledOffset, consumer: "test", initialHigh: false)
    let trigger = try rig.chip.requestOutput(offset: SimGPIOChip.triggerOffset, consumer: "test", initialHigh: false)
    try rig.camera.configure(roi: SimCamera.defaultROI, exposureSeconds: 0.002)
    try rig.camera.start()
    return (rig, led, trigger)
}

/// One exposure with the LED switched on at `ledOn` and off at `ledOff` (ns relative to the trigger).
func expose(_ rig: SimRig, _ led: DigitalLine, _ trigger: DigitalLine, ledOn: Int64?, ledOff: Int64?) throws -> CameraFrame {
    let t = rig.clock.monotonicNanoseconds + 10_000_000
    var events: [(Int64, () throws -> Void)] = [(t, { try trigger.set(true); try trigger.set(false) })]
    if let on = ledOn { events.append((t + on, { try led.set(true) })) }
    if let off = ledOff { events.append((t + off, { try led.set(false) })) }
    for (at, action) in events.sorted(by: { $0.0 < $1.0 }) {
        rig.clock.sleep(untilNanoseconds: at)
        try action()
    }
    let frame = try rig.camera.nextFrame(timeoutSeconds: 0.1)
    try led.set(false)
    return frame
}

// The light of a frame is the LED's on-time inside the exposure window (architecture.md, Lockstep).
@Test func lightIsProportionalToTheLEDOverlapWithTheExposure() throws {
    let (rig, led, trigger) = try quietRig()
    let black = rig.optics.blackLevelDN
    func signal(_ f: CameraFrame) -> Double { boxMean(f.pixels, x: 113...143, y: 121...135, black: black) }
    // The exposure starts 7.5 µs after the trigger edge (the camera's trigger latency).
    let latency: Int64 = 7_500
    let full = signal(try expose(rig, led, trigger, ledOn: -200_000, ledOff: 2_500_000))
    let half = signal(try expose(rig, led, trigger, ledOn: -200_000, ledOff: latency + 1_000_000))
    let quarter = signal(try expose(rig, led, trigger, ledOn: latency + 1_500_000, ledOff: 3_000_000))
    let none = signal(try expose(rig, led, trigger, ledOn: latency + 2_000_000, ledOff: 4_000_000))
    let before = signal(try expose(rig, led, trigger, ledOn: -3_000_000, ledOff: latency))
    #expect(full > 1000)
    #expect(abs(half / full - 0.5) < 0.003)
    #expect(abs(quarter / full - 0.25) < 0.003)
    #expect(abs(none) < 0.6)          // dark frame: only the black level (and dark current)
    #expect(abs(before) < 0.6)
}

@Test func framesCarryExposureTimesAndIdsThatCrossA32BitWrap() throws {
    let (rig, led, trigger) = try quietRig()
    var ids: [UInt64] = []
    for _ in 0..<10 {
        let f = try expose(rig, led, trigger, ledOn: -200_000, ledOff: 2_500_000)
        #expect(f.exposureEndNanoseconds - f.exposureStartNanoseconds == 2_000_000)
        #expect(f.width == 256 && f.height == 256 && f.pixels.count == 256 * 256)
        ids.append(f.frameID)
    }
    #expect(ids == (0..<10).map { SimCamera.firstFrameID + UInt64($0) })
    #expect(ids.contains(UInt64(UInt32.max) + 1))
    // The exposure starts one trigger latency (7.5 µs) after the trigger's rising edge.
    let last = try expose(rig, led, trigger, ledOn: -200_000, ledOff: 2_500_000)
    let lastRising = rig.chip.edges(line: SimGPIOChip.triggerOffset).filter(\.rising).last!
    #expect(last.exposureStartNanoseconds == lastRising.monotonicNanoseconds + 7_500)
}

@Test func cameraRefusesBadSettingsAndTimesOutWithoutATrigger() throws {
    let (rig, _, trigger) = try quietRig()
    #expect(throws: CameraError.self) { try rig.camera.configure(roi: SimCamera.defaultROI, exposureSeconds: 0.003) }
    rig.camera.stop()
    #expect(throws: CameraError.notStarted(device: "sim-camera")) { _ = try rig.camera.nextFrame(timeoutSeconds: 0.1) }
    #expect(throws: CameraError.self) {
        try rig.camera.configure(roi: RegionOfInterest(x: 1800, y: 0, width: 256, height: 256), exposureSeconds: 0.003)
    }
    #expect(throws: CameraError.self) { try rig.camera.configure(roi: SimCamera.defaultROI, exposureSeconds: 2) }
    try rig.camera.configure(roi: RegionOfInterest(x: 0, y: 0, width: 1920, height: 1200), exposureSeconds: 0.0018)
    try rig.camera.start()
    let t0 = rig.clock.monotonicNanoseconds
    #expect(throws: CameraError.timeout(device: "sim-camera", seconds: 0.5)) { _ = try rig.camera.nextFrame(timeoutSeconds: 0.5) }
    #expect(rig.clock.monotonicNanoseconds == t0 + 500_000_000)   // a timeout takes its time
    try trigger.set(true)
    let f = try rig.camera.nextFrame(timeoutSeconds: 0.5)
    #expect(f.width == 1920 && f.height == 1200)
    // A trigger during a running exposure is ignored, as the sensor is busy.
    try trigger.set(false)
    try trigger.set(true); try trigger.set(false); try trigger.set(true)
    #expect(rig.camera.ignoredTriggers == 1)
}

@Test func droppedFramesAndCameraTimeoutsHappenOnDemand() throws {
    let (rig, led, trigger) = try quietRig {
        $0.faults = [ScheduledFault(atSeconds: 1, fault: .cameraDrop(count: 2)),
                     ScheduledFault(atSeconds: 5, fault: .cameraTimeout(seconds: 1))]
    }
    let first = try expose(rig, led, trigger, ledOn: 0, ledOff: 2_500_000)
    rig.clock.sleep(untilNanoseconds: rig.originNanoseconds + 1_000_000_000)
    try trigger.set(true); try trigger.set(false)
    #expect(throws: CameraError.self) { _ = try rig.camera.nextFrame(timeoutSeconds: 0.05) }
    try trigger.set(true); try trigger.set(false)
    #expect(throws: CameraError.self) { _ = try rig.camera.nextFrame(timeoutSeconds: 0.05) }
    let after = try expose(rig, led, trigger, ledOn: 0, ledOff: 2_500_000)
    #expect(after.frameID == first.frameID + 3)        // the dropped frames leave a gap in the ids
    #expect(rig.camera.droppedFrames == 2)
    rig.clock.sleep(untilNanoseconds: rig.originNanoseconds + 5_100_000_000)
    try trigger.set(true); try trigger.set(false)
    #expect(throws: CameraError.timeout(device: "sim-camera", seconds: 0.2)) { _ = try rig.camera.nextFrame(timeoutSeconds: 0.2) }
    rig.clock.sleep(untilNanoseconds: rig.originNanoseconds + 6_100_000_000)
    _ = try expose(rig, led, trigger, ledOn: 0, ledOff: 2_500_000)
}

// Stage drift: the image content (fiducial) follows the drift path: linear 5 nm/min plus a walk.
@Test func imageContentFollowsTheDriftPath() throws {
    let (rig, led, trigger) = try quietRig {
        $0.driftNanometresPerMinute = 60        // 1 nm/s, so ten minutes move the spot by 17 px
        $0.driftDirectionDegrees = 30
        $0.driftWalkNanometresPerSqrtMinute = 3
    }
    let spot = (x: particleCentreInROI.x + rig.optics.fiducialOffsetPixels.x, y: particleCentreInROI.y + rig.optics.fiducialOffsetPixels.y)
    var measured: [(x: Double, y: Double)] = [], truth: [(x: Double, y: Double)] = []
    for minute in [0.0, 2, 5, 10] {
        rig.clock.sleep(untilNanoseconds: rig.originNanoseconds + Int64(minute * 60e9))
        let f = try expose(rig, led, trigger, ledOn: -200_000, ledOff: 2_500_000)
        let d = rig.camera.driftPixels(atNanoseconds: (f.exposureStartNanoseconds + f.exposureEndNanoseconds) / 2)
        truth.append(d)
        let bg = boxMean(f.pixels, x: Int(spot.x + d.x) + 12...Int(spot.x + d.x) + 14, y: Int(spot.y + d.y) - 14...Int(spot.y + d.y) - 12, black: 0)
        let m = spotMoments(f.pixels, around: (spot.x + d.x, spot.y + d.y), halfWidth: 11, background: bg)
        measured.append((m.x - spot.x, m.y - spot.y))
    }
    // Displacements relative to the first frame (the textured background biases absolute centroids).
    for (m, t) in zip(measured, truth) {
        let dm = (x: m.x - measured[0].x, y: m.y - measured[0].y), dt = (x: t.x - truth[0].x, y: t.y - truth[0].y)
        #expect(abs(dm.x - dt.x) < 0.1 && abs(dm.y - dt.y) < 0.1, "measured \(dm), true \(dt)")
    }
    // Ten minutes at 60 nm/min along 30°, plus a walk of a few nm.
    let expected = (x: 600 * cos(Double.pi / 6) / 34.7, y: 600 * sin(Double.pi / 6) / 34.7)
    #expect(abs(truth[3].x - expected.x) < 1.5 && abs(truth[3].y - expected.y) < 1.5)
    #expect(abs(truth[3].x - expected.x) > 0 || abs(truth[3].y - expected.y) > 0)
}

@Test func driftWalkHasTheConfiguredDiffusion() {
    // rms displacement per axis after one minute should be the configured 4 nm.
    var squares = 0.0
    let paths = 200
    for seed in 0..<paths {
        let d = DriftPath(nanometresPerMinute: 0, directionDegrees: 0, walkNanometresPerSqrtMinute: 4, seed: UInt64(seed))
        let p = d.displacementMicrometres(atSeconds: 60)
        squares += (p.x * p.x + p.y * p.y) / 2
    }
    let rmsNanometres = (squares / Double(paths)).squareRoot() * 1000
    #expect(abs(rmsNanometres - 4) < 0.5, "rms \(rmsNanometres) nm")
}
