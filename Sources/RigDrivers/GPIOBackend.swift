// Which libgpiod backend opens a chip. The choice is made at build time from the libgpiod that
// pkg-config found (Package.swift: GPIOD_V1 for 1.x, GPIOD_BUILD_V2 for ≥ 2), with the v2 backend
// always compiled (it needs no header) and usable wherever libgpiod.so.3 loads, so CI builds and tests
// both on Debian 12 (v1 installed, v2 unpacked by `make deps`).
import Glibc
import Rig

/// A libgpiod backend.
public enum GPIOBackend: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// libgpiod 1.x (`GpiodChip`, linked through CGpiod).
    case v1 = "libgpiod-v1"
    /// libgpiod 2.x (`GpiodV2Chip`, dlopen of libgpiod.so.3).
    case v2 = "libgpiod-v2"

    public var description: String { rawValue }

    /// Environment variable that forces a backend (`v1` or `v2`) for tests and operators.
    public static let environmentVariable = "OPERANDO_GPIO_BACKEND"

    /// The libgpiod major version this build's pkg-config found: "1.x", "2.x" or "none".
    public static var buildLibgpiodVersion: String {
        #if GPIOD_BUILD_V2
        return "2.x"
        #elseif GPIOD_V1
        return "1.x"
        #else
        return "none"
        #endif
    }

    /// True for the backends compiled into this binary (v1 only where the build found libgpiod 1.x).
    public var isCompiled: Bool {
        switch self {
        case .v1:
            #if GPIOD_V1
            return true
            #else
            return false
            #endif
        case .v2: return true
        }
    }

    /// True when the backend can open chips here: compiled and, for v2, its library loads.
    public var isUsable: Bool {
        switch self {
        case .v1: return isCompiled
        case .v2: return (try? GpiodV2Library.load()) != nil
        }
    }

    /// The library's own version string (`gpiod_version_string` / `gpiod_api_version`).
    public func libraryVersion() throws(GPIOError) -> String {
        switch self {
        case .v1:
            guard isCompiled else {
                throw .notSupported(chip: "libgpiod v1", operation: "version", reason: "not in this build (build found libgpiod \(GPIOBackend.buildLibgpiodVersion))")
            }
            return GpiodChip.libraryVersion
        case .v2: return try GpiodV2Library.load().apiVersion
        }
    }

    /// The backend `open` uses without a forced choice: `$OPERANDO_GPIO_BACKEND` if set; else v2 when
    /// the build found libgpiod ≥ 2; else v1 when compiled; else v2 when its library loads.
    /// - Throws: `GPIOError.notSupported` for an unknown override or when no backend is usable.
    public static func selected(environment: [String: String]? = nil) throws(GPIOError) -> GPIOBackend {
        let forced: String? = environment.map { $0[environmentVariable] } ?? getenv(environmentVariable).map { String(cString: $0) }
        if let f = forced, !f.isEmpty {
            switch f.lowercased() {
            case "v1", "1", "libgpiod-v1": return .v1
            case "v2", "2", "libgpiod-v2": return .v2
            default:
                throw .invalidSetting(chip: "gpio", setting: environmentVariable, value: f, expected: "v1 or v2")
            }
        }
        #if GPIOD_BUILD_V2
        return .v2
        #else
        if GPIOBackend.v1.isCompiled { return .v1 }
        if GPIOBackend.v2.isUsable { return .v2 }
        throw .notSupported(chip: "gpio", operation: "choosing a libgpiod backend",
                            reason: "this build found no libgpiod (pkg-config libgpiod) and libgpiod.so.3 does not load")
        #endif
    }

    /// Opens `chip` (name, path or number) with this backend.
    /// - Throws: `GPIOError.chipUnavailable` naming the chip and errno.
    public func open(_ chip: String) throws -> GPIOChip {
        switch self {
        case .v1: return try GpiodChip(chip)
        case .v2: return try GpiodV2Chip(chip)
        }
    }

    /// Opens `chip` with `backend`, or with `selected()` when nil.
    public static func open(_ chip: String, backend: GPIOBackend? = nil) throws -> GPIOChip {
        try (backend ?? selected()).open(chip)
    }
}

/// Follow mode's trigger input as a rig file describes it (`[potentiostat] trigger_input`, `edge`, and
/// the `[gpio]` chip). Plain values; `validate()` checks them, `open()` requests the line.
public struct TriggerInputConfiguration: Sendable, Equatable {
    /// Chip name, path or number (`gpiochip0`, `/dev/gpiochip0`, `0`).
    public var chip: String
    /// Line: device-tree name (`GPIO17`) or decimal offset (`17`).
    public var line: String
    /// Edge detection, bias, active-low, debounce (v2), kernel queue size (v2).
    public var settings: EdgeInputSettings
    /// Consumer label shown by `gpioinfo`.
    public var consumer: String
    /// Forced backend; nil: `GPIOBackend.selected()`.
    public var backend: GPIOBackend?

    public init(chip: String, line: String, settings: EdgeInputSettings = EdgeInputSettings(),
                consumer: String = "operando-follow", backend: GPIOBackend? = nil) {
        self.chip = chip
        self.line = line
        self.settings = settings
        self.consumer = consumer
        self.backend = backend
    }

    /// Checks every field against its documented range.
    public func validate() throws(GPIOError) {
        if chip.isEmpty {
            throw .invalidSetting(chip: "gpio", setting: "chip", value: "\"\"", expected: "a chip name, path or number such as gpiochip0")
        }
        if line.isEmpty {
            throw .invalidSetting(chip: chip, setting: "trigger_input", value: "\"\"", expected: "a line name (GPIO17) or offset (17)")
        }
        if consumer.isEmpty || consumer.utf8.count > 31 {
            throw .invalidSetting(chip: chip, setting: "consumer", value: "\"\(consumer)\"", expected: "1…31 bytes (the kernel's label length)")
        }
        try settings.validate(chip: chip)
    }

    /// Opens the chip and requests the line. Keep the chip alive as long as the input: releasing the
    /// chip releases its lines.
    public func open() throws -> (chip: GPIOChip, input: EdgeInput) {
        try validate()
        let c = try GPIOBackend.open(chip, backend: backend)
        let offset = try c.lineOffset(named: line)
        return (c, try c.requestEdgeInput(offset: offset, consumer: consumer, settings: settings))
    }
}

extension GPIOBackend {
    /// What `operando gpio` prints first: the libgpiod the build found, each backend's state and library
    /// version, and the one `selected()` picks (lines of `key: value`).
    public static func report(environment: [String: String]? = nil) -> [String] {
        var lines = ["build found libgpiod: \(buildLibgpiodVersion)"]
        for b in GPIOBackend.allCases {
            let state: String
            if !b.isCompiled {
                state = "not in this build"
            } else {
                do { state = "library \(try b.libraryVersion())" } catch { state = "compiled, library not loadable (\(error))" }
            }
            lines.append("\(b): \(state)")
        }
        do { lines.append("selected: \(try selected(environment: environment))") } catch { lines.append("selected: none (\(error))") }
        return lines
    }
}
