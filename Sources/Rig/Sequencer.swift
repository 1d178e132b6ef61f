import Dataset
import Electrochemistry

/// Runs a protocol's steps on a potentiostat: applies each step's mode, checks its end conditions and
/// the hard `[limits]` at every sample, and integrates capacity. The steps' meaning is the compiled
/// `StepProgram` of Electrochemistry (the same the particle model runs), resolved here to amperes.
/// The limits are checked independently of the steps: a trip puts the cell at open circuit and ends
/// the run; `limitTrip` then says what tripped, so the engine can record the safe state.
public final class Sequencer {
    /// A hard limit that ended the run.
    public struct LimitTrip: Sendable, Equatable {
        /// The `[limits]` key (`voltage_max_V`, `voltage_min_V`, `current_max_mA`).
        public var limit: String
        /// The measured value that tripped it (V or mA).
        public var value: Double
        /// Run time of the tripping sample, s.
        public var runSeconds: Double
        /// True when the potentiostat accepted open circuit after the trip (the cell is safe).
        public var openCircuitApplied: Bool
    }

    public let protocolFile: ProtocolFile
    public let potentiostat: Potentiostat
    /// The compiled program (currents in amperes for this protocol's cell).
    public let program: StepProgram
    public let planned: [(step: Step, repeatUntil: EndCondition?, block: Int?)]
    public private(set) var index = 0
    public private(set) var finished = false
    public private(set) var endReason = ""
    public private(set) var capacityMilliampHoursPerGram = 0.0
    /// Charge passed in the current step, mAh/g (magnitude).
    public private(set) var stepCapacityMilliampHoursPerGram = 0.0
    /// Per-half-cycle capacities and the cycle number (echem.csv's `cycle`,
    /// `charge_capacity_mAh_per_g`, `discharge_capacity_mAh_per_g`; `HalfCycleCapacity` defines them).
    public private(set) var halfCycle = HalfCycleCapacity()
    /// Set when a hard limit ended the run; the engine records an open-circuit sample after it.
    public private(set) var limitTrip: LimitTrip?
    /// Run time at which the current step started, s.
    public private(set) var stepStartSeconds = 0.0
    private var lastSample: (t: Double, v: Double, i: Double)?
    private var lastSampleStep = 0
    private var tracker: EndTracker
    private var complianceReported = false
    let oneCAmps: Double?
    let massGrams: Double?

    /// Compiles the protocol for its cell; every current must become amperes before anything moves.
    /// - Throws: `ProtocolError` naming the step whose current needs a mass the cell lacks.
    public init(protocolFile: ProtocolFile, potentiostat: Potentiostat) throws {
        self.protocolFile = protocolFile
        self.potentiostat = potentiostat
        planned = protocolFile.plannedSteps
        program = try StepProgram.compile(planned: planned, cell: protocolFile.cell, resolution: .amperes)
        oneCAmps = protocolFile.cell.oneCAmps
        massGrams = protocolFile.cell.activeMassMilligrams.flatMap { $0 > 0 ? $0 * 1e-3 : nil }
        guard let first = program.steps.first else {
            throw ProtocolError(location: SourceLocation(file: protocolFile.path), text: protocolFile.path, problem: "no steps to run")
        }
        tracker = EndTracker(step: first)
    }

    /// The current step (valid until finished).
    public var current: Step { planned[min(index, planned.count - 1)].step }

    /// The current compiled step.
    public var currentCompiled: CompiledStep { program.steps[min(index, program.steps.count - 1)] }

    /// True when a hard limit ended the run.
    public var tripped: Bool { limitTrip != nil }

    var complianceWindow: ClosedRange<Double> {
        (protocolFile.limits.voltageMinVolts ?? 0)...(protocolFile.limits.voltageMaxVolts ?? 5)
    }

    private func apply(_ step: CompiledStep) throws {
        switch step.setpoint {
        case .current(let c, let sign):
            // Compiled for amperes: `amps` is always set (init would have thrown otherwise).
            try potentiostat.apply(.constantCurrent(amps: sign * (c.amps ?? 0), voltageComplianceVolts: complianceWindow))
        case .voltage(let v):
            let limit = protocolFile.limits.currentMaxMilliamps.map { $0 * 1e-3 } ?? (oneCAmps.map { 5 * $0 } ?? 0.1)
            try potentiostat.apply(.constantVoltage(volts: v, currentComplianceAmps: limit))
        case .openCircuit:
            try potentiostat.apply(.openCircuit)
        }
    }

    /// Applies the first step.
    public func start(atSeconds t: Double) throws -> [RunEvent] {
        stepStartSeconds = t
        tracker = EndTracker(step: program.steps[0])
        try apply(program.steps[0])
        return [.stepStarted(index: 0, text: planned[0].step.text)]
    }

