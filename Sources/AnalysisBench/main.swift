// `AnalysisBench [frames] [repeats]`: the offline-analysis row of issue 17 on its own — a release
// build of only Imaging and Dataset, quick to rebuild while profiling (`valgrind --tool=callgrind
// .build/release/AnalysisBench 300 1`). `make bench` prints the same figure in its table.
import Dataset
import Foundation

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let frames = arguments.first ?? 300
let repeats = arguments.dropFirst().first ?? 5
var rates: [Double] = []
for _ in 0..<repeats {
    do {
        let r = try AnalysisBenchmark.analyseSyntheticStack(frameCount: frames)
        rates.append(r.framesPerSecond)
        print(r)
    } catch {
        print("AnalysisBench: \(error)")
        exit(1)
    }
}
let sorted = rates.sorted()
print(String(format: "median of %d: %.0f frames/s (256² frames, %d per run)", repeats, sorted[sorted.count / 2], frames))
