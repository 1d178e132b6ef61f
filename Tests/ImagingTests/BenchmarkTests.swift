import Foundation
import Testing
@testable import Imaging
import Dataset

/// The benchmark (256 × 256 × 1000 frames). Slow, so only with OPERANDO_BENCH=1.
@Test(.enabled(if: ProcessInfo.processInfo.environment["OPERANDO_BENCH"] == "1"))
func benchmarkAnalyse256x256x1000() throws {
    let keep = ProcessInfo.processInfo.environment["OPERANDO_BENCH_DIR"]
    let result = try AnalysisBenchmark.analyseSyntheticStack(directory: keep)
    print("BENCHMARK \(result)")
    #expect(result.frameCount == 1000)
}

/// A small run of the same function so it stays working in the normal suite.
@Test func benchmarkFunctionRunsOnASmallStack() throws {
    let result = try AnalysisBenchmark.analyseSyntheticStack(width: 64, height: 64, frameCount: 12)
    #expect(result.frameCount == 12 && result.analyseSeconds > 0)
}
