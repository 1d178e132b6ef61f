import ArgumentParser
import Figures
import Foundation

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

    func run() throws {
        do {
            let summary = try Figures.Report.render(datasetDirectory: dataset, to: out,
                                                    progress: { Terminal.write("report: " + $0 + "\n") })
            print(String(format: "report: %d pages in %.2f s → %@", summary.pages.count, summary.seconds, summary.path))
        } catch let e as FigureError {
            printError("\(e)")
            throw ExitCode(1)
        }
    }
}
