import Foundation
import Rig
import Testing
@testable import FirmwareSim

@Test func simTableParsesEveryKeyWithUnits() throws {
    let text = """
    backend = "sim"
    [sim]
    particle = "circle:2.5um"
    particle_size_um = 2.0
    theta0 = 0.9
    scale = 4.0
    exchange_current_A_per_cm2 = 1e-6
    optical_gain = 1.0
    reference_theta = 0.9
    drift_nm_per_min = 3
    drift_direction_deg = -45
    drift_walk_nm_per_sqrt_min = 1.5
    noise = 0.5
    seed = 42
    series_resistance_ohm = 35
    population_count = 2
    population_median_um = 1.5
    population_log_sigma = 0.2
    model_step_s = 0.5
    sample_interval_s = 2
    voltage_noise_mV = 0.1
    current_noise_nA = 2
    particle_electrons_per_ms = 4000
    hot_pixels_per_megapixel = 10

    [[sim.faults]]
    kind = "potentiostat_disconnect"
    at_s = 3600
    [[sim.faults]]
    kind = "camera_drop"
    at_s = 10
    count = 3
    [[sim.faults]]
    kind = "compliance_hit"
    at_s = 20
    ohm = 5e5
    [[sim.faults]]
    kind = "gpio_io_error"
    line = "trigger"
    """
    let c = try SimConfiguration.parse(rigFileText: text, file: "rig.toml")
    #expect(c.particle == "circle:2.5um" && c.particleSizeMicrometres == 2 && c.theta0 == 0.9 && c.scale == 4)
    #expect(c.exchangeCurrentAmpsPerCm2 == 1e-6 && c.opticalGain == 1 && c.referenceTheta == 0.9)
    #expect(c.driftNanometresPerMinute == 3 && c.driftDirectionDegrees == -45 && c.driftWalkNanometresPerSqrtMinute == 1.5)
    #expect(c.noise == 0.5 && c.seed == 42 && c.seriesResistanceOhms == 35)
    #expect(c.populationCount == 2 && c.populationMedianMicrometres == 1.5 && c.populationLogSigma == 0.2)
    #expect(c.modelStepSeconds == 0.5 && c.sampleIntervalSeconds == 2)
    #expect(c.voltageNoiseMillivolts == 0.1 && c.currentNoiseNanoamps == 2)
    #expect(c.particleElectronsPerMillisecond == 4000 && c.hotPixelsPerMegapixel == 10)
    #expect(c.faults == [ScheduledFault(atSeconds: 3600, fault: .potentiostatDisconnect),
                         ScheduledFault(atSeconds: 10, fault: .cameraDrop(count: 3)),
                         ScheduledFault(atSeconds: 20, fault: .complianceHit(ohms: 5e5)),
                         ScheduledFault(atSeconds: 0, fault: .gpioIOError(line: "trigger"))])
    // The configured world builds, with its population carrying the current.
    let rig = try SimRig(configuration: c)
    #expect(rig.cell.population.count == 2)
    #expect(abs(rig.cell.populationWeights.reduce(0, +) - 1) < 1e-12)
    // Rig files without [sim] give the defaults.
    #expect(try SimConfiguration.parse(rigFileText: "backend = \"sim\"\n", file: "r.toml") == SimConfiguration())
}

@Test func unknownOrBadSimKeysAreErrorsNamingTheKey() {
    #expect(throws: SimConfigurationError.self) { try SimConfiguration.parse(rigFileText: "[sim]\nscael = 3\n", file: "r.toml") }
    do {
        _ = try SimConfiguration.parse(rigFileText: "[sim]\nscael = 3\n", file: "r.toml")
    } catch let e as SimConfigurationError {
        #expect(e.key == "scael" && e.file == "r.toml")
        #expect(e.description.hasPrefix("r.toml:2: [sim] scael: unknown key \"scael\" in [sim]; expected one of particle,"), "\(e)")
        #expect(e.line == 2)
    } catch { Issue.record("wrong error \(error)") }
    let bad: [(String, String)] = [
        ("scale = -1", "scale"), ("noise = \"lots\"", "noise"), ("particle = \"blob:3um\"", "particle"),
        ("seed = -3", "seed"), ("population_count = 2.5", "population_count"),
        ("faults = [{ kind = \"meteor\" }]", "faults[0].kind"), ("faults = [{ kind = \"camera_drop\", when = 3 }]", "faults[0].when"),
        ("theta0 = 1.2", "theta0"),
    ]
    for (line, key) in bad {
        do {
            _ = try SimConfiguration.parse(rigFileText: "[sim]\n\(line)\n", file: "r.toml")
            Issue.record("\(line) was accepted")
        } catch let e as SimConfigurationError {
            #expect(e.key == key, "\(line): \(e)")
        } catch { Issue.record("\(line): wrong error \(error)") }
    }
}

