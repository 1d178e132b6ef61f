import Dataset
import Electrochemistry
import FirmwareSim
import Foundation
import Rig
import RigDrivers
import Testing

// The real camera driver in a whole run: the Aravis GigE fake, software-triggered by the exposure
// loop, with firmware-sim's cell and GPIO on the virtual clock (docs/hardware-camera.md). A protocol
// of 1,200 exposures runs as fast as the fake delivers frames.

private func protocolFile(_ steps: [String]) throws -> ProtocolFile {
    var t = "[cell]\nactive_mass_mg = 1.5\npractical_capacity_mAh_per_g = 210\n[imaging]\nframe_rate_Hz = 10\nexposure_ms = 2.5\nbin = 10\nled_lead_ms = 0.2\n"
    for s in steps { t += "[[steps]]\ndo = \"\(s)\"\n" }
    return try ProtocolFile.parse(text: t, path: "aravis-run.toml")
}

private struct Folder {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("operando-aravisrun-" + UUID().uuidString)
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Stops the fake camera at the `n`th recorded frame: the camera "stops delivering".
private final class FakeStopper: RunSubscriber {
    let subscriberName = "fake stopper"
    let fake: AravisGigEFake
    var frames = 0
    init(_ fake: AravisGigEFake) { self.fake = fake }
    func receive(_ message: RunMessage, bus: RunBus) throws {
        guard case .frame = message else { return }
        frames += 1
        if frames == 5 { fake.stop() }
    }
}

private func engine(_ proto: ProtocolFile, dir: String) throws -> (RunEngine, AravisCamera) {
    var (_, hw) = try SimRig.hardware(rigText: "", protocolFile: proto)
    let camera = try AravisCamera(configuration: gigESoftwareConfiguration(), clock: hw.clock)
    hw.camera = camera
    hw.trigger = SoftwareTriggerLine(camera: camera, base: hw.trigger)
    var options = RunOptions(outputDirectory: dir)
    options.roi = RegionOfInterest(x: 64, y: 32, width: 128, height: 96)
    options.maxConsecutiveTimeouts = 10
    return (RunEngine(protocolFile: proto, hardware: hw, options: options), camera)
}

extension AravisSuite {
    @Suite struct AravisRunTests {
        @Test func everySoftwareTriggerGetsExactlyOneFrameThroughARun() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            let folder = Folder(); defer { folder.remove() }
            let dir = (folder.path as NSString).appendingPathComponent("gige.operando")
            let (e, camera) = try engine(try protocolFile(["Rest for 2 minutes"]), dir: dir)
            defer { camera.stop() }
            let summary = try e.run()
            #expect(summary.outcome == .completed, "\(summary.outcome)")
            #expect(summary.triggers >= 1190)
            // Loopback UDP on a loaded machine can lose a rare packet (the fake does not resend): each
            // trigger must end as one frame or one dropped-frame record, never a silent gap.
            #expect(summary.droppedFrames <= summary.triggers / 100, "\(summary.droppedFrames) frames dropped on loopback")
            #expect(summary.cameraFrames + summary.droppedFrames == summary.triggers)
            #expect(summary.lockstepViolations == 0)
            let reader = try DatasetReader(dir)
            #expect(try reader.timing()?["every_trigger_matched_one_frame"] == .bool(true))
            let frames = try reader.frames()
            let lost = summary.triggers - summary.cameraFrames
            #expect(frames.count >= 119 - lost)
            #expect(frames.dropLast().filter { $0.exposures != 10 }.count <= lost)
        }

        @Test func aCameraThatStopsDeliveringEndsTheRunSafely() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            let folder = Folder(); defer { folder.remove() }
            let dir = (folder.path as NSString).appendingPathComponent("stopped.operando")
            let (e, camera) = try engine(try protocolFile(["Charge at C/3 for 10 minutes"]), dir: dir)
            defer { camera.stop() }
            e.subscribeInline(FakeStopper(fake))
            let summary = try e.run()
            guard case .fault(let device, let message) = summary.outcome else { Issue.record("outcome \(summary.outcome)"); return }
            #expect(device.contains("GV01") || message.contains("GV01"), "\(device): \(message)")
            let reader = try DatasetReader(dir)
            let events = try reader.events().map(\.event)
            #expect(events.contains("output_off"))
            #expect(events.last == "run_ended")
            #expect(try reader.echem().last?.stepKind == EchemRecord.safeStopKind)
            #expect(try reader.frames().count >= 1)     // the dataset opens
        }
    }
}
