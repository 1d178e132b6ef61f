import Dataset
import Electrochemistry
import FirmwareSim
import Foundation
import Rig
import Testing

/// A followed rig on firmware-sim: the sim chip's `trigger-in` line, its instrument offset and drifting.
private func followRig(start: Double = 7, drift: Double = 40, extra: String = "") -> String {
    """
    [gpio]
    chip = "gpiochip-sim"
    led = "led"
    trigger = "trigger"
    trigger_input = "trigger-in"
    [potentiostat]
    backend = "follow"
    edge = "rising"
    [sim]
    seed = 5
    \(extra)
    [sim.instrument]
    start_s = \(start)
    drift_ppm = \(drift)
    """
}

private func followedProtocol(_ follow: String, steps: [String]) throws -> ProtocolFile {
    try ProtocolFile.parse(text: protocolText(rate: 2, bin: 2, steps: steps) + follow, path: "follow.toml", purpose: .followed)
}

private func options(_ out: String) -> RunOptions {
    var o = RunOptions(outputDirectory: out)
    o.roi = RegionOfInterest(x: 920, y: 540, width: 64, height: 64)
    return o
}

@Suite struct FollowRunTests {
    /// Every trigger edge the instrument raised is in triggers.csv and events.jsonl with its exact time;
    /// frames carry step −1 and no sample; nothing electrical was commanded; the run ends the protocol's
    /// own total after the first edge (plus the tail).
    @Test func recordsEveryInstrumentEdgeAndCommandsNothing() throws {
        let dir = try TestDirectory()
        defer { dir.remove() }
        let proto = try followedProtocol("[follow]\ntail_s = 4\n", steps: ["Rest for 20 seconds", "Charge at 1C for 30 seconds", "Rest for 10 seconds"])
        let (sim, hw) = try SimRig.hardware(rigText: followRig(), protocolFile: proto, instrumentRecordPath: dir.file("instrument.mpt"))
        let out = dir.file("f.operando")
        let summary = try RunEngine(protocolFile: proto, hardware: hw, options: options(out)).run()
        let instrument = try #require(sim.instrument)
        try instrument.finish()
        #expect(summary.outcome == .completed)
        // 7 s start, 60 s of steps, 4 s tail.
        #expect(abs(summary.runSeconds - 71) < 0.5, "\(summary.runSeconds)")
        let data = try DatasetReader(out)
        let triggers = try data.triggers()
        #expect(triggers.map(\.monotonicNanoseconds) == instrument.triggerRigNanoseconds)
        #expect(triggers.count == 3 && triggers.map(\.edge) == [0, 1, 2] && triggers.allSatisfy { $0.kind == "rising" })
        // Steps 20 s and 30 s of the instrument's clock apart, stretched by +40 ppm on the rig's.
        #expect(abs((triggers[1].timeSeconds - triggers[0].timeSeconds) - 20 * (1 + 40e-6)) < 1e-6)
        #expect(abs((triggers[2].timeSeconds - triggers[1].timeSeconds) - 30 * (1 + 40e-6)) < 1e-6)
        let events = try data.events()
        let trig = events.filter { $0.event == "instrument_trigger" }
        #expect(trig.map(\.timeSeconds) == triggers.map(\.timeSeconds))
        #expect(!events.contains { $0.event == "step_started" })
        let off = try #require(events.first { $0.event == "output_off" })
        #expect(off.fields["message"]?.string?.contains("follow mode") == true)
        #expect(events.contains { $0.event == "led_off" && $0.fields["ok"] == .bool(true) })
        #expect(try data.echem().isEmpty)
        let frames = try data.frames()
        #expect(frames.count > 60 && frames.allSatisfy { $0.step == -1 && $0.voltageVolts.isNaN })
        #expect(data.isFollowMode && data.runInfo.extra["follow"]?["trigger_input"]?["line"] == .string("trigger-in"))
        #expect(try data.timing()?["trigger_input"]?["edges"] == .number(3))
        // The instrument drove the cell: it is charged, and the record holds its samples.
        #expect(instrument.samples.count > 55 && instrument.samples.contains { $0.currentMilliamps > 0.2 })
    }

    /// `[follow] edges = N` ends the run at the N-th edge plus the tail; `duration_s` bounds it first
    /// when shorter.
    @Test func endsOnEdgeCountOrDuration() throws {
        let dir = try TestDirectory()
        defer { dir.remove() }
        let steps = ["Rest for 10 seconds", "Rest for 10 seconds", "Rest for 10 seconds", "Rest for 10 seconds"]
        let proto = try followedProtocol("[follow]\nedges = 2\ntail_s = 1\n", steps: steps)
        let (_, hw) = try SimRig.hardware(rigText: followRig(start: 2), protocolFile: proto)
        let s = try RunEngine(protocolFile: proto, hardware: hw, options: options(dir.file("a.operando"))).run()
        #expect(s.outcome == .completed && abs(s.runSeconds - 13.05) < 0.3, "\(s.runSeconds)")
        let short = try followedProtocol("[follow]\nedges = 3\nduration_s = 5\n", steps: steps)
        let (_, hw2) = try SimRig.hardware(rigText: followRig(start: 2), protocolFile: short)
        let s2 = try RunEngine(protocolFile: short, hardware: hw2, options: options(dir.file("b.operando"))).run()
        #expect(s2.outcome == .completed && abs(s2.runSeconds - 5) < 0.3, "\(s2.runSeconds)")
        #expect(try DatasetReader(dir.file("b.operando")).triggers().count == 1)
    }

    /// A failing trigger input is a fault: the supervisor's safe stop (LED off; no output to turn off).
    @Test func aFailedTriggerInputEndsInTheSafeStop() throws {
        let dir = try TestDirectory()
        defer { dir.remove() }
        let proto = try followedProtocol("[follow]\nduration_s = 30\n", steps: ["Rest for 20 seconds"])
        let (sim, hw) = try SimRig.hardware(rigText: followRig(start: 1), protocolFile: proto)
        sim.chip.injectInputFault(line: SimGPIOChip.instrumentTriggerOffset, .lineError(reason: "EIO (simulated fault)"))
        let s = try RunEngine(protocolFile: proto, hardware: hw, options: options(dir.file("x.operando"))).run()
        guard case .fault(let device, let message) = s.outcome else { Issue.record("expected a fault, got \(s.outcome)"); return }
        #expect(device == "gpio" && message.contains("EIO"), "\(device): \(message)")
        let events = try DatasetReader(dir.file("x.operando")).events().map(\.event)
        for e in ["fault", "safe_stop_started", "led_off", "output_off", "run_ended"] { #expect(events.contains(e), "\(e)") }
    }
}
