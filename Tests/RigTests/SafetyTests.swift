import Electrochemistry
import FirmwareSim
import Foundation
import Glibc
import Rig
import Testing

private func run(_ proto: ProtocolFile, rig: String = "", name: String, in dir: TestDirectory) throws -> (SimRig, RunSummary, String) {
    let (sim, hw) = try makeSimRig(rigText: rig, protocolFile: proto)
    var options = RunOptions(outputDirectory: dir.file(name + ".operando"))
    options.roi = RegionOfInterest(x: 64, y: 64, width: 128, height: 128)
    let summary = try RunEngine(protocolFile: proto, hardware: hw, options: options).run()
    return (sim, summary, options.outputDirectory)
}

@Test func voltageLimitTripEndsRunSafely() throws {
    let tmp = try TestDirectory(); defer { tmp.remove() }
    // The step would charge for an hour; the hard limit at 3.65 V trips first.
    let proto = try ProtocolFile.parse(text: protocolText(rate: 10, bin: 10, limits: "voltage_max_V = 3.65\nvoltage_min_V = 2.5",
                                                          steps: ["Charge at 2C for 60 minutes"]), path: "trip.toml")
    let (sim, summary, dir) = try run(proto, name: "trip", in: tmp)
    #expect(!summary.completed)
    #expect(summary.endReason.contains("voltage_max_V"))
    #expect(summary.runSeconds < 3600)
    let events = try readEvents(dir)
    #expect(events.contains { $0["event"] as? String == "limit_tripped" && $0["limit"] as? String == "voltage_max_V" })
    #expect(events.last?["event"] as? String == "run_ended")
    #expect(!sim.chip.value(ofLine: SimGPIOChip.ledOffset))
    #expect(sim.potentiostat.mode == .openCircuit)
    // Nothing recorded before the trip is lost.
    let echem = try readCSV(dir + "/echem.csv")
    #expect(Double(echem.last!["voltage_V"]!)! > 3.6)
    try verifyDataset(dir)
}

@Test func potentiostatDisconnectIsAFaultWithSafeState() throws {
    let tmp = try TestDirectory(); defer { tmp.remove() }
    let proto = try ProtocolFile.parse(text: protocolText(rate: 10, bin: 10, steps: ["Charge at C/3 for 10 minutes"]), path: "fault.toml")
    let rig = "[sim]\n[[sim.faults]]\nkind = \"potentiostat_disconnect\"\nat_s = 120\n"
    let (sim, summary, dir) = try run(proto, rig: rig, name: "disconnect", in: tmp)
    #expect(!summary.completed)
    #expect(summary.endReason.contains("fault"))
    let events = try readEvents(dir)
    let fault = try #require(events.first { $0["event"] as? String == "fault" })
    #expect((fault["message"] as? String ?? "").contains("disconnected"))
    #expect((fault["time_s"] as? Double ?? 0) >= 119)
    #expect(!sim.chip.value(ofLine: SimGPIOChip.ledOffset))
    #expect(try verifyDataset(dir) >= 30)   // ~40 frames of 1 s recorded before the fault survive
}

@Test func droppedFramesAreMarkedNotShifted() throws {
    let tmp = try TestDirectory(); defer { tmp.remove() }
    let proto = try ProtocolFile.parse(text: protocolText(rate: 10, bin: 10, steps: ["Rest for 2 minutes"]), path: "drop.toml")
    let rig = "[sim]\n[[sim.faults]]\nkind = \"camera_drop\"\nat_s = 30\ncount = 5\n"
    let (_, summary, dir) = try run(proto, rig: rig, name: "drop", in: tmp)
    #expect(summary.completed)
    #expect(summary.droppedFrames == 5)
    let frames = try readCSV(dir + "/frames.csv")
    #expect(frames.count == 120)               // 2 min at 10 Hz in bins of 10: time is not shifted
    let short = frames.filter { Int($0["exposures"]!)! < 10 }
    #expect(short.map { Int($0["exposures"]!)! }.reduce(0, +) == short.count * 10 - 5)
    let events = try readEvents(dir)
    #expect(events.filter { $0["event"] as? String == "frame_dropped" }.count == 5)
}

