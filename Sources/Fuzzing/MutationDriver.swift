import ConfigFile
import Foundation
import Imaging

/// A deterministic mutation fuzzer: from a seed corpus, it mutates inputs (bit flips, interesting
/// bytes, TOML and step-language tokens, extreme numbers, splices, deletions, duplications) with a
/// seeded generator, so a campaign is reproducible from its seed and iteration number. Inputs whose
/// outcome class is new are kept in the working corpus (a cheap stand-in for coverage guidance).
public struct MutationDriver {
    /// Counters of one campaign on one target.
    public struct Report: CustomStringConvertible, Sendable {
        public var target: String
        public var executions = 0
        public var outcomes: [String: Int] = [:]
        /// Distinct outcome signatures seen (outcome class and the first words of the message).
        public var signatures: Set<String> = []
        public var findings: [String] = []
        public var slowestSeconds = 0.0
        public var corpusSize = 0
        public var wallSeconds = 0.0
        public var description: String {
            let classes = outcomes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return "\(target): \(executions) executions in \(String(format: "%.1f", wallSeconds)) s, corpus \(corpusSize), \(signatures.count) distinct outcomes, slowest \(String(format: "%.3f", slowestSeconds)) s, findings \(findings.count); outcomes: \(classes)"
        }
    }

    /// Largest input the driver makes, bytes.
    public static let maximumInputBytes = 64 * 1024
    /// An execution slower than this is a finding (a hang in the making).
    public static let slowSeconds = 2.0

