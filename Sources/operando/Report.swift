import ArgumentParser
import Figures
import Foundation
import Imaging

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render the paper-style figure report (PDF) of a dataset, its analysis and calibration.",
        discussion: "Pages whose inputs are missing are skipped with a note. See docs/figures.md.")

    @Argument(help: "A dataset directory (NAME.operando/).")
    var dataset: String

    @Option(help: "Output PDF (default reports/NAME.pdf).")
    var out: String?

    func run() throws {
        do {
            let summary = try Figures.Report.render(datasetDirectory: dataset, to: out,
                                                    frameSource: ClosureFrameSource(ContrastStackLoader.load),
                                                    progress: { FileHandle.standardError.write(Data(("report: " + $0 + "\n").utf8)) })
            print(String(format: "report: %d pages in %.2f s → %@", summary.pages.count, summary.seconds, summary.path))
        } catch let e as FigureError {
            printError("\(e)")
            throw ExitCode(1)
        }
    }
}

/// Reads `analysis/contrast.tif` for the report's image pages (Imaging's libtiff reader).
enum ContrastStackLoader {
    static func load(_ dataset: String) throws -> ImageStack? {
        let path = (dataset as NSString).appendingPathComponent("analysis/contrast.tif")
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let reader = try TIFFStackReader(path: path)
        let info = reader.info
        let times = try ReportInputs.frameTimesSeconds(datasetDirectory: dataset)
            ?? (0..<info.frameCount).map { Double($0) * (info.frameIntervalSeconds ?? 1) }
        // The stack can be gigabytes (a demo's is ~2 GB): read at most 400 evenly spaced frames, which
        // is finer than any time the report picks images at.
        let count = min(info.frameCount, times.count)
        let stride = max(1, Int((Double(count) / 400).rounded(.up)))
        var frames: [[Float]] = []
        var picked: [Double] = []
        for k in Swift.stride(from: 0, to: count, by: stride) {
            frames.append(try reader.readFrame(k).pixels)
            picked.append(times[k])
        }
        return ImageStack(width: info.width, height: info.height, pixelSizeMicrometres: info.pixelSizeMicrometres ?? 0.0347,
                          timesSeconds: picked, frames: frames)
    }
}
