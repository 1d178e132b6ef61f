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
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // System-library shims (Debian -dev packages, installed by `make deps`).
        .systemLibrary(name: "CSuiteSparse", path: "Sources/CSuiteSparse"),
        .systemLibrary(name: "CTiff", path: "Sources/CTiff", pkgConfig: "libtiff-4"),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo"),
        .systemLibrary(name: "CGpiod", path: "Sources/CGpiod", pkgConfig: "libgpiod"),

        .target(name: "Electrochemistry",
                dependencies: [.product(name: "TOMLKit", package: "TOMLKit")]),
        .target(name: "ParticleModel",
                dependencies: ["Electrochemistry", "CSuiteSparse",
                               .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(name: "Imaging", dependencies: ["CTiff"]),
        .target(name: "Dataset", dependencies: ["Imaging"]),
        .target(name: "Rig", dependencies: ["Electrochemistry", "Imaging", "Dataset"]),
        .target(name: "RigDrivers", dependencies: ["Rig", "CGpiod"]),
        .target(name: "FirmwareSim", dependencies: ["Rig", "ParticleModel", "Imaging", .product(name: "TOMLKit", package: "TOMLKit")],
                path: "firmware-sim"),
        .target(name: "Figures", dependencies: ["CCairo", "ParticleModel", "Dataset"]),
        .target(name: "Calibration", dependencies: ["ParticleModel", "Imaging", "Electrochemistry", "Dataset"]),
        .executableTarget(name: "operando",
                          dependencies: ["Electrochemistry", "ParticleModel", "Imaging", "Dataset", "Figures", "Rig", "RigDrivers", "FirmwareSim", "Calibration",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "Benchmarks",
                          dependencies: ["Electrochemistry", "ParticleModel", "Rig", "FirmwareSim", "Imaging", "Dataset", "Figures"]),

        .testTarget(name: "ElectrochemistryTests", dependencies: ["Electrochemistry"]),
        .testTarget(name: "DatasetTests", dependencies: ["Dataset", "Imaging"]),
        .testTarget(name: "ParticleModelTests", dependencies: ["ParticleModel", "Electrochemistry"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Dataset"], exclude: ["Fixtures"]),
        .testTarget(name: "RigTests", dependencies: ["Rig", "RigDrivers", "FirmwareSim", "Electrochemistry", "Imaging"]),
        .testTarget(name: "FirmwareSimTests", dependencies: ["FirmwareSim", "Rig", "ParticleModel"]),
        .testTarget(name: "FiguresTests", dependencies: ["Figures", "Dataset", "Imaging"]),
        .testTarget(name: "EndToEndTests", dependencies: ["operando", "Dataset"]),
        .testTarget(name: "CalibrationTests", dependencies: ["Calibration", "Dataset", "Rig", "FirmwareSim", "Imaging", "ParticleModel", "Electrochemistry"]),
    ]
)
