import Dataset
import Electrochemistry
import Foundation
import InstrumentFiles
import Rig

// Units: rig times in ns of the rig's clock; instrument times in s of the instrument's own clock;
// currents A (positive on charge), the record in EC-Lab's units (mA, mA·h).

/// `[sim.instrument]`: firmware-sim playing a potentiostat run by its own software (follow mode,
/// docs/follow.md). Its clock is offset and drifts: `rig run time = start_s + (1 + drift_ppm·10⁻⁶) ·
/// instrument time`, the relation `operando import` fits from the trigger edges.
public struct SimInstrumentSettings: Sendable, Equatable {
    /// Rig run time at which the instrument's software starts its protocol, s (0…86400).
    public var startSeconds = 7.0
    /// How much faster the rig's clock runs than the instrument's, ppm (−1000…1000).
    public var driftPPM = 40.0
    /// Interval of the instrument's record, s of its own clock (nil: the protocol's sample interval).
    public var recordIntervalSeconds: Double?
    /// Width of each trigger-out pulse, ms (0.01…1000).
    public var triggerWidthMilliseconds = 10.0
    /// Where the EC-Lab-style `.mpt` record goes (nil: kept in memory only).
    public var recordPath: String?
    /// Acquisition start printed in the record's header (the instrument PC's clock).
    public var acquisitionStart = Date(timeIntervalSince1970: 1_796_112_000)   // 2026-12-01 08:00 UTC

    public init() {}

    /// The `[sim.instrument]` keys.
    public static let keys = ["start_s", "drift_ppm", "record_interval_s", "trigger_width_ms", "record"]
}

/// An instrument run by its own software, on the simulated cell (the one the camera images): it runs
/// a protocol's steps on its own clock with `Sequencer` driving firmware-sim's potentiostat, raises
/// its trigger-out line (`trigger-in` on the sim chip) at each step start, and writes what it
/// measured as an EC-Lab-style GCPL `.mpt` (`ECLabTextWriter`). operando commands none of it.
///
/// It lives on the virtual clock: `start()` registers it as the clock's advance observer, so it
/// acts at each of its own moments (step starts, samples) before the rig can look past them, and
/// its trigger edges carry exact times.
public final class SimInstrument {
    /// The settings it runs with.
    public let settings: SimInstrumentSettings
    /// The protocol it runs.
    public let protocolFile: ProtocolFile
    /// Rig-clock times of the trigger-out edges raised so far, ns (ground truth for tests).
    public private(set) var triggerRigNanoseconds: [Int64] = []
    /// The record so far, as written.
    public private(set) var samples: [ECLabGCPLSample] = []
    /// Why the instrument stopped early (a potentiostat fault), if it did.
    public private(set) var failure: String?
    /// True once its protocol has ended.
    public var finished: Bool { sequencer.finished || failure != nil }

    private let rig: SimRig
    private let clock: VirtualClock
    private let sequencer: Sequencer
    private let startNanoseconds: Int64
    private let intervalSeconds: Double
    private var started = false
    private var nextSample = 1
    private var firstRowNanoseconds: Int64?
    private var lastRow: (tau: Double, amps: Double)?
    private var capacityMilliampHours = 0.0
    private var halfCycle = 0
    private var halfCycleCharge = 0.0
    private var lastSign = 0.0
    private var file: AppendFile?
    private var pending = ""
    private var rng: SeededRandom

    /// - Parameters:
    ///   - rig: the simulated rig (virtual clock) whose potentiostat and cell the instrument drives.
    ///   - protocolFile: the steps it runs (at least one).
    /// - Throws: `SimConfigurationError` on a wall-clock rig, `ProtocolError` for a protocol without
    ///   steps or one whose currents need a mass the cell lacks.
    public init(rig: SimRig, protocolFile: ProtocolFile, settings: SimInstrumentSettings) throws {
        guard let clock = rig.clock as? VirtualClock else {
            throw SimConfigurationError(file: "rig", key: "instrument", problem: "the simulated instrument runs on the virtual clock only (drop --realtime)")
        }
        self.rig = rig
        self.clock = clock
        self.settings = settings
        self.protocolFile = protocolFile
        sequencer = try Sequencer(protocolFile: protocolFile, potentiostat: rig.potentiostat)
        startNanoseconds = rig.originNanoseconds + Int64((settings.startSeconds * 1e9).rounded())
        intervalSeconds = settings.recordIntervalSeconds ?? protocolFile.cell.sampleIntervalSeconds
        rng = SeededRandom(seed: rig.configuration.seed, stream: 9)
    }

    /// The rig-clock time of instrument time `tau`, ns.
    public func rigNanoseconds(instrumentSeconds tau: Double) -> Int64 {
        startNanoseconds + Int64((tau * (1 + settings.driftPPM * 1e-6) * 1e9).rounded())
    }

    /// Instrument time at rig-clock `ns`, s.
    public func instrumentSeconds(rigNanoseconds ns: Int64) -> Double {
        Double(ns - startNanoseconds) * 1e-9 / (1 + settings.driftPPM * 1e-6)
    }

    /// Starts following the clock (and creates the record file, header first).
    /// - Throws: `DatasetError` when the record file cannot be created.
    public func start() throws {
        guard !started else { return }
        started = true
        if let path = settings.recordPath {
            unlink(path)   // the instrument PC overwrites its own file
            let f = try AppendFile(path: path)
            file = f
            try f.write(contentsOf: Self.latin1(ECLabTextWriter.headerText(header)))
        }
        clock.onAdvance { [weak self] deadline in self?.advance(to: deadline) }
    }

