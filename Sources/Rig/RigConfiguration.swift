import ConfigFile
import Dataset
import Imaging

/// A rig file (`--rig RIG.toml`, docs/run.md "Rig file"): which backend drives each part, the GPIO
/// lines, the camera and the potentiostat. Parts can be mixed (a real camera with the simulated cell).
/// Every key is read through `ConfigFile`: an unknown or misspelt key is an error with its file and line.
///
/// ```toml
/// backend = "sim"             # "sim" (default) or "hardware": the default for every part
/// [sim]                       # firmware-sim's world (FirmwareSim reads it)
/// [gpio]
/// chip = "gpiochip0"
/// led = 17
/// trigger = 27
/// [camera]
/// backend = "aravis"          # or "sim"
/// device = "Fake_1"
/// [potentiostat]
/// backend = "scpi"            # "sim", "scpi", "methodscript", "follow"
/// address = "tcp://127.0.0.1:5025"
/// [recording]
/// compression = "deflate"     # or "none": the frame chunks' lossless compression
/// ```
public struct RigConfiguration: @unchecked Sendable {
    /// What drives the GPIO lines.
    public enum GPIOBackend: String, Sendable { case sim, libgpiod }
    /// What the camera is.
    public enum CameraBackend: String, Sendable { case sim, aravis }
    /// What the potentiostat is.
    public enum PotentiostatBackend: String, Sendable { case sim, scpi, methodscript, follow }

    /// `[gpio]`: a chip and line offsets (or names).
    public struct GPIO: Sendable, Equatable {
        public var chip: String
        public var led: String
        public var trigger: String
        /// An input line for an instrument's trigger output (follow mode).
        public var triggerInput: String?
        public var activeLow: Bool
    }

    /// `[camera]` for a real camera (the sim camera takes none of these).
    public struct CameraSettings: Sendable, Equatable {
        /// Serial number, Aravis device id, or nil for the first camera found.
        public var device: String?
        /// GenICam TriggerSource: `Line0`…, or `Software`.
        public var triggerSource: String
        public var pixelFormat: String?
        /// Overrides the protocol's `[imaging] exposure_ms`.
        public var exposureMilliseconds: Double?
        public var gainDecibels: Double?
        /// [x, y, width, height] on the sensor, pixels.
        public var roi: [Int]?
        public var buffers: Int
        public var timeoutMilliseconds: Double
    }

    /// `[potentiostat]` for a real instrument or follow mode.
    public struct PotentiostatSettings: Sendable, Equatable {
        /// `tcp://HOST:PORT` or `serial:///dev/ttyACM0?baud=230400`.
        public var address: String?
        /// `keithley2450` (SCPI) or `emstat4` (MethodSCRIPT).
        public var dialect: String?
        /// `2-wire` or `4-wire`.
        public var sense: String
        public var timeoutMilliseconds: Double
        /// Follow mode: the edge of the instrument's trigger output that marks a technique start.
        public var edge: String
        /// True only for firmware-sim's wire-protocol twins (`operando sim-serve`): lets a virtual clock
        /// drive the twin's cell with the simulation-only time command that real instruments refuse.
        public var simulation: Bool
    }

    /// The file (for messages and run.json).
    public var file: String?
    /// The file's text (recorded in run.json).
    public var text: String
    public var gpioBackend: GPIOBackend
    public var cameraBackend: CameraBackend
    public var potentiostatBackend: PotentiostatBackend
    public var gpio: GPIO?
    public var camera: CameraSettings?
    public var potentiostat: PotentiostatSettings?
    /// The parsed file: FirmwareSim reads `[sim]` from it.
    public let document: ConfigFile?
    /// `[recording] compression`: how frame chunks are compressed (`deflate`, the default, or `none`
    /// for a camera whose data rate outruns the compressor; README "Disk use").
    public var recordingCompression: TIFFStackWriter.Compression = .deflate

    /// The default rig: firmware-sim for every part.
    public static let simulated = RigConfiguration(file: nil, text: "", gpioBackend: .sim, cameraBackend: .sim,
                                                   potentiostatBackend: .sim, gpio: nil, camera: nil, potentiostat: nil, document: nil)

