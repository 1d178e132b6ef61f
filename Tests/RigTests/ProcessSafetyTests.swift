import Dataset
import Foundation
import Glibc
import Rig
import Testing

// The safe stop seen from outside, through the operando binary: a full disk, a closed terminal and a
// broken stderr. Each test starts `operando run` as a child process.

/// Runs `operando run` with `arguments` through bash (for `ulimit`), stderr to `stderr` (a path or a
/// pipe), and waits up to `timeoutSeconds`. Calls `whileRunning` once the child has recorded `afterRows`
/// echem rows.
private func operando(_ shellPrefix: String = "", arguments: [String], dataset: String, stderrPipe: Pipe? = nil,
                      afterRows: Int = 0, whileRunning: ((Process) -> Void)? = nil, timeoutSeconds: Double = 120) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    let quoted = ([try operandoBinary(), "run"] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    p.arguments = ["-c", shellPrefix + "exec " + quoted.joined(separator: " ")]
    p.standardOutput = FileHandle.nullDevice
    if let stderrPipe { p.standardError = stderrPipe } else { p.standardError = FileHandle.nullDevice }
    try p.run()
    if let whileRunning {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && p.isRunning {
            if let rows = try? DatasetReader(dataset).echem(), rows.count >= afterRows { break }
            usleep(20_000)
        }
        whileRunning(p)
    }
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { p.terminate(); p.waitUntilExit(); Issue.record("operando run did not end within \(timeoutSeconds) s") }
    p.waitUntilExit()
    return p.terminationStatus
}

private func writeProtocol(_ tmp: TestDirectory, steps: [String], bin: Int = 10) throws -> String {
    let path = tmp.file("p.toml")
    try protocolText(rate: 10, bin: bin, steps: steps).write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite(.serialized) struct ProcessSafetyTests {
    /// The issue's reproduction: a 3 MB tmpfs as --out (as root); elsewhere a 3 MB file-size limit
    /// (`ulimit -f`), which fails writes with EFBIG the way a full disk fails them with ENOSPC.
    @Test func aFullDiskEndsInTheSafeStopWithTheStateRecorded() throws {
        let tmp = try TestDirectory(); defer { tmp.remove() }
        let proto = try writeProtocol(tmp, steps: ["Charge at C/3 for 2 hours"])
        let mountPoint = tmp.file("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint]
        mount.standardError = FileHandle.nullDevice
        var mounted = false
        if getuid() == 0, (try? mount.run()) != nil { mount.waitUntilExit(); mounted = mount.terminationStatus == 0 }
        defer {
            if mounted {
                let u = Process(); u.executableURL = URL(fileURLWithPath: "/bin/umount"); u.arguments = [mountPoint]
                try? u.run(); u.waitUntilExit()
            }
        }
        let dataset = (mountPoint as NSString).appendingPathComponent("full.operando")
        let status = try operando(mounted ? "" : "ulimit -f 3072; ", arguments: [proto, "--out", dataset], dataset: dataset)
        #expect(status == 1, "exit status \(status) (\(mounted ? "tmpfs" : "ulimit -f"))")
        let reader = try DatasetReader(dataset)
        let events = try reader.events()
        // The events that matter fit: the fault, LED off, output off and run_ended (small writes).
        let fault = try #require(events.first { $0.event == "fault" })
        #expect(fault.fields["device"] == .string("recorder"))
        #expect(events.contains { $0.event == "output_off" })
        #expect(events.last?.event == "run_ended")
        // What was recorded stays openable; no .partial chunk is left.
        _ = try reader.frames()
        let echem = try reader.echem()
        #expect(echem.last?.stepKind == EchemRecord.safeStopKind)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dataset + "/frames").filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty)
    }

    @Test func sighupDoesNotStopTheRun() throws {
        let tmp = try TestDirectory(); defer { tmp.remove() }
        let proto = try writeProtocol(tmp, steps: ["Charge at C/3 for 20 minutes"], bin: 100)
        let dataset = tmp.file("hup.operando")
        let status = try operando(arguments: [proto, "--out", dataset], dataset: dataset, afterRows: 30) { p in
            kill(p.processIdentifier, SIGHUP)
        }
        #expect(status == 0)
        let events = try DatasetReader(dataset).events()
        #expect(events.contains { $0.event == "terminal_lost" })
        #expect(events.last?.fields["reason"] == .string("protocol complete"))
    }

    @Test func aBrokenStderrDoesNotStopTheRun() throws {
        let tmp = try TestDirectory(); defer { tmp.remove() }
        let proto = try writeProtocol(tmp, steps: ["Charge at C/3 for 20 minutes"], bin: 100)
        let dataset = tmp.file("pipe.operando")
        let pipe = Pipe()
        // The reader goes away at once, as `operando run … 2>&1 | head -c 0` would.
        try pipe.fileHandleForReading.close()
        let status = try operando(arguments: [proto, "--out", dataset], dataset: dataset, stderrPipe: pipe)
        #expect(status == 0)
        let events = try DatasetReader(dataset).events()
        #expect(events.contains { $0.event == "terminal_lost" })
        #expect(events.last?.fields["reason"] == .string("protocol complete"))
    }
}
