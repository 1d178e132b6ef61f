import Dataset
import Electrochemistry
import ParticleModel
import Rig

extension SimRig {
    /// The simulated rig wired as `operando run` drives it (the CLI and the tests build it here, once):
    /// the `[sim]` table of `rigText`, the protocol's cell, the `led` and `trigger` lines requested.
    /// - Parameters:
    ///   - rigText: the rig file's text ("" for the default simulated world); `rigFile` names it in errors.
    ///   - realtime: run on the wall clock instead of the virtual clock.
    /// - Throws: `SimConfigurationError` for a bad `[sim]` table, the model's errors for a bad particle.
    public static func hardware(rigText: String = "", rigFile: String? = nil, protocolFile: ProtocolFile,
                                realtime: Bool = false, parameters: ParameterSet = .nmc87,
                                rigConfiguration: JSONValue? = nil) throws -> (SimRig, RigHardware) {
        let config = try SimConfiguration.parse(rigFileText: rigText, file: rigFile ?? "rig")
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
        let configuration = rigConfiguration ?? .object(["backend": .string("sim"), "rig_file": rigFile.map { .string($0) } ?? .null,
                                                         "rig_text": .string(rigText)])
        return (sim, RigHardware(backend: realtime ? "firmware-sim (wall clock)" : "firmware-sim (virtual clock)",
                                 clock: sim.clock, led: led, trigger: trigger, camera: sim.camera, potentiostat: sim.potentiostat,
                                 configuration: configuration, warnings: warnings))
    }
}
