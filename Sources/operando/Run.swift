import ArgumentParser
import Electrochemistry
import FirmwareSim
import Foundation
import Rig
import RigDrivers
import TOMLKit

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a protocol on the rig: lockstep LED/trigger exposures, CC/CV steps, dataset, on-line monitor.",
        discussion: """
        Without --rig the rig is firmware-sim on a virtual clock (a 6 h protocol runs in minutes).
        The dataset (NAME.operando/) holds run.json, echem.csv, frames/*.tif, frames.csv, monitor.csv,
        timing.json and events.jsonl (docs/run.md). SIGINT/SIGTERM stop safely: LED off, cell at open
        circuit, dataset closed.
        """)

    @Argument(help: "Protocol file (TOML), e.g. examples/protocols/c3-cccv.toml.")
    var protocolPath: String

    @Option(help: "Rig file (TOML): backend = \"sim\" (default) or \"hardware\".")
    var rig: String?

    @Option(help: "Dataset directory to create (default: PROTOCOL-NAME.operando).")
    var out: String?

    @Flag(help: "Run firmware-sim on the wall clock (measures real loop latency; takes the protocol's real time).")
    var realtime = false

    @Option(name: .customLong("rt-priority"), help: "SCHED_FIFO priority of the exposure thread (default 80).")
    var rtPriority: Int32 = 80

    func run() throws {
        let proto: ProtocolFile
        do { proto = try ProtocolFile.load(path: protocolPath) } catch let e as ProtocolError {
            printError(e.description); throw ExitCode(2)
        }
        let outDir = out ?? (URL(fileURLWithPath: protocolPath).deletingPathExtension().lastPathComponent + ".operando")
        let hardware: RigHardware
        do {
            hardware = try RigFactory.make(rigPath: rig, protocolFile: proto, realtime: realtime)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        RunInterrupt.install()
        var options = RunOptions(outputDirectory: outDir)
        options.realtimePriority = rtPriority
        let engine = RunEngine(protocolFile: proto, hardware: hardware, options: options)
        let status = StatusLine()
        engine.onStatus = { status.show($0) }
        engine.onNote = { status.note($0) }
        let summary: RunSummary
        do { summary = try engine.run() } catch {
            status.finish()
            printError("\(error)")
            throw ExitCode(1)
        }
        status.finish()
        print(String(format: "run: %@ after %.0f s (wall %.1f s)", summary.endReason, summary.runSeconds, summary.wallSeconds))
        print("frames: \(summary.triggers) triggers, \(summary.cameraFrames) camera frames, \(summary.recordedFrames) recorded, \(summary.skippedFrames) skipped, \(summary.droppedFrames) dropped, \(summary.lockstepViolations) lockstep violations")
        if let p = summary.selfTestP99Microseconds { print(String(format: "latency self-test p99: %.0f µs", p)) }
        print("dataset: \(summary.directory)")
        if !summary.completed {
            throw ExitCode(RunInterrupt.received.load(ordering: .relaxed) != 0 ? 128 + RunInterrupt.received.load(ordering: .relaxed) : 1)
        }
    }
}

