import Foundation
import TOMLKit

/// The cell a protocol runs on.
public struct CellSettings: Sendable, Equatable {
    /// Active material mass, mg; needed to turn C-rates and mA/g into amperes on a rig.
    public var activeMassMilligrams: Double?
    /// Capacity that defines 1C, mAh/g (seed: 210).
    public var practicalCapacityMilliampHoursPerGram: Double = 210
    /// Interval of electrochemical samples (end conditions and limits are checked at this rate), s.
    public var sampleIntervalSeconds: Double = 1

    public init() {}

    /// 1C current in amperes, when the mass is known.
    public var oneCAmps: Double? {
        activeMassMilligrams.map { $0 * 1e-3 * practicalCapacityMilliampHoursPerGram * 1e-3 }
    }
}

/// Hard interlocks, independent of the steps: any trip ends the run safely.
public struct SafetyLimits: Sendable, Equatable {
    public var voltageMinVolts: Double?
    public var voltageMaxVolts: Double?
    public var currentMaxMilliamps: Double?
    public init() {}
}

/// Exposure timing (the lockstep of docs/architecture.md).
public struct ImagingSettings: Sendable, Equatable {
    public var frameRateHz: Double = 10
    public var exposureMilliseconds: Double = 2.5
    /// Raw exposures averaged into one recorded frame.
    public var bin: Int = 30
    /// LED on this long before the exposure starts.
    public var ledLeadMilliseconds: Double = 0.2
    /// LED stays on this long after the exposure has ended.
    public var ledTailMilliseconds: Double = 0.2
    public init() {}

    public var framePeriodSeconds: Double { 1 / frameRateHz }
}

/// One entry of `[[steps]]`: a step, or a repeated block that keeps its place among the steps.
public enum ProtocolEntry: Sendable, Equatable {
    case step(Step)
    /// Runs `steps` up to `times` times, ending early when `until` is met.
    case repeated(times: Int, until: EndCondition?, steps: [Step], location: SourceLocation)
}

/// A protocol file (docs/interfaces.md): cell, limits, imaging and steps with repeats.
public struct ProtocolFile: Sendable, Equatable {
    public var path: String
    public var text: String
    public var cell = CellSettings()
    public var limits = SafetyLimits()
    public var imaging = ImagingSettings()
    public var entries: [ProtocolEntry] = []

    /// Builds a protocol from step strings alone (no file), with default settings.
    public init(steps: [Step], path: String = "command line") {
        self.path = path
        self.text = steps.map(\.text).joined(separator: "\n")
        self.entries = steps.map { .step($0) }
    }

    /// Every step in order, repeats unrolled to their maximum count, with the repeat's end condition
    /// attached (the sequencer ends the block early when it is met).
    public var plannedSteps: [(step: Step, repeatUntil: EndCondition?, block: Int?)] {
        var out: [(Step, EndCondition?, Int?)] = []
        for (k, e) in entries.enumerated() {
            switch e {
            case .step(let s): out.append((s, nil, nil))
            case .repeated(let n, let until, let steps, _):
                for _ in 0..<n { for s in steps { out.append((s, until, k)) } }
            }
        }
        return out
    }

