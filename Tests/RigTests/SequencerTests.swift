import Foundation
import Testing
@testable import Rig
import Electrochemistry
import ParticleModel
import Dataset

/// A potentiostat that replays a voltage curve and records the modes it was given.
final class ReplayPotentiostat: Potentiostat {
    let name = "replay"
    var modes: [PotentiostatMode] = []
    func apply(_ mode: PotentiostatMode) throws { modes.append(mode) }
    func read() throws -> ElectrochemSample { ElectrochemSample(monotonicNanoseconds: 0, voltageVolts: 0, currentAmps: 0) }
}

private func protocolFile(_ steps: [String], header: String = "[cell]\nactive_mass_mg = 1.5\n") throws -> ProtocolFile {
    try ProtocolFile.parse(text: header + steps.map { "[[steps]]\ndo = \"\($0)\"\n" }.joined(), path: "seq.toml")
}

/// Issue 10: the model and the rig end the same rest within one sample of each other on the same
/// relaxation. The model runs "Charge at C/3 for 20 minutes", "Rest for 4 hours or until 1 mV/h"
/// with its trace every second; the sequencer is fed that trace's rest as potentiostat samples.
@Test func modelAndRigEndTheSameRestWithinOneSample() throws {
    var options = SimulationOptions()
    options.kinetics = .butlerVolmer
    options.outputIntervalSeconds = 1
    options.elementSizeMicrometres = 0.25
    let texts = ["Charge at C/3 for 20 minutes", "Rest for 4 hours or until 1 mV/h"]
    let sim = try ParticleSimulation(parameters: .nmc87, shape: .ellipse(width: 3.04, height: 2.04), options: options)
    let result = try sim.run(steps: texts.map { try StepParser.parse($0) })
    let rest = try #require(result.steps.last)
    #expect(rest.reason == "until 1 mV/h", "\(rest.reason)")
    let modelRestSeconds = rest.endSeconds - rest.startSeconds
    #expect(modelRestSeconds > 300, "the model's rest ended after \(modelRestSeconds) s")

    // The rig: rest only, samples from the model's trace (1 s apart) from the rest's start.
    let pot = ReplayPotentiostat()
    let seq = try Sequencer(protocolFile: try protocolFile(["Rest for 4 hours or until 1 mV/h"]), potentiostat: pot)
    _ = try seq.start(atSeconds: 0)
    let rows = result.trace.filter { $0.timeSeconds >= rest.startSeconds - 1e-9 }
    var rigEnd: Double? = nil
    for row in rows {
        let t = row.timeSeconds - rest.startSeconds
        let events = try seq.onSample(ElectrochemSample(monotonicNanoseconds: Int64(t * 1e9), voltageVolts: row.voltageVolts, currentAmps: 0),
                                      runSeconds: t)
        if events.contains(where: { if case .stepEnded = $0 { return true }; return false }) { rigEnd = t; break }
    }
    let rig = try #require(rigEnd, "the sequencer never ended the rest on the model's trace")
    #expect(abs(rig - modelRestSeconds) <= 1.0 + 1e-6, "rig \(rig) s vs model \(modelRestSeconds) s")
    #expect(seq.finished && seq.endReason == "protocol complete")
}

@Test func sequencerKeepsItsAPIAndResolvesCurrents() throws {
    let pot = ReplayPotentiostat()
    let seq = try Sequencer(protocolFile: try protocolFile(["Charge at C/3 until 4.2 V", "Hold at 4.2 V until C/50"]), potentiostat: pot)
    #expect(seq.planned.count == 2 && seq.index == 0 && !seq.finished)
    _ = try seq.start(atSeconds: 10)
    guard case .constantCurrent(let amps, _)? = pot.modes.last else { Issue.record("\(pot.modes)"); return }
    #expect(abs(amps - 0.105e-3) < 1e-15)
    _ = try seq.onSample(ElectrochemSample(monotonicNanoseconds: 0, voltageVolts: 4.1, currentAmps: amps), runSeconds: 11)
    #expect(seq.index == 0)
    let ev = try seq.onSample(ElectrochemSample(monotonicNanoseconds: 0, voltageVolts: 4.21, currentAmps: amps), runSeconds: 12)
    #expect(ev.contains(.stepEnded(index: 0, text: "Charge at C/3 until 4.2 V", reason: "until 4.2 V")))
    #expect(seq.index == 1 && seq.current.text == "Hold at 4.2 V until C/50")
    #expect(seq.capacityMilliampHoursPerGram > 0)
    // The hold ends on its current, or at its 24 h bound.
    _ = try seq.onSample(ElectrochemSample(monotonicNanoseconds: 0, voltageVolts: 4.2, currentAmps: 1e-4), runSeconds: 13)
    #expect(!seq.finished)
    let bound = try seq.onSample(ElectrochemSample(monotonicNanoseconds: 0, voltageVolts: 4.2, currentAmps: 1e-4), runSeconds: 12 + 86400)
    #expect(seq.finished)
    #expect(bound.contains { if case .stepEnded(_, _, let r) = $0 { return r.contains("time bound") }; return false })
}

