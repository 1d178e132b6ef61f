import Foundation
import Testing
@testable import Fuzzing

private let corpusDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fuzz/corpus").path

/// CI's short bounded fuzz: every target for a few seconds from the committed corpus, deterministic
/// seed; no trap, no hang, no broken invariant.
@Test func shortBoundedFuzzFindsNothing() {
    let perTarget = 20.0 / Double(FuzzTarget.allCases.count)
    for t in FuzzTarget.allCases {
        let corpus = loadCorpus(directory: corpusDirectory, target: t)
        #expect(!corpus.isEmpty, "no corpus for \(t.rawValue)")
        var driver = MutationDriver(target: t, seed: 20261201, corpus: corpus)
        let report = driver.campaign(seconds: perTarget)
        #expect(report.findings.isEmpty, "\(report)\n\(report.findings.prefix(5).joined(separator: "\n"))")
        #expect(report.executions > corpus.count, "\(report)")
        #expect(report.slowestSeconds < MutationDriver.slowSeconds, "\(report)")
    }
}

@Test func theDriverIsDeterministic() {
    let corpus = loadCorpus(directory: corpusDirectory, target: .step)
    var a = MutationDriver(target: .step, seed: 7, corpus: corpus)
    var b = MutationDriver(target: .step, seed: 7, corpus: corpus)
    #expect(a.campaign(seconds: 100, iterations: 300).outcomes == b.campaign(seconds: 100, iterations: 300).outcomes)
}

@Test func invariantsCatchBadMessages() throws {
    // The seeds are valid inputs of their targets.
    for t in FuzzTarget.allCases {
        for input in loadCorpus(directory: corpusDirectory, target: t) {
            #expect(try t.run(input).hasSuffix("ok"), "\(t.rawValue): \(String(decoding: input, as: UTF8.self).prefix(80))")
        }
    }
    // Inputs that aborted TOMLKit end in an error class, not a trap.
    for text in ["[", "[.a]", "[=]", "[[;teps]]"] {
        #expect(try FuzzTarget.protocolFile.run(Array(text.utf8)).hasPrefix("toml-syntax"))
    }
}
