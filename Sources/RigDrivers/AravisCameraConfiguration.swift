import Rig

/// Which camera to open.
public enum AravisDeviceSelector: Sendable, Equatable, CustomStringConvertible {
    /// The first camera Aravis finds.
    case first
    /// The camera with this serial number (`DeviceSerialNumber`).
    case serial(String)
    /// An Aravis device id (`Aravis-Fake-GV01`, `Fake_1`, `FLIR-…-12345678`) or a GigE address.
    case deviceID(String)

    /// The rig file's `device` value: empty or `"first"` → first found; `"serial:X"` → by serial;
    /// `"id:X"` → by Aravis id; anything else is tried as a serial number, then as an Aravis id.
    public init(rigFileValue value: String) {
        let v = value.trimmingSpaces
        if v.isEmpty || v.lowercased() == "first" { self = .first }
        else if v.hasPrefix("serial:") { self = .serial(String(v.dropFirst(7)).trimmingSpaces) }
        else if v.hasPrefix("id:") { self = .deviceID(String(v.dropFirst(3)).trimmingSpaces) }
        else { self = .serial(v) }   // AravisCamera falls back to the id when no serial matches
    }

    public var description: String {
        switch self {
        case .first: return "first camera found"
        case .serial(let s): return "serial \(s)"
        case .deviceID(let s): return "device id \(s)"
        }
    }
}

/// Where each exposure's start comes from.
public enum AravisTriggerSource: Sendable, Equatable, CustomStringConvertible {
    /// A hardware input line, by its GenICam `TriggerSource` entry (`Line0` … `Line3`).
    case line(String)
    /// `TriggerSource = Software`; the run loop calls `softwareTrigger()` per exposure.
    case software
    /// `TriggerMode = Off`: the camera runs on its own frame rate (the in-process fake).
    case freeRunning

    /// The rig file's `trigger_source`: `"Software"`, `"FreeRunning"` (or `"Off"`), else a line name.
    public init(rigFileValue value: String) {
        switch value.trimmingSpaces.lowercased() {
        case "software": self = .software
        case "freerunning", "free-running", "free_running", "off": self = .freeRunning
        default: self = .line(value.trimmingSpaces)
        }
    }

    /// The engine's view of this source.
    public var mode: CameraTriggerMode {
        switch self {
        case .line: return .hardware
        case .software: return .software
        case .freeRunning: return .freeRunning
        }
    }

    public var description: String {
        switch self {
        case .line(let l): return l
        case .software: return "Software"
        case .freeRunning: return "free-running"
        }
    }
}

/// The `[camera] backend = "aravis"` section of a rig file, typed. Every field has a documented range;
/// `validate()` rejects values outside it before a device is touched (the device's own ranges are
/// checked by `AravisCamera` against its GenICam nodes).
///
/// Rig-file keys → fields: `device` → `device` (`AravisDeviceSelector(rigFileValue:)`),
/// `trigger_source` → `triggerSource` (`AravisTriggerSource(rigFileValue:)`), `pixel_format` →
/// `pixelFormat`, `exposure_ms` → `exposureMilliseconds`, `gain_dB` → `gainDecibels`,
/// `roi = [x, y, w, h]` → `roi`, `buffers` → `buffers`, `timeout_ms` → `timeoutMilliseconds`,
/// `exposure_active_output` → `exposureActiveOutput`.
public struct AravisCameraConfiguration: Sendable, Equatable {
    /// Which camera (default: the first found).
    public var device: AravisDeviceSelector = .first
    /// Trigger input (default `Line0`, the GS3's opto-isolated input).
    public var triggerSource: AravisTriggerSource = .line("Line0")
    /// `Mono16`, `Mono12` or `Mono8`; nil picks the deepest the device offers (Mono16, then Mono12, then Mono8).
    public var pixelFormat: String? = nil
    /// Exposure time, ms: 0.001…10 000 (the device's own range is checked on open). Default 2.5 ms
    /// (the seed's 1.8–3.5 ms).
    public var exposureMilliseconds: Double = 2.5
    /// Analogue gain, dB: 0…48 (checked against the device's `Gain` node). Devices with only a raw
    /// integer gain (`GainRaw`, as the Aravis fakes) take the value in their raw units.
    public var gainDecibels: Double = 0
    /// Region of interest on the sensor, pixels; nil: the full sensor. Offsets and sizes are rounded
    /// down to the device's increments (reported in `AravisCamera.settings` and `warnings`).
    public var roi: RegionOfInterest? = nil
    /// Buffers in the stream pool: 2…256 (default 16 ≈ 1.6 s at 10 Hz).
    public var buffers: Int = 16
    /// Longest wait for one frame, ms: 1…60 000 (default 1000).
    public var timeoutMilliseconds: Double = 1000
    /// Pixel size in the sample plane, µm (> 0; seed: 0.0347).
    public var pixelSizeMicrometres: Double = 0.0347
    /// Constant offset of every pixel, counts (≥ 0), subtracted before contrast is formed.
    public var blackLevelCounts: Double = 0
    /// Output line to drive with the camera's ExposureActive signal (e.g. `Line1`, the GS3's
    /// opto-isolated output wired to the LED driver's enable); nil leaves the lines alone.
    public var exposureActiveOutput: String? = nil
    /// Also look at Aravis's in-process fake interface (`Fake_1`), for tests and `devices --fake`.
    public var enableFakeInterface: Bool = false