    /// Reads and validates a protocol file.
    public static func load(path: String) throws -> ProtocolFile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ProtocolError(location: SourceLocation(file: path), text: path,
                                problem: "cannot read the protocol file (\(error.localizedDescription))")
        }
        return try parse(text: text, path: path)
    }

    static let tables: [String: Set<String>] = [
        "cell": ["active_mass_mg", "practical_capacity_mAh_per_g", "sample_interval_s"],
        "limits": ["voltage_min_V", "voltage_max_V", "current_max_mA"],
        "imaging": ["frame_rate_Hz", "exposure_ms", "bin", "led_lead_ms", "led_tail_ms"],
    ]

    /// Parses and validates protocol text; `path` names it in errors.
    public static func parse(text: String, path: String) throws -> ProtocolFile {
        let lines = SourceLines(text: text, path: path)
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let e as TOMLParseError {
            let line = e.source.begin.line
            throw ProtocolError(location: SourceLocation(file: path, line: line), text: lines.line(line),
                                problem: "not valid TOML: \(e.description)")
        }
        var p = ProtocolFile(steps: [], path: path)
        p.text = text
        for key in root.keys where key != "steps" && tables[key] == nil {
            throw lines.error(key: key, table: nil, problem: "unknown key \"\(key)\"; expected [cell], [limits], [imaging] or [[steps]]")
        }
        func table(_ name: String) throws -> TOMLTable? {
            guard let v = root[name] else { return nil }
            guard let t = v.table else { throw lines.error(key: name, table: nil, problem: "\"\(name)\" must be a table [\(name)]") }
            for key in t.keys where !tables[name]!.contains(key) {
                throw lines.error(key: key, table: name,
                                  problem: "unknown key \"\(key)\" in [\(name)]; expected one of " + tables[name]!.sorted().joined(separator: ", "))
            }
            return t
        }
        func number(_ t: TOMLTable, _ table: String, _ key: String, positive: Bool = true) throws -> Double? {
            guard let v = t[key] else { return nil }
            let x: Double
            if let d = v.double { x = d } else if let i = v.int { x = Double(i) } else {
                throw lines.error(key: key, table: table, problem: "\(key) must be a number")
            }
            if !x.isFinite || (positive && x <= 0) || (!positive && x < 0) {
                throw lines.error(key: key, table: table, problem: "\(key) = \(x): expected a finite \(positive ? "positive" : "non-negative") number")
            }
            return x
        }
        if let t = try table("cell") {
            if let v = t["active_mass_mg"] {
                guard let m = v.double ?? v.int.map(Double.init), m.isFinite, m >= 0 else {
                    throw lines.error(key: "active_mass_mg", table: "cell", problem: "active_mass_mg must be a non-negative number of milligrams")
                }
                p.cell.activeMassMilligrams = m
            }
            if let v = try number(t, "cell", "practical_capacity_mAh_per_g") { p.cell.practicalCapacityMilliampHoursPerGram = v }
            if let v = try number(t, "cell", "sample_interval_s") { p.cell.sampleIntervalSeconds = v }
        }
        if let t = try table("limits") {
            p.limits.voltageMinVolts = try number(t, "limits", "voltage_min_V")
            p.limits.voltageMaxVolts = try number(t, "limits", "voltage_max_V")
            p.limits.currentMaxMilliamps = try number(t, "limits", "current_max_mA")
            if let lo = p.limits.voltageMinVolts, let hi = p.limits.voltageMaxVolts, lo >= hi {
                throw lines.error(key: "voltage_min_V", table: "limits", problem: "voltage_min_V = \(lo) must be below voltage_max_V = \(hi)")
            }
        }
        if let t = try table("imaging") {
            if let v = try number(t, "imaging", "frame_rate_Hz") { p.imaging.frameRateHz = v }
            if let v = try number(t, "imaging", "exposure_ms") { p.imaging.exposureMilliseconds = v }
            if let v = try number(t, "imaging", "led_lead_ms", positive: false) { p.imaging.ledLeadMilliseconds = v }
            if let v = try number(t, "imaging", "led_tail_ms", positive: false) { p.imaging.ledTailMilliseconds = v }
            if let v = t["bin"] {
                guard let b = v.int, b >= 1, b <= 10000 else {
                    throw lines.error(key: "bin", table: "imaging", problem: "bin must be a whole number of frames from 1 to 10000")
                }
                p.imaging.bin = b
            }
            let period = 1000 / p.imaging.frameRateHz
            if p.imaging.exposureMilliseconds >= period {
                throw lines.error(key: "exposure_ms", table: "imaging",
                                  problem: "exposure \(p.imaging.exposureMilliseconds) ms is not shorter than the frame period \(period) ms (frame_rate_Hz = \(p.imaging.frameRateHz))")
            }
            let window = p.imaging.ledLeadMilliseconds + p.imaging.exposureMilliseconds + p.imaging.ledTailMilliseconds
            if window >= period {
                throw lines.error(key: "led_lead_ms", table: "imaging",
                                  problem: "LED lead + exposure + tail = \(window) ms does not fit in the frame period \(period) ms")
            }
        }
        // Steps.
        guard let stepsValue = root["steps"] else {
            throw ProtocolError(location: SourceLocation(file: path), text: path, problem: "no [[steps]]: a protocol needs at least one step")
        }
        guard let array = stepsValue.array else {
            throw lines.error(key: "steps", table: nil, problem: "steps must be an array of tables [[steps]]")
        }
        for (k, item) in array.enumerated() {
            let headerLine = lines.arrayTableLine(name: "steps", occurrence: k)
            let at = SourceLocation(file: path, line: headerLine)
            guard let t = item.table else {
                throw ProtocolError(location: at, text: lines.line(headerLine), problem: "each [[steps]] entry must be a table")
            }
            for key in t.keys where !["do", "repeat", "until"].contains(key) {
                let l = lines.keyLine(key, after: headerLine)
                throw ProtocolError(location: SourceLocation(file: path, line: l), text: lines.line(l),
                                    problem: "unknown key \"\(key)\" in [[steps]]; expected do, repeat, until")
            }
            let doLine = lines.keyLine("do", after: headerLine)
            guard let doValue = t["do"] else {
                throw ProtocolError(location: at, text: lines.line(headerLine), problem: "[[steps]] entry without \"do\": expected do = \"STEP\" or do = [\"STEP\", …] with repeat")
            }
            if let n = t["repeat"] {
                let rl = lines.keyLine("repeat", after: headerLine)
                guard let times = n.int, times >= 1 else {
                    throw ProtocolError(location: SourceLocation(file: path, line: rl), text: lines.line(rl),
                                        problem: "repeat must be a whole number ≥ 1")
                }
                guard let list = doValue.array, !list.isEmpty else {
                    throw ProtocolError(location: SourceLocation(file: path, line: doLine), text: lines.line(doLine),
                                        problem: "a repeat's do must be a non-empty array of step strings")
                }
                var steps: [Step] = []
                for (j, s) in list.enumerated() {
                    guard let str = s.string else {
                        throw ProtocolError(location: SourceLocation(file: path, line: doLine), text: lines.line(doLine),
                                            problem: "item \(j + 1) of do is not a string")
                    }
                    let l = lines.lineContaining(str, after: headerLine) ?? doLine
                    steps.append(try StepParser.parse(str, location: SourceLocation(file: path, line: l)))
                }
                var until: EndCondition? = nil
                if let u = t["until"] {
                    let ul = lines.keyLine("until", after: headerLine)
                    guard let us = u.string else {
                        throw ProtocolError(location: SourceLocation(file: path, line: ul), text: lines.line(ul),
                                            problem: "until must be a string such as \"4.3 V\"")
                    }
                    // Parse "until X" through a probe step so units and messages are shared.
                    let probe = try StepParser.parse("Charge at 1C until \(us)", location: SourceLocation(file: path, line: ul))
                    until = probe.endConditions.first
                }
                p.entries.append(.repeated(times: times, until: until, steps: steps, location: at))
            } else {
                if t["until"] != nil {
                    let ul = lines.keyLine("until", after: headerLine)
                    throw ProtocolError(location: SourceLocation(file: path, line: ul), text: lines.line(ul),
                                        problem: "until belongs to a repeat; put the end condition in the step string (\"… until 4.3 V\")")
                }
                guard let str = doValue.string else {
                    throw ProtocolError(location: SourceLocation(file: path, line: doLine), text: lines.line(doLine),
                                        problem: "do must be a step string (an array of steps needs repeat = N)")
                }
                p.entries.append(.step(try StepParser.parse(str, location: SourceLocation(file: path, line: doLine))))
            }
        }
        if p.entries.isEmpty {
            throw ProtocolError(location: SourceLocation(file: path), text: path, problem: "no [[steps]]: a protocol needs at least one step")
        }
        try p.validateAgainstLimits()
        return p
    }

    /// Steps that contradict the limits or need a mass the cell lacks.
    public func validateAgainstLimits() throws {
        for (step, _, _) in plannedSteps {
            func fail(_ problem: String) -> ProtocolError { ProtocolError(location: step.location, text: step.text, problem: problem) }
            var setpoint: CurrentSetpoint? = nil
            switch step.kind {
            case .charge(let c), .discharge(let c): setpoint = c
            case .hold(let v):
                if let lo = limits.voltageMinVolts, v < lo { throw fail("holds \(v) V, below voltage_min_V = \(lo) in [limits]") }
                if let hi = limits.voltageMaxVolts, v > hi { throw fail("holds \(v) V, above voltage_max_V = \(hi) in [limits]") }
            case .rest: break
            }
            for e in step.endConditions {
                if case .voltage(let v) = e {
                    if let lo = limits.voltageMinVolts, v < lo { throw fail("ends at \(v) V, below voltage_min_V = \(lo) in [limits]: the interlock would trip first") }
                    if let hi = limits.voltageMaxVolts, v > hi { throw fail("ends at \(v) V, above voltage_max_V = \(hi) in [limits]: the interlock would trip first") }
                }
            }
            if let c = setpoint {
                switch c {
                case .milliampsPerGram, .cRate:
                    if let m = cell.activeMassMilligrams, m == 0 {
                        throw fail("\(c) needs the active mass, but [cell] active_mass_mg = 0")
                    }
                case .amperes: break
                }
                if let maxmA = limits.currentMaxMilliamps,
                   let n = c.cRate(practicalCapacityMilliampHoursPerGram: cell.practicalCapacityMilliampHoursPerGram,
                                   activeMassGrams: cell.activeMassMilligrams.map { $0 * 1e-3 }),
                   let oneC = cell.oneCAmps, n * oneC * 1000 > maxmA * (1 + 1e-12) {
                    throw fail("\(c) is \(n * oneC * 1000) mA, above current_max_mA = \(maxmA) in [limits]")
                }
            }
        }
    }
}

