import ArgumentParser
import Foundation
import Glibc
import Rig

/// operando's version (`operando --version`, run.json's software_version).
let operandoVersion = "0.2.0"

/// The operando command-line tool (docs/interfaces.md).
struct Operando: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operando",
        abstract: "Operando optical scattering microscopy of single battery-cathode particles.",
        version: operandoVersion,
        subcommands: [Demo.self, Run.self, Simulate.self, Analyse.self, Calibrate.self, ReportCommand.self, Params.self, Devices.self, SimServe.self, GPIOCommand.self, Export.self, Import.self, View.self])
}

/// Writes to stderr with POSIX calls: a broken stderr (EPIPE with SIGPIPE ignored, EIO after a hang-up)
/// stops further output and is noted for the run, instead of trapping inside Foundation's FileHandle.
enum Terminal {
    /// True when stderr is a terminal (progress rewrites one line in place).
    static let isTerminal = isatty(STDERR_FILENO) != 0

    /// Writes `text` to stderr unless it was found broken.
    static func write(_ text: String) {
        guard !RunInterrupt.terminalLost else { return }
        var t = text
        t.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    RunInterrupt.terminalBroken.store(true, ordering: .relaxed)
                    return
                }
                offset += n
            }
        }
    }

    /// The terminal's width in columns (80 when unknown).
    static var columns: Int {
        var size = winsize()
        if isTerminal, ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 20 { return Int(size.ws_col) }
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c >= 20 { return c }
        return 80
    }
}

/// One error line on stderr: "error: MESSAGE".
func printError(_ message: String) {
    Terminal.write("error: \(message)\n")
}
