import Foundation
import Rig
import RigDrivers
import Testing

/// The libgpiod v2 library the tests use: `$OPERANDO_LIBGPIOD_V2` (make sets it), the copy `make deps`
/// unpacked under .deps/libgpiod2, or the system's libgpiod.so.3 (Debian 13).
enum V2TestLibrary {
    static let unpacked: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let lib = root.appendingPathComponent(".deps/libgpiod2/usr/lib")
        guard let arches = try? FileManager.default.contentsOfDirectory(atPath: lib.path) else { return nil }
        for a in arches.sorted() {
            let p = lib.appendingPathComponent(a).appendingPathComponent("libgpiod.so.3").path
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }()

    static let library: GpiodV2Library? = {
        // So GPIOBackend.v2 (which reads the variable) finds the same copy when `swift test` runs alone.
        if getenv(GpiodV2Library.pathEnvironmentVariable) == nil, let p = unpacked {
            setenv(GpiodV2Library.pathEnvironmentVariable, p, 0)
        }
        return try? GpiodV2Library.load(candidates: GpiodV2Library.defaultCandidates + (unpacked.map { [$0] } ?? []))
    }()

    /// CI (and `make test`, after `make deps`) must test v2; elsewhere the v2 tests skip when the
    /// library is missing.
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
        || ProcessInfo.processInfo.environment["OPERANDO_REQUIRE_GPIOD_V2"] == "1"

    static var available: Bool { library != nil }
}

@Test(.enabled(if: V2TestLibrary.required || V2TestLibrary.available))
func v2LibraryIsThereWhereItMustBe() {
    #expect(V2TestLibrary.library != nil,
            "libgpiod v2 not loadable: run `make deps` (unpacks bookworm-backports' libgpiod3 into .deps/libgpiod2) or set OPERANDO_LIBGPIOD_V2")
}

@Test(.enabled(if: V2TestLibrary.available))
func v2LibraryReportsItsApiVersion() throws {
    let lib = try #require(V2TestLibrary.library)
    #expect(lib.apiVersion.hasPrefix("2."))
    #expect(lib.apiVersion.split(separator: ".").count >= 2)
    // The unpacked copy is the pinned 2.1.3; its pkg-config file must say the same.
    if lib.path == V2TestLibrary.unpacked {
        #expect(lib.apiVersion == "2.1.3")
        let pc = URL(fileURLWithPath: lib.path).deletingLastPathComponent().appendingPathComponent("pkgconfig/libgpiod.pc")
        let text = try String(contentsOf: pc, encoding: .utf8)
        #expect(text.contains("Version: \(lib.apiVersion)"))
    }
    #expect(try GPIOBackend.v2.libraryVersion() == lib.apiVersion)
}

@Test func v1LibraryIsNotTakenForV2() {
    // libgpiod.so.2 (v1) has no gpiod_api_version; a missing file is reported by path.
    do {
        _ = try GpiodV2Library.load(candidates: ["/nonexistent/libgpiod.so.3", "libgpiod.so.2"])
        Issue.record("v1 library accepted as v2")
    } catch {
        guard case .chipUnavailable(let chip, let reason) = error else { Issue.record("\(error)"); return }
        #expect(chip == "libgpiod v2")
        #expect(reason.contains("/nonexistent/libgpiod.so.3"))
        #expect(reason.contains("libgpiod.so.2: no symbol gpiod_api_version"))
        #expect(reason.hasPrefix("cannot load the library: "))
        #expect(reason.contains("OPERANDO_LIBGPIOD_V2"))
    }
}

@Test(.enabled(if: V2TestLibrary.available), arguments: ["gpiochip0", "/dev/gpiochip0", "0", "no-such-chip"])
func v2WithoutChipSaysSoWithErrno(chip: String) throws {
    let lib = try #require(V2TestLibrary.library)
    let path = GpiodV2Chip.devicePath(for: chip)
    #expect(path.hasPrefix("/dev/"))
    if FileManager.default.fileExists(atPath: path) { return }   // a machine with GPIO: nothing to assert
    do {
        _ = try GpiodV2Chip(chip, library: lib)
        Issue.record("opened \(path), which does not exist")
    } catch let e as GPIOError {
        guard case .chipUnavailable(let name, let reason) = e else { Issue.record("\(e)"); return }
        #expect(name == chip)
        #expect(reason.contains("libgpiod v2"))
        #expect(reason.contains(path))
        #expect(reason.contains("errno ENOENT 2"))
        #expect(e.description.hasPrefix("gpio chip \"\(chip)\":"))
    }
}

@Test(.enabled(if: V2TestLibrary.available), arguments: [EdgeDetection.rising, .falling, .both], LineBias.allCases)
func v2EdgeInputSettingsReadBack(edge: EdgeDetection, bias: LineBias) throws {
    let lib = try #require(V2TestLibrary.library)
    let s = try GpiodV2Chip.lineSettings(library: lib, for: EdgeInputSettings(edge: edge, bias: bias, activeLow: edge == .falling, debounceMicroseconds: 250))
    #expect(s.direction == .input)
    #expect(s.edgeDetection == edge)
    #expect(s.bias == bias)
    #expect(s.activeLow == (edge == .falling))
    #expect(s.debounceMicroseconds == 250)
    #expect(s.eventClockIsMonotonic)
}

@Test(.enabled(if: V2TestLibrary.available))
func v2LineAndRequestConfigsKeepWhatWasSet() throws {
    let lib = try #require(V2TestLibrary.library)
    // Output settings, as requestOutput builds them.
    let out = try GpiodV2LineSettings(library: lib)
    #expect(out.direction == .asIs)          // libgpiod's default
    #expect(out.edgeDetection == nil)
    try out.setDirection(.output)
    try out.setOutputActive(true)
    #expect(out.direction == .output)
    #expect(out.outputActive)

    let input = try GpiodV2Chip.lineSettings(library: lib, for: EdgeInputSettings(edge: .rising, bias: .pullDown))
    let config = try GpiodV2LineConfig(library: lib)
    try config.add(offsets: [17], settings: input)
    try config.add(offsets: [4, 5], settings: out)
    #expect(Set(config.offsets) == [4, 5, 17])
    let back = try #require(config.settings(offset: 17))
    #expect(back.edgeDetection == .rising)
    #expect(back.bias == .pullDown)
    let back5 = try #require(config.settings(offset: 5))
    #expect(back5.direction == .output)
    #expect(back5.outputActive)
    #expect(config.settings(offset: 3) == nil)

    let request = try GpiodV2RequestConfig(library: lib)
    request.consumer = "operando-follow"
    request.eventBufferSize = 64
    #expect(request.consumer == "operando-follow")
    #expect(request.eventBufferSize == 64)
}
