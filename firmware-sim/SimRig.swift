import Foundation
import ParticleModel
import Rig

/// The whole simulated rig, wired: clock, GPIO chip (`led`, `trigger`), cell, potentiostat, camera.
/// This is what `operando run` instantiates when no hardware rig file is given.
///
/// ```swift
/// let rig = try SimRig(configuration: .init(), activeMassMilligrams: 1.5,
///                      practicalCapacityMilliampHoursPerGram: 210)
/// let led = try rig.chip.requestOutput(offset: SimGPIOChip.ledOffset, consumer: "operando", initialHigh: false)
/// try rig.camera.configure(roi: SimCamera.defaultROI, exposureSeconds: 0.0025)
/// try rig.camera.start()
/// try rig.potentiostat.apply(.constantCurrent(amps: rig.cell.oneCAmps / 3, voltageComplianceVolts: 2.5...4.4))
/// ```
public final class SimRig {
    /// The `[sim]` table the rig was built from.
    public let configuration: SimConfiguration
    /// Virtual (default) or wall clock (`realtime`).
    public let clock: any Clock
    /// GPIO chip `gpiochip-sim` with the `led` and `trigger` lines.
    public let chip: SimGPIOChip
    /// The simulated cell (ground truth: θ fields, mean θ, 1C current).
    public let cell: SimCell
    /// The potentiostat channel driving `cell`.
    public let potentiostat: SimPotentiostat
    /// The hardware-triggered camera.
    public let camera: SimCamera
    /// The stage drift path (ground truth for drift correction).
    public let drift: DriftPath
    /// The optics the camera renders with.
    public let optics: OpticsParameters
    /// Clock reading at construction (run time zero), ns.
    public let originNanoseconds: Int64
    /// Follow mode: the instrument run by its own software that drives the cell (SimInstrument.swift).
    public internal(set) var instrument: SimInstrument?

