import FirmwareSim
import Foundation
import ParticleModel
import Rig
import RigDrivers
import Testing

/// Everything that touches Aravis runs one test at a time: the library is not thread-safe and the
/// GigE fake owns UDP port 3956 on 127.0.0.1. Nested suites in other files inherit this.
@Suite(.serialized) struct AravisSuite {}

/// The GigE fake's configuration for software triggers on a small ROI (small frames keep the
/// loopback transfer short).
func gigESoftwareConfiguration(serial: String = "GV01") -> AravisCameraConfiguration {
    var c = AravisCameraConfiguration()
    c.device = .serial(serial)
    c.triggerSource = .software
    c.pixelFormat = "Mono16"
    c.exposureMilliseconds = 2.5
    c.roi = RegionOfInterest(x: 64, y: 32, width: 128, height: 96)
    c.buffers = 8
    return c
}

/// Starts the GigE fake, polling for software triggers at 2 kHz (the default 25 Hz would make 1000
/// frames take 40 s).
func startGigEFake(serial: String = "GV01") throws -> AravisGigEFake {
    let fake = try AravisGigEFake(address: "127.0.0.1", serialNumber: serial)
    fake.camera?.setTriggerFrequency(hertz: 2000)
    return fake
}

/// The error a throwing body raised, or nil.
func thrown(_ body: () throws -> Void) -> Error? {
    do { try body(); return nil } catch { return error }
}

extension AravisSuite {
    @Suite struct GigEFakeTests {
        @Test func softwareTriggersGiveExactlyOneFramePerTriggerOver1000Frames() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            let camera = try AravisCamera(configuration: gigESoftwareConfiguration())
            defer { camera.stop() }
            // Settings read back from the device.
            #expect(camera.triggerMode == .software)
            #expect(camera.settings.triggerSelector == "FrameStart")
            #expect(camera.settings.triggerMode == "On")
            #expect(camera.settings.triggerSource == "Software")
            #expect(camera.settings.acquisitionMode == "Continuous")
            #expect(camera.settings.exposureFeature == "ExposureTimeAbs")
            #expect(camera.settings.exposureMicroseconds == 2500)
            #expect(camera.settings.gainAuto == "Off")
            #expect(camera.settings.pixelFormat == "Mono16")
            #expect(camera.settings.roi == RegionOfInterest(x: 64, y: 32, width: 128, height: 96))
            #expect(camera.settings.payloadBytes == 128 * 96 * 2)
            #expect(camera.serialNumber == "GV01")
            #expect(camera.name.contains("GV01"))

            try camera.start()
            var previousID: UInt64? = nil
            var previousRaw: UInt64 = 0
            var wraps = 0
            var extraFrames = 0
            var transportLosses = 0, timeouts = 0
            var dropReasons: [String] = []
            let n = 1000
            var audit = TriggerFrameAudit(mode: camera.triggerMode, toleranceNanoseconds: 1_000_000, lateAfterNanoseconds: 500_000_000)
            for k in 0..<n {
                let before = MonotonicClock().monotonicNanoseconds
                try camera.softwareTrigger()
                audit.trigger(index: Int64(k), atNanoseconds: before)
                let frame: CameraFrame
                do {
                    frame = try camera.nextFrame(timeoutSeconds: 1.0)
                } catch CameraError.frameDropped(_, _, let reason) {
                    // Loopback UDP on a loaded machine can lose a packet (the fake does not resend):
                    // the frame must become a dropped-frame record, never a silent gap, and its
                    // trigger is missing. Rare: at most 1 % (checked below).
                    transportLosses += 1
                    dropReasons.append(reason)
                    audit.expire(before: .max)
                    previousID = nil
                    continue
                } catch CameraError.timeout {
                    transportLosses += 1   // every packet of the frame lost
                    timeouts += 1
                    audit.expire(before: .max)
                    previousID = nil
                    continue
                }
                let meta = try #require(frame.metadata)
                let outcome = audit.frame(exposureStartNanoseconds: frame.exposureStartNanoseconds, receivedNanoseconds: meta.receivedNanoseconds)
                #expect(outcome == .matched(triggerIndex: Int64(k), late: false)
                        || (transportLosses > 0 && outcome == .matched(triggerIndex: Int64(k), late: true)),
                        "a frame is late only after the transport lost one")
                #expect(meta.status == .success)
                #expect(frame.width == 128 && frame.height == 96 && frame.pixels.count == 128 * 96)
                if let p = previousID { #expect(frame.frameID == p + 1, "frame ids must be consecutive") }
                if meta.deviceFrameID < previousRaw { wraps += 1 }
                // The exposure is dated by its trigger, and the frame arrived after it.
                #expect(frame.exposureStartNanoseconds >= before && frame.exposureStartNanoseconds <= meta.receivedNanoseconds)
                #expect(frame.exposureEndNanoseconds - frame.exposureStartNanoseconds == 2_500_000)
                previousID = frame.frameID
                previousRaw = meta.deviceFrameID
            }
            // No frame without a trigger: nothing more arrives.
            if (try? camera.nextFrame(timeoutSeconds: 0.1)) != nil { extraFrames += 1 }
            #expect(extraFrames == 0)
            #expect(transportLosses <= n / 100, "\(transportLosses) of \(n) frames lost on loopback: \(dropReasons)")
            let records = camera.takeDroppedFrames()
            #expect(records.filter { $0.status != .neverDelivered }.count == transportLosses - timeouts)
            #expect(records.allSatisfy { !$0.reason.isEmpty })
            #expect(camera.deliveredFrames == n - transportLosses)
            #expect(audit.matched == n - transportLosses)
            #expect(audit.missing == transportLosses)
            #expect(audit.extra == 0)
            #expect(audit.late <= transportLosses)
            // The fake starts its 16-bit GigE counter just below the wrap: the unwrapped ids went through it.
            #expect(wraps == 1, "the 16-bit device counter wrapped once in \(n) frames")
        }

