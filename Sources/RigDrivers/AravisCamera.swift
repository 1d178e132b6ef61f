import CAravis
import Foundation
import Rig

/// Aravis keeps global state (interfaces, the device list) and is not thread-safe: every call that
/// touches it from any camera goes through this lock.
enum AravisSystem {
    static let lock = NSLock()
}

/// What the device reports after configuration: every setting read back from its GenICam nodes.
public struct AravisCameraSettings: Sendable, Equatable {
    /// `TriggerSelector` (nil when the device has none).
    public var triggerSelector: String?
    /// `TriggerMode` (`On`, or `Off` when free-running).
    public var triggerMode: String
    /// `TriggerSource` (`Line0`, `Software`; nil when free-running).
    public var triggerSource: String?
    /// `TriggerActivation` (nil when the device has none or the source is not a line).
    public var triggerActivation: String?
    /// `ExposureAuto` (nil when the device has no auto exposure).
    public var exposureAuto: String?
    /// The node that holds the exposure (`ExposureTime`, or `ExposureTimeAbs` on older devices).
    public var exposureFeature: String
    /// Exposure read back, µs.
    public var exposureMicroseconds: Double
    /// `GainAuto` (nil when absent).
    public var gainAuto: String?
    /// The node that holds the gain (`Gain` in dB; `GainRaw` in device units), nil when absent.
    public var gainFeature: String?
    /// Gain read back, in the node's unit.
    public var gain: Double?
    /// `PixelFormat`.
    public var pixelFormat: String
    /// ROI read back (offsets and sizes on the device's increments).
    public var roi: RegionOfInterest
    /// `AcquisitionMode`.
    public var acquisitionMode: String
    /// Payload per frame, bytes.
    public var payloadBytes: Int
    /// The output line driven by ExposureActive, nil when not configured.
    public var exposureActiveOutput: String? = nil
}

/// A borrowed view of one delivered frame: the pixels live in the stream's buffer (Mono16/Mono12:
/// no copy) or in the driver's conversion scratch (Mono8), valid only inside the closure given to
/// `AravisCamera.withNextFrame`.
public struct AravisFrameView {
    /// Unwrapped frame id.
    public let frameID: UInt64
    public let width: Int
    public let height: Int
    /// Row-major 16-bit pixels.
    public let pixels: UnsafeBufferPointer<UInt16>
    /// Exposure window on the rig's clock (see `AravisCamera` for how it is estimated).
    public let exposureStartNanoseconds: Int64
    public let exposureEndNanoseconds: Int64
    public let metadata: CameraFrameMetadata
}

/// A GenICam camera through Aravis 0.8 (USB3 Vision or GigE Vision; also Aravis's own fakes).
///
/// Opens by serial number, Aravis device id or the first camera found, configures it through its
/// GenICam features and reads every setting back (`settings`): TriggerSelector FrameStart, TriggerMode
/// On, TriggerSource (`Line0`… or `Software`; TriggerMode Off when free-running), TriggerActivation
/// RisingEdge, ExposureAuto Off, ExposureTime, GainAuto Off, Gain, PixelFormat, ROI, AcquisitionMode
/// Continuous. A feature the device lacks or a value outside the range its node declares is a
/// `CameraError.invalidSetting` naming the camera, the feature, the value and the allowed range.
///
/// Streaming: a pool of `buffers` buffers; `nextFrame` pops with a timeout on the caller's thread.
/// A buffer whose status is not SUCCESS, or a gap in the frame counter, becomes a
/// `CameraDroppedFrame` (drained with `takeDroppedFrames()`); a bad buffer also makes that
/// `nextFrame` call throw `CameraError.frameDropped`.
///
/// Exposure windows on the rig's clock: in software-trigger mode the exposure starts at the
/// `softwareTrigger()` call; otherwise at the camera's timestamp mapped onto the rig's clock by the
/// smallest (arrival − camera timestamp) seen so far (transfer latency is never negative, so the
/// smallest difference is the best offset estimate). Either way the window is the configured
/// exposure long.
///
/// Aravis is not thread-safe: device and feature calls are serialised by one lock, popping by another
/// (the stream's queue itself is thread-safe), so `softwareTrigger()` may be called from the loop's
/// thread while another thread waits in `nextFrame`.
public final class AravisCamera: Camera, @unchecked Sendable {
    /// `vendor model (serial)`, used in every message.
    public let name: String
    /// Aravis device id.
    public let deviceID: String
    public let vendor: String
    public let model: String
    public let serialNumber: String
    public private(set) var sensorWidth: Int
    public private(set) var sensorHeight: Int
    public let pixelSizeMicrometres: Double
    public let blackLevelCounts: Double
    /// The configuration the camera was opened with (ROI and exposure updated by `configure`).
    public private(set) var configuration: AravisCameraConfiguration
    /// Settings read back from the device after the last configuration.
    public private(set) var settings: AravisCameraSettings
    public var triggerMode: CameraTriggerMode { configuration.triggerSource.mode }
    /// True while acquiring.
    public private(set) var isAcquiring = false
    /// True once the device stopped answering (a failed register access); `stop()` then only
    /// releases the stream.
    public private(set) var deviceLost = false

