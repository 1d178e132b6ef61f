import ArgumentParser
import Dataset
import Foundation
import Imaging
import TerminalProgress

struct Analyse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyse",
        abstract: "Offline image analysis of a dataset or a TIFF stack: drift, mask, contrast, metrics, profiles.",
        discussion: """
        Writes drift.csv, metrics.csv, contrast.tif, mask.tif, profiles.csv and summary.json into --out \
        (default DATASET/analysis/ or STACK.analysis/). See docs/analyse.md.
        """,
        aliases: ["analyze"])

    @Argument(help: "A dataset directory (NAME.operando/) or a TIFF stack.")
    var input: String

    @Option(name: .customLong("frame-interval"), parsing: .unconditional,
            help: "Time between frames (s, or with a unit: 3s, 0.05min; overrides the input's metadata).")
    var frameInterval: String?

    @Option(help: "Output directory.")
    var out: String?

    @Option(help: "Fiducial position x,y in pixels of frame 0 (default: found automatically).")
    var fiducial: String?

    @Option(parsing: .unconditional, help: "Mask threshold in frame-0 intensity (default: Otsu).")
    var threshold: Float?

    @Option(name: .customLong("particle-at"), help: "Keep the particle containing pixel x,y (default: the largest).")
    var particleAt: String?

    @Option(name: .customLong("sdc-lag"), help: "Lag of the sequential differential contrast, frames.")
    var sdcLag: Int = 30

    @Option(help: "Average N consecutive frames before analysing.")
    var bin: Int = 1

    @Option(name: .customLong("pixel-size"), parsing: .unconditional,
            help: "Pixel size (µm, or with a unit: 34.7nm, 0.0347um; overrides the input's metadata).")
    var pixelSize: String?

    @Flag(name: .customLong("label-particles"), help: "Also label every particle of frame 0 into labels.tif and list them in summary.json.")
    var labelParticles = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        var o = AnalysisOptions()
        o.outputDirectory = out
        o.threshold = threshold
        o.sdcLagFrames = sdcLag
        o.binFrames = bin
        o.labelParticles = labelParticles
        let out = CommandOutput(output, label: "analyse")
        let progress = out.progress()
        do {
            o.frameIntervalSeconds = try frameInterval.map { try FlagValue.durationSeconds($0, flag: "--frame-interval") }
            o.pixelSizeMicrometres = try pixelSize.map { try FlagValue.lengthMicrometres($0, flag: "--pixel-size") }
            if let fiducial { o.fiducial = try AnalysisOptions.parsePoint(fiducial, option: "--fiducial") }
            if let particleAt {
                let p = try AnalysisOptions.parsePoint(particleAt, option: "--particle-at")
                o.particleAt = (Int(p.x.rounded()), Int(p.y.rounded()))
            }
            let lines = ProgressLines(reporter: progress)
            let s = try DatasetAnalysis.run(input: input, options: o) { lines($0) }
            progress.finish("\(s.frameCount) frames")
            out.summary("analysed \(s.frameCount) frames in \(String(format: "%.2f", s.wallSeconds)) s → \(s.outputDirectory)")
            if let t = s.sdcDropTimeSeconds { out.summary(String(format: "SDC std drop (front reaches the centre) at %.0f s", t)) }
            for n in s.notes { out.summary("note: \(n)") }
            out.json(["command": "analyse", "input": input, "output_directory": s.outputDirectory, "frames": s.frameCount,
                      "wall_s": s.wallSeconds, "sdc_drop_time_s": JSONSummary.value(s.sdcDropTimeSeconds),
                      "drift_method": Demo.describe(s.driftMethod), "notes": s.notes])
        } catch let e as FlagValueError {
            progress.abandon()
            printError(e.description)
            throw ExitCode(2)
        } catch let e as ImagingError {
            progress.abandon()
            printError("\(e)")
            throw ExitCode(1)
        } catch let e as DatasetError {
            progress.abandon()
            printError("\(e)")
            throw ExitCode(1)
        }
    }
}
