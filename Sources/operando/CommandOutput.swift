import ArgumentParser
import Foundation
import TerminalProgress

/// `--json` and `--quiet`, shared by every command that prints a summary or runs long.
///
/// - `--json`: the command's summary is one JSON object on stdout (keys carry their units,
///   `_s`, `_um`, …); the human summary goes to stderr instead, so a script reads stdout alone.
/// - `--quiet`: no progress and no notes on stderr; errors (and warnings that need a person)
///   still print, and so does the summary.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the summary as one JSON object on stdout (human text goes to stderr).")
    var json = false

    @Flag(help: "No progress or notes on stderr; errors and the summary still print.")
    var quiet = false
}

/// Where a command's output goes, per `OutputOptions`.
struct CommandOutput {
    let options: OutputOptions
    let label: String

    init(_ options: OutputOptions, label: String) {
        self.options = options
        self.label = label
    }

    /// A progress reporter on stderr (bar on a terminal, lines otherwise, silent with --quiet).
    func progress(_ label: String? = nil) -> ProgressReporter {
        ProgressReporter(label: label ?? self.label, mode: .forStandardError(quiet: options.quiet), output: { Terminal.write($0) })
    }

    /// A line of the human summary: stdout, or stderr under --json (where stdout is the JSON).
    func summary(_ line: String) {
        if options.json { Terminal.write(line + "\n") } else { print(line) }
    }

    /// An informational line on stderr, dropped by --quiet.
    func note(_ line: String) {
        if !options.quiet { Terminal.write(line + "\n") }
    }

    /// The JSON summary on stdout (only under --json). NaN and infinities become null.
    func json(_ object: [String: Any]) {
        guard options.json else { return }
        print(JSONSummary.text(object))
    }
}

/// The `--json` text: one object, sorted keys, one line, non-finite numbers as null.
enum JSONSummary {
    static func text(_ object: [String: Any]) -> String {
        let clean = sanitize(object)
        guard let data = try? JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// An optional for a JSON object: the value or null.
    static func value<T>(_ x: T?) -> Any { x.map { $0 as Any } ?? NSNull() }

    static func sanitize(_ value: Any) -> Any {
        switch value {
        case let d as Double: return d.isFinite ? d : NSNull()
        case let f as Float: return f.isFinite ? Double(f) : NSNull()
        case let o as [String: Any]: return o.mapValues { sanitize($0) }
        case let a as [Any]: return a.map { sanitize($0) }
        default: return value
        }
    }
}

/// A value and its standard uncertainty with significant digits: the uncertainty to 2 significant
/// digits and the value to the same decimal place (`1.99220 ± 0.00012`, `3.5 ± 2.3e-05` is never
/// printed as `± 0.0000`).
enum Uncertain {
    static func text(_ value: Double, _ sigma: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        guard sigma.isFinite, sigma > 0 else { return significant(value, 6) + (sigma == 0 ? " ± 0" : "") }
        let exponent = Int((log10(sigma)).rounded(.down))
        let decimals = 1 - exponent   // two significant digits of σ
        if decimals >= 0 && decimals <= 8 {
            return String(format: "%.\(decimals)f ± %.\(decimals)f", value, sigma)
        }
        if decimals < 0 { return String(format: "%.0f ± %.0f", value, sigma) }
        // A tiny σ: scientific for σ, the value with enough digits to show it.
        return significant(value, min(15, max(6, decimals + Int(log10(max(abs(value), 1e-300)).rounded(.down)) + 1)))
            + String(format: " ± %.2g", sigma)
    }

    /// `x` with at most `digits` significant digits, no trailing zeros.
    static func significant(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        return String(format: "%.\(digits)g", x)
    }
}

/// Turns a library's progress lines into the reporter's calls: `… frame K/N` (analysis, export)
/// moves the bar; any other line is a note, with the command's label put in front once (a library
/// line that already starts with `label:` keeps its own, so nothing reads "calibrate: calibrate:").
struct ProgressLines {
    let reporter: ProgressReporter

    func callAsFunction(_ line: String) {
        if let (k, n) = Self.frameCount(line) {
            reporter.update(Double(k) / Double(n), "frame \(k)/\(n)")
        } else {
            reporter.note(Self.prefixed(reporter.label, line))
        }
    }

    /// `label: text`, unless `text` already starts with `label:` (or is indented detail).
    static func prefixed(_ label: String, _ line: String) -> String {
        if line.hasPrefix(label + ":") { return line }
        if line.hasPrefix(" ") { return line }
        return label + ": " + line
    }

    /// K and N of a line ending in `frame K/N`.
    static func frameCount(_ line: String) -> (Int, Int)? {
        guard let r = line.range(of: "frame ", options: .backwards) else { return nil }
        let parts = line[r.upperBound...].split(separator: "/")
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n > 0, k >= 0 else { return nil }
        return (k, n)
    }
}
