import ArgumentParser
import Dataset
import Foundation
import Imaging
import TerminalProgress

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a dataset's whole recording as one stack with its metadata.",
        discussion: """
        --format ome-tiff: one OME-TIFF (32-bit float, one page per recorded frame, every chunk in \
        order) with the physical pixel size and, per plane, DeltaT and ExposureTime; a BigTIFF past \
        4 GB. Written beside the dataset as NAME.ome.tif unless --out is given; an existing file is \
        not overwritten.
        --format imagej: one ImageJ hyperstack TIFF (NAME.tif) that Fiji opens as a T stack with its \
        calibration (µm per pixel, frame interval); refused past 4 GB (ImageJ cannot open BigTIFF).
        """)

    @Argument(help: "A dataset directory (NAME.operando/).")
    var dataset: String

    @Option(help: "Export format (ome-tiff or imagej).")
    var format: String = "ome-tiff"

    @Option(help: "Output file (default NAME.ome.tif beside the dataset).")
    var out: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        guard format == "ome-tiff" || format == "imagej" else {
            printError("--format \(format): expected ome-tiff or imagej")
            throw ExitCode(2)
        }
        let console = CommandOutput(output, label: "export")
        let progress = console.progress()
        do {
            let lines = ProgressLines(reporter: progress)
            let r = format == "imagej"
                ? try ImageJExport.export(dataset: dataset, to: out) { lines($0) }
                : try OMETIFFExport.export(dataset: dataset, to: out) { lines($0) }
            progress.finish("\(r.frames) frames")
            console.summary(String(format: "exported %d frames (%.1f MB%@) in %.2f s → %@", r.frames, Double(r.bytes) / 1e6,
                                   r.bigTIFF ? ", BigTIFF" : "", r.seconds, r.path))
            console.json(["command": "export", "dataset": dataset, "format": format, "path": r.path, "frames": r.frames,
                          "bytes": r.bytes, "bigtiff": r.bigTIFF, "wall_s": r.seconds])
        } catch let e as DatasetError {
            progress.abandon()
            printError("\(e)")
            throw ExitCode(1)
        } catch let e as ImagingError {
            progress.abandon()
            printError("\(e)")
            throw ExitCode(1)
        }
    }
}