    public let target: FuzzTarget
    private var rng: SplitMix64
    private var corpus: [[UInt8]]
    private var seenOutcomes: Set<String> = []
    /// Where the input being executed is written first, so a trap leaves it behind (nil: nowhere).
    public var currentInputPath: String? {
        didSet {
            if currentFD >= 0 { close(currentFD); currentFD = -1 }
            if let p = currentInputPath { currentFD = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        }
    }
    private var currentFD: Int32 = -1

    public init(target: FuzzTarget, seed: UInt64, corpus: [[UInt8]]) {
        self.target = target
        rng = SplitMix64(seed: seed ^ UInt64(truncatingIfNeeded: target.rawValue.hashValueStable))
        self.corpus = corpus.isEmpty ? [Array("x = 1\n".utf8)] : corpus
    }

    /// Runs until `seconds` have passed or `iterations` inputs were executed.
    public mutating func campaign(seconds: Double, iterations: Int = .max) -> Report {
        var report = Report(target: target.rawValue)
        let start = Date()
        // The seeds themselves first.
        var queue = corpus
        while report.executions < iterations {
            let input: [UInt8]
            if !queue.isEmpty { input = queue.removeFirst() } else {
                if Date().timeIntervalSince(start) >= seconds { break }
                input = mutate(corpus[Int(rng.next() % UInt64(corpus.count))])
            }
            execute(input, into: &report)
        }
        report.corpusSize = corpus.count
        report.wallSeconds = Date().timeIntervalSince(start)
        return report
    }

    mutating func execute(_ input: [UInt8], into report: inout Report) {
        if currentFD >= 0 {
            _ = ftruncate(currentFD, 0)
            _ = input.withUnsafeBytes { pwrite(currentFD, $0.baseAddress, $0.count, 0) }
        }
        let t0 = Date()
        let outcome: String
        do { outcome = try target.run(input) } catch {
            outcome = "FINDING"
            report.findings.append("\(error) — input: \(ConfigError.displayText(String(decoding: input, as: UTF8.self), limit: 300))")
        }
        let dt = Date().timeIntervalSince(t0)
        report.slowestSeconds = max(report.slowestSeconds, dt)
        if dt > Self.slowSeconds {
            report.findings.append("slow: \(String(format: "%.2f", dt)) s — input: \(ConfigError.displayText(String(decoding: input, as: UTF8.self), limit: 300))")
        }
        report.executions += 1
        let family = String(outcome.prefix { $0 != ":" })
        report.outcomes[family, default: 0] += 1
        report.signatures.insert(outcome)
        // Keep inputs that reached an outcome class not seen before (and a few others, for variety).
        if (seenOutcomes.insert(outcome).inserted && corpus.count < 4096) || (corpus.count < 256 && rng.next() % 64 == 0) {
            corpus.append(input)
        }
    }

    static let interestingBytes: [UInt8] = Array("[]{}=\"'.,#\\\n\t0123456789eE+-_:x ".utf8)
    /// Bytes that make the text invalid (NUL, control characters, broken UTF-8): used rarely, since
    /// the reader refuses such a file before parsing it.
    static let invalidBytes: [UInt8] = [0, 0x7F, 0x80, 0xC3, 0xFF, 0x0D, 0x1B, 0x07]

    static let tokens: [String] = [
        "[", "]", "[[", "]]", "[.a]", "[=]", "[[;teps]]", "{", "}", "=", "\"", "'", "\"\"\"", "'''", "\\u0000", "\\U0010FFFF", "\\",
        "\n", "\r\n", "\r", "#", ".", ",", " = ", "true", "false", "inf", "-inf", "nan", "0x7FFFFFFFFFFFFFFF", "0b1", "0o7",
        "1e300", "-1e300", "1e-300", "1e19", "1e10", "1e-12", "1e-10", "99999999999999999999", "-0", "0", "-1", "1_000",
        "1979-05-27T07:32:00Z", "07:32:00",
        "[cell]\n", "[limits]\n", "[imaging]\n", "[[steps]]\n", "[sim]\n", "[[sim.faults]]\n", "[ocv]\n", "[diffusivity]\n",
        "active_mass_mg = ", "sample_interval_s = ", "frame_rate_Hz = ", "exposure_ms = ", "bin = ", "repeat = ", "until = ",
        "do = ", "voltage_max_V = ", "current_max_mA = ", "theta = ", "V = ", "x = ", "D_cm2_per_s = ", "scale = ",
        "particle = ", "drift_nm_per_min = ", "kind = \"camera_drop\"", "at_s = ", "count = ", "faults = [{kind = \"gpio_io_error\"}]",
        "\"Charge at C/3 until 4.3 V\"", "\"Rest for 4 hours or until 1 mV/h\"", "\"Hold at 4.2 V until 0 A\"",
        "Charge at ", "Discharge at ", "Hold at ", "Rest", " for ", " until ", " or ", "C/3", "1C", "C/0", "0.5 mA", "70 mA/g",
        "4.3 V", "4.3 mV", "1 mV/h", "0 mV/h", "150 mAh/g", "20 minutes", "1e19 seconds", "µA", "μA", "ellipse:1e300x1e300um",
        "circle:1000um", "polygon:/dev/null", "[1, 2, 3]", "[[1], [2]]", "{a = 1}", String(repeating: "[", count: 100),
        String(repeating: "x", count: 5000), String(repeating: ".a", count: 5000), String(repeating: "[", count: 5000),
        String(repeating: "{a=", count: 2000), String(repeating: "\"a\",", count: 5000),
    ]

    mutating func mutate(_ base: [UInt8]) -> [UInt8] {
        var b = base
        // Mostly one or two mutations, sometimes a burst: deep inputs stay mostly valid.
        let rounds = rng.next() % 8 == 0 ? 3 + Int(rng.next() % 6) : 1 + Int(rng.next() % 2)
        for _ in 0..<rounds {
            switch rng.next() % 10 {
            case 0 where !b.isEmpty:       // flip a bit
                let i = Int(rng.next() % UInt64(b.count))
                b[i] ^= UInt8(1 << (rng.next() % 7))
            case 1 where !b.isEmpty:       // an interesting byte
                let i = Int(rng.next() % UInt64(b.count))
                b[i] = rng.next() % 16 == 0 ? Self.invalidBytes[Int(rng.next() % UInt64(Self.invalidBytes.count))]
                    : Self.interestingBytes[Int(rng.next() % UInt64(Self.interestingBytes.count))]
            case 2, 3:                     // insert a token
                let t = Array(Self.tokens[Int(rng.next() % UInt64(Self.tokens.count))].utf8)
                let i = b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count + 1))
                b.insert(contentsOf: t, at: i)
            case 4 where b.count > 1 && rng.next() % 4 == 0:   // repeat a short range many times (quadratic paths)
                let i = Int(rng.next() % UInt64(b.count))
                let n = 1 + Int(rng.next() % UInt64(min(8, b.count - i)))
                let times = 100 + Int(rng.next() % 20_000)
                let piece = Array(b[i..<(i + n)])
                var rep: [UInt8] = []
                rep.reserveCapacity(piece.count * times)
                for _ in 0..<times { rep += piece }
                b.insert(contentsOf: rep, at: i)
            case 4 where b.count > 1:      // delete a range
                let i = Int(rng.next() % UInt64(b.count))
                let n = 1 + Int(rng.next() % UInt64(min(32, b.count - i)))
                b.removeSubrange(i..<(i + n))
            case 5 where !b.isEmpty:       // duplicate a range
                let i = Int(rng.next() % UInt64(b.count))
                let n = 1 + Int(rng.next() % UInt64(min(64, b.count - i)))
                b.insert(contentsOf: Array(b[i..<(i + n)]), at: i)
            case 6:                        // splice another corpus entry
                let other = corpus[Int(rng.next() % UInt64(corpus.count))]
                if !other.isEmpty {
                    let i = Int(rng.next() % UInt64(other.count))
                    let cut = b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count + 1))
                    b = Array(b[..<cut]) + Array(other[i...])
                }
            case 7:                        // replace a number with an extreme one
                if let r = numberRange(in: b) {
                    let extremes = ["1e300", "-1", "0", "1e-12", "1e10", "nan", "inf", "100000000", "2.5", "0x10", "-0.0", "1e19"]
                    b.replaceSubrange(r, with: Array(extremes[Int(rng.next() % UInt64(extremes.count))].utf8))
                }
            case 8 where !b.isEmpty:       // insert random bytes
                let i = Int(rng.next() % UInt64(b.count + 1))
                let n = 1 + Int(rng.next() % 8)
                let wide = rng.next() % 8 == 0
                b.insert(contentsOf: (0..<n).map { _ in wide ? UInt8(truncatingIfNeeded: rng.next()) : UInt8(0x20 + rng.next() % 95) }, at: i)
            default:                       // swap two lines
                let lines = b.split(separator: 0x0A, omittingEmptySubsequences: false)
                if lines.count > 2 {
                    var l = lines.map(Array.init)
                    let i = Int(rng.next() % UInt64(l.count)), j = Int(rng.next() % UInt64(l.count))
                    l.swapAt(i, j)
                    b = Array(l.joined(separator: [0x0A]))
                }
            }
        }
        if b.count > Self.maximumInputBytes { b = Array(b.prefix(Self.maximumInputBytes)) }
        return b
    }

    private mutating func numberRange(in b: [UInt8]) -> Range<Int>? {
        var starts: [Int] = []
        var i = 0
        while i < b.count {
            if b[i] >= 0x30 && b[i] <= 0x39, i == 0 || !(b[i - 1] >= 0x30 && b[i - 1] <= 0x39) && b[i - 1] != 0x2E { starts.append(i) }
            i += 1
        }
        guard !starts.isEmpty else { return nil }
        let s = starts[Int(rng.next() % UInt64(starts.count))]
        var e = s
        while e < b.count, (b[e] >= 0x30 && b[e] <= 0x39) || b[e] == 0x2E || b[e] == 0x65 || b[e] == 0x5F { e += 1 }
        return s..<e
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes (Swift's `hashValue` is seeded per process).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xCBF29CE484222325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100000001B3 }
        return h
    }
}

/// Reads a corpus folder: `DIR/TARGET/*` files, in name order.
public func loadCorpus(directory: String, target: FuzzTarget) -> [[UInt8]] {
    let dir = (directory as NSString).appendingPathComponent(target.rawValue)
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
    return names.sorted().compactMap { FileManager.default.contents(atPath: (dir as NSString).appendingPathComponent($0)).map { Array($0) } }
}