// Same seed → identical frames and samples; another seed → different noise.
@Test func sameSeedGivesIdenticalOutput() throws {
    func run(seed: UInt64) throws -> ([UInt16], [Double]) {
        var c = SimConfiguration()
        c.seed = seed
        let rig = try SimRig(configuration: c)
        let led = try rig.chip.requestOutput(offset: SimGPIOChip.ledOffset, consumer: "t", initialHigh: false)
        let trig = try rig.chip.requestOutput(offset: SimGPIOChip.triggerOffset, consumer: "t", initialHigh: false)
        try rig.camera.configure(roi: SimCamera.defaultROI, exposureSeconds: 0.0025)
        try rig.camera.start()
        try rig.potentiostat.apply(.constantCurrent(amps: rig.cell.oneCAmps, voltageComplianceVolts: 2.5...4.4))
        var pixels: [UInt16] = []
        var volts: [Double] = []
        for k in 0..<5 {
            let t = rig.originNanoseconds + Int64(k) * 7_000_000_000
            rig.clock.sleep(untilNanoseconds: t)
            try led.set(true)
            rig.clock.sleep(untilNanoseconds: t + 200_000)
            try trig.set(true); try trig.set(false)
            rig.clock.sleep(untilNanoseconds: t + 3_000_000)
            try led.set(false)
            pixels += try rig.camera.nextFrame(timeoutSeconds: 0.1).pixels
            volts.append(try rig.potentiostat.read().voltageVolts)
        }
        return (pixels, volts + rig.potentiostat.takeRecordedSamples().map(\.currentAmps))
    }
    let a = try run(seed: 5), b = try run(seed: 5), c = try run(seed: 6)
    #expect(a.0 == b.0)
    #expect(a.1 == b.1)
    #expect(a.0 != c.0)
    #expect(a.1 != c.1)
}

@Test func exampleSimRigFileParses() throws {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/rigs/sim.toml").path
    let c = try SimConfiguration.load(rigFile: path)
    #expect(abs(c.opticalGain - 1 / 0.95) < 1e-4)
    #expect(c.faults.isEmpty)
    let faults = try SimConfiguration.load(rigFile: path.replacingOccurrences(of: "sim.toml", with: "sim-faults.toml"))
    #expect(faults.faults.count == 2)
    #expect(throws: SimConfigurationError.self) { try SimConfiguration.load(rigFile: "/nonexistent/rig.toml") }
}

// Issue 11: large but finite numbers trapped on Double→Int conversion, or looped at one instant.
@Test func simValuesAtTheEdgesAreRefusedNamingLineAndKey() {
    let bad: [(String, String, String)] = [
        ("sample_interval_s = 1e10", "sample_interval_s", "from 0.001 s to 3600 s"),
        ("sample_interval_s = 1e-12", "sample_interval_s", "from 0.001 s to 3600 s"),
        ("drift_nm_per_min = 1e300", "drift_nm_per_min", "up to 10000 nm/min"),
        ("faults = [{ kind = \"camera_drop\", at_s = 1e10 }]", "faults[0].at_s", "up to 32000000 s"),
        ("faults = [{ kind = \"camera_drop\", count = 1e300 }]", "faults[0].count", "whole number"),
        ("particle = \"circle:1000um\"", "particle", "up to 50 µm"),
        ("particle = \"ellipse:1e300x1e300um\"", "particle", "up to 50 µm"),
        ("particle_size_um = 1e300", "particle_size_um", "up to 100 µm"),
        ("[", "(file)", "not valid TOML"),
    ]
    for (line, key, fragment) in bad {
        do {
            _ = try SimConfiguration.parse(rigFileText: "backend = \"sim\"\n[sim]\n\(line)\n", file: "r.toml")
            Issue.record("\(line) was accepted")
        } catch let e as SimConfigurationError {
            #expect(e.key == key, "\(line): \(e)")
            #expect(e.line == 3, "\(line): \(e)")
            #expect(e.description.contains(fragment), "\(line): \(e)")
        } catch { Issue.record("\(line): wrong error \(error)") }
    }
    // The rig file's other tables are the rig loader's: [sim] alone is checked for unread keys.
    #expect((try? SimConfiguration.parse(rigFileText: "backend = \"sim\"\n[camera]\nx = 1\n[sim]\nseed = 3\n", file: "r.toml"))?.seed == 3)
}