/// Line lookup in TOML text, so errors can name the line of a key (TOMLKit gives positions only for
/// syntax errors).
struct SourceLines {
    let lines: [String]
    let path: String

    init(text: String, path: String) {
        lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        self.path = path
    }

    func line(_ n: Int?) -> String {
        guard let n, n >= 1, n <= lines.count else { return "" }
        return lines[n - 1].trimmingCharacters(in: .whitespaces)
    }

    private func header(_ s: String) -> String? {
        let t = s.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("[[") { return String(t.dropFirst(2).prefix { $0 != "]" }).trimmingCharacters(in: .whitespaces) }
        if t.hasPrefix("[") { return String(t.dropFirst().prefix { $0 != "]" }).trimmingCharacters(in: .whitespaces) }
        return nil
    }

    private func isKey(_ s: String, _ key: String) -> Bool {
        let t = s.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix(key) else { return false }
        let rest = t.dropFirst(key.count).trimmingCharacters(in: .whitespaces)
        return rest.hasPrefix("=")
    }

    /// 1-based line of `key` inside `[table]` (or at top level when nil, or the header `[key]`).
    func keyLine(_ key: String, table: String?) -> Int? {
        var current: String? = nil
        for (i, l) in lines.enumerated() {
            if let h = header(l) {
                current = h
                if table == nil, h == key { return i + 1 }
                continue
            }
            if current == table, isKey(l, key) { return i + 1 }
        }
        return nil
    }