    /// Puts the cell at open circuit (safe state); errors are reported, not thrown.
    public func safeStop() -> RunEvent? {
        do { try potentiostat.apply(.openCircuit); return nil } catch {
            return .fault(device: potentiostat.name, message: "could not set open circuit: \(error)")
        }
    }

    /// Integrates the charge passed up to sample `s` at run time `t` (once per sample: a second call
    /// with the same time does nothing). The interval before `s` ran under the current step.
    public func integrate(_ s: ElectrochemSample, runSeconds t: Double) {
        if let last = lastSample, last.t == t { return }
        let i = s.currentAmps
        if let last = lastSample, let m = massGrams {
            // Trapezoids within a step; across a step change the new setpoint held over the whole
            // interval (it was applied at the previous sample), so its current alone counts — else
            // a discharge would begin with the charge's last current and a negative capacity.
            let stepChanged = lastSampleStep != index
            let dq = (stepChanged ? i : 0.5 * (last.i + i)) * (t - last.t) / 3.6 / m
            capacityMilliampHoursPerGram += dq
            stepCapacityMilliampHoursPerGram += abs(dq)
            halfCycle.add(stepKind: current.kind.name, signedMilliampHoursPerGram: dq)
        } else if massGrams != nil {
            // The first sample: no charge passed yet, but the half-cycle it starts is known.
            halfCycle.add(stepKind: current.kind.name, signedMilliampHoursPerGram: 0)
        }
        lastSample = (t, s.voltageVolts, i)
        lastSampleStep = index
    }

    /// The echem.csv row of sample `s` at run time `t`, with the capacities up to and including it
    /// (integrates the sample first; `onSample` then does not integrate it again).
    public func record(_ s: ElectrochemSample, runSeconds t: Double) -> EchemRecord {
        integrate(s, runSeconds: t)
        let known = massGrams != nil
        return EchemRecord(timeSeconds: t, step: index, stepKind: current.kind.name, voltageVolts: s.voltageVolts,
                           currentAmps: s.currentAmps, capacityMilliampHoursPerGram: capacityMilliampHoursPerGram,
                           cycle: halfCycle.cycle,
                           chargeCapacityMilliampHoursPerGram: known ? halfCycle.chargeMilliampHoursPerGram : .nan,
                           dischargeCapacityMilliampHoursPerGram: known ? halfCycle.dischargeMilliampHoursPerGram : .nan)
    }

    /// Handles one sample at run time `t` (s): limits, end conditions, step advance.
    public func onSample(_ s: ElectrochemSample, runSeconds t: Double) throws -> [RunEvent] {
        guard !finished else { return [] }
        var events: [RunEvent] = []
        let v = s.voltageVolts, i = s.currentAmps
        integrate(s, runSeconds: t)
        // Hard limits first, independent of the step.
        let lim = protocolFile.limits
        var trip: (String, Double)? = nil
        if let lo = lim.voltageMinVolts, v < lo { trip = ("voltage_min_V", v) }
        if let hi = lim.voltageMaxVolts, v > hi { trip = ("voltage_max_V", v) }
        if let imax = lim.currentMaxMilliamps, abs(i) * 1e3 > imax { trip = ("current_max_mA", i * 1e3) }
        if let (name, value) = trip {
            events.append(.limitTripped(limit: name, value: value))
            let failure = safeStop()
            if let e = failure { events.append(e) }
            limitTrip = LimitTrip(limit: name, value: value, runSeconds: t, openCircuitApplied: failure == nil)
            finished = true
            endReason = "limit \(name) tripped at \(value)"
            return events
        }
        if s.inCompliance && !complianceReported {
            complianceReported = true
            events.append(.compliance(step: index, text: current.text))
        }
        let state = StepState(secondsInStep: t - stepStartSeconds, voltageVolts: v, currentAmps: i,
                              cRate: oneCAmps.map { abs(i) / $0 },
                              stepCapacityMilliampHoursPerGram: massGrams == nil ? nil : stepCapacityMilliampHoursPerGram)
        guard let (end, fromRepeat) = tracker.observe(state) else { return events }
        let entry = program.steps[index]
        let why = fromRepeat ? "repeat \(end)" : "\(end)"
        events.append(.stepEnded(index: index, text: entry.step.text, reason: why))
        var next = index + 1
        if fromRepeat, let block = entry.block {
            while next < program.steps.count, program.steps[next].block == block { next += 1 }
            events.append(.repeatEnded(block: block, reason: why))
        }
        if next >= program.steps.count {
            finished = true
            endReason = "protocol complete"
            if let e = safeStop() { events.append(e) }
            return events
        }
        index = next
        stepStartSeconds = t
        stepCapacityMilliampHoursPerGram = 0
        complianceReported = false
        tracker = EndTracker(step: program.steps[index])
        try apply(program.steps[index])
        events.append(.stepStarted(index: index, text: planned[index].step.text))
        return events
    }
}
