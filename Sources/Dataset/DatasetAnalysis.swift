import Foundation
import Imaging

/// `operando analyse INPUT`: resolves a dataset directory or a TIFF stack to a frame source and an
/// output folder, and runs Imaging's analysis into an `AnalysisWriter` (transactional: a failed
/// analysis leaves the folder's previous results as they were).
public enum DatasetAnalysis {
    /// Analyses `input` — a dataset directory (`NAME.operando/`, its whole recording as one stack) or
    /// a TIFF stack — into `options.outputDirectory`, by default the dataset's `analysis/` or
    /// `STACK.analysis/` beside the stack. Progress lines go to `progress`.
    /// - Throws: `DatasetError` for a missing or malformed dataset, `ImagingError` for bad options,
    ///   unreadable TIFF files and images without a particle.
    public static func run(input: String, options: AnalysisOptions = AnalysisOptions(),
                           progress: (String) -> Void = { _ in }) throws -> AnalysisSummary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw DatasetError.missingFile(path: input, what: "no such file or directory; expected a dataset directory or a TIFF stack")
        }
        try Analysis.validate(options)
        let source: FrameSource
        let defaultOutput: String
        if isDirectory.boolValue {
            let dataset = try DatasetReader(input)
            source = try dataset.recording(frameIntervalSeconds: options.frameIntervalSeconds)
            defaultOutput = dataset.path(DatasetFormat.File.analysisDirectory)
        } else {
            source = try TIFFFrameSource(path: input, frameIntervalSeconds: options.frameIntervalSeconds)
            defaultOutput = defaultOutputDirectory(stack: input)
        }
        return try run(source: source, options: options, outputDirectory: options.outputDirectory ?? defaultOutput,
                       progress: progress)
    }

    /// Analyses any frame source into the analysis folder `outputDirectory`.
    public static func run(source: FrameSource, options: AnalysisOptions, outputDirectory: String,
                           progress: (String) -> Void = { _ in }) throws -> AnalysisSummary {
        try Analysis.run(source: source, options: options, sink: AnalysisWriter(directory: outputDirectory), progress: progress)
    }

    /// `STACK.analysis` beside `STACK.tif` (or `STACK.ome.tif`).
    public static func defaultOutputDirectory(stack: String) -> String {
        var base = URL(fileURLWithPath: stack).deletingPathExtension()
        if base.pathExtension.lowercased() == "ome" { base = base.deletingPathExtension() }
        return base.path + ".analysis"
    }
}