    private var warningList: [String] = []
    public var warnings: [String] { stateLock.withLock { warningList } }

    private let camera: UnsafeMutablePointer<ArvCamera>
    private var stream: UnsafeMutablePointer<ArvStream>?
    private let isGigE: Bool
    private let isUSB: Bool
    private let clock: any Clock
    private let deviceLock = NSLock()
    private let streamLock = NSLock()
    private let stateLock = NSLock()
    private var layout: AravisPixelLayout = .mono16
    private var unwrapper: FrameIDUnwrapper
    private var dropped: [CameraDroppedFrame] = []
    private var pendingTriggers: [Int64] = []
    private var clockOffset: Int64?
    private var scratch: [UInt16] = []
    /// Frames delivered and buffers dropped since `start()`.
    public private(set) var deliveredFrames = 0
    public private(set) var droppedFrames = 0

    private var features: AravisFeatures { AravisFeatures(camera: camera, device: name) }

    /// Opens and configures a camera.
    /// - Parameters:
    ///   - configuration: validated first (`AravisCameraConfiguration.validate()`).
    ///   - clock: the rig's clock for arrival times and trigger times (default CLOCK_MONOTONIC).
    /// - Throws: `CameraError.unavailable` when no camera matches or it cannot be opened (with udev
    ///   advice for permission errors), `.invalidSetting` for features and values the device refuses.
    public init(configuration: AravisCameraConfiguration, clock: any Clock = MonotonicClock()) throws {
        try configuration.validate()
        self.configuration = configuration
        self.clock = clock
        pixelSizeMicrometres = configuration.pixelSizeMicrometres
        blackLevelCounts = configuration.blackLevelCounts

        let (id, opened) = try AravisSystem.lock.withLock { () throws -> (String, UnsafeMutablePointer<ArvCamera>) in
            if configuration.enableFakeInterface { arv_enable_interface("Fake") }
            arv_update_device_list()
            let id = try Self.resolve(configuration.device)
            var error: UnsafeMutablePointer<GError>? = nil
            let cam = arv_camera_new(id, &error)
            if let e = error {
                let message = e.pointee.message.map { String(cString: $0) } ?? "unknown error"
                g_error_free(e)
                operando_g_object_unref(cam)
                let advice = USBChecks.permissionAdvice(for: message).map { "; \($0)" } ?? ""
                throw CameraError.unavailable(device: id, reason: "cannot open (\(message))\(advice)")
            }
            guard let cam else { throw CameraError.unavailable(device: id, reason: "cannot open (Aravis returned no camera)") }
            return (id, cam)
        }
        camera = opened
        deviceID = id
        func text(_ f: (UnsafeMutablePointer<ArvCamera>, UnsafeMutablePointer<UnsafeMutablePointer<GError>?>) -> UnsafePointer<CChar>?) -> String {
            var error: UnsafeMutablePointer<GError>? = nil
            let s = f(opened, &error).map { String(cString: $0) } ?? ""
            if let e = error { g_error_free(e) }
            return s
        }
        vendor = text { arv_camera_get_vendor_name($0, $1) }
        model = text { arv_camera_get_model_name($0, $1) }
        serialNumber = text { arv_camera_get_device_serial_number($0, $1) }
        name = "\(vendor) \(model) (\(serialNumber.isEmpty ? id : serialNumber))"
        isGigE = operando_arv_is_gv_device(opened) != 0
        isUSB = operando_arv_is_uv_device(opened) != 0
        unwrapper = FrameIDUnwrapper(sixteenBitGigE: isGigE)
        sensorWidth = 0
        sensorHeight = 0
        settings = AravisCameraSettings(triggerSelector: nil, triggerMode: "", triggerSource: nil, triggerActivation: nil,
                                        exposureAuto: nil, exposureFeature: "", exposureMicroseconds: 0, gainAuto: nil,
                                        gainFeature: nil, gain: nil, pixelFormat: "", roi: RegionOfInterest(x: 0, y: 0, width: 0, height: 0),
                                        acquisitionMode: "", payloadBytes: 0)
        // On failure here `deinit` runs (the object is fully initialised) and releases the camera.
        try deviceLock.withLock { try applyConfiguration() }
    }