    /// True when every part is simulated.
    public var isSimulated: Bool { gpioBackend == .sim && cameraBackend == .sim && potentiostatBackend == .sim }

    /// Reads a rig file. FirmwareSim's `[sim]` table is left for `SimConfiguration` to read; call
    /// `finish()` after it to make any unread key an error.
    /// - Throws: `ConfigError` naming file, line, key and value.
    public static func load(path: String) throws -> RigConfiguration {
        try parse(try ConfigFile.load(path: path))
    }

    /// Reads rig-file text (`file` names it in messages).
    public static func parse(text: String, file: String) throws -> RigConfiguration {
        try parse(try ConfigFile.parse(text: text, path: file))
    }

    static func parse(_ doc: ConfigFile) throws -> RigConfiguration {
        let root = doc.root
        try root.checkKeys(allowed: ["backend", "sim", "gpio", "camera", "potentiostat", "recording"])
        let backend = try root.string("backend", oneOf: ["sim", "hardware"], default: "sim")
        let hardware = backend == "hardware"
        var c = RigConfiguration(file: doc.path, text: doc.text, gpioBackend: hardware ? .libgpiod : .sim,
                                 cameraBackend: .sim, potentiostatBackend: .sim, gpio: nil, camera: nil, potentiostat: nil,
                                 document: doc)
        root.ignore("sim")   // FirmwareSim's
        if let g = try root.table("gpio") {
            try g.checkKeys(allowed: ["chip", "led", "trigger", "trigger_input", "active_low"])
            func line(_ key: String, required: Bool) throws -> String? {
                if let i = try? g.integer(key, range: 0...4095) { return String(i) }
                if let s = try g.string(key, maxLength: 64) { return s }
                if required { throw g.error(key, "a line offset (0–4095) or a line name is required", kind: .missing) }
                return nil
            }
            guard let chip = try g.string("chip", maxLength: 256) else {
                throw g.error("chip", "name the GPIO chip, e.g. \"gpiochip0\" or \"/dev/gpiochip0\"", kind: .missing)
            }
            c.gpio = GPIO(chip: chip, led: try line("led", required: true)!, trigger: try line("trigger", required: true)!,
                          triggerInput: try line("trigger_input", required: false), activeLow: try g.bool("active_low") ?? false)
            c.gpioBackend = .libgpiod
        } else if hardware {
            throw root.error("gpio", "backend = \"hardware\" needs [gpio] with chip, led and trigger", kind: .missing)
        }
        if let t = try root.table("camera") {
            try t.checkKeys(allowed: ["backend", "device", "trigger_source", "pixel_format", "exposure_ms", "gain_dB", "roi",
                                      "buffers", "timeout_ms"])
            let b = try t.string("backend", oneOf: CameraBackend.allNames, default: hardware ? "aravis" : "sim")
            c.cameraBackend = CameraBackend(rawValue: b)!
            if c.cameraBackend != .sim {
                let roi = try t.numbers("roi", unit: "px", range: NumberRange(0...65535), maxCount: 4)
                if let roi, roi.count != 4 || roi.contains(where: { $0 != $0.rounded() }) || roi[2] < 1 || roi[3] < 1 {
                    throw t.error("roi", "expected [x, y, width, height] in whole pixels, width and height ≥ 1")
                }
                c.camera = CameraSettings(
                    device: try t.string("device", maxLength: 256),
                    triggerSource: try t.string("trigger_source", maxLength: 32) ?? "Line0",
                    pixelFormat: try t.string("pixel_format", oneOf: ["Mono8", "Mono10", "Mono12", "Mono16"]),
                    exposureMilliseconds: try t.number("exposure_ms", unit: "ms", range: NumberRange(0.001...10_000)),
                    gainDecibels: try t.number("gain_dB", unit: "dB", range: NumberRange(0...48)),
                    roi: roi.map { $0.map { Int($0) } },
                    buffers: try t.integer("buffers", range: 2...256, default: 16),
                    timeoutMilliseconds: try t.number("timeout_ms", unit: "ms", range: NumberRange(1...60_000), default: 1000))
            }
        } else if hardware {
            c.cameraBackend = .aravis
            c.camera = CameraSettings(device: nil, triggerSource: "Line0", pixelFormat: nil, exposureMilliseconds: nil,
                                      gainDecibels: nil, roi: nil, buffers: 16, timeoutMilliseconds: 1000)
        }
        if let t = try root.table("potentiostat") {
            try t.checkKeys(allowed: ["backend", "address", "dialect", "sense", "timeout_ms", "edge", "simulation"])
            let b = try t.string("backend", oneOf: PotentiostatBackend.allNames, default: "sim")
            c.potentiostatBackend = PotentiostatBackend(rawValue: b)!
            if c.potentiostatBackend != .sim {
                let address = try t.string("address", maxLength: 512)
                if c.potentiostatBackend != .follow && address == nil {
                    throw t.error("address", "backend = \"\(b)\" needs an address, e.g. \"tcp://192.168.1.20:5025\" or \"serial:///dev/ttyACM0?baud=230400\"", kind: .missing)
                }
                c.potentiostat = PotentiostatSettings(
                    address: address, dialect: try t.string("dialect", oneOf: c.potentiostatBackend == .scpi ? ["keithley2450"] : ["emstat4", "nexus"]),
                    sense: try t.string("sense", oneOf: ["2-wire", "4-wire"], default: "4-wire"),
                    timeoutMilliseconds: try t.number("timeout_ms", unit: "ms", range: NumberRange(50...60_000), default: 2000),
                    edge: try t.string("edge", oneOf: ["rising", "falling", "both"], default: "rising"),
                    simulation: try t.bool("simulation") ?? false)
                if c.potentiostatBackend == .follow && c.gpio?.triggerInput == nil {
                    throw t.error("backend", "follow mode records the instrument's trigger output: set [gpio] trigger_input to the input line")
                }
            }
        } else if hardware {
            throw root.error("potentiostat", "backend = \"hardware\" needs [potentiostat] with backend = \"scpi\", \"methodscript\" or \"follow\" (or \"sim\")", kind: .missing)
        }
        if let t = try root.table("recording") {
            try t.checkKeys(allowed: ["compression"])
            let names = TIFFStackWriter.Compression.allCases.map(\.rawValue)
            let name = try t.string("compression", oneOf: names, default: TIFFStackWriter.Compression.deflate.rawValue)
            c.recordingCompression = TIFFStackWriter.Compression(rawValue: name)!
        }
        return c
    }

