// swift-tools-version:6.1
// operando — operando optical scattering microscopy of single battery-cathode particles.
import PackageDescription
import Foundation

// libgpiod: the v1 backend (RigDrivers/GpiodChip.swift, C module CGpiod) is compiled only when the
// libgpiod that pkg-config finds is 1.x (Debian 12, Pi OS bookworm); on a v2-only distribution
// (Debian 13, Pi OS trixie) its headers are a different API, so it is left out and the v2 backend
// (resolved at run time with dlopen, no headers needed: RigDrivers/GpiodV2Library.swift) is the one.
// `make` passes the version in OPERANDO_LIBGPIOD_VERSION, which also keys SwiftPM's manifest cache;
// a plain `swift build` asks pkg-config itself. "none" when there is no libgpiod-dev at all.
let libgpiodVersion: String = {
    if let v = Context.environment["OPERANDO_LIBGPIOD_VERSION"], !v.isEmpty { return v }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["pkg-config", "--modversion", "libgpiod"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return "none" }
    p.waitUntilExit()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    return p.terminationStatus == 0 && !text.isEmpty ? text : "none"
}()
let libgpiodMajor = Int(libgpiodVersion.split(separator: ".").first ?? "") ?? 0
let gpiodV1 = libgpiodMajor == 1
let rigDriversDependencies: [Target.Dependency] = gpiodV1 ? ["Rig", "CGpiod"] : ["Rig"]
let rigDriversSettings: [SwiftSetting] = (gpiodV1 ? [.define("GPIOD_V1")] : [])
    + (libgpiodMajor >= 2 ? [.define("GPIOD_BUILD_V2")] : [])

