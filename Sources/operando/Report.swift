import ArgumentParser
import Figures
import Foundation
import TerminalProgress

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render the paper-style figure report (PDF) of a dataset, its analysis and calibration.",
        discussion: """
        Pages whose inputs (analysis, calibration) are missing are skipped with a note; a directory that \
        is not a dataset, or a malformed dataset file, is an error. See docs/figures.md.
        """)

    @Argument(help: "A dataset directory (NAME.operando/).")
    var dataset: String

    @Option(help: "Output PDF (default reports/NAME.pdf).")
    var out: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let console = CommandOutput(output, label: "report")
        let progress = console.progress()
        do {
            let lines = ProgressLines(reporter: progress)
            let summary = try Figures.Report.render(datasetDirectory: dataset, to: out, progress: { lines($0) })
            progress.finish()
            console.summary(String(format: "report: %d pages in %.2f s → %@", summary.pages.count, summary.seconds, summary.path))
            console.json(["command": "report", "dataset": dataset, "path": summary.path, "pages": summary.pages.count,
                          "wall_s": summary.seconds])
        } catch let e as FigureError {
            progress.abandon()
            printError("\(e)")
            throw ExitCode(1)
        }
    }
}
