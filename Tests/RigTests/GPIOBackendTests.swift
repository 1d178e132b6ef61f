import Foundation
import Rig
import RigDrivers
import Testing

@Test func backendFollowsTheBuildAndCanBeForced() throws {
    // Debian 12: the build found libgpiod 1.x, so v1 is compiled and chosen; a v2-only build picks v2.
    switch GPIOBackend.buildLibgpiodVersion {
    case "1.x":
        #expect(GPIOBackend.v1.isCompiled)
        #expect(try GPIOBackend.selected(environment: [:]) == .v1)
    case "2.x":
        #expect(!GPIOBackend.v1.isCompiled)
        #expect(try GPIOBackend.selected(environment: [:]) == .v2)
    default:
        #expect(!GPIOBackend.v1.isCompiled)
    }
    #expect(GPIOBackend.v2.isCompiled)
    #expect(try GPIOBackend.selected(environment: ["OPERANDO_GPIO_BACKEND": "v2"]) == .v2)
    #expect(try GPIOBackend.selected(environment: ["OPERANDO_GPIO_BACKEND": "v1"]) == .v1)
    #expect(throws: GPIOError.invalidSetting(chip: "gpio", setting: "OPERANDO_GPIO_BACKEND", value: "v3", expected: "v1 or v2")) {
        _ = try GPIOBackend.selected(environment: ["OPERANDO_GPIO_BACKEND": "v3"])
    }
}

@Test(.enabled(if: GPIOBackend.v1.isCompiled))
func v1LibraryReportsItsVersion() throws {
    let v = try GPIOBackend.v1.libraryVersion()
    #expect(v.hasPrefix("1."))
    #expect(v == GpiodChip.libraryVersion)
}

/// Both backends, through the real libraries, on a machine without GPIO chips: `chipUnavailable` naming
/// the chip, the backend and errno.
@Test(arguments: [GPIOBackend.v1, .v2])
func bothBackendsSayTheChipIsMissing(backend: GPIOBackend) throws {
    guard backend.isCompiled, backend == .v1 || V2TestLibrary.available else { return }
    if FileManager.default.fileExists(atPath: "/dev/gpiochip0") { return }
    do {
        _ = try GPIOBackend.open("gpiochip0", backend: backend)
        Issue.record("\(backend) opened gpiochip0 on a machine without it")
    } catch let e as GPIOError {
        guard case .chipUnavailable(let chip, let reason) = e else { Issue.record("\(e)"); return }
        #expect(chip == "gpiochip0")
        #expect(reason.contains(backend == .v1 ? "libgpiod v1" : "libgpiod v2"))
        #expect(reason.contains("ENOENT"))
    }
}

@Test func triggerInputConfigurationValidates() {
    #expect(throws: GPIOError.invalidSetting(chip: "gpiochip0", setting: "trigger_input", value: "\"\"", expected: "a line name (GPIO17) or offset (17)")) {
        try TriggerInputConfiguration(chip: "gpiochip0", line: "").validate()
    }
    #expect(throws: GPIOError.invalidSetting(chip: "gpio", setting: "chip", value: "\"\"", expected: "a chip name, path or number such as gpiochip0")) {
        try TriggerInputConfiguration(chip: "", line: "17").validate()
    }
    let long = String(repeating: "x", count: 32)
    #expect(throws: GPIOError.self) { try TriggerInputConfiguration(chip: "gpiochip0", line: "17", consumer: long).validate() }
    #expect(throws: GPIOError.invalidSetting(chip: "gpiochip0", setting: "debounce_us", value: "2000000", expected: "0…1000000 µs")) {
        try TriggerInputConfiguration(chip: "gpiochip0", line: "17", settings: EdgeInputSettings(debounceMicroseconds: 2_000_000)).validate()
    }
    #expect(throws: GPIOError.self) {
        try TriggerInputConfiguration(chip: "gpiochip0", line: "17", settings: EdgeInputSettings(kernelEventBufferSize: 5000)).validate()
    }
    // Valid, but this machine has no chip: the open fails naming it.
    if !FileManager.default.fileExists(atPath: "/dev/gpiochip0") {
        do {
            _ = try TriggerInputConfiguration(chip: "gpiochip0", line: "17", backend: .v1).open()
            Issue.record("opened a missing chip")
        } catch let e as GPIOError {
            guard case .chipUnavailable(let chip, _) = e else { Issue.record("\(e)"); return }
            #expect(chip == "gpiochip0")
        } catch { Issue.record("\(error)") }
    }
}

/// A chip that only has outputs: the protocol's default says edge inputs are not supported.
private final class OutputOnlyChip: GPIOChip {
    let name = "outputs-only"
    func requestOutput(offset: UInt32, consumer: String, initialHigh: Bool) throws -> DigitalLine {
        throw GPIOError.noSuchLine(chip: name, line: "\(offset)")
    }
}

@Test func chipsWithoutEdgeInputsSaySo() throws {
    let chip: GPIOChip = OutputOnlyChip()
    #expect(throws: GPIOError.notSupported(chip: "outputs-only", operation: "edge-event input on line 3", reason: "this chip's driver has no edge-event inputs")) {
        _ = try chip.requestEdgeInput(offset: 3, consumer: "t", edge: .rising)
    }
    #expect(try chip.lineOffset(named: "12") == 12)
    #expect(throws: GPIOError.noSuchLine(chip: "outputs-only", line: "GPIO17")) { _ = try chip.lineOffset(named: "GPIO17") }
    let e = GPIOError.notSupported(chip: "c", operation: "x", reason: "y")
    #expect(e.description == "gpio chip \"c\": x is not supported: y")
}

@Test func reportNamesTheBuildEachBackendAndTheChoice() {
    let v2 = V2TestLibrary.library     // first: it points $OPERANDO_LIBGPIOD_V2 at the unpacked copy
    let lines = GPIOBackend.report(environment: ["OPERANDO_GPIO_BACKEND": "v2"])
    #expect(lines.first == "build found libgpiod: \(GPIOBackend.buildLibgpiodVersion)")
    #expect(lines.last == "selected: libgpiod-v2")
    let v1 = lines.first { $0.hasPrefix("libgpiod-v1: ") }
    #expect(v1 == (GPIOBackend.v1.isCompiled ? "libgpiod-v1: library \(GpiodChip.libraryVersion)" : "libgpiod-v1: not in this build"))
    if let lib = v2 {
        #expect(lines.contains("libgpiod-v2: library \(lib.apiVersion)"))
    }
    #expect(GPIOBackend.report(environment: ["OPERANDO_GPIO_BACKEND": "v9"]).last?.hasPrefix("selected: none (gpio chip \"gpio\": OPERANDO_GPIO_BACKEND = v9 is invalid") == true)
}
