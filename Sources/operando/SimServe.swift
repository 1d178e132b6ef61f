import ArgumentParser
import FirmwareSim
import Foundation
import Rig

/// `operando sim-serve scpi|methodscript`: firmware-sim's wire-level twins of the real potentiostats,
/// on loopback or a pseudo-terminal, until SIGINT/SIGTERM.
struct SimServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim-serve",
        abstract: "Serve the simulated cell as a real potentiostat would (Keithley 2450 SCPI, EmStat4 MethodSCRIPT).",
        discussion: """
        Examples: operando sim-serve scpi --port 5025
                  operando sim-serve methodscript --pty /tmp/emstat4
        Then point a rig file's [potentiostat] at it (address = "tcp://127.0.0.1:5025" or \
        "serial:///tmp/emstat4?baud=921600"). --rig reads only the rig file's [sim] table (cell, noise, \
        model step, faults). The twin follows the wall clock; the simulation-only time command \
        (:SYST:SIM:TIME / ~T) switches it to driver-commanded time (docs/hardware-potentiostats.md).
        """,
        subcommands: [SCPI.self, MethodSCRIPT.self])

    struct World: ParsableArguments {
        @Option(help: "Rig file whose [sim] table describes the simulated cell (other tables are ignored here).")
        var rig: String?

        @Option(name: .customLong("active-mass-mg"), help: "Active mass of the simulated electrode, mg (defines 1C).")
        var activeMassMilligrams: Double = 1.5

        @Option(name: .customLong("capacity-mAh-per-g"), help: "Practical capacity defining 1C, mAh/g.")
        var practicalCapacity: Double = 210

        func simConfiguration() throws -> SimConfiguration {
            guard let rig else { return SimConfiguration() }
            return try SimConfiguration.load(rigFile: rig)
        }
    }

    struct SCPI: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scpi", abstract: "A Keithley 2450 twin on tcp://127.0.0.1:PORT (loopback only).")

        @Option(help: "TCP port on 127.0.0.1 (the 2450's raw-socket port is 5025; 0 picks a free one).")
        var port: UInt16 = 5025

        @OptionGroup var world: World

        func run() throws {
            do {
                let twin = try SCPITwin(configuration: try world.simConfiguration(), activeMassMilligrams: world.activeMassMilligrams,
                                        practicalCapacityMilliampHoursPerGram: world.practicalCapacity, port: port)
                twin.start()
                note("sim-serve: Keithley 2450 twin on \(twin.address) (Ctrl-C to stop)")
                waitForSignal()
                twin.stop()
            } catch {
                printError("sim-serve scpi: \(error)"); throw ExitCode(2)
            }
        }
    }

    struct MethodSCRIPT: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "methodscript", abstract: "A PalmSens EmStat4 twin on a pseudo-terminal, published as a symlink.")

        @Option(help: "Path of the symlink to the pseudo-terminal (an existing file that is not a symlink is refused).")
        var pty: String = "emstat4-twin"

        @OptionGroup var world: World

        func run() throws {
            do {
                let twin = try MethodSCRIPTTwin(configuration: try world.simConfiguration(), activeMassMilligrams: world.activeMassMilligrams,
                                                practicalCapacityMilliampHoursPerGram: world.practicalCapacity, linkPath: pty)
                twin.start()
                note("sim-serve: EmStat4 twin on \(twin.address) (Ctrl-C to stop)")
                waitForSignal()
                twin.close()
            } catch {
                printError("sim-serve methodscript: \(error)"); throw ExitCode(2)
            }
        }
    }
}

/// Blocks until SIGINT or SIGTERM.
private func waitForSignal() {
    RunInterrupt.install()
    while RunInterrupt.received.load(ordering: .relaxed) == 0 { usleep(100_000) }
}

/// A line on stderr through POSIX write (no trapping FileHandle call).
private func note(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