    /// Makes every key nobody read an error (after FirmwareSim read `[sim]`).
    public func finish() throws { try document?.finish() }

    /// The configuration as recorded in run.json.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "rig_file": file.map { .string($0) } ?? .null, "rig_text": .string(text),
            "gpio_backend": .string(gpioBackend.rawValue), "camera_backend": .string(cameraBackend.rawValue),
            "potentiostat_backend": .string(potentiostatBackend.rawValue),
            "backend": .string(isSimulated ? "sim" : "hardware"),
            "recording_compression": .string(recordingCompression.rawValue),
        ]
        if let g = gpio {
            o["gpio"] = .object(["chip": .string(g.chip), "led": .string(g.led), "trigger": .string(g.trigger),
                                 "trigger_input": g.triggerInput.map { .string($0) } ?? .null, "active_low": .bool(g.activeLow)])
        }
        if let p = potentiostat {
            o["potentiostat"] = .object(["address": p.address.map { .string($0) } ?? .null, "dialect": p.dialect.map { .string($0) } ?? .null,
                                         "sense": .string(p.sense), "timeout_ms": .number(p.timeoutMilliseconds), "edge": .string(p.edge)])
        }
        if let cam = camera {
            o["camera"] = .object(["device": cam.device.map { .string($0) } ?? .null, "trigger_source": .string(cam.triggerSource),
                                   "pixel_format": cam.pixelFormat.map { .string($0) } ?? .null, "buffers": .number(Double(cam.buffers)),
                                   "timeout_ms": .number(cam.timeoutMilliseconds)])
        }
        return .object(o)
    }
}

extension RigConfiguration.CameraBackend { static let allNames = ["sim", "aravis"] }
extension RigConfiguration.PotentiostatBackend { static let allNames = ["sim", "scpi", "methodscript", "follow"] }
