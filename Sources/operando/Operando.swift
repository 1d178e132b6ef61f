import ArgumentParser
import Foundation

/// The operando command-line tool (docs/interfaces.md).
struct Operando: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operando",
        abstract: "Operando optical scattering microscopy of single battery-cathode particles.",
        subcommands: [Demo.self, Run.self, Simulate.self, Analyse.self, Calibrate.self, ReportCommand.self, Export.self, Params.self])
}

/// Progress on stderr: a rewriting line on a terminal, plain lines (at most every few seconds) otherwise.
final class ProgressLine: @unchecked Sendable {
    let isTerminal = isatty(STDERR_FILENO) != 0
    let start = Date()
    var lastPrint = Date.distantPast
    var printed = false

    func update(_ fraction: Double, _ status: String) {
        let now = Date()
        guard now.timeIntervalSince(start) > 1 else { return }
        let interval = isTerminal ? 0.1 : 5
        guard now.timeIntervalSince(lastPrint) >= interval else { return }
        lastPrint = now
        printed = true
        let pct = Int((fraction * 100).rounded())
        if isTerminal {
            let width = 30
            let filled = Int(Double(width) * fraction)
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write("\r[\(bar)] \(pct)% \(status)\u{1B}[K".data(using: .utf8)!)
        } else {
            FileHandle.standardError.write("\(pct)% \(status)\n".data(using: .utf8)!)
        }
    }

    func finish() {
        if printed && isTerminal { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write("error: \(message)\n".data(using: .utf8)!)
}
