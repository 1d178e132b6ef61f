import Foundation
import Rig

/// The simulated potentiostat/galvanostat channel: constant current with voltage compliance, constant
/// voltage with current compliance, open circuit; it steps the cell as time passes, records
/// (t, V, I) at a fixed sampling interval with measurement noise, and raises the errors a real driver
/// raises when faults are injected.
///
/// Compliance follows the instruments: a CC step whose voltage reaches the window's edge is held there
/// at constant voltage (`inCompliance`); a CV step whose current exceeds the limit is held at the
/// limit current until the voltage reaches the set point again.
public final class SimPotentiostat: Potentiostat {
    /// Device name in error messages (`sim-potentiostat`).
    public let name: String
    /// The cell the instrument drives.
    public let cell: SimCell
    let clock: any Clock
    /// When the cell's time was zero, ns of the clock.
    public let originNanoseconds: Int64
    /// Longest model step, ns: the cell is advanced in steps of this size as time passes.
    public let modelStepNanoseconds: Int64
    /// Interval of recorded samples, ns.
    public let sampleIntervalNanoseconds: Int64
    /// How long a command that gets no answer blocks, s.
    public var commandTimeoutSeconds = 2.0
    /// Measurement noise, 1 σ.
    public var voltageNoiseVolts: Double
    public var currentNoiseAmps: Double

    /// The mode last applied.
    public private(set) var mode: PotentiostatMode = .openCircuit
    /// What is actually imposed (differs from `mode` while in compliance).
    public private(set) var imposed: ElectrodeDrive = .openCircuit
    /// True while held at a compliance limit.
    public private(set) var inCompliance = false
    private var modelNanoseconds: Int64
    private var nextSampleNanoseconds: Int64
    private var recorded: [ElectrochemSample] = []
    private var rng: SeededRandom
    private var disconnected = false
    private var pendingTimeout = false
    private var schedule: [ScheduledFault]
    /// The model's failure, if it stopped (the instrument then reports it on every command).
    public private(set) var cellFailure: String?

    /// - Parameters:
    ///   - cell: the simulated cell.
    ///   - clock: the rig's clock; the cell's time zero is the clock's reading now.
    ///   - faults: potentiostat faults to raise at run times (others are ignored).
    public init(name: String = "sim-potentiostat", cell: SimCell, clock: any Clock, seed: UInt64,
                modelStepSeconds: Double = 1, sampleIntervalSeconds: Double = 1,
                voltageNoiseVolts: Double = 2e-4, currentNoiseAmps: Double = 5e-9,
                faults: [ScheduledFault] = []) {
        self.name = name
        self.cell = cell
        self.clock = clock
        originNanoseconds = clock.monotonicNanoseconds
        modelNanoseconds = originNanoseconds
        modelStepNanoseconds = max(1_000_000, Int64(min(modelStepSeconds, sampleIntervalSeconds) * 1e9))
        sampleIntervalNanoseconds = max(1_000_000, Int64(sampleIntervalSeconds * 1e9))
        nextSampleNanoseconds = originNanoseconds
        self.voltageNoiseVolts = voltageNoiseVolts
        self.currentNoiseAmps = currentNoiseAmps
        rng = SeededRandom(seed: seed, stream: 2)
        schedule = faults.filter {
            switch $0.fault {
            case .potentiostatDisconnect, .potentiostatTimeout, .complianceHit: return true
            default: return false
            }
        }.sorted { $0.atSeconds < $1.atSeconds }
    }

    /// Raises `fault` now (potentiostat faults only).
    public func inject(_ fault: SimFault) {
        switch fault {
        case .potentiostatDisconnect: disconnected = true
        case .potentiostatTimeout: pendingTimeout = true
        case .complianceHit(let ohms): cell.faultResistanceOhms += ohms
        default: break
        }
    }

    /// Clears disconnect and contact faults (the user re-plugged the cable / re-seated the contact).
    public func clearFaults() {
        disconnected = false
        pendingTimeout = false
        cell.faultResistanceOhms = 0
    }

    private func fireScheduledFaults(upTo t: Int64) {
        while let f = schedule.first, originNanoseconds + Int64(f.atSeconds * 1e9) <= t {
            schedule.removeFirst()
            inject(f.fault)
        }
    }

    private func check(_ command: String) throws(PotentiostatError) {
        let now = clock.monotonicNanoseconds
        fireScheduledFaults(upTo: now)
        if disconnected { throw .disconnected(device: name, reason: "link lost (simulated fault)") }
        if pendingTimeout {
            pendingTimeout = false
            clock.sleep(untilNanoseconds: now + Int64(commandTimeoutSeconds * 1e9))
            throw .commandTimeout(device: name, command: command, seconds: commandTimeoutSeconds)
        }
        if let failure = cellFailure { throw .rejected(device: name, command: command, reason: failure) }
    }

    /// Sets the control mode, effective now.
    /// - Throws: `PotentiostatError.rejected` for a non-finite set point or an empty compliance window;
    ///   `.disconnected` / `.commandTimeout` under faults.
    public func apply(_ mode: PotentiostatMode) throws {
        try check("apply")
        switch mode {
        case .constantCurrent(let amps, let window):
            guard amps.isFinite, window.lowerBound.isFinite, window.upperBound.isFinite,
                  window.lowerBound < window.upperBound else {
                throw PotentiostatError.rejected(device: name, command: "constant current \(amps) A",
                                                 reason: "expected a finite current and a voltage window low < high")
            }
        case .constantVoltage(let volts, let limit):
            guard volts.isFinite, limit.isFinite, limit > 0 else {
                throw PotentiostatError.rejected(device: name, command: "constant voltage \(volts) V",
                                                 reason: "expected a finite voltage and a positive current limit")
            }
        case .openCircuit: break
        }
        // The cell must reach exactly now under the old mode before the new one starts.
        try synchronise(toNanoseconds: clock.monotonicNanoseconds, exact: true)
        self.mode = mode
        inCompliance = false
        switch mode {
        case .constantCurrent(let amps, _): imposed = .current(amps: amps)
        case .constantVoltage(let volts, _): imposed = .voltage(volts: volts)
        case .openCircuit: imposed = .openCircuit
        }
    }