    public init() {}

    /// Pixel formats the driver converts (GenICam names; Mono12 is unpacked 12-bit in 16-bit words).
    public static let supportedPixelFormats = ["Mono16", "Mono12", "Mono8"]

    /// Checks every field against its documented range.
    /// - Throws: `CameraError.invalidSetting` naming the rig-file key, the value and the range.
    public func validate() throws {
        func bad(_ key: String, _ reason: String) -> CameraError {
            CameraError.invalidSetting(device: "aravis (\(device))", setting: key, reason: reason)
        }
        if case .line(let l) = triggerSource, l.isEmpty {
            throw bad("trigger_source", "empty; expected a line name such as \"Line0\", \"Software\" or \"FreeRunning\"")
        }
        if let f = pixelFormat, !Self.supportedPixelFormats.contains(f) {
            throw bad("pixel_format", "\"\(f)\" is not one of \(Self.supportedPixelFormats.joined(separator: ", "))")
        }
        guard exposureMilliseconds.isFinite, exposureMilliseconds >= 0.001, exposureMilliseconds <= 10_000 else {
            throw bad("exposure_ms", "\(exposureMilliseconds) is outside 0.001…10000 ms")
        }
        guard gainDecibels.isFinite, gainDecibels >= 0, gainDecibels <= 48 else {
            throw bad("gain_dB", "\(gainDecibels) is outside 0…48 dB")
        }
        if let r = roi {
            guard r.x >= 0, r.y >= 0, r.width > 0, r.height > 0 else {
                throw bad("roi", "[\(r.x), \(r.y), \(r.width), \(r.height)]: offsets must be ≥ 0 and sizes > 0")
            }
        }
        guard (2...256).contains(buffers) else { throw bad("buffers", "\(buffers) is outside 2…256") }
        guard timeoutMilliseconds.isFinite, timeoutMilliseconds >= 1, timeoutMilliseconds <= 60_000 else {
            throw bad("timeout_ms", "\(timeoutMilliseconds) is outside 1…60000 ms")
        }
        if let l = exposureActiveOutput, l.trimmingSpaces.isEmpty {
            throw bad("exposure_active_output", "empty; expected an output line such as \"Line1\"")
        }
        guard pixelSizeMicrometres.isFinite, pixelSizeMicrometres > 0 else {
            throw bad("pixel_size_um", "\(pixelSizeMicrometres) must be > 0")
        }
        guard blackLevelCounts.isFinite, blackLevelCounts >= 0 else {
            throw bad("black_level", "\(blackLevelCounts) must be ≥ 0")
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