@Test func cameraTimeoutsEndTheRunAsAFault() throws {
    let tmp = try TestDirectory(); defer { tmp.remove() }
    let proto = try ProtocolFile.parse(text: protocolText(rate: 10, bin: 10, steps: ["Rest for 5 minutes"]), path: "timeout.toml")
    let rig = "[sim]\n[[sim.faults]]\nkind = \"camera_timeout\"\nat_s = 60\nduration_s = 600\n"
    let (sim, summary, dir) = try run(proto, rig: rig, name: "timeout", in: tmp)
    #expect(!summary.completed)
    let events = try readEvents(dir)
    #expect(events.contains { $0["event"] as? String == "fault" && ($0["message"] as? String ?? "").contains("no frame") })
    #expect(!sim.chip.value(ofLine: SimGPIOChip.ledOffset))
    try verifyDataset(dir)
}

/// Starts `operando run` on a long protocol, waits until `chunks` frame chunks are indexed, sends `signal`.
private func runAndKill(signal sig: Int32, name: String, in tmp: TestDirectory, chunks: Int = 3) throws -> (status: Int32, dir: String) {
    let protoPath = tmp.file(name + ".toml")
    try protocolText(rate: 10, bin: 10, steps: ["Charge at C/3 for 3 hours"]).write(toFile: protoPath, atomically: true, encoding: .utf8)
    let dir = tmp.file(name + ".operando")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try operandoBinary())
    p.arguments = ["run", protoPath, "--out", dir]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        if let rows = try? readCSV(dir + "/frames.csv"), rows.count >= chunks * 10 { break }
        usleep(20_000)
    }
    kill(p.processIdentifier, sig)
    p.waitUntilExit()
    return (p.terminationStatus, dir)
}

@Test func sigtermMidRunClosesTheDatasetAndExitsNonZero() throws {
    let tmp = try TestDirectory(); defer { tmp.remove() }
    let (status, dir) = try runAndKill(signal: SIGTERM, name: "sigterm", in: tmp)
    #expect(status == 128 + SIGTERM)
    let events = try readEvents(dir)
    #expect(events.contains { $0["event"] as? String == "interrupted" && $0["signal"] as? String == "SIGTERM" })
    #expect(events.last?["event"] as? String == "run_ended")
    #expect(try verifyDataset(dir) >= 30)
    #expect(FileManager.default.fileExists(atPath: dir + "/timing.json"))
    // The LED's last edge in the run was "off" (the sim's chip died with the process; the engine
    // logs its safe stop — every trigger matched a frame, so no exposure was cut).
    let timing = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/timing.json"))) as! [String: Any]
    #expect(timing["lockstep_violations"] as? Int == 0)
}

@Test func killNineMidRunLeavesADatasetThatOpens() throws {
    let tmp = try TestDirectory(); defer { tmp.remove() }
    let (_, dir) = try runAndKill(signal: SIGKILL, name: "kill9", in: tmp)
    // Everything indexed is readable: nothing before the last complete chunk is lost.
    let frames = try verifyDataset(dir)
    #expect(frames >= 30)
    let echem = try readCSV(dir + "/echem.csv")
    #expect(echem.count >= frames)          // 1 s samples vs 1 s frames: echem is at least as far
    for row in echem { #expect(Double(row["voltage_V"] ?? "") != nil) }   // no torn lines
    // A chunk being written when the process died is only a .partial file, never indexed.
    let chunkFiles = try FileManager.default.contentsOfDirectory(atPath: dir + "/frames").filter { $0.hasSuffix(".tif") }
    #expect(chunkFiles.count * 10 >= frames)
}
