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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
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
        .target(name: "Rig", dependencies: ["Electrochemistry", "Imaging"]),
        .target(name: "RigDrivers", dependencies: ["Rig", "CGpiod"]),
        .target(name: "FirmwareSim", dependencies: ["Rig", "ParticleModel", "Imaging", "ConfigFile"],
                path: "firmware-sim"),
        .target(name: "Figures", dependencies: ["CCairo", "ParticleModel"]),
        .target(name: "Calibration", dependencies: ["ParticleModel", "Imaging", "Electrochemistry"]),
        .executableTarget(name: "operando",
                          dependencies: ["ConfigFile", "Electrochemistry", "ParticleModel", "Imaging", "Figures", "Rig", "RigDrivers", "FirmwareSim", "Calibration",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         // Only Run.swift's rig-file parsing still uses TOMLKit (moving to Rig's RigConfiguration).
                                         .product(name: "TOMLKit", package: "TOMLKit")]),
        // Fuzz targets for every reader of user input, a deterministic mutation driver, and its CLI
        // (`make fuzz`; `make fuzz-libfuzzer` builds the same targets for libFuzzer).
        .target(name: "Fuzzing", dependencies: ["ConfigFile", "Electrochemistry", "ParticleModel", "FirmwareSim"]),
        .executableTarget(name: "Fuzz", dependencies: ["Fuzzing"]),
        .executableTarget(name: "Benchmarks",
                          dependencies: ["Electrochemistry", "ParticleModel", "Rig", "FirmwareSim", "Imaging", "Figures"]),

        .testTarget(name: "ConfigFileTests", dependencies: ["ConfigFile"]),
        .testTarget(name: "FuzzingTests", dependencies: ["Fuzzing"]),
        .testTarget(name: "ElectrochemistryTests", dependencies: ["Electrochemistry"]),
        .testTarget(name: "ParticleModelTests", dependencies: ["ParticleModel", "Electrochemistry"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"], exclude: ["Fixtures"]),
        .testTarget(name: "RigTests", dependencies: ["Rig", "RigDrivers", "FirmwareSim", "Electrochemistry", "Imaging", "ParticleModel"]),
        .testTarget(name: "FirmwareSimTests", dependencies: ["FirmwareSim", "Rig", "ParticleModel"]),
        .testTarget(name: "FiguresTests", dependencies: ["Figures"]),
        .testTarget(name: "EndToEndTests", dependencies: ["operando"]),
        .testTarget(name: "CalibrationTests", dependencies: ["Calibration", "Rig", "FirmwareSim", "Imaging", "ParticleModel", "Electrochemistry"]),
    ]
)
