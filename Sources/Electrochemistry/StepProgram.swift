/// A compiled step program: the one meaning of a protocol step, used by the rig's sequencer and the
/// particle model alike (PyBaMM's idea: each termination owns its meaning and evaluates itself).
/// Currents are resolved once for a given cell; end conditions evaluate themselves against a
/// `StepState`; the voltage-slope end keeps its own window of samples (`EndTracker`).

/// What the currents of a program are resolved to.
public enum CurrentResolution: Sendable, Equatable {
    /// Amperes for a rig: C-rates and mA/g need the active mass.
    case amperes
    /// C-rates for a model of the material: absolute currents need the active mass.
    case cRate
}

/// A current resolved for one cell; one or both of amperes and C-rate are known.
public struct ResolvedCurrent: Sendable, Equatable, CustomStringConvertible {
    /// Magnitude in amperes, when the cell's mass is known or the current was given in amperes.
    public var amps: Double?
    /// Magnitude as a C-rate (h⁻¹), when known.
    public var cRate: Double?
    /// As written.
    public var setpoint: CurrentSetpoint

    public var description: String { setpoint.description }
}

/// What a step applies to the cell.
public enum CompiledSetpoint: Sendable, Equatable {
    /// Constant current; `sign` is +1 for charge (delithiation), −1 for discharge.
    case current(ResolvedCurrent, sign: Double)
    /// Constant voltage, V.
    case voltage(Double)
    /// Open circuit.
    case openCircuit
}

/// What the end conditions read: the state of the cell at one instant of a step.
public struct StepState: Sendable, Equatable {
    /// Time since the step started, s.
    public var secondsInStep: Double
    /// Cell voltage, V.
    public var voltageVolts: Double
    /// Signed current, A (nil for a model that knows only the C-rate).
    public var currentAmps: Double?
    /// |current| as a C-rate (nil when the cell's mass is unknown).
    public var cRate: Double?
    /// Charge passed in this step, mAh/g (magnitude; nil when unknown).
    public var stepCapacityMilliampHoursPerGram: Double?

    public init(secondsInStep: Double, voltageVolts: Double, currentAmps: Double? = nil, cRate: Double? = nil,
                stepCapacityMilliampHoursPerGram: Double? = nil) {
        self.secondsInStep = secondsInStep
        self.voltageVolts = voltageVolts
        self.currentAmps = currentAmps
        self.cRate = cRate
        self.stepCapacityMilliampHoursPerGram = stepCapacityMilliampHoursPerGram
    }
}

/// One end condition, resolved for the cell and the step's direction.
public enum CompiledEnd: Sendable, Equatable, CustomStringConvertible {
    /// After this long in the step.
    case duration(seconds: Double)
    /// When the voltage rises to at least this (charge steps).
    case voltageAtLeast(volts: Double)
    /// When the voltage falls to at most this (discharge steps).
    case voltageAtMost(volts: Double)
    /// When |current| falls to this (holds).
    case currentAtMost(ResolvedCurrent)
    /// When the charge passed in the step reaches this, mAh/g.
    case capacityAtLeast(milliampHoursPerGram: Double)
    /// When |dV/dt|, fitted over `StepProgram.slopeWindowSeconds`, falls to this (rests).
    case slopeAtMost(voltsPerSecond: Double)
    /// The implicit bound of a step that could otherwise end only on a current or a slope.
    case timeBound(seconds: Double)

    /// Instantaneous conditions: is it met at `s`? (The slope needs a window: see `EndTracker`.)
    public func isMet(_ s: StepState) -> Bool {
        switch self {
        case .duration(let d), .timeBound(let d): return s.secondsInStep >= d - 1e-9
        case .voltageAtLeast(let v): return s.voltageVolts >= v
        case .voltageAtMost(let v): return s.voltageVolts <= v
        case .currentAtMost(let c):
            guard s.secondsInStep > 0, let (value, limit) = currentMeasure(c, s) else { return false }
            return value <= limit
        case .capacityAtLeast(let q):
            guard let have = s.stepCapacityMilliampHoursPerGram else { return false }
            return have >= q
        case .slopeAtMost: return false
        }
    }

    /// The measured quantity and its target, for landing on a crossing (nil for time and slope ends).
    public func measure(_ s: StepState) -> (value: Double, target: Double)? {
        switch self {
        case .voltageAtLeast(let v), .voltageAtMost(let v): return (s.voltageVolts, v)
        case .currentAtMost(let c): return currentMeasure(c, s)
        case .capacityAtLeast(let q): return s.stepCapacityMilliampHoursPerGram.map { ($0, q) }
        default: return nil
        }
    }

    private func currentMeasure(_ c: ResolvedCurrent, _ s: StepState) -> (Double, Double)? {
        if let limit = c.amps, let i = s.currentAmps { return (abs(i), limit) }
        if let limit = c.cRate, let n = s.cRate { return (n, limit) }
        return nil
    }

