import ConfigFile
import Dataset
import Electrochemistry
import ParticleModel
import Rig

extension SimRig {
    /// The simulated rig wired as `operando run` drives it (the CLI and the tests build it here, once):
    /// the rig file's `[sim]` table, the protocol's cell, the `led` and `trigger` lines requested.
    /// - Parameters:
    ///   - rig: the rig file (its `[sim]` table is read here, and every key is then checked).
    ///   - realtime: run on the wall clock instead of the virtual clock.
    /// - Throws: `SimConfigurationError` for a bad `[sim]` table, `ConfigError` for an unknown key,
    ///   the model's errors for a bad particle.
    ///   - instrumentRecordPath: follow mode: where the simulated instrument writes its `.mpt` when
    ///     `[sim.instrument] record` does not say.
    public static func hardware(rig: RigConfiguration = .simulated, protocolFile: ProtocolFile, realtime: Bool = false,
                                parameters: ParameterSet = .nmc87, instrumentRecordPath: String? = nil) throws -> (SimRig, RigHardware) {
        var config = SimConfiguration()
        if let doc = rig.document { config = try SimConfiguration.parse(rigFile: doc) }
        try rig.finish()
        var warnings: [String] = []
        let mass: Double
        if let m = protocolFile.cell.activeMassMilligrams { mass = m } else {
            mass = 1.5
            warnings.append("the protocol's [cell] has no active_mass_mg: firmware-sim's electrode is 1.5 mg (capacity is not recorded per gram)")
        }
        let sim = try SimRig(configuration: config, activeMassMilligrams: mass,
                             practicalCapacityMilliampHoursPerGram: protocolFile.cell.practicalCapacityMilliampHoursPerGram,
                             parameters: parameters, realtime: realtime)
        let led = try sim.chip.requestOutput(offset: SimGPIOChip.ledOffset, consumer: "operando", initialHigh: false)
        let trigger = try sim.chip.requestOutput(offset: SimGPIOChip.triggerOffset, consumer: "operando", initialHigh: false)
        var hw = RigHardware(backend: realtime ? "firmware-sim (wall clock)" : "firmware-sim (virtual clock)",
                             clock: sim.clock, led: led, trigger: trigger, camera: sim.camera, potentiostat: sim.potentiostat,
                             configuration: rig.json, warnings: warnings)
        // Follow mode with the trigger input on firmware-sim's chip (a real chip's input is the real
        // driver's: RigFactory opens it, and no simulated instrument is made).
        if rig.potentiostatBackend == .follow, rig.gpio.map({ $0.chip == sim.chip.name }) ?? true {
            try followInstrument(sim: sim, rig: rig, config: config, protocolFile: protocolFile,
                                 recordPath: instrumentRecordPath, hardware: &hw)
        }
        hw.owners.append(sim)
        return (sim, hw)
    }

    /// Follow mode on firmware-sim: the `trigger-in` line requested as an edge input, and (when the
    /// protocol has steps) the instrument run by its own software that drives the cell and raises it.
    static func followInstrument(sim: SimRig, rig: RigConfiguration, config: SimConfiguration, protocolFile: ProtocolFile,
                                 recordPath: String?, hardware hw: inout RigHardware) throws {
        let lineName = rig.gpio?.triggerInput ?? "trigger-in"
        let offset = try sim.chip.lineOffset(named: lineName)
        let edge = EdgeDetection(rawValue: rig.potentiostat?.edge ?? "rising") ?? .rising
        let input = try sim.chip.requestEdgeInput(offset: offset, consumer: "operando",
                                                  settings: EdgeInputSettings(edge: edge, bias: .pullDown, activeLow: rig.gpio?.activeLow ?? false))
        hw.potentiostat = FollowedInstrument()
        hw.backend += ", following firmware-sim's instrument"
        if protocolFile.plannedSteps.isEmpty {
            hw.warnings.append("follow mode on firmware-sim: the protocol has no [[steps]], so the simulated instrument runs nothing and raises no trigger")
        } else {
            var settings = config.instrument ?? SimInstrumentSettings()
            if settings.recordPath == nil { settings.recordPath = recordPath }
            let instrument = try SimInstrument(rig: sim, protocolFile: protocolFile, settings: settings)
            try instrument.start()
            sim.instrument = instrument
        }
        hw.follow = FollowHardware(input: input, chip: sim.chip.name, line: lineName, owner: sim)
    }

    /// The simulated rig of rig-file text (tests): `file` names it in messages.
    public static func hardware(rigText: String, rigFile: String = "rig.toml", protocolFile: ProtocolFile, realtime: Bool = false,
                                parameters: ParameterSet = .nmc87, instrumentRecordPath: String? = nil) throws -> (SimRig, RigHardware) {
        let rig = rigText.isEmpty ? RigConfiguration.simulated : try RigConfiguration.parse(text: rigText, file: rigFile)
        return try hardware(rig: rig, protocolFile: protocolFile, realtime: realtime, parameters: parameters,
                            instrumentRecordPath: instrumentRecordPath)
    }
}
