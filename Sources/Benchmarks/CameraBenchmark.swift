import Foundation
import Rig
import RigDrivers

/// CPU time of the calling thread, ns.
private func threadCPUNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

private func say(_ s: String) { FileHandle.standardOutput.write((s + "\n").data(using: .utf8)!) }

/// The camera driver's frame path at the IMX174's full frame (1920×1200 Mono16) from Aravis's
/// in-process fake, free-running faster than the target: frames per second and CPU per frame on the
/// consuming thread for pop only, pop + a plain memcpy of the same frames, pop + bin through the
/// borrowing path (no copy), and pop + the copy into a `CameraFrame` + bin (what `nextFrame` does).
/// Target: the driver path keeps up with ≈ 160 fps on one core (≤ 6.25 ms CPU per frame).
func cameraDriverBenchmark() {
    say("")
    say("== RigDrivers: Aravis camera path, 1920×1200 Mono16 from the in-process fake (target ≥ 160 fps on one core) ==")
    do {
        var c = AravisCameraConfiguration()
        c.enableFakeInterface = true
        c.device = .deviceID("Fake_1")
        c.triggerSource = .freeRunning
        c.pixelFormat = "Mono16"
        c.roi = RegionOfInterest(x: 0, y: 0, width: 1920, height: 1200)
        c.buffers = 16
        let camera = try AravisCamera(configuration: c)
        defer { camera.stop() }
        let offered = try camera.setFrameRate(hertz: 400)
        let count = 1920 * 1200
        // The fake paints a fixed image with one memcpy, so its own thread is not the bottleneck.
        let image = (0..<count).map { UInt16(truncatingIfNeeded: ($0 % 1920 + $0 / 1920) & 0x0FFF) }
        guard let fake = camera.inProcessFake else { say("FAILED: no in-process fake"); return }
        let painter = AravisFakePainter(camera: fake) { fill in
            let n = min(fill.byteCount, count * 2)
            image.withUnsafeBytes { fill.bytes.copyMemory(from: $0.baseAddress!, byteCount: n) }
            return n
        }
        defer { painter.uninstall() }
        try camera.start()
        var sum = [Float](repeating: 0, count: count)
        var copy = [UInt16](repeating: 0, count: count)
        for _ in 0..<10 { _ = try camera.nextFrame(timeoutSeconds: 1) }   // warm up
        _ = camera.takeDroppedFrames()

        func measure(_ name: String, frames n: Int, _ body: () throws -> Void) throws {
            let wall0 = DispatchTime.now().uptimeNanoseconds, cpu0 = threadCPUNanoseconds()
            for _ in 0..<n { try body() }
            let wall = Double(DispatchTime.now().uptimeNanoseconds - wall0) * 1e-9
            let cpu = Double(threadCPUNanoseconds() - cpu0) * 1e-9
            let cpuPerFrame = cpu / Double(n)
            let dropped = camera.takeDroppedFrames().count
            say(String(format: "%@ %6.0f fps  %6.2f ms CPU/frame (%5.0f fps per core)  %d dropped  %@",
                       name.padding(toLength: 44, withPad: " ", startingAt: 0), Double(n) / wall, cpuPerFrame * 1e3,
                       1 / cpuPerFrame, dropped, 1 / cpuPerFrame >= 160 ? "≥ 160 met" : "≥ 160 MISSED"))
        }
        let n = 300
        say(String(format: "fake free-running at %.0f Hz; %d frames per row", offered, n))
        try measure("pop only (re-queue)", frames: n) {
            try camera.withNextFrame(timeoutSeconds: 1) { _ in }
        }
        try measure("pop + memcpy of the frame", frames: n) {
            try camera.withNextFrame(timeoutSeconds: 1) { v in
                copy.withUnsafeMutableBufferPointer { d in d.baseAddress!.update(from: v.pixels.baseAddress!, count: v.pixels.count) }
            }
        }
        try measure("pop + bin into Float (borrowed, no copy)", frames: n) {
            try camera.withNextFrame(timeoutSeconds: 1) { v in
                sum.withUnsafeMutableBufferPointer { s in
                    let p = v.pixels
                    for i in 0..<p.count { s[i] += Float(p[i]) }
                }
            }
        }
        try measure("nextFrame (copy to CameraFrame) + bin", frames: n) {
            let f = try camera.nextFrame(timeoutSeconds: 1)
            sum.withUnsafeMutableBufferPointer { s in
                f.pixels.withUnsafeBufferPointer { p in for i in 0..<p.count { s[i] += Float(p[i]) } }
            }
        }
        if sum[1] < 0 { say("") }   // keep the accumulator alive
    } catch { say("FAILED: \(error)") }
}