    /// As the step language writes it (`until 4.3 V`, `for 1200 s`), used as the end reason.
    public var description: String {
        switch self {
        case .duration(let s): return EndCondition.duration(seconds: s).description
        case .voltageAtLeast(let v), .voltageAtMost(let v): return EndCondition.voltage(volts: v).description
        case .currentAtMost(let c): return "until \(c.setpoint)"
        case .capacityAtLeast(let q): return EndCondition.capacity(milliampHoursPerGram: q).description
        case .slopeAtMost(let r): return EndCondition.voltageSlope(voltsPerSecond: r).description
        case .timeBound(let s): return "time bound \(fmt(s / 3600)) h (the step could end only on a current or a slope)"
        }
    }
}

/// One step of a program.
public struct CompiledStep: Sendable, Equatable {
    /// Position in the program (repeats unrolled).
    public var index: Int
    /// The step as parsed.
    public var step: Step
    public var setpoint: CompiledSetpoint
    /// Any one ends the step.
    public var ends: [CompiledEnd]
    /// The enclosing repeat's end condition, resolved for this step (nil if none or not applicable).
    public var repeatUntil: CompiledEnd?
    /// Index of the protocol entry of the enclosing repeat, if any.
    public var block: Int?

    /// The step's longest possible duration, s (its duration or time bound), if it has one.
    public var maximumSeconds: Double? {
        ends.compactMap { if case .duration(let s) = $0 { return s }; if case .timeBound(let s) = $0 { return s }; return nil }.min()
    }
}

/// A protocol's steps resolved for one cell.
public struct StepProgram: Sendable, Equatable {
    /// Window of the least-squares voltage slope of `until X mV/h` ends, s. Long enough that 0.2 mV of
    /// sample noise at 1 s gives a slope error near 0.2 mV/h, so `until 1 mV/h` is not ended by noise.
    public static let slopeWindowSeconds = 600.0
    /// Bound of a step that could otherwise end only on a current or a slope (a CV hold that never
    /// decays, a rest that never settles), s.
    public static let implicitTimeBoundSeconds = 24 * 3600.0

    public var steps: [CompiledStep]
    /// The cell it was compiled for.
    public var cell: CellSettings
    public var resolution: CurrentResolution

    /// Compiles a protocol file's planned steps (repeats unrolled) for its own `[cell]`.
    public static func compile(_ p: ProtocolFile, resolution: CurrentResolution) throws -> StepProgram {
        try compile(planned: p.plannedSteps, cell: p.cell, resolution: resolution)
    }

    /// Compiles plain steps for a cell.
    public static func compile(steps: [Step], cell: CellSettings, resolution: CurrentResolution) throws -> StepProgram {
        try compile(planned: steps.map { ($0, nil, nil) }, cell: cell, resolution: resolution)
    }

    /// Compiles planned steps (as `ProtocolFile.plannedSteps` gives them) for a cell.
    /// - Throws: `ProtocolError` naming the step when a current cannot be resolved (the active mass is
    ///   missing) or when it resolves to a value outside the ranges of docs/protocol.md.
    public static func compile(planned: [(step: Step, repeatUntil: EndCondition?, block: Int?)], cell: CellSettings,
                               resolution: CurrentResolution) throws -> StepProgram {
        var out: [CompiledStep] = []
        out.reserveCapacity(planned.count)
        for (k, entry) in planned.enumerated() {
            let s = entry.step
            let compiled = (try setpoint(s, cell, resolution), try ends(s, cell, resolution))
            var until: CompiledEnd? = nil
            if let u = entry.repeatUntil { until = try end(u, for: s, cell, resolution) }
            out.append(CompiledStep(index: k, step: s, setpoint: compiled.0, ends: compiled.1, repeatUntil: until, block: entry.block))
        }
        return StepProgram(steps: out, cell: cell, resolution: resolution)
    }

    static func resolve(_ c: CurrentSetpoint, _ s: Step, _ cell: CellSettings, _ r: CurrentResolution) throws -> ResolvedCurrent {
        let q = cell.practicalCapacityMilliampHoursPerGram
        let massGrams = cell.activeMassMilligrams.flatMap { $0 > 0 ? $0 * 1e-3 : nil }
        func fail(_ problem: String) -> ProtocolError { ProtocolError(location: s.location, text: s.text, problem: problem) }
        var out = ResolvedCurrent(amps: nil, cRate: nil, setpoint: c)
        switch c {
        case .cRate(let n):
            out.cRate = n
            out.amps = massGrams.map { n * $0 * q * 1e-3 }
        case .milliampsPerGram(let i):
            out.cRate = i / q
            out.amps = massGrams.map { i * 1e-3 * $0 }
        case .amperes(let a):
            out.amps = a
            out.cRate = massGrams.map { a * 1000 / (q * $0) }
        }
        switch r {
        case .amperes where massGrams == nil:
            // Even an absolute current needs the mass on a rig: capacity (mAh/g) and the cell's C-rate
            // depend on it, and a simulated cell would otherwise have to guess its size.
            throw fail("\(c) needs the cell's active mass (capacity in mAh/g and the C-rate depend on it): set [cell] active_mass_mg")
        case .amperes where out.amps == nil:
            throw fail("\(c) needs the cell's active mass to become a current: set [cell] active_mass_mg")
        case .cRate where out.cRate == nil:
            throw fail("\(c) is an absolute current: the model needs the cell's active mass to turn it into a C-rate (set [cell] active_mass_mg, or --cell-mass)")
        default: break
        }
        if let n = out.cRate, !(n <= StepParser.Ranges.maximumCRate) {
            throw fail("\(c) is \(fmt(n))C for this cell (\(cell.activeMassMilligrams.map { fmt($0) } ?? "?") mg at \(fmt(q)) mAh/g); expected at most \(fmt(StepParser.Ranges.maximumCRate))C")
        }
        return out
    }