    /// 1-based line of `key` in the table whose header is on line `start` (1-based).
    func keyLine(_ key: String, after start: Int?) -> Int? {
        guard let start else { return nil }
        var i = start   // 0-based index of the line after the header
        while i < lines.count {
            if header(lines[i]) != nil { return nil }
            if isKey(lines[i], key) { return i + 1 }
            i += 1
        }
        return nil
    }

    /// 1-based line holding `needle` in the table whose header is on line `start`.
    func lineContaining(_ needle: String, after start: Int?) -> Int? {
        guard let start else { return nil }
        var i = start
        while i < lines.count {
            if header(lines[i]) != nil { return nil }
            if lines[i].contains(needle) { return i + 1 }
            i += 1
        }
        return nil
    }

    /// 1-based line of the `occurrence`-th (0-based) `[[name]]` header.
    func arrayTableLine(name: String, occurrence: Int) -> Int? {
        var seen = 0
        for (i, l) in lines.enumerated() {
            let t = l.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("[["), header(t) == name {
                if seen == occurrence { return i + 1 }
                seen += 1
            }
        }
        return nil
    }

    func error(key: String, table: String?, problem: String) -> ProtocolError {
        let l = keyLine(key, table: table)
        return ProtocolError(location: SourceLocation(file: path, line: l), text: line(l), problem: problem)
    }
}
