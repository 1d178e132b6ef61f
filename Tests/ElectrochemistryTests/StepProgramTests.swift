import Foundation
import Testing
@testable import Electrochemistry

private func cell(massMilligrams: Double?) -> CellSettings {
    var c = CellSettings()
    c.activeMassMilligrams = massMilligrams
    return c
}

private func steps(_ texts: String...) throws -> [Step] {
    try texts.enumerated().map { try StepParser.parse($1, location: SourceLocation(file: "t", line: $0 + 1)) }
}

@Test func currentsAreResolvedOnceForTheCell() throws {
    let p = try StepProgram.compile(steps: try steps("Charge at C/3 for 1 h", "Discharge at 70 mA/g for 1 h", "Charge at 0.105 mA for 1 h"),
                                    cell: cell(massMilligrams: 1.5), resolution: .amperes)
    guard case .current(let a, let sa) = p.steps[0].setpoint, case .current(let b, let sb) = p.steps[1].setpoint,
          case .current(let c, _) = p.steps[2].setpoint else { Issue.record("not currents"); return }
    #expect(sa == 1 && sb == -1)
    #expect(abs(a.amps! - 0.105e-3) < 1e-15 && abs(a.cRate! - 1.0 / 3) < 1e-12)
    #expect(abs(b.amps! - 0.105e-3) < 1e-15 && abs(b.cRate! - 1.0 / 3) < 1e-12)
    #expect(abs(c.cRate! - 1.0 / 3) < 1e-12)
}

@Test func aMissingMassIsAnErrorNamingTheStep() throws {
    // A rig needs amperes: a C-rate or mA/g without the mass is refused, naming the step.
    for text in ["Charge at C/3 for 1 h", "Charge at 70 mA/g for 1 h"] {
        do {
            _ = try StepProgram.compile(steps: try steps("Rest for 1 min", text), cell: cell(massMilligrams: nil), resolution: .amperes)
            Issue.record("\(text) accepted without a mass")
        } catch let e as ProtocolError {
            #expect(e.location.line == 2 && e.text == text && e.problem.contains("active_mass_mg"), "\(e)")
        }
    }
    // A model needs C-rates: an absolute current without the mass is refused.
    do {
        _ = try StepProgram.compile(steps: try steps("Discharge at 0.5 mA for 2 h"), cell: cell(massMilligrams: nil), resolution: .cRate)
        Issue.record("absolute current accepted without a mass")
    } catch let e as ProtocolError {
        #expect(e.problem.contains("active mass") && e.text == "Discharge at 0.5 mA for 2 h", "\(e)")
    }
    // … and with the cell's mass it is the cell's C-rate (issue 16: 0.5 mA on 1.5 mg at 210 mAh/g).
    let p = try StepProgram.compile(steps: try steps("Discharge at 0.5 mA for 2 h"), cell: cell(massMilligrams: 1.5), resolution: .cRate)
    guard case .current(let c, -1) = p.steps[0].setpoint else { Issue.record("not a discharge"); return }
    #expect(abs(c.cRate! - 0.5 / 0.315) < 1e-12)
    // A current that becomes more than 100C for the cell is refused.
    #expect(throws: ProtocolError.self) {
        try StepProgram.compile(steps: try steps("Charge at 10 mA for 1 h"), cell: cell(massMilligrams: 0.001), resolution: .amperes)
    }
}

@Test func stepsThatCanOnlyEndOnACurrentOrSlopeGetATimeBound() throws {
    let p = try StepProgram.compile(steps: try steps("Hold at 4.2 V until C/50", "Rest until 1 mV/h", "Charge at C/3 until 4.2 V",
                                                     "Hold at 4.2 V for 1 h or until C/50"),
                                    cell: cell(massMilligrams: 1.5), resolution: .amperes)
    #expect(p.steps[0].maximumSeconds == StepProgram.implicitTimeBoundSeconds)
    #expect(p.steps[1].maximumSeconds == StepProgram.implicitTimeBoundSeconds)
    #expect(p.steps[2].maximumSeconds == nil)
    #expect(p.steps[3].maximumSeconds == 3600)
    var t = EndTracker(step: p.steps[0])
    #expect(t.observe(StepState(secondsInStep: 100, voltageVolts: 4.2, currentAmps: 1e-3)) == nil)
    let end = t.observe(StepState(secondsInStep: 86400, voltageVolts: 4.2, currentAmps: 1e-3))
    #expect(end?.end == .timeBound(seconds: 86400))
    #expect("\(end!.end)".contains("time bound 24 h"))
}

@Test func endConditionsEvaluateThemselves() throws {
    let p = try StepProgram.compile(steps: try steps("Charge at C/3 until 4.3 V", "Discharge at C/3 until 3 V or until 100 mAh/g",
                                                     "Hold at 4 V until 10 uA"),
                                    cell: cell(massMilligrams: 1.5), resolution: .amperes)
    #expect(p.steps[0].ends == [.voltageAtLeast(volts: 4.3)])
    #expect(p.steps[0].ends[0].isMet(StepState(secondsInStep: 1, voltageVolts: 4.31)))
    #expect(!p.steps[0].ends[0].isMet(StepState(secondsInStep: 1, voltageVolts: 4.29)))
    #expect(p.steps[1].ends[0] == .voltageAtMost(volts: 3))
    #expect(p.steps[1].ends[1].isMet(StepState(secondsInStep: 1, voltageVolts: 3.5, stepCapacityMilliampHoursPerGram: 100)))
    let hold = p.steps[2].ends[0]
    #expect(hold.isMet(StepState(secondsInStep: 5, voltageVolts: 4, currentAmps: -9e-6)))
    #expect(!hold.isMet(StepState(secondsInStep: 0, voltageVolts: 4, currentAmps: 0)))   // not at the step's start
    #expect(!hold.isMet(StepState(secondsInStep: 5, voltageVolts: 4, currentAmps: 2e-5)))
}

/// The rest-slope bug of issue 10: `Rest for 4 hours or until 1 mV/h` ended 60 s after the rest
/// started in the model. On a relaxation V = 3.9 + 0.05·exp(−t/900 s), the fitted slope reaches 1 mV/h
/// about an hour in; the tracker ends there, and not before a whole window has been seen.
@Test func restEndsWhenTheFittedSlopeIsMet() throws {
    let p = try StepProgram.compile(steps: try steps("Rest for 4 hours or until 1 mV/h"), cell: cell(massMilligrams: 1.5), resolution: .amperes)
    func relaxation(_ t: Double) -> Double { 3.9 + 0.05 * exp(-t / 900) }
    var tracker = EndTracker(step: p.steps[0])
    var endedAt: Double? = nil
    for k in 0...14400 {
        let t = Double(k)
        if tracker.observe(StepState(secondsInStep: t, voltageVolts: relaxation(t), currentAmps: 0)) != nil { endedAt = t; break }
    }
    let end = try #require(endedAt)
    #expect(end > StepProgram.slopeWindowSeconds)
    // Analytic check: the least-squares slope over [t − W, t] of an exponential is close to its
    // derivative at the window's middle, 0.05/900·exp(−(t − W/2)/900).
    let mid = end - StepProgram.slopeWindowSeconds / 2
    let slopeMid = 0.05 / 900 * exp(-mid / 900)
    #expect(abs(slopeMid * 3.6e6 - 1) < 0.05, "slope at the window's middle \(slopeMid * 3.6e6) mV/h")
}
