import Foundation
import ConfigFile

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

/// Follow mode's `[follow]` table (docs/follow.md): when a followed run ends. Every bound is optional;
/// the first one reached ends the run (a signal ends it too).
public struct FollowSettings: Sendable, Equatable {
    /// Run time after which the run ends, s (from the run's start).
    public var durationSeconds: Double?
    /// The run ends `tailSeconds` after this many edges on the trigger input.
    public var edgeCount: Int?
    /// Imaging goes on this long after the last counted edge or the protocol's own total, s.
    public var tailSeconds: Double = 0
    public init() {}
}

/// What a protocol is loaded for: a run operando commands, or one it follows (the instrument's own
/// software runs the cell; `[[steps]]` are optional and `[follow]` is read).
public enum ProtocolPurpose: Sendable, Equatable {
    case commanded
    case followed
}

/// A protocol file (docs/interfaces.md): cell, limits, imaging and steps with repeats.
public struct ProtocolFile: Sendable, Equatable {
    public var path: String
    public var text: String
    public var cell = CellSettings()
    public var limits = SafetyLimits()
    public var imaging = ImagingSettings()
    public var entries: [ProtocolEntry] = []
    /// `[follow]` (follow mode only; nil otherwise).
    public var follow: FollowSettings?

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

    /// Reads and validates a protocol file (refusing NUL bytes, non-UTF-8 text, directories, FIFOs and
    /// files over `ConfigFile.maximumBytes` with a plain message).
    /// `purpose: .followed` (follow mode) makes `[[steps]]` optional and reads `[follow]`.
    public static func load(path: String, purpose: ProtocolPurpose = .commanded) throws -> ProtocolFile {
        let file: ConfigFile
        do { file = try ConfigFile.load(path: path) } catch let e as ConfigError {
            throw ProtocolError(e, source: nil)
        }
        return try parse(file: file, purpose: purpose)
    }

    /// Parses and validates protocol text; `path` names it in errors.
    public static func parse(text: String, path: String, purpose: ProtocolPurpose = .commanded) throws -> ProtocolFile {
        let file: ConfigFile
        do { file = try ConfigFile.parse(text: text, path: path) } catch let e as ConfigError {
            throw ProtocolError(e, source: nil)
        }
        return try parse(file: file, purpose: purpose)
    }

    /// Physical ranges of the protocol's settings (docs/protocol.md "Ranges").
    public enum Ranges {
        public static let activeMassMilligrams = NumberRange(0...10_000)
        public static let practicalCapacityMilliampHoursPerGram = NumberRange.positive(upTo: 1000)
        public static let sampleIntervalSeconds = NumberRange(0.001...3600)
        public static let limitVolts = NumberRange.positive(upTo: 10)
        public static let currentMaxMilliamps = NumberRange.positive(upTo: 10_000)
        public static let frameRateHz = NumberRange(0.001...1000)
        public static let exposureMilliseconds = NumberRange.positive(upTo: 10_000)
        public static let ledMarginMilliseconds = NumberRange(0...1000)
        public static let bin = 1...10_000
        public static let repeatCount = 1...10_000
        /// Most steps a protocol may plan with its repeats unrolled.
        public static let maximumPlannedSteps = 100_000
        /// `[follow] duration_s`: up to a year of run time.
        public static let followSeconds = NumberRange.positive(upTo: 3.2e7)
    }

    /// Validates an already parsed configuration file as a protocol.
    public static func parse(file: ConfigFile, purpose: ProtocolPurpose = .commanded) throws -> ProtocolFile {
        do { return try parseChecked(file: file, purpose: purpose) } catch let e as ConfigError {
            throw ProtocolError(e, source: file)
        }
    }

