// The benchmark: analyse a 256 × 256 × 1000-frame stack. Callable from a benchmark executable
// or a test; the stack is synthetic (seed-sized particle, fiducial, drift, noise) and written to disk
// first so the timing includes TIFF reading and every output file.
import Foundation
import Imaging

/// Benchmarks of the image analysis, outputs written as `operando analyse` writes them.
public enum AnalysisBenchmark {
    /// Timing of one benchmark run.
    public struct Result: Sendable, CustomStringConvertible {
        /// Frames analysed.
        public var frameCount: Int
        /// Frame size, pixels.
        public var width: Int, height: Int
        /// Time to render and write the synthetic input stack, s (not part of the analysis).
        public var generateSeconds: Double
        /// Wall time of `DatasetAnalysis.run`, s.
        public var analyseSeconds: Double
        /// Analysed frames per second.
        public var framesPerSecond: Double { Double(frameCount) / analyseSeconds }
        /// The yardstick, measured right after the analysis on the same file: reading and decoding
        /// every page of the input on one thread and nothing else, s (issue 17).
        public var decodeSeconds = Double.nan
        /// Pages read and decoded per second by the yardstick.
        public var decodeFramesPerSecond: Double { Double(frameCount) / decodeSeconds }
        /// CPU time (user + system, every thread) of the analysis, s: on a shared machine the wall
        /// time also counts the time other processes held the cores; this does not.
        public var analyseCPUSeconds = Double.nan

        /// One line for a benchmark report.
        public var description: String {
            String(format: "analyse %d×%d × %d frames: %.2f s (%.0f frames/s; input generated in %.2f s)",
                   width, height, frameCount, analyseSeconds, framesPerSecond, generateSeconds)
        }
    }

    /// Writes a synthetic `width`×`height`×`frameCount` float32 stack into `directory` (a temporary
    /// directory by default), analyses it with default options and returns the timings. The
    /// directory is removed afterwards unless it was given.
    public static func analyseSyntheticStack(width: Int = 256, height: Int = 256, frameCount: Int = 1000,
                                             directory: String? = nil) throws -> Result {
        try analyseSyntheticStack(width: width, height: height, frameCount: frameCount, directory: directory, runs: [AnalysisOptions()])[0]
    }

    /// Writes the synthetic stack once and analyses it once per entry of `runs` (in order), so
    /// option variants (`workerThreads`) are timed side by side on the same input.
    public static func analyseSyntheticStack(width: Int = 256, height: Int = 256, frameCount: Int = 1000,
                                             directory: String? = nil, runs: [AnalysisOptions]) throws -> [Result] {
        let dir = directory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("operando-imaging-benchmark-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: dir) } }
        var stack = SyntheticStack()
        stack.width = width
        stack.height = height
        // Seed-sized particle: 3.04 × 2.04 µm at 34.7 nm/px ≈ 88 × 59 px.
        stack.particleCentre = (Double(width) * 0.42, Double(height) * 0.5)
        stack.particleSemiAxes = (44 * Double(width) / 256, 29.5 * Double(height) / 256)
        stack.fiducial = (Double(width) * 0.85, Double(height) * 0.2)
        let frames = Double(frameCount)
        let semi = stack.particleSemiAxes
        stack.contrast = { x, y, k in
            let rho = ((x / semi.a) * (x / semi.a) + (y / semi.b) * (y / semi.b)).squareRoot()
            let front = Double(k) < 0.6 * frames ? (1 - Double(k) / (0.6 * frames)).squareRoot() : -1
            return 0.04 / (1 + exp(-(rho - front) / 0.04)) + 0.05 * Double(k) / frames
        }
        stack.drift = { k in (0.004 * Double(k) + 0.3 * sin(Double(k) / 17), -0.003 * Double(k) + 0.2 * sin(Double(k) / 11)) }
        let path = URL(fileURLWithPath: dir).appendingPathComponent("benchmark.tif").path
        let generateStart = Date()
        try stack.write(to: path, frameCount: frameCount, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 3)
        let generateSeconds = Date().timeIntervalSince(generateStart)
        func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
            return seconds(usage.ru_utime) + seconds(usage.ru_stime)
        }
        return try runs.map { options in
            let start = Date(), cpuStart = cpuSeconds()
            _ = try DatasetAnalysis.run(input: path, options: options)
            var result = Result(frameCount: frameCount, width: width, height: height, generateSeconds: generateSeconds,
                                analyseSeconds: Date().timeIntervalSince(start))
            result.analyseCPUSeconds = cpuSeconds() - cpuStart
            result.decodeSeconds = try decodeSeconds(path)
            return result
        }
    }

    /// Wall time to read and decode every page of `path` once, on one thread, into reused storage.
    static func decodeSeconds(_ path: String) throws -> Double {
        let start = Date()
        let reader = try TIFFStackReader(path: path)
        var storage: [Float] = []
        for k in 0..<reader.info.frameCount { storage = try reader.readFrame(k, into: &storage).pixels }
        return Date().timeIntervalSince(start)
    }
}
