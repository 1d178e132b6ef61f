// swift-tools-version:6.1
// operando — operando optical scattering microscopy of single battery-cathode particles.
import PackageDescription

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
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo"),
        .systemLibrary(name: "CGpiod", path: "Sources/CGpiod", pkgConfig: "libgpiod"),

        // Our own TOML 1.0 reader with tracked keys and checked ranges (no dependencies).
        .target(name: "ConfigFile"),
        .target(name: "Electrochemistry", dependencies: ["ConfigFile"]),
        .target(name: "ParticleModel",
                dependencies: ["Electrochemistry", "CSuiteSparse", "ConfigFile"]),
        .target(name: "Imaging", dependencies: ["CTiff"]),
        .target(name: "Dataset", dependencies: ["Imaging"]),
        .target(name: "Rig", dependencies: ["Electrochemistry", "Imaging", "Dataset", "ConfigFile"]),
        .target(name: "RigDrivers", dependencies: ["Rig", "CGpiod"]),
        .target(name: "FirmwareSim", dependencies: ["Rig", "ParticleModel", "Imaging", "Electrochemistry", "Dataset", "ConfigFile"],
                path: "firmware-sim"),
        .target(name: "Figures", dependencies: ["CCairo", "ParticleModel"]),
        // Readers for instrument files (EC-Lab .mpr/.mpt, Gamry .DTA, BDF), clock alignment, .mpt writer.
        .target(name: "InstrumentFiles"),
        .target(name: "Calibration", dependencies: ["ParticleModel", "Imaging", "Electrochemistry"]),
        // The live view: a run subscriber serving a page and a WebSocket (Hummingbird 2).
        .target(name: "LiveView",
                dependencies: ["Rig", "Dataset", "Imaging", "Electrochemistry",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "HTTPTypes", package: "swift-http-types"),
                               .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket")]),
        .executableTarget(name: "operando",
                          dependencies: ["ConfigFile", "Electrochemistry", "ParticleModel", "Imaging", "Dataset", "Figures", "Rig", "RigDrivers", "FirmwareSim", "Calibration", "LiveView",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "Benchmarks",
                          dependencies: ["Electrochemistry", "ParticleModel", "Rig", "FirmwareSim", "Imaging", "Figures", "LiveView", "Dataset",
                                         .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                                         .product(name: "Logging", package: "swift-log")]),

        .testTarget(name: "ConfigFileTests", dependencies: ["ConfigFile"]),
        .testTarget(name: "ElectrochemistryTests", dependencies: ["Electrochemistry"]),
        .testTarget(name: "DatasetTests", dependencies: ["Dataset", "Imaging"]),
        .testTarget(name: "ParticleModelTests", dependencies: ["ParticleModel", "Electrochemistry"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"], exclude: ["Fixtures"]),
        .testTarget(name: "RigTests", dependencies: ["Rig", "RigDrivers", "FirmwareSim", "Electrochemistry", "Imaging", "ParticleModel", "Dataset"]),
        .testTarget(name: "FirmwareSimTests", dependencies: ["FirmwareSim", "Rig", "ParticleModel"]),
        .testTarget(name: "FiguresTests", dependencies: ["Figures"]),
        .testTarget(name: "InstrumentFilesTests", dependencies: ["InstrumentFiles"], exclude: ["Fixtures"]),
        .testTarget(name: "EndToEndTests", dependencies: ["operando"]),
        .testTarget(name: "LiveViewTests",
                    dependencies: ["LiveView", "Rig", "FirmwareSim", "Dataset", "Imaging", "Electrochemistry",
                                   .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                                   .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "CalibrationTests", dependencies: ["Calibration", "Rig", "FirmwareSim", "Imaging", "ParticleModel", "Electrochemistry"]),
    ]
)