    static func setpoint(_ s: Step, _ cell: CellSettings, _ r: CurrentResolution) throws -> CompiledSetpoint {
        switch s.kind {
        case .charge(let c): return .current(try resolve(c, s, cell, r), sign: 1)
        case .discharge(let c): return .current(try resolve(c, s, cell, r), sign: -1)
        case .hold(let v): return .voltage(v)
        case .rest: return .openCircuit
        }
    }

    static func end(_ e: EndCondition, for s: Step, _ cell: CellSettings, _ r: CurrentResolution) throws -> CompiledEnd? {
        switch e {
        case .duration(let d): return .duration(seconds: d)
        case .voltage(let v):
            switch s.kind {
            case .charge: return .voltageAtLeast(volts: v)
            case .discharge: return .voltageAtMost(volts: v)
            default: return nil   // a repeat's voltage end does not apply to its holds and rests
            }
        case .current(let c): return .currentAtMost(try resolve(c, s, cell, r))
        case .voltageSlope(let rate): return .slopeAtMost(voltsPerSecond: rate)
        case .capacity(let q):
            switch s.kind {
            case .charge, .discharge: return .capacityAtLeast(milliampHoursPerGram: q)
            default: return nil
            }
        }
    }

    static func ends(_ s: Step, _ cell: CellSettings, _ r: CurrentResolution) throws -> [CompiledEnd] {
        var out = try s.endConditions.compactMap { try end($0, for: s, cell, r) }
        let bounded = out.contains { e in
            switch e {
            case .duration, .voltageAtLeast, .voltageAtMost, .capacityAtLeast: return true
            default: return false
            }
        }
        if !bounded { out.append(.timeBound(seconds: implicitTimeBoundSeconds)) }
        return out
    }

    /// The longest the program can run, s (each step's duration or bound; nil if a step has neither).
    public var maximumSeconds: Double? {
        var total = 0.0
        for s in steps { guard let m = s.maximumSeconds else { return nil }; total += m }
        return total
    }
}

/// Evaluates one running step's end conditions sample by sample, keeping the window of the slope
/// end. The rig feeds it every potentiostat sample; the model feeds it the same sampling grid (its
/// voltage interpolated between solver steps), so both end a rest at the same sample.
public struct EndTracker: Sendable {
    public let step: CompiledStep
    private var times: [Double] = []
    private var volts: [Double] = []
    private var head = 0

    public init(step: CompiledStep) {
        self.step = step
        times.reserveCapacity(1024)
        volts.reserveCapacity(1024)
    }

    /// Whether the step (or its repeat) needs the sample history (it has a slope end).
    public var needsHistory: Bool {
        step.ends.contains { if case .slopeAtMost = $0 { return true }; return false }
            || { if case .slopeAtMost? = step.repeatUntil { return true }; return false }()
    }

    /// Least-squares |dV/dt| over the last `StepProgram.slopeWindowSeconds`, V/s; nil until the step
    /// has run for a whole window.
    public var slopeVoltsPerSecond: Double? {
        let n = times.count - head
        guard n >= 3, let last = times.last, last >= StepProgram.slopeWindowSeconds - 1e-9 else { return nil }
        var st = 0.0, sv = 0.0
        for k in head..<times.count { st += times[k]; sv += volts[k] }
        let mt = st / Double(n), mv = sv / Double(n)
        var stt = 0.0, stv = 0.0
        for k in head..<times.count {
            let dt = times[k] - mt
            stt += dt * dt
            stv += dt * (volts[k] - mv)
        }
        guard stt > 0 else { return nil }
        return abs(stv / stt)
    }

    /// Takes one sample; returns the end that is met (step ends first, then the repeat's), or nil.
    public mutating func observe(_ s: StepState) -> (end: CompiledEnd, fromRepeat: Bool)? {
        if needsHistory {
            times.append(s.secondsInStep)
            volts.append(s.voltageVolts)
            while head < times.count, times[head] < s.secondsInStep - StepProgram.slopeWindowSeconds - 1e-9 { head += 1 }
            if head > 4096 {
                times.removeFirst(head)
                volts.removeFirst(head)
                head = 0
            }
        }
        var slope: Double?? = .none
        func met(_ e: CompiledEnd) -> Bool {
            if case .slopeAtMost(let r) = e {
                if slope == nil { slope = .some(slopeVoltsPerSecond) }
                guard let value = slope!, value.isFinite else { return false }
                return value <= r
            }
            return e.isMet(s)
        }
        for e in step.ends where met(e) { return (e, false) }
        if let u = step.repeatUntil, met(u) { return (u, true) }
        return nil
    }
}
