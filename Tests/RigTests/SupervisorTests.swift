import Dataset
import Electrochemistry
import FirmwareSim
import Foundation
import Glibc
import Rig
import Testing

// The supervisor's safe stop, from every kind of fault: a limit trip, a failing subscriber, a recorder
// whose disk fills, a GPIO line that fails, signals. Each ends with the safe state on disk.

private func runSim(_ proto: ProtocolFile, rig: String = "", dir: String,
                    subscribers: [RunSubscriber] = []) throws -> (SimRig, RunSummary) {
    let (sim, hw) = try makeSimRig(rigText: rig, protocolFile: proto)
    var options = RunOptions(outputDirectory: dir)
    options.roi = RegionOfInterest(x: 64, y: 64, width: 128, height: 128)
    let engine = RunEngine(protocolFile: proto, hardware: hw, options: options)
    for s in subscribers { engine.subscribeInline(s) }
    return (sim, try engine.run())
}

/// Checks the safe state is on disk: LED-off and output-off events after `after`, and a last echem
/// sample at open circuit.
private func expectSafeState(_ dir: String, afterEvent after: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let reader = try DatasetReader(dir)
    let events = try reader.events().map(\.event)
    let i = try #require(events.firstIndex(of: after), "no \(after) event", sourceLocation: sourceLocation)
    let led = try #require(events.firstIndex(of: "led_off"), sourceLocation: sourceLocation)
    let output = try #require(events.firstIndex(of: "output_off"), sourceLocation: sourceLocation)
    #expect(led > i && output > i, sourceLocation: sourceLocation)
    #expect(events.last == "run_ended", sourceLocation: sourceLocation)
    #expect(try reader.events().first { $0.event == "output_off" }?.fields["ok"] == .bool(true), sourceLocation: sourceLocation)
    let last = try #require(try reader.echem().last, sourceLocation: sourceLocation)
    #expect(last.stepKind == EchemRecord.safeStopKind, sourceLocation: sourceLocation)
    #expect(abs(last.currentAmps) < 1e-7, "the last sample still carries \(last.currentAmps) A", sourceLocation: sourceLocation)
}

@Suite struct SupervisorTests {
    @Test func limitTripRecordsTheCellAtOpenCircuit() throws {
        let dir = try TestDirectory(); defer { dir.remove() }
        let proto = try ProtocolFile.parse(text: protocolText(rate: 10, bin: 10, limits: "voltage_max_V = 3.65\nvoltage_min_V = 2.5",
                                                              steps: ["Charge at 2C for 60 minutes"]), path: "trip.toml")
        let (sim, summary) = try runSim(proto, dir: dir.file("trip.operando"))
        #expect(summary.outcome == .limitTripped(limit: "voltage_max_V", value: try #require({ () -> Double? in
            if case .limitTripped(_, let v) = summary.outcome { return v }; return nil }())))
        #expect(summary.outcome.exitCode == 3)
        #expect(sim.potentiostat.mode == .openCircuit)
        try expectSafeState(dir.file("trip.operando"), afterEvent: "limit_tripped")
    }

    /// A subscriber that fails at its `n`th frame, as a live view or controller might.
    final class FailingSubscriber: RunSubscriber {
        let subscriberName = "test subscriber"
        var frames = 0
        let failAt: Int
        init(failAt: Int) { self.failAt = failAt }
        func receive(_ message: RunMessage, bus: RunBus) throws {
            guard case .frame = message else { return }
            frames += 1
            if frames == failAt { throw RigError.aborted("the subscriber failed on purpose") }
        }
    }

    @Test func aFailingSubscriberEndsTheRunThroughTheSafeStop() throws {
        let dir = try TestDirectory(); defer { dir.remove() }
        let proto = try ProtocolFile.parse(text: protocolText(rate: 10, bin: 10, steps: ["Charge at C/3 for 30 minutes"]), path: "s.toml")
        let (sim, summary) = try runSim(proto, dir: dir.file("s.operando"), subscribers: [FailingSubscriber(failAt: 25)])
        guard case .fault(let device, let message) = summary.outcome else { Issue.record("outcome \(summary.outcome)"); return }
        #expect(device == "test subscriber")
        #expect(message.contains("on purpose"))
        #expect(summary.runSeconds < 60)
        #expect(!sim.chip.value(ofLine: SimGPIOChip.ledOffset))
        try expectSafeState(dir.file("s.operando"), afterEvent: "fault")
    }

    /// Deletes the dataset's frames/ folder at its `n`th frame: the next chunk cannot be written.
    final class FramesFolderRemover: RunSubscriber {
        let subscriberName = "remover"
        let dir: String
        var frames = 0
        init(dir: String) { self.dir = dir }
        func receive(_ message: RunMessage, bus: RunBus) throws {
            guard case .frame = message else { return }
            frames += 1
            if frames == 15 { try FileManager.default.removeItem(atPath: dir + "/frames") }
        }
    }

    @Test func aChunkThatCannotBeWrittenIsARecorderFaultWithSafeState() throws {
        let dir = try TestDirectory(); defer { dir.remove() }
        let path = dir.file("blocked.operando")
        let proto = try ProtocolFile.parse(text: protocolText(rate: 10, bin: 10, steps: ["Charge at C/3 for 30 minutes"]), path: "b.toml")
        let (_, summary) = try runSim(proto, dir: path, subscribers: [FramesFolderRemover(dir: path)])
        guard case .fault(let device, let message) = summary.outcome else { Issue.record("outcome \(summary.outcome)"); return }
        #expect(device == "recorder")
        #expect(message.contains("frames/000001.tif"))
        #expect(summary.runSeconds < 40)
        try expectSafeState(path, afterEvent: "fault")
        // What was indexed before the failure still opens.
        #expect(try DatasetReader(path).frames().count == 10)
        #expect(!FileManager.default.fileExists(atPath: path + "/frames/000001.tif.partial"))
    }

    @Test func aFailingGPIOLineLeavesNoMadeUpEdgeTimes() throws {
        let dir = try TestDirectory(); defer { dir.remove() }
        let path = dir.file("gpio.operando")
        let proto = try ProtocolFile.parse(text: protocolText(rate: 10, bin: 10, steps: ["Rest for 5 minutes"]), path: "g.toml")
        let rig = "[sim]\n[[sim.faults]]\nkind = \"gpio_io_error\"\nline = \"trigger\"\nat_s = 30\n"
        let (_, summary) = try runSim(proto, rig: rig, dir: path)
        guard case .fault(let device, _) = summary.outcome else { Issue.record("outcome \(summary.outcome)"); return }
        #expect(device == "gpio")
        let edges = try DatasetReader(path).edges()
        #expect(!edges.isEmpty)
        for e in edges {
            for t in [e.actualLedOnMicroseconds, e.actualTriggerMicroseconds, e.actualLedOffMicroseconds, e.intendedLedOnMicroseconds] {
                if let t { #expect(t >= 0, "frame \(e.frame): \(t) µs") }
            }
        }
        let failed = try #require(edges.last)
        #expect(failed.actualLedOffMicroseconds == nil)   // the frame whose trigger failed never turned the LED off by schedule
        for e in try DatasetReader(path).events() { #expect(e.timeSeconds >= 0, "\(e.event) at \(e.timeSeconds) s") }
        try expectSafeState(path, afterEvent: "fault")
    }
}
