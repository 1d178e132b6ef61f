import Electrochemistry

/// Runs a protocol's steps on a potentiostat: applies each step's mode, checks its end conditions and
/// the hard `[limits]` at every sample, and integrates capacity. The limits are checked independently
/// of the steps: a trip puts the cell at open circuit and ends the run.
public final class Sequencer {
    public let protocolFile: ProtocolFile
    public let potentiostat: Potentiostat
    public let planned: [(step: Step, repeatUntil: EndCondition?, block: Int?)]
    public private(set) var index = 0
    public private(set) var finished = false
    public private(set) var endReason = ""
    public private(set) var capacityMilliampHoursPerGram = 0.0
    private var stepStartSeconds = 0.0
    private var lastSample: (t: Double, v: Double, i: Double)?
    private var slopeWindow: [(t: Double, v: Double)] = []
    private var complianceReported = false
    let oneCAmps: Double?
    let massGrams: Double?

    public init(protocolFile: ProtocolFile, potentiostat: Potentiostat) throws {
        self.protocolFile = protocolFile
        self.potentiostat = potentiostat
        planned = protocolFile.plannedSteps
        oneCAmps = protocolFile.cell.oneCAmps
        massGrams = protocolFile.cell.activeMassMilligrams.map { $0 * 1e-3 }
        for (s, _, _) in planned {
            // Every current must be convertible to amperes before anything moves.
            if case .charge(let c) = s.kind { _ = try amps(c, s) }
            if case .discharge(let c) = s.kind { _ = try amps(c, s) }
        }
    }

    func amps(_ c: CurrentSetpoint, _ s: Step) throws -> Double {
        if case .amperes(let a) = c { return a }
        guard let oneC = oneCAmps, oneC > 0 else {
            throw ProtocolError(location: s.location, text: s.text,
                                problem: "\(c) needs the active mass to become a current: set [cell] active_mass_mg")
        }
        let n = c.cRate(practicalCapacityMilliampHoursPerGram: protocolFile.cell.practicalCapacityMilliampHoursPerGram,
                        activeMassGrams: massGrams)!
        return n * oneC
    }

    /// The current step (valid until finished).
    public var current: Step { planned[min(index, planned.count - 1)].step }

    var complianceWindow: ClosedRange<Double> {
        (protocolFile.limits.voltageMinVolts ?? 0)...(protocolFile.limits.voltageMaxVolts ?? 5)
    }

    private func apply(_ step: Step) throws {
        switch step.kind {
        case .charge(let c):
            try potentiostat.apply(.constantCurrent(amps: try amps(c, step), voltageComplianceVolts: complianceWindow))
        case .discharge(let c):
            try potentiostat.apply(.constantCurrent(amps: -(try amps(c, step)), voltageComplianceVolts: complianceWindow))
        case .hold(let v):
            let limit = protocolFile.limits.currentMaxMilliamps.map { $0 * 1e-3 } ?? (oneCAmps.map { 5 * $0 } ?? 0.1)
            try potentiostat.apply(.constantVoltage(volts: v, currentComplianceAmps: limit))
        case .rest:
            try potentiostat.apply(.openCircuit)
        }
    }

    /// Applies the first step.
    public func start(atSeconds t: Double) throws -> [RunEvent] {
        stepStartSeconds = t
        try apply(planned[0].step)
        return [.stepStarted(index: 0, text: planned[0].step.text)]
    }

    /// Puts the cell at open circuit (safe state); errors are reported, not thrown.
    public func safeStop() -> RunEvent? {
        do { try potentiostat.apply(.openCircuit); return nil } catch {
            return .fault(device: potentiostat.name, message: "could not set open circuit: \(error)")
        }
    }

    private func met(_ e: EndCondition, step: Step, t: Double, v: Double, i: Double) throws -> Bool {
        switch e {
        case .duration(let s): return t - stepStartSeconds >= s - 1e-9
        case .voltage(let target):
            switch step.kind {
            case .charge: return v >= target
            case .discharge: return v <= target
            default: return false
            }
        case .current(let c):
            let limit = try amps(c, step)
            return t > stepStartSeconds && abs(i) <= limit
        case .voltageSlope(let rate):
            guard let first = slopeWindow.first, t - first.t >= 60 else { return false }
            return abs(v - first.v) / (t - first.t) <= rate
        }
    }

    /// Handles one sample at run time `t` (s): limits, end conditions, step advance.
    public func onSample(_ s: ElectrochemSample, runSeconds t: Double) throws -> [RunEvent] {
        guard !finished else { return [] }
        var events: [RunEvent] = []
        let v = s.voltageVolts, i = s.currentAmps
        if let last = lastSample, let m = massGrams, m > 0 {
            capacityMilliampHoursPerGram += 0.5 * (last.i + i) * (t - last.t) / 3.6 / m
        }
        lastSample = (t, v, i)
        slopeWindow.append((t, v))
        while let f = slopeWindow.first, t - f.t > 120 { slopeWindow.removeFirst() }
        // Hard limits first, independent of the step.
        let lim = protocolFile.limits
        var trip: (String, Double)? = nil
        if let lo = lim.voltageMinVolts, v < lo { trip = ("voltage_min_V", v) }
        if let hi = lim.voltageMaxVolts, v > hi { trip = ("voltage_max_V", v) }
        if let imax = lim.currentMaxMilliamps, abs(i) * 1e3 > imax { trip = ("current_max_mA", i * 1e3) }
        if let (name, value) = trip {
            events.append(.limitTripped(limit: name, value: value))
            if let e = safeStop() { events.append(e) }
            finished = true
            endReason = "limit \(name) tripped at \(value)"
            return events
        }
        if s.inCompliance && !complianceReported {
            complianceReported = true
            events.append(.compliance(step: index, text: current.text))
        }
        let entry = planned[index]
        var reason: String? = nil
        for e in entry.step.endConditions where try met(e, step: entry.step, t: t, v: v, i: i) {
            reason = "\(e)"
            break
        }
        var skipBlock = false
        if let until = entry.repeatUntil, try met(until, step: entry.step, t: t, v: v, i: i) {
            reason = "repeat until \(until)"
            skipBlock = true
        }
        guard let why = reason else { return events }
        events.append(.stepEnded(index: index, text: entry.step.text, reason: why))
        var next = index + 1
        if skipBlock, let block = entry.block {
            while next < planned.count, planned[next].block == block { next += 1 }
            events.append(.repeatEnded(block: block, reason: why))
        }
        if next >= planned.count {
            finished = true
            endReason = "protocol complete"
            if let e = safeStop() { events.append(e) }
            return events
        }
        index = next
        stepStartSeconds = t
        complianceReported = false
        slopeWindow.removeAll()
        try apply(planned[index].step)
        events.append(.stepStarted(index: index, text: planned[index].step.text))
        return events
    }
}