let package = Package(
    name: "operando",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "operando", targets: ["operando"]),
        .library(name: "Electrochemistry", targets: ["Electrochemistry"]),
        .library(name: "ParticleModel", targets: ["ParticleModel"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Figures", targets: ["Figures"]),
        .library(name: "Dataset", targets: ["Dataset"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // System-library shims (Debian -dev packages, installed by `make deps`).
        .systemLibrary(name: "CSuiteSparse", path: "Sources/CSuiteSparse"),
        .systemLibrary(name: "CTiff", path: "Sources/CTiff", pkgConfig: "libtiff-4"),
        .systemLibrary(name: "CDeflate", path: "Sources/CDeflate", pkgConfig: "libdeflate"),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo"),
        .systemLibrary(name: "CGpiod", path: "Sources/CGpiod", pkgConfig: "libgpiod"),
        .systemLibrary(name: "CAravis", path: "Sources/CAravis", pkgConfig: "aravis-0.8"),

        // Our own TOML 1.0 reader with tracked keys and checked ranges (no dependencies).
        .target(name: "ConfigFile"),
        // The command line's one progress reporter (bar with ETA on a terminal, plain lines otherwise).
        .target(name: "TerminalProgress"),
        .target(name: "Electrochemistry", dependencies: ["ConfigFile"]),
        .target(name: "ParticleModel",
                dependencies: ["Electrochemistry", "CSuiteSparse", "ConfigFile"]),
        .target(name: "Imaging", dependencies: ["CTiff", "CDeflate"]),
        .target(name: "Dataset", dependencies: ["Imaging"]),
        .target(name: "Rig", dependencies: ["Electrochemistry", "Imaging", "Dataset", "ConfigFile"]),
        .target(name: "RigDrivers", dependencies: rigDriversDependencies + ["CAravis"], swiftSettings: rigDriversSettings),
        .target(name: "FirmwareSim", dependencies: ["Rig", "ParticleModel", "Imaging", "Electrochemistry", "Dataset", "ConfigFile", "InstrumentFiles"],
                path: "firmware-sim"),
        .target(name: "Figures", dependencies: ["CCairo", "ParticleModel", "Dataset"]),
        // Readers for instrument files (EC-Lab .mpr/.mpt, Gamry .DTA, BDF), clock alignment, .mpt writer.
        .target(name: "InstrumentFiles"),
        // operando import: an instrument's record into a dataset (alignment, echem.csv, frames.csv, run.json).
        .target(name: "InstrumentImport", dependencies: ["Dataset", "InstrumentFiles"]),
        .target(name: "Calibration", dependencies: ["ParticleModel", "Imaging", "Electrochemistry", "Dataset"]),
        // The live view: a run subscriber serving a page and a WebSocket (Hummingbird 2).
        .target(name: "LiveView",
                dependencies: ["Rig", "Dataset", "Imaging", "Electrochemistry",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "HTTPTypes", package: "swift-http-types"),
                               .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket")]),
        .executableTarget(name: "operando",
                          dependencies: ["ConfigFile", "Electrochemistry", "ParticleModel", "Imaging", "Dataset", "Figures", "Rig", "RigDrivers", "FirmwareSim", "Calibration", "InstrumentImport", "LiveView", "TerminalProgress",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Fuzz targets for every reader of user input, a deterministic mutation driver, and its CLI
        // (`make fuzz`; `make fuzz-libfuzzer` builds the same targets for libFuzzer).
        .target(name: "Fuzzing", dependencies: ["ConfigFile", "Electrochemistry", "ParticleModel", "FirmwareSim", "Imaging"]),
        .executableTarget(name: "Fuzz", dependencies: ["Fuzzing"]),
        // The solver's benchmark alone (`make profile-solver`, `make bench-solver`): builds in seconds,
        // without the rig's dependencies, so the profile can be repeated after every change.
        .executableTarget(name: "SolverBench", dependencies: ["Electrochemistry", "ParticleModel"]),
        // The offline analysis alone, for profiling it.
        .executableTarget(name: "AnalysisBench", dependencies: ["Dataset", "Imaging"]),
        .executableTarget(name: "Benchmarks",
                          dependencies: ["Electrochemistry", "ParticleModel", "Rig", "RigDrivers", "FirmwareSim", "Imaging", "Dataset", "Figures", "LiveView",
                                         "Calibration",
                                         .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                                         .product(name: "Logging", package: "swift-log")]),

        .testTarget(name: "ConfigFileTests", dependencies: ["ConfigFile"]),
        .testTarget(name: "TerminalProgressTests", dependencies: ["TerminalProgress"]),
        .testTarget(name: "FuzzingTests", dependencies: ["Fuzzing"]),
        .testTarget(name: "ElectrochemistryTests", dependencies: ["Electrochemistry"]),
        .testTarget(name: "DatasetTests", dependencies: ["Dataset", "Imaging"]),
        .testTarget(name: "ParticleModelTests", dependencies: ["ParticleModel", "Electrochemistry"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "CDeflate", "Dataset", "FirmwareSim", "ParticleModel"], exclude: ["Fixtures"]),
        .testTarget(name: "RigTests", dependencies: ["Rig", "RigDrivers", "FirmwareSim", "Electrochemistry", "Imaging", "ParticleModel", "Dataset"]),
        .testTarget(name: "RigDriversTests", dependencies: ["RigDrivers", "FirmwareSim", "Rig", "Electrochemistry"]),
        .testTarget(name: "FirmwareSimTests", dependencies: ["FirmwareSim", "Rig", "ParticleModel", "Electrochemistry", "InstrumentFiles"]),
        .testTarget(name: "FiguresTests", dependencies: ["Figures", "Dataset", "Imaging"]),
        .testTarget(name: "InstrumentFilesTests", dependencies: ["InstrumentFiles"], exclude: ["Fixtures"]),
        .testTarget(name: "EndToEndTests", dependencies: ["operando", "Dataset"]),
        .testTarget(name: "CameraDriverTests", dependencies: ["RigDrivers", "Rig", "FirmwareSim", "ParticleModel", "Imaging"]),
        .testTarget(name: "InstrumentImportTests", dependencies: ["InstrumentImport", "InstrumentFiles", "Dataset", "Rig", "FirmwareSim",
                                                                   "Electrochemistry", "Calibration", "ParticleModel", "Figures"]),
        .testTarget(name: "CalibrationTests", dependencies: ["Calibration", "Dataset", "Rig", "FirmwareSim", "Imaging", "ParticleModel", "Electrochemistry"]),
        .testTarget(name: "LiveViewTests",
                    dependencies: ["LiveView", "Rig", "FirmwareSim", "Dataset", "Imaging", "Electrochemistry",
                                   .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                                   .product(name: "Logging", package: "swift-log")]),
    ]
)