    private static func parseChecked(file: ConfigFile, purpose: ProtocolPurpose) throws -> ProtocolFile {
        let path = file.path
        let root = file.root
        func at(_ line: Int?) -> SourceLocation { SourceLocation(file: path, line: line) }
        var p = ProtocolFile(steps: [], path: path)
        p.text = file.text
        try root.checkKeys(allowed: ["cell", "limits", "imaging", "steps", "follow"])
        if let t = try root.table("follow") {
            guard purpose == .followed else {
                throw t.error(nil, "[follow] is for follow mode (a rig file with [potentiostat] backend = \"follow\"); remove it to command the run")
            }
            try t.checkKeys(allowed: ["duration_s", "edges", "tail_s"])
            var f = FollowSettings()
            f.durationSeconds = try t.number("duration_s", unit: "s", range: Ranges.followSeconds)
            f.edgeCount = try t.integer("edges", range: 1...1_000_000)
            f.tailSeconds = try t.number("tail_s", unit: "s", range: NumberRange(0...3.2e7), default: 0)
            p.follow = f
        } else if purpose == .followed {
            p.follow = FollowSettings()
        }
        if let t = try root.table("cell") {
            try t.checkKeys(allowed: ["active_mass_mg", "practical_capacity_mAh_per_g", "sample_interval_s"])
            p.cell.activeMassMilligrams = try t.number("active_mass_mg", unit: "mg", range: Ranges.activeMassMilligrams)
            p.cell.practicalCapacityMilliampHoursPerGram = try t.number(
                "practical_capacity_mAh_per_g", unit: "mAh/g", range: Ranges.practicalCapacityMilliampHoursPerGram,
                default: p.cell.practicalCapacityMilliampHoursPerGram)
            p.cell.sampleIntervalSeconds = try t.number("sample_interval_s", unit: "s", range: Ranges.sampleIntervalSeconds,
                                                        default: p.cell.sampleIntervalSeconds)
        }
        if let t = try root.table("limits") {
            try t.checkKeys(allowed: ["voltage_min_V", "voltage_max_V", "current_max_mA"])
            p.limits.voltageMinVolts = try t.number("voltage_min_V", unit: "V", range: Ranges.limitVolts)
            p.limits.voltageMaxVolts = try t.number("voltage_max_V", unit: "V", range: Ranges.limitVolts)
            p.limits.currentMaxMilliamps = try t.number("current_max_mA", unit: "mA", range: Ranges.currentMaxMilliamps)
            if let lo = p.limits.voltageMinVolts, let hi = p.limits.voltageMaxVolts, lo >= hi {
                throw t.error("voltage_min_V", "voltage_min_V = \(fmt(lo)) must be below voltage_max_V = \(fmt(hi))")
            }
        }
        if let t = try root.table("imaging") {
            try t.checkKeys(allowed: ["frame_rate_Hz", "exposure_ms", "bin", "led_lead_ms", "led_tail_ms"])
            var m = p.imaging
            m.frameRateHz = try t.number("frame_rate_Hz", unit: "Hz", range: Ranges.frameRateHz, default: m.frameRateHz)
            m.exposureMilliseconds = try t.number("exposure_ms", unit: "ms", range: Ranges.exposureMilliseconds, default: m.exposureMilliseconds)
            m.ledLeadMilliseconds = try t.number("led_lead_ms", unit: "ms", range: Ranges.ledMarginMilliseconds, default: m.ledLeadMilliseconds)
            m.ledTailMilliseconds = try t.number("led_tail_ms", unit: "ms", range: Ranges.ledMarginMilliseconds, default: m.ledTailMilliseconds)
            m.bin = try t.integer("bin", range: Ranges.bin, default: m.bin)
            p.imaging = m
            let period = 1000 / m.frameRateHz
            if m.exposureMilliseconds >= period {
                throw t.error(t.contains("exposure_ms") ? "exposure_ms" : "frame_rate_Hz",
                              "exposure \(fmt(m.exposureMilliseconds)) ms is not shorter than the frame period \(fmt(period)) ms (frame_rate_Hz = \(fmt(m.frameRateHz)))")
            }
            let window = m.ledLeadMilliseconds + m.exposureMilliseconds + m.ledTailMilliseconds
            if window >= period {
                throw t.error(t.contains("led_lead_ms") ? "led_lead_ms" : (t.contains("led_tail_ms") ? "led_tail_ms" : "exposure_ms"),
                              "LED lead + exposure + tail = \(fmt(window)) ms does not fit in the frame period \(fmt(period)) ms")
            }
        }
        // Steps (optional in follow mode: the instrument's software runs them).
        if purpose == .followed && !root.contains("steps") {
            try file.finish()
            return p
        }
        guard root.contains("steps") else {
            throw ProtocolError(location: SourceLocation(file: path), text: "", problem: "no [[steps]]: a protocol needs at least one step")
        }
        guard let entries = try? root.tables("steps") else {
            throw root.error("steps", "steps must be an array of tables [[steps]]", kind: .wrongType)
        }
        var planned = 0
        for t in entries {
            let headerAt = at(t.line)
            try t.checkKeys(allowed: ["do", "repeat", "until"])
            guard t.contains("do") else {
                throw ProtocolError(location: headerAt, text: file.sourceLine(t.line),
                                    problem: "[[steps]] entry without \"do\": expected do = \"STEP\" or do = [\"STEP\", …] with repeat")
            }
            let doLine = t.line(of: "do")
            if t.contains("repeat") {
                let times = try t.integer("repeat", range: Ranges.repeatCount)!
                guard let list = try? t.array("do"), !list.isEmpty else {
                    throw ProtocolError(location: at(doLine), text: file.sourceLine(doLine),
                                        problem: "a repeat's do must be a non-empty array of step strings")
                }
                var steps: [Step] = []
                for (j, item) in list.enumerated() {
                    guard case .string(let str) = item.value else {
                        throw ProtocolError(location: at(item.line), text: file.sourceLine(item.line),
                                            problem: "item \(j + 1) of do is not a string")
                    }
                    steps.append(try StepParser.parse(str, location: at(item.line)))
                }
                var until: EndCondition? = nil
                if t.contains("until") {
                    let ul = t.line(of: "until")
                    guard let us = try? t.string("until") else {
                        throw ProtocolError(location: at(ul), text: file.sourceLine(ul), problem: "until must be a string such as \"4.3 V\"")
                    }
                    // Parse "until X" through a probe step so units, ranges and messages are shared.
                    let probe = try StepParser.parse("Charge at 1C until \(us)", location: at(ul))
                    until = probe.endConditions.first
                }
                planned += times * steps.count
                if planned > Ranges.maximumPlannedSteps {
                    throw ProtocolError(location: at(t.line(of: "repeat")), text: file.sourceLine(t.line(of: "repeat")),
                                        problem: "the protocol plans more than \(Ranges.maximumPlannedSteps) steps with its repeats unrolled; use fewer repeats")
                }
                p.entries.append(.repeated(times: times, until: until, steps: steps, location: headerAt))
            } else {
                if t.contains("until") {
                    let ul = t.line(of: "until")
                    throw ProtocolError(location: at(ul), text: file.sourceLine(ul),
                                        problem: "until belongs to a repeat; put the end condition in the step string (\"… until 4.3 V\")")
                }
                guard case .string(let str)? = t.node("do")?.value else {
                    throw ProtocolError(location: at(doLine), text: file.sourceLine(doLine),
                                        problem: "do must be a step string (an array of steps needs repeat = N)")
                }
                planned += 1
                if planned > Ranges.maximumPlannedSteps {
                    throw ProtocolError(location: at(doLine), text: file.sourceLine(doLine),
                                        problem: "the protocol plans more than \(Ranges.maximumPlannedSteps) steps")
                }
                p.entries.append(.step(try StepParser.parse(str, location: at(doLine))))
            }
        }
        if p.entries.isEmpty {
            throw ProtocolError(location: SourceLocation(file: path), text: "", problem: "no [[steps]]: a protocol needs at least one step")
        }
        try file.finish()
        try p.validateAgainstLimits()
        return p
    }

    /// Each distinct step once (repeats not unrolled), for checks that do not depend on the order.
    public var distinctSteps: [Step] {
        entries.flatMap { e -> [Step] in
            switch e {
            case .step(let s): return [s]
            case .repeated(_, _, let steps, _): return steps
            }
        }
    }

    /// Steps that contradict the limits or need a mass the cell lacks.
    public func validateAgainstLimits() throws {
        for step in distinctSteps {
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