    /// Stops following the clock and writes the rest of the record.
    /// - Throws: `DatasetError` when the record cannot be written.
    public func finish() throws {
        clock.onAdvance(nil)
        try flush()
        try file?.close()
        file = nil
    }

    /// The record's header.
    public var header: ECLabGCPLHeader {
        ECLabGCPLHeader(acquisitionStart: settings.acquisitionStart, device: "firmware-sim instrument",
                        settings: [("Electrode material", "NMC (simulated)"),
                                   ("Mass of active material", String(format: "%.3f mg", rig.cell.activeMassMilligrams))])
    }

    /// The next moment the instrument acts, ns (nil when done).
    private var nextEventNanoseconds: Int64? {
        if finished { return nil }
        if !startedProtocol { return startNanoseconds }
        let regular = rigNanoseconds(instrumentSeconds: Double(nextSample) * intervalSeconds)
        if let f = firstRowNanoseconds, f < regular { return f }
        return regular
    }
    private var startedProtocol = false

    /// Acts at every moment up to `deadline` (the clock's observer).
    private func advance(to deadline: Int64) {
        while let t = nextEventNanoseconds, t <= deadline {
            clock.sleep(untilNanoseconds: t)
            do {
                if !startedProtocol {
                    startedProtocol = true
                    _ = try sequencer.start(atSeconds: 0)
                    stepStarted(at: t)
                } else {
                    let first = firstRowNanoseconds == t
                    if first { firstRowNanoseconds = nil } else { nextSample += 1 }
                    try sample(at: t, firstOfStep: first)
                }
            } catch {
                failure = "\(error)"
                try? flush()
            }
        }
    }

    private func stepStarted(at t: Int64) {
        triggerRigNanoseconds.append(t)
        rig.chip.scheduleInputPulses(line: SimGPIOChip.instrumentTriggerOffset, risingAtNanoseconds: [t],
                                     widthNanoseconds: Int64(settings.triggerWidthMilliseconds * 1e6))
        // EC-Lab records a sequence's first point just after the change: 0.5–1.5 ms here, varying
        // like an instrument's own scheduling (the residuals of the import's clock fit).
        firstRowNanoseconds = t + 500_000 + Int64(rng.uniform() * 1e6)
        // Regular samples continue on the instrument's own grid.
        let tau = instrumentSeconds(rigNanoseconds: t)
        nextSample = max(nextSample, Int((tau / intervalSeconds).rounded(.down)) + 1)
    }

    private func sample(at t: Int64, firstOfStep: Bool) throws {
        let p = rig.potentiostat
        try p.synchronise(toNanoseconds: t, exact: true)
        let s = try p.read()
        let tau = instrumentSeconds(rigNanoseconds: t)
        let step = sequencer.currentCompiled
        let index = sequencer.index
        record(tau: tau, sample: s, step: step, index: index, firstOfStep: firstOfStep)
        let events = try sequencer.onSample(s, runSeconds: tau)
        if sequencer.finished {
            try flush()
            return
        }
        if events.contains(where: { if case .stepStarted = $0 { return true }; return false }) { stepStarted(at: t) }
    }

    private func record(tau: Double, sample s: ElectrochemSample, step: CompiledStep, index: Int, firstOfStep: Bool) {
        let mA = s.currentAmps * 1e3
        var dq = 0.0
        if let last = lastRow { dq = 0.5 * (last.amps + s.currentAmps) * (tau - last.tau) / 3.6 }   // A·s → mA·h
        lastRow = (tau, s.currentAmps)
        capacityMilliampHours += dq
        let mode: Int, control: Double
        switch step.setpoint {
        case .current(let c, let sign): mode = 1; control = sign * (c.amps ?? 0) * 1e3
        case .voltage(let v): mode = 2; control = v
        case .openCircuit: mode = 3; control = 0
        }
        // A half cycle ends when the current changes sign (rests do not count), as in EC-Lab's GCPL.
        let sign: Double = mode == 3 || abs(mA) < 1e-6 ? 0 : (mA > 0 ? 1 : -1)
        if sign != 0 && lastSign != 0 && sign != lastSign { halfCycle += 1; halfCycleCharge = 0 }
        if sign != 0 { lastSign = sign }
        halfCycleCharge += abs(dq)
        let row = ECLabGCPLSample(mode: mode, oxRed: mA > 0 ? 1 : 0, controlChanges: firstOfStep ? 1 : 0,
                                  nsChanges: firstOfStep && index > 0 ? 1 : 0, ns: index, timeSeconds: tau,
                                  controlVoltsOrMilliamps: control, eweVolts: s.voltageVolts, currentMilliamps: mA,
                                  dqMilliampHours: dq, qMinusQ0MilliampHours: capacityMilliampHours,
                                  qChargeDischargeMilliampHours: halfCycleCharge, halfCycle: halfCycle, cycleNumber: halfCycle / 2)
        samples.append(row)
        pending += ECLabTextWriter.rowText(row)
        if pending.utf8.count > 32_768 { try? flush() }
    }

    private func flush() throws {
        guard let f = file, !pending.isEmpty else { pending.removeAll(); return }
        let text = pending
        pending.removeAll(keepingCapacity: true)
        try f.write(contentsOf: Self.latin1(text))
    }

    private static func latin1(_ text: String) -> Data {
        text.data(using: .isoLatin1) ?? Data(text.utf8)
    }
}