        @Test func fakeStoppedMidAcquisitionGivesAClearError() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            let camera = try AravisCamera(configuration: gigESoftwareConfiguration())
            defer { camera.stop() }
            try camera.start()
            for _ in 0..<20 {
                try camera.softwareTrigger()
                _ = try camera.nextFrame(timeoutSeconds: 1.0)
            }
            fake.stop()
            let start = Date()
            let error = thrown {
                try camera.softwareTrigger()
                _ = try camera.nextFrame(timeoutSeconds: 0.5)
            }
            let e = try #require(error as? CameraError, "a stopped camera must throw a CameraError, got \(String(describing: error))")
            switch e {
            case .unavailable(let device, let reason):
                #expect(device == camera.name)
                #expect(reason.contains("TriggerSoftware"))
            case .timeout(let device, _):
                #expect(device == camera.name)
            default:
                Issue.record("expected unavailable or timeout, got \(e)")
            }
            #expect(e.description.contains("GV01"))
            // Once lost, further calls fail at once instead of waiting for the network again.
            let again = Date()
            #expect(throws: CameraError.self) { try camera.softwareTrigger() }
            #expect(Date().timeIntervalSince(again) < 0.5)
            camera.stop()
            #expect(Date().timeIntervalSince(start) < 10)
        }

        @Test func anROIOffTheSensorIsRefusedWithTheDevicesRange() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            var c = gigESoftwareConfiguration()
            c.roi = RegionOfInterest(x: 2000, y: 0, width: 100, height: 64)   // 2100 > 2048 sensor
            let e = try #require(thrown { _ = try AravisCamera(configuration: c) } as? CameraError)
            guard case .invalidSetting(let device, let setting, let reason) = e else {
                Issue.record("expected invalidSetting, got \(e)"); return
            }
            #expect(device.contains("GV01"))
            #expect(setting == "roi")
            #expect(reason.contains("[2000, 0, 100, 64]"))
            #expect(reason.contains("Width 1…2048"))
            #expect(reason.contains("2048×2048 sensor"))

            c.roi = RegionOfInterest(x: 0, y: 0, width: 4096, height: 64)
            let e2 = try #require(thrown { _ = try AravisCamera(configuration: c) } as? CameraError)
            #expect(e2.description.contains("4096"), "\(e2)")
            #expect(e2.description.contains("Width 1…2048 in steps of 1"), "\(e2)")
        }

        /// Each refusal quotes the range or entries the fake's own GenICam XML declares.
        @Test func invalidValuesAreRefusedQuotingTheDevicesGenICamNodes() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            let xml = try GenICamXML(try #require(fake.camera).genicamXML)
            let exposure = try #require(xml.floatRange("ExposureTimeAbs"))
            let gain = try #require(xml.integerRange("GainRaw"))
            let formats = xml.entries("PixelFormat")
            let sources = xml.entries("TriggerSource")
            #expect(exposure.min == 10 && exposure.max == 10_000_000)
            #expect(formats.contains("Mono16") && !formats.contains("Mono12"))

            var c = gigESoftwareConfiguration()
            c.exposureMilliseconds = 0.005   // 5 µs, below the node's 10 µs
            var e = try #require(thrown { _ = try AravisCamera(configuration: c) } as? CameraError)
            #expect(e.description.contains("ExposureTimeAbs"))
            #expect(e.description.contains("5 µs is outside the device's range \(Int(exposure.min))…\(Int(exposure.max)) µs"), "\(e)")

            c = gigESoftwareConfiguration()
            c.gainDecibels = Double(gain.max + 2)
            e = try #require(thrown { _ = try AravisCamera(configuration: c) } as? CameraError)
            #expect(e.description.contains("GainRaw"))
            #expect(e.description.contains("\(gain.max + 2) (raw units) is outside the device's range \(gain.min)…\(gain.max)"), "\(e)")

            c = gigESoftwareConfiguration()
            c.pixelFormat = "Mono12"
            e = try #require(thrown { _ = try AravisCamera(configuration: c) } as? CameraError)
            #expect(e.description.contains("PixelFormat"))
            for f in formats { #expect(e.description.contains(f), "entry \(f) missing from \(e)") }

            c = gigESoftwareConfiguration()
            c.triggerSource = .line("Line3")
            e = try #require(thrown { _ = try AravisCamera(configuration: c) } as? CameraError)
            #expect(e.description.contains("TriggerSource"))
            #expect(e.description.contains("\"Line3\" is not offered"))
            for s in sources { #expect(e.description.contains(s)) }

            // In range: accepted and read back; the integer gain node takes the value as is.
            c = gigESoftwareConfiguration()
            c.gainDecibels = Double(gain.max)
            c.exposureMilliseconds = 3.5
            c.triggerSource = .line("Line0")
            let camera = try AravisCamera(configuration: c)
            #expect(camera.settings.gain == Double(gain.max))
            #expect(camera.settings.exposureMicroseconds == 3500)
            #expect(camera.settings.triggerSource == "Line0")
            #expect(camera.settings.triggerActivation == "RisingEdge")
            #expect(camera.triggerMode == .hardware)
            #expect(camera.warnings.contains { $0.contains("GainRaw") })
            // Line0 is a hardware trigger: a software trigger is refused by the driver.
            try camera.start()
            #expect(throws: CameraError.self) { try camera.softwareTrigger() }
            camera.stop()
        }

        /// With 2 % of packets lost and no resend, about a third of the frames arrive incomplete: each
        /// becomes a dropped-frame record with its status, and every trigger is accounted for.
        @Test func lostPacketsBecomeDroppedFrameRecordsNeverSilentGaps() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            fake.setLostPacketRatio(0.02)
            let camera = try AravisCamera(configuration: gigESoftwareConfiguration())
            defer { camera.stop() }
            try camera.start()
            var delivered: [UInt64] = []
            var thrownDrops = 0, timeouts = 0, leaderless = 0
            let n = 100
            for _ in 0..<n {
                try camera.softwareTrigger()
                do {
                    delivered.append(try camera.nextFrame(timeoutSeconds: 1.0).frameID)
                } catch CameraError.frameDropped(let device, let id, let reason) {
                    thrownDrops += 1
                    #expect(device == camera.name)
                    // A frame whose leader packet was lost has no id (the transport never saw it); it is
                    // still a dropped-frame record with its status.
                    if id == nil { leaderless += 1 }
                    #expect(reason.contains("MISSING_PACKETS") || reason.contains("TIMEOUT"), "\(reason)")
                } catch CameraError.timeout {
                    timeouts += 1   // every packet of the frame lost: shows as a gap at the next frame
                }
            }
            let records = camera.takeDroppedFrames()
            #expect(thrownDrops > 0, "2 % packet loss over \(n) frames must lose some")
            #expect(delivered.count > n / 3)
            #expect(records.filter { $0.status != .neverDelivered }.count == thrownDrops)
            #expect(records.filter { $0.status != .neverDelivered && $0.frameID == nil }.count == leaderless)
            #expect(records.allSatisfy { !$0.reason.isEmpty })
            // Every id between the first and the last is either delivered or recorded as dropped.
            let ids = Set(delivered).union(records.compactMap(\.frameID))
            let lo = ids.min()!, hi = ids.max()!
            #expect(ids.count == Int(hi - lo + 1), "no silent gaps in \(lo)…\(hi)")
            // Each trigger has exactly one outcome. (The device counter can run ahead of the triggers
            // when a lossy frame's leader is lost; those ids are the `.neverDelivered` records.)
            #expect(delivered.count + thrownDrops + timeouts == n)
        }

        /// The GigE fake obeys software triggers and its fill pattern can be supplied: each triggered
        /// frame carries firmware-sim's image rendered for the frame's own timestamp.
        @Test func softwareTriggeredFramesCarryFirmwareSimsPaintedImage() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            var c = gigESoftwareConfiguration()
            c.roi = SimCamera.defaultROI
            let camera = try AravisCamera(configuration: c)
            defer { camera.stop() }
            let origin = UInt64(Date().timeIntervalSince1970 * 1e9)
            let exposure = camera.settings.exposureMicroseconds * 1e-6
            let painterScene = try ParticleScene(roi: c.roi!, originNanoseconds: origin)
            let checkScene = try ParticleScene(roi: c.roi!, originNanoseconds: origin)
            let painter = AravisFakePainter(camera: try #require(fake.camera)) { fill in
                guard fill.pixelFormat == "Mono16", fill.byteCount >= fill.width * fill.height * 2 else { return 0 }
                let image = painterScene.render(atNanoseconds: fill.timestampNanoseconds, exposureSeconds: exposure)
                image.withUnsafeBytes { fill.bytes.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                return image.count * 2
            }
            defer { painter.uninstall() }
            try camera.start()
            for _ in 0..<6 {   // few: rendering is slow in debug builds
                try camera.softwareTrigger()
                let frame = try camera.nextFrame(timeoutSeconds: 2.0)
                let meta = try #require(frame.metadata)
                #expect(frame.pixels == checkScene.render(atNanoseconds: meta.cameraTimestampNanoseconds, exposureSeconds: exposure))
            }
        }

        /// ExposureActive on Line1 needs the device's LineSelector/LineSource nodes; the fake has none.
        @Test func exposureActiveOutputNeedsTheLineNodes() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            var c = gigESoftwareConfiguration()
            c.exposureActiveOutput = "Line1"
            let e = try #require(thrown { _ = try AravisCamera(configuration: c) } as? CameraError)
            #expect(e.description.contains("LineSelector") && e.description.contains("no GenICam feature"), "\(e)")
        }

        @Test func openingAMissingSerialListsWhatWasFound() throws {
            let fake = try startGigEFake()
            defer { fake.stop() }
            var c = gigESoftwareConfiguration(serial: "NOPE42")
            c.device = .serial("NOPE42")
            let e = try #require(thrown { _ = try AravisCamera(configuration: c) } as? CameraError)
            #expect(e.description.contains("NOPE42"))
            #expect(e.description.contains("GV01"), "the listing names the cameras found: \(e)")
        }
    }
}

