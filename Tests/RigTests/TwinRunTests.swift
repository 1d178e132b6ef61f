import Dataset
import Foundation
import Glibc
import Rig
import Testing

// The real SCPI driver in a whole `operando run`, against firmware-sim's Keithley 2450 twin served by
// `operando sim-serve scpi` in another process over loopback TCP; everything else simulated, on the
// virtual clock (the twin's cell follows it through the simulation-only time command).

/// Starts `operando sim-serve scpi --port 0` and returns it with the address it printed.
private func startTwin() throws -> (Process, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try operandoBinary())
    p.arguments = ["sim-serve", "scpi", "--port", "0"]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    var text = ""
    let deadline = Date().addingTimeInterval(30)
    let fd = err.fileHandleForReading.fileDescriptor
    var buffer = [UInt8](repeating: 0, count: 4096)
    while Date() < deadline, !text.contains("\n") {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&pfd, 1, 200) > 0 {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            text += String(decoding: buffer[0..<n], as: UTF8.self)
        }
    }
    guard let r = text.range(of: "tcp://127.0.0.1:[0-9]+", options: .regularExpression) else {
        p.terminate(); p.waitUntilExit()
        throw RigError.configuration(file: "sim-serve", problem: "no address printed: \(text)")
    }
    return (p, String(text[r]))
}

private func runOperando(_ arguments: [String], killTwinAfterRows rows: Int? = nil, twin: Process? = nil, dataset: String) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try operandoBinary())
    p.arguments = ["run"] + arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    if let rows, let twin {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && p.isRunning {
            if let n = try? DatasetReader(dataset).echem().count, n >= rows { break }
            usleep(10_000)
        }
        twin.terminate()
    }
    let deadline = Date().addingTimeInterval(180)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { p.terminate(); Issue.record("operando run did not end") }
    p.waitUntilExit()
    return p.terminationStatus
}

@Suite(.serialized) struct TwinRunTests {
    @Test func aProtocolRunsThroughTheSCPIDriverAgainstTheTwin() throws {
        let tmp = try TestDirectory(); defer { tmp.remove() }
        let (twin, address) = try startTwin()
        defer { twin.terminate(); twin.waitUntilExit() }
        try protocolText(rate: 10, bin: 30, limits: "voltage_max_V = 4.4\nvoltage_min_V = 2.5",
                         steps: ["Rest for 2 minutes", "Charge at 1C for 5 minutes", "Rest for 2 minutes"])
            .write(toFile: tmp.file("p.toml"), atomically: true, encoding: .utf8)
        try "[potentiostat]\nbackend = \"scpi\"\naddress = \"\(address)\"\ndialect = \"keithley2450\"\nsimulation = true\n"
            .write(toFile: tmp.file("rig.toml"), atomically: true, encoding: .utf8)
        let dataset = tmp.file("scpi.operando")
        let status = try runOperando([tmp.file("p.toml"), "--rig", tmp.file("rig.toml"), "--out", dataset], dataset: dataset)
        #expect(status == 0)
        let reader = try DatasetReader(dataset)
        #expect(reader.runInfo.backend.contains("potentiostat scpi"))
        let echem = try reader.echem()
        #expect(echem.count >= 500)
        // The charge moved the cell: 1C current during step 1, the voltage up by tens of mV.
        let charge = echem.filter { $0.step == 1 }
        #expect(charge.count >= 290)
        let oneC = 1.5e-3 * 210e-3
        #expect(charge.dropFirst(2).allSatisfy { abs($0.currentAmps - oneC) < 0.02 * oneC })
        let first = try #require(charge.first), last = try #require(charge.last)
        #expect(last.voltageVolts > first.voltageVolts + 0.02)
        #expect(try reader.events().filter { $0.event == "fault" }.isEmpty)
    }

    @Test func aLostInstrumentEndsInTheSafeStop() throws {
        let tmp = try TestDirectory(); defer { tmp.remove() }
        let (twin, address) = try startTwin()
        defer { if twin.isRunning { twin.terminate() }; twin.waitUntilExit() }
        try protocolText(rate: 10, bin: 30, steps: ["Charge at C/3 for 3 hours"]).write(toFile: tmp.file("p.toml"), atomically: true, encoding: .utf8)
        try "[potentiostat]\nbackend = \"scpi\"\naddress = \"\(address)\"\nsimulation = true\ntimeout_ms = 500\n"
            .write(toFile: tmp.file("rig.toml"), atomically: true, encoding: .utf8)
        let dataset = tmp.file("lost.operando")
        let status = try runOperando([tmp.file("p.toml"), "--rig", tmp.file("rig.toml"), "--out", dataset],
                                     killTwinAfterRows: 100, twin: twin, dataset: dataset)
        #expect(status == 1)
        let reader = try DatasetReader(dataset)
        let events = try reader.events()
        let fault = try #require(events.first { $0.event == "fault" })
        #expect(fault.fields["message"]?.string?.contains("2450") == true || fault.fields["device"]?.string?.contains("2450") == true,
                "\(fault.fields)")
        #expect(events.contains { $0.event == "led_off" })
        #expect(events.contains { $0.event == "output_off" })
        #expect(events.last?.event == "run_ended")
    }
}
