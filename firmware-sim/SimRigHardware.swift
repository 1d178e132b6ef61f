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
    public static func hardware(rig: RigConfiguration = .simulated, protocolFile: ProtocolFile, realtime: Bool = false,
                                parameters: ParameterSet = .nmc87) throws -> (SimRig, RigHardware) {
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
        var hardware = RigHardware(backend: realtime ? "firmware-sim (wall clock)" : "firmware-sim (virtual clock)",
                                   clock: sim.clock, led: led, trigger: trigger, camera: sim.camera, potentiostat: sim.potentiostat,
                                   configuration: rig.json, warnings: warnings)
        hardware.owners.append(sim)
        return (sim, hardware)
    }

    /// The simulated rig of rig-file text (tests): `file` names it in messages.
    public static func hardware(rigText: String, rigFile: String = "rig.toml", protocolFile: ProtocolFile, realtime: Bool = false,
                                parameters: ParameterSet = .nmc87) throws -> (SimRig, RigHardware) {
        let rig = rigText.isEmpty ? RigConfiguration.simulated : try RigConfiguration.parse(text: rigText, file: rigFile)
        return try hardware(rig: rig, protocolFile: protocolFile, realtime: realtime, parameters: parameters)
    }
}
