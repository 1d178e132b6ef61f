import Electrochemistry
import FirmwareSim
import Foundation
import Rig
import RigDrivers

/// Builds the rig a rig file describes: firmware-sim for every part by default; real drivers where the
/// file names them (docs/run.md "Rig file"). Parts can be mixed: a real camera or potentiostat with
/// the rest simulated. Whatever is simulated comes from one `SimRig`, whose clock is the run's clock —
/// the wall clock as soon as a part is real, unless that part can follow a virtual clock (a
/// software-triggered camera, a firmware-sim twin with `simulation = true`).
enum RigFactory {
    /// What the protocol is loaded for: `.followed` when the rig file says `[potentiostat] backend = "follow"`.
    static func purpose(rigPath: String?) throws -> ProtocolPurpose {
        guard let rigPath else { return .commanded }
        return try RigConfiguration.load(path: rigPath).potentiostatBackend == .follow ? .followed : .commanded
    }

    static func make(rigPath: String?, protocolFile: ProtocolFile, realtime: Bool, instrumentRecordPath: String? = nil) throws -> RigHardware {
        let rig = try rigPath.map { try RigConfiguration.load(path: $0) } ?? .simulated
        if rig.isSimulated {
            return try SimRig.hardware(rig: rig, protocolFile: protocolFile, realtime: realtime).1
        }
        // Follow mode on firmware-sim: the sim camera, and the trigger input on the sim chip (`[gpio]`
        // chip "gpiochip-sim", line "trigger-in"); the simulated instrument runs the cell on its own clock.
        if rig.potentiostatBackend == .follow, rig.cameraBackend == .sim, rig.gpio.map({ $0.chip == "gpiochip-sim" }) ?? true {
            return try SimRig.hardware(rig: rig, protocolFile: protocolFile, realtime: realtime, instrumentRecordPath: instrumentRecordPath).1
        }
        let file = rig.file ?? "rig"
        if rig.cameraBackend == .sim && rig.gpioBackend != .sim {
            throw RigError.configuration(file: file, problem: "the simulated camera sees only the simulated GPIO lines: with [gpio] on real hardware, set [camera] backend = \"aravis\"")
        }
        let camera = try rig.camera.map(aravisConfiguration)
        let softwareTriggered = camera.map { if case .software = $0.triggerSource { return true }; return false } ?? false
        let potentiostatFollowsVirtualTime = rig.potentiostatBackend == .sim || rig.potentiostat?.simulation == true
        let virtualPossible = rig.gpioBackend == .sim && (rig.cameraBackend == .sim || softwareTriggered) && potentiostatFollowsVirtualTime
        let (_, simulated) = try SimRig.hardware(rig: rig, protocolFile: protocolFile, realtime: realtime || !virtualPossible)
        var hw = simulated
        var parts: [String] = []
        if let g = rig.gpio, rig.gpioBackend == .libgpiod {
            let chip = try GpiodChip(g.chip)
            hw.owners.append(chip)
            hw.led = try chip.requestOutput(named: g.led, consumer: "operando", initialHigh: false, activeLow: g.activeLow)
            hw.trigger = try chip.requestOutput(named: g.trigger, consumer: "operando", initialHigh: false, activeLow: g.activeLow)
            parts.append("gpio libgpiod \(g.chip)")
        }
        if let camera {
            let c = try AravisCamera(configuration: camera, clock: hw.clock)
            hw.camera = c
            hw.warnings += c.warnings
            if c.triggerMode == .software { hw.trigger = SoftwareTriggerLine(camera: c, base: hw.trigger) }
            parts.append("camera aravis \(c.name)")
        }
        if let p = rig.potentiostat {
            switch rig.potentiostatBackend {
            case .scpi:
                let config = try SCPIPotentiostatConfiguration.from(address: p.address ?? "", dialect: p.dialect ?? "keithley2450", sense: p.sense,
                                                                     timeoutMilliseconds: Int(p.timeoutMilliseconds), simulation: p.simulation)
                hw.potentiostat = try SCPIPotentiostat(configuration: config, clock: hw.clock)
            case .methodscript:
                let config = try MethodSCRIPTPotentiostatConfiguration.from(address: p.address ?? "", dialect: p.dialect ?? "emstat4",
                                                                             sense: p.sense == "4-wire" ? "4-wire" : "2-wire",
                                                                             timeoutMilliseconds: Int(p.timeoutMilliseconds), simulation: p.simulation)
                hw.potentiostat = try MethodSCRIPTPotentiostat(configuration: config, clock: hw.clock)
            case .follow:
                guard let g = rig.gpio, let line = g.triggerInput else {
                    throw RigError.configuration(file: file, problem: "follow mode needs [gpio] trigger_input")
                }
                let settings = EdgeInputSettings(edge: EdgeDetection(rawValue: p.edge) ?? .rising, bias: .pullDown, activeLow: g.activeLow)
                let (chip, input) = try TriggerInputConfiguration(chip: g.chip, line: line, settings: settings).open()
                hw.owners.append(chip)
                hw.potentiostat = FollowedInstrument()
                hw.follow = FollowHardware(input: input, chip: g.chip, line: line, owner: chip)
            case .sim: break
            }
            if rig.potentiostatBackend != .sim { parts.append("potentiostat \(rig.potentiostatBackend.rawValue) \(hw.potentiostat.name)") }
        }
        hw.backend = parts.joined(separator: ", ") + (parts.count < 3 ? "; the rest firmware-sim (\(hw.clock.isVirtual ? "virtual" : "wall") clock)" : "")
        return hw
    }

    /// The `[camera]` table as the Aravis driver's configuration.
    static func aravisConfiguration(_ c: RigConfiguration.CameraSettings) throws -> AravisCameraConfiguration {
        var a = AravisCameraConfiguration()
        if let d = c.device { a.device = AravisDeviceSelector(rigFileValue: d) }
        a.triggerSource = AravisTriggerSource(rigFileValue: c.triggerSource)
        a.pixelFormat = c.pixelFormat
        if let e = c.exposureMilliseconds { a.exposureMilliseconds = e }
        if let g = c.gainDecibels { a.gainDecibels = g }
        if let r = c.roi { a.roi = RegionOfInterest(x: r[0], y: r[1], width: r[2], height: r[3]) }
        a.buffers = c.buffers
        a.timeoutMilliseconds = c.timeoutMilliseconds
        a.enableFakeInterface = c.device == "Fake_1"
        try a.validate()
        return a
    }
}