/// Just enough of a GenICam XML reader to take ranges and entries from a fake's own description
/// (the fakes' XML is flat: each feature node is a direct child of RegisterDescription).
struct GenICamXML {
    let text: String

    init(_ text: String) throws {
        guard text.contains("<RegisterDescription") else { throw CameraError.unavailable(device: "fake", reason: "not GenICam XML") }
        self.text = text
    }

    /// The body of `<kind Name="name" …> … </kind>`.
    func body(_ kind: String, _ name: String) -> Substring? {
        guard let open = text.range(of: "<\(kind) Name=\"\(name)\"") else { return nil }
        guard let close = text.range(of: "</\(kind)>", range: open.upperBound..<text.endIndex) else { return nil }
        return text[open.upperBound..<close.lowerBound]
    }

    func value(_ tag: String, in body: Substring) -> String? {
        guard let a = body.range(of: "<\(tag)>"), let b = body.range(of: "</\(tag)>", range: a.upperBound..<body.endIndex) else { return nil }
        return String(body[a.upperBound..<b.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func floatRange(_ name: String) -> (min: Double, max: Double)? {
        guard let b = body("Float", name), let lo = value("Min", in: b).flatMap(Double.init),
              let hi = value("Max", in: b).flatMap(Double.init) else { return nil }
        return (lo, hi)
    }

    func integerRange(_ name: String) -> (min: Int, max: Int)? {
        guard let b = body("Integer", name), let lo = value("Min", in: b).flatMap(Int.init),
              let hi = value("Max", in: b).flatMap(Int.init) else { return nil }
        return (lo, hi)
    }

    func entries(_ name: String) -> [String] {
        guard let b = body("Enumeration", name) else { return [] }
        return b.components(separatedBy: "<EnumEntry Name=\"").dropFirst().compactMap { $0.split(separator: "\"").first.map(String.init) }
    }
}
