// `AnalysisBench [frames] [repeats]`: the offline-analysis row of issue 17 on its own — a release
// build of only Imaging and Dataset, quick to rebuild while profiling (`valgrind --tool=callgrind
// .build/release/AnalysisBench 60 1`). One synthetic stack, analysed alternately on every core and on
// one thread; medians of each. `make bench` prints the same figure in its table.
import Dataset
import Foundation
import Imaging

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let frames = arguments.first ?? 300
let repeats = max(1, arguments.dropFirst().first ?? 5)
var serial = AnalysisOptions()
serial.workerThreads = 1
do {
    let results = try AnalysisBenchmark.analyseSyntheticStack(frameCount: frames,
                                                              runs: Array(repeating: [AnalysisOptions(), serial], count: repeats).flatMap { $0 })
    func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
    let all = results.enumerated().filter { $0.offset % 2 == 0 }.map { $0.element.framesPerSecond }
    let one = results.enumerated().filter { $0.offset % 2 == 1 }.map { $0.element.framesPerSecond }
    print("every core: " + all.map { String(format: "%.0f", $0) }.joined(separator: " ") + " frames/s")
    print("one thread: " + one.map { String(format: "%.0f", $0) }.joined(separator: " ") + " frames/s")
    print(String(format: "median of %d alternating runs, 256² × %d frames: %.0f frames/s on %d cores, %.0f on one thread",
                 repeats, frames, median(all), ProcessInfo.processInfo.activeProcessorCount, median(one)))
} catch {
    print("AnalysisBench: \(error)")
    exit(1)
}