@Test func absoluteCurrentWithoutMassIsRefusedByTheRig() throws {
    do {
        _ = try Sequencer(protocolFile: try protocolFile(["Charge at C/3 for 1 h"], header: ""), potentiostat: ReplayPotentiostat())
        Issue.record("C/3 accepted without a mass")
    } catch let e as ProtocolError {
        #expect(e.text == "Charge at C/3 for 1 h" && e.problem.contains("active_mass_mg"))
    }
}

@Test func aLimitTripIsExposedForTheSafeStateRecord() throws {
    let pot = ReplayPotentiostat()
    let seq = try Sequencer(protocolFile: try protocolFile(["Charge at C/3 for 1 h"],
                                                          header: "[cell]\nactive_mass_mg = 1.5\n[limits]\nvoltage_max_V = 4.4\n"),
                            potentiostat: pot)
    _ = try seq.start(atSeconds: 0)
    #expect(!seq.tripped)
    let ev = try seq.onSample(ElectrochemSample(monotonicNanoseconds: 0, voltageVolts: 4.45, currentAmps: 0.105e-3), runSeconds: 5)
    #expect(ev.contains(.limitTripped(limit: "voltage_max_V", value: 4.45)))
    #expect(seq.tripped && seq.finished)
    #expect(seq.limitTrip == Sequencer.LimitTrip(limit: "voltage_max_V", value: 4.45, runSeconds: 5, openCircuitApplied: true))
    guard case .openCircuit? = pot.modes.last else { Issue.record("not at open circuit: \(pot.modes)"); return }
}

/// Issue 16 item 7: the sequencer's echem rows carry the cycle and per-half-cycle capacities up to
/// and including their own sample; a discharge starts at 0, never below (the setpoint applied at the
/// step change held over the first interval).
@Test func sequencerRecordsHalfCycleCapacitiesAndCycles() throws {
    let pot = ReplayPotentiostat()
    let seq = try Sequencer(protocolFile: try protocolFile(["Charge at 1C for 10 s", "Discharge at 1C for 10 s", "Charge at 1C for 5 s"]),
                            potentiostat: pot)
    _ = try seq.start(atSeconds: 0)
    let amps = 0.315e-3   // 1C of 1.5 mg at 210 mAh/g
    var rows: [EchemRecord] = []
    for t in 0...25 {
        let i = seq.current.kind.name == "discharge" ? -amps : amps
        let s = ElectrochemSample(monotonicNanoseconds: Int64(t) * 1_000_000_000, voltageVolts: 3.8, currentAmps: i)
        rows.append(seq.record(s, runSeconds: Double(t)))
        _ = try seq.onSample(s, runSeconds: Double(t))
        if seq.finished { break }
    }
    let perSecond = amps / 3.6 / 1.5e-3   // mAh/g per second at 1C
    let charge = rows.filter { $0.step == 0 }, discharge = rows.filter { $0.step == 1 }, second = rows.filter { $0.step == 2 }
    #expect(charge.allSatisfy { $0.cycle == 0 } && discharge.allSatisfy { $0.cycle == 0 } && second.allSatisfy { $0.cycle == 1 })
    #expect(abs(charge.last!.chargeCapacityMilliampHoursPerGram - 10 * perSecond) < 1e-9)
    #expect(discharge.allSatisfy { $0.dischargeCapacityMilliampHoursPerGram >= 0 })
    #expect(abs(discharge.last!.dischargeCapacityMilliampHoursPerGram - 10 * perSecond) < 1e-9)
    #expect(discharge.allSatisfy { abs($0.chargeCapacityMilliampHoursPerGram - 10 * perSecond) < 1e-9 })
    #expect(second.first!.dischargeCapacityMilliampHoursPerGram == 0 && second.first!.chargeCapacityMilliampHoursPerGram > 0)
    // The signed running total is kept: up 10 s, down 10 s, up again.
    #expect(abs(rows.last!.capacityMilliampHoursPerGram - second.last!.chargeCapacityMilliampHoursPerGram) < 1e-9)
}
