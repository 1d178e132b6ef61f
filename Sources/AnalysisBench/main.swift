// `AnalysisBench [frames] [repeats]`: the offline-analysis row of issue 17 on its own — a release
// build of only Imaging and Dataset, quick to rebuild while profiling (`valgrind --tool=callgrind
// .build/release/AnalysisBench 60 1`). One synthetic stack, analysed alternately on every core and on
// one thread; medians of each. Beside them: the yardstick (reading and inflating the same deflate
// pages on one thread, right after each run), the ratio, and the CPU time per frame (on a shared
// machine the wall time also counts other processes' time). `make bench` prints the same figure in
// its table. `AnalysisBench frames repeats threads` times one thread count only.
import Dataset
import Foundation
import Imaging

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let frames = arguments.first ?? 1000
let repeats = max(1, arguments.dropFirst().first ?? 5)
// A third argument N times only N threads (for `perf stat`: how many cores a run keeps busy).
let onlyThreads = arguments.dropFirst(2).first
var serial = AnalysisOptions()
serial.workerThreads = 1
do {
    if let threads = onlyThreads {
        var options = AnalysisOptions()
        options.workerThreads = threads
        // ANALYSISBENCH_KEEP=DIR keeps the stack (DIR/benchmark.tif) and its analysis, to compare outputs.
        let keep = ProcessInfo.processInfo.environment["ANALYSISBENCH_KEEP"]
        let results = try AnalysisBenchmark.analyseSyntheticStack(frameCount: frames, directory: keep,
                                                                  runs: Array(repeating: options, count: repeats))
        print(String(format: "%d thread(s): ", threads) + results.map { String(format: "%.0f", $0.framesPerSecond) }.joined(separator: " ")
              + " frames/s; CPU " + results.map { String(format: "%.3f", $0.analyseCPUSeconds * 1e3 / Double(frames)) }.joined(separator: " ") + " ms/frame")
        exit(0)
    }
    let results = try AnalysisBenchmark.analyseSyntheticStack(frameCount: frames,
                                                              runs: Array(repeating: [AnalysisOptions(), serial], count: repeats).flatMap { $0 })
    func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
    let all = results.enumerated().filter { $0.offset % 2 == 0 }.map { $0.element }
    let one = results.enumerated().filter { $0.offset % 2 == 1 }.map { $0.element }
    func rates(_ rs: [AnalysisBenchmark.Result]) -> String { rs.map { String(format: "%.0f", $0.framesPerSecond) }.joined(separator: " ") }
    print("every core: " + rates(all) + " frames/s")
    print("one thread: " + rates(one) + " frames/s")
    // The yardstick: decoding the same pages on one thread and doing nothing else, right after each run.
    let decode = median(results.map(\.decodeFramesPerSecond))
    let fps = median(all.map(\.framesPerSecond)), serialFps = median(one.map(\.framesPerSecond))
    print(String(format: "median of %d alternating runs, 256² × %d frames: %.0f frames/s on %d cores, %.0f on one thread (%.2f×)",
                 repeats, frames, fps, ProcessInfo.processInfo.activeProcessorCount, serialFps, fps / serialFps))
    // On a shared machine the wall time counts the time other processes held the cores; the CPU
    // time per frame does not: cores / (CPU per frame) is the rate the same work reaches when it
    // has the cores to itself, if the threads keep them busy.
    let cpuAll = median(all.map { $0.analyseCPUSeconds / Double($0.frameCount) })
    let cpuOne = median(one.map { $0.analyseCPUSeconds / Double($0.frameCount) })
    let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
    print(String(format: "CPU time per frame: %.3f ms on every core, %.3f ms on one thread; CPU-bound rate %.0f frames/s on %d idle cores "
                 + "(every-core run used %.2f cores on average here)",
                 cpuAll * 1e3, cpuOne * 1e3, cores / cpuAll, Int(cores), median(all.map { $0.analyseCPUSeconds / $0.analyseSeconds })))
    print(String(format: "yardstick, read + inflate the same deflate pages on one thread: %.0f frames/s (%.0f MB/s decoded); "
                 + "analysis / yardstick: %.2f on every core, %.2f on one thread; goal ≥ 2,000 frames/s %@",
                 decode, decode * Double(256 * 256 * 4) / 1e6, fps / decode, serialFps / decode, fps >= 2000 ? "met" : "MISSED"))
} catch {
    print("AnalysisBench: \(error)")
    exit(1)
}