    deinit {
        stop()
        operando_g_object_unref(camera)
    }

    /// The Aravis id to open for a selector (under `AravisSystem.lock`, after `arv_update_device_list`).
    private static func resolve(_ selector: AravisDeviceSelector) throws -> String {
        let n = Int(arv_get_n_devices())
        func str(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
        let found = (0..<n).map { i in (id: str(arv_get_device_id(guint(i))), serial: str(arv_get_device_serial_nbr(guint(i)))) }
        let listing = found.isEmpty ? "none found" : "found " + found.map { "\($0.id) (serial \($0.serial))" }.joined(separator: ", ")
        switch selector {
        case .first:
            guard let first = found.first else {
                throw CameraError.unavailable(device: "aravis", reason: "no camera found (USB3 Vision and GigE Vision searched; check the cable, power and udev rule)")
            }
            return first.id
        case .serial(let s):
            if let m = found.first(where: { $0.serial == s }) { return m.id }
            if let m = found.first(where: { $0.id == s }) { return m.id }
            throw CameraError.unavailable(device: "serial \(s)", reason: "no camera with this serial number or id (\(listing))")
        case .deviceID(let id):
            // Aravis also opens GigE cameras by address, which discovery may not list.
            return id
        }
    }

    // MARK: Configuration

    /// Sets the ROI and the exposure (only while stopped) and reads them back.
    /// - Throws: `CameraError.invalidSetting` when acquiring or when the device refuses a value.
    public func configure(roi: RegionOfInterest, exposureSeconds: Double) throws {
        guard !isAcquiring else {
            throw CameraError.invalidSetting(device: name, setting: "roi", reason: "cannot change while acquiring; stop first")
        }
        var c = configuration
        c.roi = roi
        c.exposureMilliseconds = exposureSeconds * 1e3
        try c.validate()
        let previous = configuration
        configuration = c
        do { try deviceLock.withLock { try applyConfiguration() } } catch { configuration = previous; throw error }
    }

    /// Sets the free-running frame rate (`AcquisitionFrameRate`, enabling `AcquisitionFrameRateEnable`
    /// where the device has it); returns the rate read back, Hz.
    @discardableResult
    public func setFrameRate(hertz: Double) throws -> Double {
        try deviceLock.withLock {
            let f = features
            if f.kind("AcquisitionFrameRateEnable") == OPERANDO_ARV_FEATURE_BOOLEAN {
                try aravisCall(name, "set AcquisitionFrameRateEnable") { arv_camera_set_boolean(camera, "AcquisitionFrameRateEnable", 1, $0) }
            }
            guard let feature = f.first(of: ["AcquisitionFrameRate", "AcquisitionFrameRateAbs"]) else {
                throw f.missing("AcquisitionFrameRate", "set the free-running frame rate")
            }
            try aravisCall(name, "set \(feature) = \(hertz)") { arv_camera_set_float(camera, feature, hertz, $0) }
            return try f.float(feature)
        }
    }

    /// Applies `configuration` to the device and reads it back (caller holds `deviceLock`).
    private func applyConfiguration() throws {
        let f = features
        let c = configuration
        var s = settings
        var notes: [String] = []

        s.acquisitionMode = try f.setEntry("AcquisitionMode", "Continuous", purpose: "acquire continuously")

        // Trigger: FrameStart selected first, since TriggerMode/Source/Activation are per selector.
        if f.has("TriggerSelector") {
            s.triggerSelector = try f.setEntry("TriggerSelector", "FrameStart", purpose: "select the frame-start trigger")
        }
        switch c.triggerSource {
        case .freeRunning:
            s.triggerMode = try f.setEntry("TriggerMode", "Off", purpose: "free-run")
            s.triggerSource = nil
            s.triggerActivation = nil
        case .software, .line:
            let source = c.triggerSource == .software ? "Software" : c.triggerSource.description
            // Source before mode: some cameras refuse TriggerMode On with a source they cannot use.
            s.triggerSource = try f.setEntry("TriggerSource", source, purpose: "trigger from \(source)")
            if case .line = c.triggerSource, f.has("TriggerActivation") {
                s.triggerActivation = try f.setEntry("TriggerActivation", "RisingEdge", purpose: "trigger on the rising edge")
            } else {
                s.triggerActivation = nil
            }
            s.triggerMode = try f.setEntry("TriggerMode", "On", purpose: "expose on each trigger")
            if c.triggerSource == .software, !f.has("TriggerSoftware") {
                throw f.missing("TriggerSoftware", "issue software triggers")
            }
        }

        // Exposure: auto off, then the time in µs on whichever node the device has.
        if f.has("ExposureAuto") {
            s.exposureAuto = try f.setEntry("ExposureAuto", "Off", purpose: "turn auto exposure off")
        }
        if f.has("ExposureMode"), (try? f.entries("ExposureMode"))?.contains("Timed") == true {
            try f.setEntry("ExposureMode", "Timed", purpose: "time exposures by ExposureTime")
        }
        guard let exposure = f.first(of: ["ExposureTime", "ExposureTimeAbs"]) else {
            throw f.missing("ExposureTime", "set the exposure")
        }
        s.exposureFeature = exposure
        s.exposureMicroseconds = try f.setNumber(exposure, c.exposureMilliseconds * 1e3, unit: "µs")

        // Gain: auto off, then dB on `Gain`, or raw units on `GainRaw` (said in a warning).
        if f.has("GainAuto") {
            s.gainAuto = try f.setEntry("GainAuto", "Off", purpose: "turn auto gain off")
        }
        if let gain = f.first(of: ["Gain", "GainRaw"]) {
            s.gainFeature = gain
            s.gain = try f.setNumber(gain, c.gainDecibels, unit: gain == "Gain" ? "dB" : "(raw units)")
            if gain == "GainRaw" {
                notes.append("camera \"\(name)\": no Gain node in dB; gain_dB = \(format(c.gainDecibels)) was written to GainRaw in device units")
            }
        } else if c.gainDecibels != 0 {
            throw f.missing("Gain", "set gain_dB = \(format(c.gainDecibels))")
        }

        // ExposureActive on an output line (the LED driver's enable), where the rig wires it.
        if let line = c.exposureActiveOutput {
            try f.setEntry("LineSelector", line, purpose: "select output \(line) for ExposureActive")
            if f.has("LineMode") { try f.setEntry("LineMode", "Output", purpose: "make \(line) an output") }
            s.exposureActiveOutput = try f.setEntry("LineSource", "ExposureActive", purpose: "drive \(line) with ExposureActive") == "ExposureActive" ? line : nil
        } else {
            s.exposureActiveOutput = nil
        }

        // Pixel format: the one asked for, or the deepest mono format offered.
        let offered = try f.entries("PixelFormat")
        let wanted: String
        if let p = c.pixelFormat {
            wanted = p
        } else if let best = AravisCameraConfiguration.supportedPixelFormats.first(where: offered.contains) {
            wanted = best
        } else {
            throw CameraError.invalidSetting(device: name, setting: "PixelFormat",
                                             reason: "the device offers none of \(AravisCameraConfiguration.supportedPixelFormats.joined(separator: ", ")) (it offers \(offered.joined(separator: ", ")))")
        }
        s.pixelFormat = try f.setEntry("PixelFormat", wanted, purpose: "read out \(wanted)")
        layout = AravisPixelLayout(rawValue: s.pixelFormat) ?? .mono16

        // ROI last: the payload depends on it and the pixel format.
        let (roi, roiNote) = try applyROI(c.roi, f)
        s.roi = roi
        if let roiNote { notes.append(roiNote) }
        s.payloadBytes = Int(try aravisCall(name, "read PayloadSize") { arv_camera_get_payload(camera, $0) })
        settings = s
        stateLock.withLock { warningList = notes }
    }

    /// Sets the ROI on the device's increments (offsets to 0 first, so the size bounds are the full
    /// sensor's), checks it fits the sensor, and reads it back.
    private func applyROI(_ requested: RegionOfInterest?, _ f: AravisFeatures) throws -> (RegionOfInterest, String?) {
        if let w = f.first(of: ["SensorWidth", "WidthMax"]), let h = f.first(of: ["SensorHeight", "HeightMax"]) {
            sensorWidth = try f.integer(w)
            sensorHeight = try f.integer(h)
        } else {
            var w: gint = 0, h: gint = 0
            try aravisCall(name, "read the sensor size") { arv_camera_get_sensor_size(camera, &w, &h, $0) }
            sensorWidth = Int(w); sensorHeight = Int(h)
        }
        let want = requested ?? RegionOfInterest(x: 0, y: 0, width: sensorWidth, height: sensorHeight)
        let hasOffsets = f.has("OffsetX") && f.has("OffsetY")
        if !hasOffsets, want.x != 0 || want.y != 0 {
            throw f.missing("OffsetX", "place the ROI at (\(want.x), \(want.y))")
        }
        if hasOffsets {
            try f.setInteger("OffsetX", f.integerRange("OffsetX").min)
            try f.setInteger("OffsetY", f.integerRange("OffsetY").min)
        }
        let wr = try f.integerRange("Width"), hr = try f.integerRange("Height")
        func fail(_ why: String) -> CameraError {
            .invalidSetting(device: name, setting: "roi",
                            reason: "[\(want.x), \(want.y), \(want.width), \(want.height)] \(why); the device allows Width \(wr.min)…\(wr.max) in steps of \(wr.increment), Height \(hr.min)…\(hr.max) in steps of \(hr.increment) on a \(sensorWidth)×\(sensorHeight) sensor")
        }
        guard want.x >= 0, want.y >= 0, want.x + want.width <= sensorWidth, want.y + want.height <= sensorHeight else {
            throw fail("does not fit the sensor")
        }
        guard want.width >= wr.min, want.width <= wr.max, want.height >= hr.min, want.height <= hr.max else {
            throw fail("has a size outside the device's range")
        }
        let width = ROIRounding.roundDown(want.width, min: wr.min, increment: wr.increment)
        let height = ROIRounding.roundDown(want.height, min: hr.min, increment: hr.increment)
        try f.setInteger("Width", width)
        try f.setInteger("Height", height)
        var x = 0, y = 0
        if hasOffsets {
            let xr = try f.integerRange("OffsetX"), yr = try f.integerRange("OffsetY")
            x = ROIRounding.roundDown(want.x, min: xr.min, increment: xr.increment)
            y = ROIRounding.roundDown(want.y, min: yr.min, increment: yr.increment)
            guard x <= xr.max, y <= yr.max else {
                throw CameraError.invalidSetting(device: name, setting: "roi",
                                                 reason: "offset (\(want.x), \(want.y)) with size \(width)×\(height) is outside the device's OffsetX \(xr.min)…\(xr.max) step \(xr.increment), OffsetY \(yr.min)…\(yr.max) step \(yr.increment)")
            }
            try f.setInteger("OffsetX", x)
            try f.setInteger("OffsetY", y)
        }
        var gx: gint = 0, gy: gint = 0, gw: gint = 0, gh: gint = 0
        try aravisCall(name, "read the ROI back") { arv_camera_get_region(camera, &gx, &gy, &gw, &gh, $0) }
        let back = RegionOfInterest(x: Int(gx), y: Int(gy), width: Int(gw), height: Int(gh))
        let note = back == want ? nil
            : "camera \"\(name)\": ROI [\(want.x), \(want.y), \(want.width), \(want.height)] rounded to the device's increments: [\(back.x), \(back.y), \(back.width), \(back.height)]"
        return (back, note)
    }

    // MARK: Acquisition

    /// Allocates the buffer pool, checks the USB limits and starts acquisition.
    /// - Throws: `CameraError.unavailable` when the stream cannot be created or acquisition refused.
    public func start() throws {
        try streamLock.withLock {
            guard !isAcquiring else { return }
            try deviceLock.withLock {
                let payload = Int(try aravisCall(name, "read PayloadSize") { arv_camera_get_payload(camera, $0) })
                settings.payloadBytes = payload
                if isUSB, let w = USBChecks.usbfsWarning(buffers: configuration.buffers, payloadBytes: payload,
                                                          limitMegabytes: USBChecks.usbfsMemoryMegabytes()) {
                    stateLock.withLock { warningList.append("camera \"\(name)\": \(w)") }
                }
                var error: UnsafeMutablePointer<GError>? = nil
                let s = arv_camera_create_stream(camera, nil, nil, &error)
                if let e = error {
                    let message = e.pointee.message.map { String(cString: $0) } ?? "unknown error"
                    g_error_free(e)
                    operando_g_object_unref(s)
                    let advice = USBChecks.permissionAdvice(for: message).map { "; \($0)" } ?? ""
                    throw CameraError.unavailable(device: name, reason: "create stream: \(message)\(advice)")
                }
                guard let s else { throw CameraError.unavailable(device: name, reason: "create stream: Aravis returned none") }
                for _ in 0..<configuration.buffers { arv_stream_push_buffer(s, arv_buffer_new_allocate(payload)) }
                do {
                    try aravisCall(name, "AcquisitionStart") { arv_camera_start_acquisition(camera, $0) }
                } catch {
                    operando_g_object_unref(s)
                    throw error
                }
                stream = s
            }
            stateLock.withLock {
                unwrapper = FrameIDUnwrapper(sixteenBitGigE: isGigE)
                pendingTriggers.removeAll()
                clockOffset = nil
                deliveredFrames = 0
                droppedFrames = 0
            }
            isAcquiring = true
        }
    }

    /// Stops acquisition and releases the buffer pool (frames not yet read are discarded). Waits for a
    /// `nextFrame` in progress on another thread (at most its timeout). After the device was lost,
    /// Aravis's stream teardown still retries the network for a few seconds (≈ 5 s on GigE).
    public func stop() {
        streamLock.withLock {
            guard let s = stream else { isAcquiring = false; return }
            deviceLock.withLock {
                if !deviceLost {
                    var error: UnsafeMutablePointer<GError>? = nil
                    arv_camera_stop_acquisition(camera, &error)
                    if let e = error { g_error_free(e); deviceLost = true }
                }
            }
            operando_g_object_unref(s)   // stops the stream thread, frees the pool
            stream = nil
            isAcquiring = false
        }
    }

    /// Starts one exposure now (`TriggerSoftware`); only in software-trigger mode.
    /// - Throws: `.notStarted` when not acquiring, `.invalidSetting` in another trigger mode,
    ///   `.unavailable` when the device does not answer.
    public func softwareTrigger() throws {
        guard isAcquiring else { throw CameraError.notStarted(device: name) }
        guard configuration.triggerSource == .software else {
            throw CameraError.invalidSetting(device: name, setting: "TriggerSoftware",
                                             reason: "the camera is in \(triggerMode.rawValue) mode (trigger_source = \(configuration.triggerSource)), not software")
        }
        try deviceLock.withLock {
            guard !deviceLost else { throw CameraError.unavailable(device: name, reason: "device stopped answering earlier; not triggering") }
            let t = clock.monotonicNanoseconds
            do {
                try features.execute("TriggerSoftware")
            } catch {
                deviceLost = true
                throw error
            }
            stateLock.withLock { pendingTriggers.append(t) }
        }
    }

    /// Dropped-frame records since the last call, oldest first.
    public func takeDroppedFrames() -> [CameraDroppedFrame] {
        stateLock.withLock {
            let d = dropped
            dropped.removeAll()
            return d
        }
    }

    /// The next frame, copied once into the frame's own array (Mono8 widened in the same pass).
    /// - Throws: `.notStarted`, `.timeout` when nothing arrives in `timeoutSeconds`, `.frameDropped`
    ///   for a bad buffer (also recorded in `takeDroppedFrames()`).
    public func nextFrame(timeoutSeconds: Double) throws -> CameraFrame {
        try withNextFrame(timeoutSeconds: timeoutSeconds) { v in
            var frame = CameraFrame(frameID: v.frameID, width: v.width, height: v.height,
                                    pixels: Array(v.pixels),
                                    exposureStartNanoseconds: v.exposureStartNanoseconds,
                                    exposureEndNanoseconds: v.exposureEndNanoseconds)
            frame.metadata = v.metadata
            return frame
        }
    }

    /// Waits for the next frame and lends it to `body` without copying (Mono16/Mono12: the stream
    /// buffer itself; Mono8: widened once into a reused scratch array); the buffer goes back to the
    /// pool when `body` returns.
    /// - Throws: as `nextFrame`, or what `body` throws.
    public func withNextFrame<R>(timeoutSeconds: Double, _ body: (AravisFrameView) throws -> R) throws -> R {
        try streamLock.withLock {
            guard isAcquiring, let s = stream else { throw CameraError.notStarted(device: name) }
            let timeoutMicroseconds = UInt64(max(0, timeoutSeconds) * 1e6)
            guard let buffer = arv_stream_timeout_pop_buffer(s, guint64(timeoutMicroseconds)) else {
                // The awaited frame is lost: its trigger must not date a later frame (one that still
                // arrives is dated from its camera timestamp instead).
                stateLock.withLock { pendingTriggers.removeAll() }
                throw CameraError.timeout(device: name, seconds: timeoutSeconds)
            }
            defer { arv_stream_push_buffer(s, buffer) }
            let received = clock.monotonicNanoseconds
            let status = CameraBufferStatus(aravis: arv_buffer_get_status(buffer))
            let raw = UInt64(arv_buffer_get_frame_id(buffer))
            let cameraTimestamp = UInt64(arv_buffer_get_timestamp(buffer))
            let exposureNanoseconds = Int64((settings.exposureMicroseconds * 1e3).rounded())

            // Frame id, gaps, the trigger this frame answers and the camera-clock offset, together.
            let (id, trigger): (UInt64?, Int64?) = stateLock.withLock {
                guard raw != 0 else {   // 0: the transport never saw a leader
                    return (nil, pendingTriggers.isEmpty ? nil : pendingTriggers.removeFirst())
                }
                let (id, skipped) = unwrapper.next(raw)
                // Ids the camera skipped used up their triggers (keep the newest for this frame).
                let stale = min(Int(min(skipped, UInt64(Int.max))), max(0, pendingTriggers.count - 1))
                if stale > 0 { pendingTriggers.removeFirst(stale) }
                let trigger = pendingTriggers.isEmpty ? nil : pendingTriggers.removeFirst()
                if skipped > 0 {
                    let shown = min(skipped, 1000)
                    for k in 0..<shown {
                        dropped.append(CameraDroppedFrame(frameID: id - skipped + k, status: .neverDelivered,
                                                          reason: CameraBufferStatus.neverDelivered.explanation,
                                                          noticedNanoseconds: received))
                    }
                    if skipped > shown {
                        dropped.append(CameraDroppedFrame(frameID: nil, status: .neverDelivered,
                                                          reason: "\(skipped - shown) more ids skipped before frame \(id)",
                                                          noticedNanoseconds: received))
                    }
                    droppedFrames += Int(skipped)
                }
                if status == .success, cameraTimestamp != 0 {
                    let offset = received - Int64(bitPattern: cameraTimestamp)
                    if clockOffset.map({ offset < $0 }) ?? true { clockOffset = offset }
                }
                return (id, trigger)
            }

            func drop(_ status: CameraBufferStatus, _ detail: String) -> CameraError {
                let reason = detail.isEmpty ? status.explanation : "\(status.explanation) (\(detail))"
                stateLock.withLock {
                    dropped.append(CameraDroppedFrame(frameID: id, status: status, reason: reason, noticedNanoseconds: received))
                    droppedFrames += 1
                }
                return CameraError.frameDropped(device: name, frameID: id, reason: reason)
            }
            guard status == .success else { throw drop(status, "") }
            guard arv_buffer_get_payload_type(buffer) == ARV_BUFFER_PAYLOAD_TYPE_IMAGE else {
                throw drop(.payloadNotSupported, "payload type \(arv_buffer_get_payload_type(buffer).rawValue)")
            }
            let format = arv_buffer_get_image_pixel_format(buffer)
            guard UInt32(format) == layout.pfnc else {
                throw drop(.sizeMismatch, String(format: "pixel format 0x%08x, configured %@ 0x%08x", UInt32(format), layout.rawValue, layout.pfnc))
            }
            let width = Int(arv_buffer_get_image_width(buffer)), height = Int(arv_buffer_get_image_height(buffer))
            var size = 0
            guard let data = arv_buffer_get_image_data(buffer, &size) else { throw drop(.sizeMismatch, "no image data") }
            let count = width * height
            guard count > 0, size >= count * layout.bytesPerPixel else {
                throw drop(.sizeMismatch, "\(size) bytes for \(width)×\(height) \(layout.rawValue)")
            }

            let start: Int64
            if let trigger { start = trigger }
            else if cameraTimestamp != 0, let offset = stateLock.withLock({ clockOffset }) { start = Int64(bitPattern: cameraTimestamp) + offset }
            else { start = received - exposureNanoseconds }
            let metadata = CameraFrameMetadata(deviceFrameID: raw, cameraTimestampNanoseconds: cameraTimestamp,
                                               receivedNanoseconds: received, status: status, pixelFormat: layout.rawValue)
            stateLock.withLock { deliveredFrames += 1 }
            func view(_ p: UnsafeBufferPointer<UInt16>) -> AravisFrameView {
                AravisFrameView(frameID: id ?? raw, width: width, height: height, pixels: p,
                                exposureStartNanoseconds: start, exposureEndNanoseconds: start + exposureNanoseconds,
                                metadata: metadata)
            }
            if layout.isNative16 {
                return try body(view(UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt16.self), count: count)))
            }
            if scratch.count != count { scratch = [UInt16](repeating: 0, count: count) }
            return try scratch.withUnsafeMutableBufferPointer { dst in
                layout.convert(data, count: count, into: dst.baseAddress!)
                return try body(view(UnsafeBufferPointer(dst)))
            }
        }
    }

    // MARK: Fakes

    /// The in-process fake camera behind this device (`Fake_1`), nil for any other device; for
    /// painting frames with `AravisFakePainter`.
    public var inProcessFake: AravisFakeCameraHandle? {
        deviceLock.withLock { operando_arv_fake_camera_of(camera).map(AravisFakeCameraHandle.init) }
    }
}
