import ConfigFile
import Electrochemistry
import FirmwareSim
import Foundation
import ParticleModel

/// The readers operando exposes to user input, as fuzz targets: each takes raw bytes, must return
/// (never trap, hang or exhaust memory) and must fail only with a one-line, bounded message.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// The TOML reader alone (`ConfigFile`), walking every value it returns.
    case toml
    /// Protocol files: TOML, the `[cell]`/`[limits]`/`[imaging]` tables, steps and repeats, then the
    /// step program compiled for a rig and for the model.
    case protocolFile = "protocol"
    /// One step string.
    case step
    /// Parameter-set files.
    case params
    /// The `[sim]` table of rig files.
    case sim

    /// Runs one input; returns a short outcome class (for the campaign's tally) or throws a
    /// `FuzzFinding` when an invariant is broken.
    public func run(_ bytes: [UInt8]) throws -> String {
        switch self {
        case .toml:
            do {
                let f = try ConfigFile.parse(bytes: bytes, path: "fuzz.toml")
                var count = 0
                walk(f.root, &count)
                return "ok"
            } catch let e as ConfigError { return try check(e.description, kind: "\(e.kind)") }
        case .protocolFile:
            let file: ConfigFile
            do { file = try ConfigFile.parse(bytes: bytes, path: "fuzz.toml") } catch let e as ConfigError {
                return try check(e.description, kind: "toml-\(e.kind)")
            }
            do {
                let p = try ProtocolFile.parse(file: file)
                let planned = p.plannedSteps
                if planned.count > ProtocolFile.Ranges.maximumPlannedSteps {
                    throw FuzzFinding(kind: "unbounded", detail: "\(planned.count) planned steps")
                }
                for r in [CurrentResolution.amperes, .cRate] {
                    do {
                        let program = try StepProgram.compile(p, resolution: r)
                        if let total = program.maximumSeconds, !(total.isFinite && total >= 0) {
                            throw FuzzFinding(kind: "invalid", detail: "program duration \(total)")
                        }
                        for s in program.steps.prefix(200) { try checkStep(s) }
                    } catch let e as ProtocolError { _ = try check(e.description, kind: "compile") }
                }
                return "protocol-ok"
            } catch let e as ProtocolError { return try check(e.description, kind: "protocol") }
        case .step:
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let s = try StepParser.parse(text, location: SourceLocation(file: "fuzz", line: 1))
                var cell = CellSettings()
                cell.activeMassMilligrams = 1.5
                let program = try StepProgram.compile(steps: [s], cell: cell, resolution: .amperes)
                try checkStep(program.steps[0])
                return "step-ok"
            } catch let e as ProtocolError { return try check(e.description, kind: "step") }
        case .params:
            let file: ConfigFile
            do { file = try ConfigFile.parse(bytes: bytes, path: "fuzz.toml") } catch let e as ConfigError {
                return try check(e.description, kind: "toml-\(e.kind)")
            }
            do {
                let p = try ParameterSet.parse(file: file)
                try p.validate()
                _ = p.ocvTable
                _ = p.log10DiffusivityTable
                return "params-ok"
            } catch let e as ParameterError { return try check(e.description, kind: "params") }
        case .sim:
            let file: ConfigFile
            do { file = try ConfigFile.parse(bytes: bytes, path: "fuzz.toml") } catch let e as ConfigError {
                return try check(e.description, kind: "toml-\(e.kind)")
            }
            do {
                let c = try SimConfiguration.parse(rigFile: file)
                _ = try ParticleShape.parse(c.particle)
                return "sim-ok"
            } catch let e as SimConfigurationError { return try check(e.description, kind: "sim") }
            catch let e as GeometryError { return try check(e.description, kind: "geometry") }
        }
    }

    private func walk(_ t: ConfigTable, _ count: inout Int) {
        for k in t.keys {
            count += 1
            guard let n = t.node(k) else { continue }
            walk(n, &count)
        }
    }

    private func walk(_ n: ConfigNode, _ count: inout Int) {
        switch n.value {
        case .table(let t): walk(t, &count)
        case .array(let a): for e in a { walk(e, &count) }
        default: _ = n.value.displayText
        }
    }

    private func checkStep(_ s: CompiledStep) throws {
        if let m = s.maximumSeconds, !(m > 0 && m <= StepParser.Ranges.maximumSeconds + 1) && m != StepProgram.implicitTimeBoundSeconds {
            throw FuzzFinding(kind: "invalid", detail: "step \(s.step.text.prefix(80)) lasts \(m) s")
        }
        if case .current(let c, _) = s.setpoint, let a = c.amps, !(a.isFinite && a > 0) {
            throw FuzzFinding(kind: "invalid", detail: "current \(a) A")
        }
    }

    /// The message's first words after its location and quoted text, with digits dropped: errors of
    /// one kind share a signature, so a new signature marks a new path through the reader.
    static func signature(_ message: String) -> String {
        var rest = Substring(message)
        if let q = rest.range(of: "\": ", options: .backwards) { rest = rest[q.upperBound...] }
        else if let c = rest.range(of: ": ") { rest = rest[c.upperBound...] }
        let words = rest.split(separator: " ").filter { !$0.contains("\"") && !$0.contains("'") }.prefix(4)
            .map { $0.filter { !$0.isNumber } }
        return words.joined(separator: " ")
    }

    /// A message must be one line, free of control characters and bounded in length.
    private func check(_ message: String, kind: String) throws -> String {
        if message.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw FuzzFinding(kind: "message", detail: "control character in: \(ConfigError.displayText(message, limit: 300))")
        }
        if message.count > 4_000 {
            throw FuzzFinding(kind: "message", detail: "\(message.count)-character message: \(ConfigError.displayText(message, limit: 200))")
        }
        if message.isEmpty { throw FuzzFinding(kind: "message", detail: "empty message") }
        return kind + ": " + Self.signature(message)
    }
}

/// A broken invariant: a message that is not one bounded line, an unbounded plan, an invalid value
/// accepted. (Traps and hangs are found by the driver itself.)
public struct FuzzFinding: Error, CustomStringConvertible {
    public var kind: String
    public var detail: String
    public var description: String { "\(kind): \(detail)" }
}
