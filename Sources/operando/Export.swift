import ArgumentParser
import Dataset
import Foundation
import Imaging

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

    func run() throws {
        guard format == "ome-tiff" || format == "imagej" else {
            printError("--format \(format): expected ome-tiff or imagej")
            throw ExitCode(2)
        }
        do {
            let r = format == "imagej"
                ? try ImageJExport.export(dataset: dataset, to: out) { Terminal.write($0 + "\n") }
                : try OMETIFFExport.export(dataset: dataset, to: out) { Terminal.write($0 + "\n") }
            print(String(format: "exported %d frames (%.1f MB%@) in %.2f s → %@", r.frames, Double(r.bytes) / 1e6,
                         r.bigTIFF ? ", BigTIFF" : "", r.seconds, r.path))
        } catch let e as DatasetError {
            printError("\(e)")
            throw ExitCode(1)
        } catch let e as ImagingError {
            printError("\(e)")
            throw ExitCode(1)
        }
    }
}
