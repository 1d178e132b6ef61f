import ArgumentParser
import Dataset
import Foundation
import Imaging

struct Analyse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyse",
        abstract: "Offline image analysis of a dataset or a TIFF stack: drift, mask, contrast, metrics, profiles.",
        discussion: """
        Writes drift.csv, metrics.csv, contrast.tif, mask.tif, profiles.csv and summary.json into --out
        (default DATASET/analysis/ or STACK.analysis/). See docs/analyse.md.
        """,
        aliases: ["analyze"])

    @Argument(help: "A dataset directory (NAME.operando/) or a TIFF stack.")
    var input: String

    @Option(name: .customLong("frame-interval"), help: "Seconds between frames (overrides the input's metadata).")
    var frameInterval: Double?

    @Option(help: "Output directory.")
    var out: String?

    @Option(help: "Fiducial position x,y in pixels of frame 0 (default: found automatically).")
    var fiducial: String?

    @Option(help: "Mask threshold in frame-0 intensity (default: Otsu).")
    var threshold: Float?

    @Option(name: .customLong("particle-at"), help: "Keep the particle containing pixel x,y (default: the largest).")
    var particleAt: String?

    @Option(name: .customLong("sdc-lag"), help: "Lag of the sequential differential contrast, frames (default 30).")
    var sdcLag: Int = 30

    @Option(help: "Average N consecutive frames before analysing (default 1).")
    var bin: Int = 1

    @Option(name: .customLong("pixel-size"), help: "Pixel size in µm (overrides the input's metadata).")
    var pixelSize: Double?

    @Flag(name: .customLong("label-particles"), help: "Also label every particle of frame 0 into labels.tif and list them in summary.json.")
    var labelParticles = false

    func run() throws {
        var o = AnalysisOptions()
        o.frameIntervalSeconds = frameInterval
        o.outputDirectory = out
        o.threshold = threshold
        o.sdcLagFrames = sdcLag
        o.binFrames = bin
        o.pixelSizeMicrometres = pixelSize
        o.labelParticles = labelParticles
        do {
            if let fiducial { o.fiducial = try AnalysisOptions.parsePoint(fiducial, option: "--fiducial") }
            if let particleAt {
                let p = try AnalysisOptions.parsePoint(particleAt, option: "--particle-at")
                o.particleAt = (Int(p.x.rounded()), Int(p.y.rounded()))
            }
            let s = try DatasetAnalysis.run(input: input, options: o) { line in
                Terminal.write(line + "\n")
            }
            print("analysed \(s.frameCount) frames in \(String(format: "%.2f", s.wallSeconds)) s → \(s.outputDirectory)")
            if let t = s.sdcDropTimeSeconds { print(String(format: "SDC std drop (front reaches the centre) at %.0f s", t)) }
            for n in s.notes { print("note: \(n)") }
        } catch let e as ImagingError {
            printError("\(e)")
            throw ExitCode(1)
        } catch let e as DatasetError {
            printError("\(e)")
            throw ExitCode(1)
        }
    }
}
