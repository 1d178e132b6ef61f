// operando's fuzz driver (docs/fuzzing.md). Two builds of the same targets:
//  - deterministic mutation campaigns (default): `Fuzz --seconds 60 [--target protocol] [--seed 1]`
//  - libFuzzer, coverage-guided, when built with -DLIBFUZZER and the sanitizer flags of `make fuzz-libfuzzer`:
//    `FUZZ_TARGET=protocol Fuzz fuzz/corpus/protocol -max_total_time=60`
import Foundation
import Fuzzing

#if LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

let libFuzzerTarget = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? "protocol") ?? .protocolFile
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let target = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? "protocol") ?? .protocolFile
    do { _ = try target.run(bytes) } catch {
        // A broken invariant is a finding: trap so libFuzzer saves the input.
        try? FileHandle.standardError.write(contentsOf: Data("FINDING \(error)\n".utf8))
        abort()
    }
    return 0
})
#else
var seconds = 60.0
var iterations = Int.max
var seed: UInt64 = 1
var targets = FuzzTarget.allCases
var corpusDirectory = "fuzz/corpus"
var findingsDirectory = ".build/fuzz-findings"
var replay: String?
var args = CommandLine.arguments.dropFirst()
func usage() -> Never {
    print("usage: Fuzz [--seconds S (per target)] [--iterations N] [--seed N] [--target \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|"))|all] [--corpus DIR] [--findings DIR] [--replay FILE]")
    exit(2)
}
while let a = args.popFirst() {
    guard let v = args.popFirst() else { usage() }
    switch a {
    case "--seconds": seconds = Double(v) ?? { usage() }()
    case "--iterations": iterations = Int(v) ?? { usage() }()
    case "--seed": seed = UInt64(v) ?? { usage() }()
    case "--target": targets = v == "all" ? FuzzTarget.allCases : [FuzzTarget(rawValue: v) ?? { usage() }()]
    case "--corpus": corpusDirectory = v
    case "--findings": findingsDirectory = v
    case "--replay": replay = v
    default: usage()
    }
}
if let replay {
    guard let data = FileManager.default.contents(atPath: replay) else { print("cannot read \(replay)"); exit(2) }
    for t in targets {
        do { print("\(t.rawValue): \(try t.run(Array(data)))") } catch { print("\(t.rawValue): FINDING \(error)"); exit(1) }
    }
    exit(0)
}
try? FileManager.default.createDirectory(atPath: findingsDirectory, withIntermediateDirectories: true)
var total = 0
var findings = 0
for t in targets {
    var driver = MutationDriver(target: t, seed: seed, corpus: loadCorpus(directory: corpusDirectory, target: t))
    // The input being run is written first: after a trap it is the crashing input.
    driver.currentInputPath = (findingsDirectory as NSString).appendingPathComponent("current-\(t.rawValue)")
    let report = driver.campaign(seconds: seconds, iterations: iterations)
    print(report)
    for (k, f) in report.findings.prefix(20).enumerated() { print("  finding \(k + 1): \(f)") }
    total += report.executions
    findings += report.findings.count
    try? FileManager.default.removeItem(atPath: driver.currentInputPath!)
}
print("total: \(total) executions, \(findings) findings (seed \(seed))")
exit(findings == 0 ? 0 : 1)
#endif