    /// - Parameters:
    ///   - configuration: the `[sim]` table.
    ///   - activeMassMilligrams, practicalCapacityMilliampHoursPerGram: from the protocol's `[cell]`;
    ///     they define the electrode's 1C current.
    ///   - parameters: material parameter set (default nmc87).
    ///   - realtime: run on the wall clock instead of the virtual clock.
    /// - Throws: `SimConfigurationError` for a bad particle or cell, the model's errors for a bad mesh.
    public init(configuration: SimConfiguration = SimConfiguration(), activeMassMilligrams: Double = 1.5,
                practicalCapacityMilliampHoursPerGram: Double = 210, parameters: ParameterSet = .nmc87,
                realtime: Bool = false) throws {
        let c = configuration
        self.configuration = c
        guard activeMassMilligrams.isFinite, activeMassMilligrams > 0 else {
            throw SimConfigurationError(file: "protocol", key: "active_mass_mg", problem: "\(activeMassMilligrams): expected a positive mass in mg")
        }
        guard practicalCapacityMilliampHoursPerGram.isFinite, practicalCapacityMilliampHoursPerGram > 0 else {
            throw SimConfigurationError(file: "protocol", key: "practical_capacity_mAh_per_g",
                                        problem: "\(practicalCapacityMilliampHoursPerGram): expected a positive capacity in mAh/g")
        }
        let clock: any Clock = realtime ? WallClock() : VirtualClock()
        self.clock = clock
        originNanoseconds = clock.monotonicNanoseconds

        var params = parameters
        params.scale = c.scale
        params.practicalCapacityMilliampHoursPerGram = practicalCapacityMilliampHoursPerGram
        if let i0 = c.exchangeCurrentAmpsPerCm2 { params.exchangeCurrentRefAmpsPerCm2 = i0 }
        var shape: ParticleShape
        do { shape = try ParticleShape.parse(c.particle) } catch {
            throw SimConfigurationError(file: "rig", key: "particle", problem: "\(error)")
        }
        if let size = c.particleSizeMicrometres { shape = shape.rescaled(toLongestExtent: size) }
        var options = SimulationOptions()
        options.scale = c.scale
        options.kinetics = .butlerVolmer
        let imaged = try ParticleCell(parameters: params, shape: shape, theta0: c.theta0, kinetics: .butlerVolmer, options: options)

        // Population: log-normal sizes of the same shape on coarse meshes (they only carry current).
        var population: [ParticleCell] = []
        var weights: [Double] = []
        var rng = SeededRandom(seed: c.seed, stream: 6)
        for _ in 0..<c.populationCount {
            let size = c.populationMedianMicrometres * exp(c.populationLogSigma * rng.normal())
            let s = shape.rescaled(toLongestExtent: size)
            var o = options
            o.elementSizeMicrometres = size / 12
            population.append(try ParticleCell(parameters: params, shape: s, theta0: c.theta0, kinetics: .butlerVolmer, options: o))
            weights.append(s.areaMicrometres2)
        }
        cell = SimCell(imaged: imaged, population: population, populationWeights: weights,
                       activeMassMilligrams: activeMassMilligrams,
                       practicalCapacityMilliampHoursPerGram: practicalCapacityMilliampHoursPerGram,
                       seriesResistanceOhms: c.seriesResistanceOhms)

        chip = SimGPIOChip(clock: clock)
        for f in c.faults {
            if case .gpioIOError(let line) = f.fault, let offset = try? chip.offset(ofLine: line) {
                chip.injectIOFault(line: offset, reason: "EIO (simulated fault)",
                                   atNanoseconds: originNanoseconds + Int64(f.atSeconds * 1e9))
            }
        }
        let potentiostat = SimPotentiostat(cell: cell, clock: clock, seed: c.seed,
                                           modelStepSeconds: c.modelStepSeconds, sampleIntervalSeconds: c.sampleIntervalSeconds,
                                           voltageNoiseVolts: c.voltageNoiseMillivolts * 1e-3 * c.noise,
                                           currentNoiseAmps: c.currentNoiseNanoamps * 1e-9 * c.noise, faults: c.faults)
        self.potentiostat = potentiostat
        drift = DriftPath(nanometresPerMinute: c.driftNanometresPerMinute, directionDegrees: c.driftDirectionDegrees,
                          walkNanometresPerSqrtMinute: c.driftWalkNanometresPerSqrtMinute, seed: c.seed)
        var optics = OpticsParameters()
        optics.opticalGain = c.opticalGain
        optics.referenceTheta = c.referenceTheta
        optics.noise = c.noise
        optics.particleElectronsPerMillisecond = c.particleElectronsPerMillisecond
        optics.hotPixelsPerMegapixel = c.hotPixelsPerMegapixel
        self.optics = optics
        camera = SimCamera(optics: optics, chip: chip, clock: clock, particle: imaged, drift: drift, seed: c.seed,
                           faults: c.faults, synchronise: { [weak potentiostat] t in
                               // A model failure is reported by the potentiostat's next command.
                               try? potentiostat?.synchronise(toNanoseconds: t, exact: false)
                           })
    }

    /// The chip by name, as `gpiod_chip_open_by_name` finds it: only `gpiochip-sim` exists here.
    /// - Throws: `GPIOError.chipUnavailable` (ENOENT) for any other name.
    public func openChip(named chipName: String) throws(GPIOError) -> SimGPIOChip {
        guard chipName == chip.name else { throw .chipUnavailable(chip: chipName, reason: "no such device") }
        return chip
    }

    /// Run time: seconds since the rig was built.
    public var runTimeSeconds: Double { Double(clock.monotonicNanoseconds - originNanoseconds) * 1e-9 }

    /// Brings the cell to the clock's present (the potentiostat and camera also do this on demand).
    public func synchronise() throws {
        try potentiostat.synchronise(toNanoseconds: clock.monotonicNanoseconds, exact: false)
    }
}