/// Builds the rig from a rig file: firmware-sim (default) or hardware drivers.
enum RigFactory {
    static func make(rigPath: String?, protocolFile: ProtocolFile, realtime: Bool) throws -> RigHardware {
        var backend = "sim"
        var text = ""
        if let rigPath {
            do { text = try String(contentsOfFile: rigPath, encoding: .utf8) } catch {
                throw RigError.configuration(file: rigPath, problem: "cannot read the rig file (\(error.localizedDescription))")
            }
            let table: TOMLTable
            do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
                throw RigError.configuration(file: "\(rigPath):\(e.source.begin.line)", problem: "not valid TOML: \(e.description)")
            }
            for key in table.keys where !["backend", "sim", "gpio", "camera", "potentiostat"].contains(key) {
                throw RigError.configuration(file: rigPath, problem: "unknown key \"\(key)\"; expected backend, [sim], [gpio], [camera], [potentiostat]")
            }
            if let b = table["backend"] {
                guard let s = b.string, s == "sim" || s == "hardware" else {
                    throw RigError.configuration(file: rigPath, problem: "backend = \(b): expected \"sim\" or \"hardware\"")
                }
                backend = s
            }
            if backend == "hardware" {
                return try hardwareRig(table: table, file: rigPath)
            }
        }
        let config = rigPath == nil ? SimConfiguration() : try SimConfiguration.parse(rigFileText: text, file: rigPath!)
        let mass = protocolFile.cell.activeMassMilligrams ?? 1.5
        let sim = try SimRig(configuration: config, activeMassMilligrams: mass,
                             practicalCapacityMilliampHoursPerGram: protocolFile.cell.practicalCapacityMilliampHoursPerGram,
                             realtime: realtime)
        let led = try sim.chip.requestOutput(offset: SimGPIOChip.ledOffset, consumer: "operando", initialHigh: false)
        let trigger = try sim.chip.requestOutput(offset: SimGPIOChip.triggerOffset, consumer: "operando", initialHigh: false)
        return RigHardware(backend: realtime ? "firmware-sim (wall clock)" : "firmware-sim (virtual clock)",
                           clock: sim.clock, led: led, trigger: trigger, camera: sim.camera, potentiostat: sim.potentiostat,
                           configuration: ["backend": "sim", "rig_file": rigPath ?? NSNull(), "rig_text": text])
    }

    /// Hardware: libgpiod lines now; the camera (Aravis) and potentiostat (SCPI) drivers come later.
    static func hardwareRig(table: TOMLTable, file: String) throws -> RigHardware {
        guard let gpio = table["gpio"]?.table else {
            throw RigError.configuration(file: file, problem: "a hardware rig needs [gpio] with chip, led and trigger")
        }
        for key in gpio.keys where !["chip", "led", "trigger", "active_low"].contains(key) {
            throw RigError.configuration(file: file, problem: "unknown key \"\(key)\" in [gpio]; expected chip, led, trigger, active_low")
        }
        guard let chipName = gpio["chip"]?.string else {
            throw RigError.configuration(file: file, problem: "[gpio] chip must name the chip, e.g. \"gpiochip0\" or \"/dev/gpiochip0\"")
        }
        func lineName(_ key: String) throws -> String {
            if let s = gpio[key]?.string { return s }
            if let i = gpio[key]?.int, i >= 0 { return String(i) }
            throw RigError.configuration(file: file, problem: "[gpio] \(key) must be a line offset or name")
        }
        let activeLow = gpio["active_low"]?.bool ?? false
        let chip = try GpiodChip(chipName)
        _ = try chip.requestOutput(named: try lineName("led"), consumer: "operando", initialHigh: false, activeLow: activeLow)
        _ = try chip.requestOutput(named: try lineName("trigger"), consumer: "operando", initialHigh: false, activeLow: activeLow)
        throw RigError.configuration(file: file, problem: "the hardware camera (Aravis/GenICam) and potentiostat (SCPI) drivers are not available yet; use the sim backend")
    }
}

/// The one-line live status (rewritten in place on a terminal, a plain line every few seconds otherwise).
final class StatusLine: @unchecked Sendable {
    let isTerminal = isatty(STDERR_FILENO) != 0
    var last = Date.distantPast
    var shown = false

    func show(_ s: RunStatus) {
        let now = Date()
        guard now.timeIntervalSince(last) >= (isTerminal ? 0.2 : 5) else { return }
        last = now
        let text = String(format: "t %6.0f s | step %d %@ | %.4f V %+.3e A | %6.1f mAh/g | ΔI/I %+.4f | SDC σ %.4f | p99 %@ | dropped %d | frames %d",
                          s.runSeconds, s.step + 1, s.stepText as NSString, s.voltageVolts, s.currentAmps,
                          s.capacityMilliampHoursPerGram, s.intensityChange, s.sdcStd,
                          (s.loopP99Microseconds.isFinite ? String(format: "%.0f µs", s.loopP99Microseconds) : "virtual") as NSString,
                          s.droppedFrames, s.recordedFrames)
        if isTerminal {
            FileHandle.standardError.write(Data(("\r" + text + "\u{1B}[K").utf8))
            shown = true
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    func note(_ text: String) {
        if shown { FileHandle.standardError.write(Data("\n".utf8)); shown = false }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