    /// Measures now: the cell's voltage and current with measurement noise.
    public func read() throws -> ElectrochemSample {
        try check("read")
        let now = clock.monotonicNanoseconds
        try synchronise(toNanoseconds: now, exact: false)
        return measure(at: now)
    }

    /// Samples recorded at the sampling interval since the last call, oldest first (EC-Lab-style
    /// fixed-rate recording; the sampling goes on while nobody reads).
    public func takeRecordedSamples() -> [ElectrochemSample] {
        defer { recorded.removeAll(keepingCapacity: true) }
        return recorded
    }

    private func measure(at t: Int64) -> ElectrochemSample {
        // At open circuit no current flows from the instrument's first instant there, whatever the
        // cell's last model step carried: the voltage is the electrode's, without I·R.
        var open = false
        if case .openCircuit = imposed { open = true }
        return ElectrochemSample(monotonicNanoseconds: t,
                                 voltageVolts: (open ? cell.electrodePotentialVolts : cell.voltageVolts) + voltageNoiseVolts * rng.normal(),
                                 currentAmps: (open ? 0 : cell.currentAmps) + currentNoiseAmps * rng.normal(),
                                 inCompliance: inCompliance)
    }

    /// Steps the cell up to `t` in model steps (`exact`: also the final partial step), applying
    /// compliance after each step and recording samples. The camera calls this with its mid-exposure
    /// time so frames show the cell as it was during the exposure.
    public func synchronise(toNanoseconds t: Int64, exact: Bool) throws {
        guard cellFailure == nil else { return }
        fireScheduledFaults(upTo: t)
        while modelNanoseconds < t {
            var step = modelStepNanoseconds
            // Current-limited on the way to a CV set point: short steps near it, so the switch back to
            // the set point comes within 0.1 s, as an instrument's loop does, not a whole step late.
            if case .constantVoltage(let set, _) = mode, case .current = imposed, abs(set - cell.voltageVolts) < 0.02 {
                step = min(step, 100_000_000)
            }
            if modelNanoseconds + step > t {
                guard exact else { break }
                step = t - modelNanoseconds
            }
            limitVoltageDriveBeforeStep()
            do {
                try cell.advance(by: Double(step) * 1e-9, drive: imposed)
            } catch {
                // A real cell would have hit the compliance long before the model's tables end.
                cellFailure = "simulated cell stopped: \(error)"
                imposed = .openCircuit
                inCompliance = true
                throw PotentiostatError.rejected(device: name, command: "run", reason: cellFailure!)
            }
            modelNanoseconds += step
            applyCompliance()
            while nextSampleNanoseconds <= modelNanoseconds {
                recorded.append(measure(at: nextSampleNanoseconds))
                nextSampleNanoseconds += sampleIntervalNanoseconds
            }
        }
    }

    /// A real instrument's control loop never lets a CV step exceed its current compliance, not even
    /// for the first instant: before each model step held at a voltage, the current that voltage would
    /// draw now is bounded from above by both the series resistance alone (ΔV / R) and the surface
    /// kinetics alone (Butler–Volmer, 2 I₀ sinh(F ΔV / 2RT)); when the smaller bound exceeds the limit
    /// the step runs current-limited instead, and returns to the set point as `applyCompliance` says.
    private func limitVoltageDriveBeforeStep() {
        guard case .constantVoltage(let set, let limit) = mode, case .voltage = imposed else { return }
        let f = 96485.33212 / (8.314462618 * 298.15)
        let deltaVolts = set - cell.electrodePotentialVolts
        let kinetic = 2 * cell.exchangeCurrentAmps * sinh(min(f * abs(deltaVolts) / 2, 700))
        let ohmic = cell.totalResistanceOhms > 0 ? abs(deltaVolts) / cell.totalResistanceOhms : .infinity
        if min(kinetic, ohmic) > limit {
            imposed = .current(amps: deltaVolts > 0 ? limit : -limit)
            inCompliance = true
        }
    }

    private func applyCompliance() {
        let v = cell.voltageVolts
        switch (mode, imposed) {
        case (.constantCurrent(let amps, let window), .current):
            if amps > 0 && v >= window.upperBound { imposed = .voltage(volts: window.upperBound); inCompliance = true }
            if amps < 0 && v <= window.lowerBound { imposed = .voltage(volts: window.lowerBound); inCompliance = true }
        case (.constantVoltage(_, let limit), .voltage):
            let i = cell.currentAmps
            if abs(i) > limit { imposed = .current(amps: i > 0 ? limit : -limit); inCompliance = true }
        case (.constantVoltage(let set, _), .current(let amps)):
            // Current-limited: return to CV once the voltage has reached the set point.
            if (amps > 0 && v >= set) || (amps < 0 && v <= set) {
                imposed = .voltage(volts: set)
                inCompliance = false
            }
        default: break
        }
    }
}
