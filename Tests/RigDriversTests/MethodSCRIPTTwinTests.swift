import Electrochemistry
import Foundation
import Rig
import Testing
@testable import FirmwareSim
@testable import RigDrivers

/// A twin on a pty (symlink in `dir`) and a driver connected through the symlink.
func connectedMethodSCRIPTTwin(in dir: String, simulation: Bool = true, timeoutMilliseconds: Int = 3000,
                               configuration: SimConfiguration = shortProtocolSimConfiguration()) throws
    -> (MethodSCRIPTTwin, MethodSCRIPTPotentiostat, any Clock) {
    let twin = try MethodSCRIPTTwin(configuration: configuration, linkPath: dir + "/emstat4", commandedTime: simulation)
    twin.start()
    let clock: any Clock = simulation ? VirtualClock() : MonotonicClock()
    let driver = try MethodSCRIPTPotentiostat(configuration: .init(address: "serial://\(dir)/emstat4?baud=921600",
                                                                   timeoutMilliseconds: timeoutMilliseconds, simulation: simulation),
                                              clock: clock)
    return (twin, driver, clock)
}

@Suite(.serialized) struct MethodSCRIPTTwinTests {
    @Test func theTwinAnswersThroughItsSymlinkAndRemovesIt() throws {
        try withTemporaryDirectory { dir in
            let (twin, p, _) = try connectedMethodSCRIPTTwin(in: dir)
            #expect(p.version == MethodSCRIPTTwin.defaultVersion)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/emstat4").hasPrefix("/dev/pts/"))
            p.close(); twin.close()
            #expect(!FileManager.default.fileExists(atPath: dir + "/emstat4"))
        }
    }

    @Test func slowRepliesEndInATimeout() throws {
        try withTemporaryDirectory { dir in
            let (twin, p, _) = try connectedMethodSCRIPTTwin(in: dir, timeoutMilliseconds: 150)
            defer { p.close(); twin.stop() }
            try p.apply(.openCircuit)
            twin.inject(.slowReplies(milliseconds: 400))
            #expect { _ = try p.read() } throws: {
                guard case .commandTimeout(let d, let c, _) = $0 as? PotentiostatError else { return false }
                return d.contains("emstat4") && c == "~T"
            }
        }
    }

    @Test func aDroppedConnectionEndsInADisconnect() throws {
        try withTemporaryDirectory { dir in
            let (twin, p, _) = try connectedMethodSCRIPTTwin(in: dir)
            defer { p.close(); twin.stop() }
            try p.apply(.openCircuit)
            twin.inject(.dropConnection)
            Thread.sleep(forTimeInterval: 0.2)
            #expect { _ = try p.read() } throws: {
                guard case .disconnected(_, let r) = $0 as? PotentiostatError else { return false }
                return r.contains("closed by the instrument")
            }
            #expect(throws: PotentiostatError.self) { try p.apply(.openCircuit) }
        }
    }

    @Test func garbageInTheStreamIsAnUnexpectedLineAndTheScriptIsAborted() throws {
        try withTemporaryDirectory { dir in
            let (twin, p, clock) = try connectedMethodSCRIPTTwin(in: dir)
            defer { p.close(); twin.stop() }
            try p.apply(.constantCurrent(amps: 1e-4, voltageComplianceVolts: 2.5...4.4))
            (clock as! VirtualClock).advance(bySeconds: 1)
            twin.inject(.garbage)
            #expect { _ = try p.read() } throws: {
                let m = "\($0)"
                return m.contains("unexpected line") && m.contains("meas_loop_cp") && m.contains("\\x1B")
            }
            #expect(eventually { twin.receivedLines.last == "Z" })
        }
    }

    @Test func aDeviceErrorIsSurfacedWithItsMeaning() throws {
        try withTemporaryDirectory { dir in
            let (twin, p, clock) = try connectedMethodSCRIPTTwin(in: dir)
            defer { p.close(); twin.stop() }
            try p.apply(.openCircuit)
            (clock as! VirtualClock).advance(bySeconds: 1)
            twin.inject(.instrumentError(code: 0x9, message: ""))
            #expect { _ = try p.read() } throws: {
                "\($0)".contains("error 0x0009: not enough memory for the script") && "\($0)".contains("meas_loop_ocp")
            }
        }
    }

    @Test func complianceReachedBreaksIntoTheHoldAtTheLimit() throws {
        try withTemporaryDirectory { dir in
            let (twin, p, clock) = try connectedMethodSCRIPTTwin(in: dir, timeoutMilliseconds: 10000)
            defer { p.close(); twin.stop() }
            try p.apply(.constantCurrent(amps: 1e-4, voltageComplianceVolts: 2.5...4.2))
            (clock as! VirtualClock).advance(bySeconds: 2)
            #expect(try !p.read().inCompliance)
            twin.inject(.compliance(ohms: 1e5))
            (clock as! VirtualClock).advance(bySeconds: 3)
            _ = try p.read()
            (clock as! VirtualClock).advance(bySeconds: 3)
            let s = try p.read()
            #expect(s.inCompliance)
            #expect(abs(s.voltageVolts - 4.2) < 1e-6)      // the hold loop reports its set potential
            #expect(s.currentAmps < 1e-4)
        }
    }

    @Test func virtualTimeDrivesTheTwinLikeTheInProcessSimulator() throws {
        try withTemporaryDirectory { dir in
            let text = """
            [cell]
            active_mass_mg = 1.5
            practical_capacity_mAh_per_g = 210
            sample_interval_s = 2
            [limits]
            voltage_min_V = 2.5
            voltage_max_V = 4.4
            [[steps]]
            do = "Rest for 1 minute"
            [[steps]]
            do = "Charge at 2C for 20 minutes or until 4.0 V"
            [[steps]]
            do = "Hold at 4.0 V for 3 minutes"
            [[steps]]
            do = "Rest for 2 minutes"
            """
            let pf = try ProtocolFile.parse(text: text, path: "virtual.toml")
            let reference = try SimRig(configuration: SimConfiguration())
            let expected = try runSequencer(pf, on: reference.potentiostat, clock: reference.clock, maximumSeconds: 3600)
            let (twin, p, clock) = try connectedMethodSCRIPTTwin(in: dir, timeoutMilliseconds: 5000, configuration: SimConfiguration())
            defer { p.close(); twin.stop() }
            let got = try runSequencer(pf, on: p, clock: clock, maximumSeconds: 3600)
            #expect(got.endReason == "protocol complete")
            #expect(got.stepEnds.map { "\($0.0) \($0.1)" } == expected.stepEnds.map { "\($0.0) \($0.1)" })
            let ends = zip(got.stepEnds, expected.stepEnds).map { abs($0.2 - $1.2) }
            #expect(ends.allSatisfy { $0 <= 2 }, "step end times differ by \(ends) s")
            let vrms = rms(got.voltages, expected.voltages)
            #expect(vrms < 3e-3, "V rms \(vrms)")
        }
    }
}

/// Real time over a pty: the short protocol through the MethodSCRIPT driver against the twin,
/// compared with the in-process simulator.
@Test func shortProtocolInRealTimeOverAPtyMatchesTheInProcessSimulator() throws {
    try withTemporaryDirectory { dir in
        let pf = try ProtocolFile.parse(text: shortProtocolText, path: "short.toml")
        let reference = try SimRig(configuration: shortProtocolSimConfiguration())
        let expected = try runSequencer(pf, on: reference.potentiostat, clock: reference.clock, maximumSeconds: 60)

        let (twin, p, clock) = try connectedMethodSCRIPTTwin(in: dir, simulation: false, timeoutMilliseconds: 1500)
        defer { p.close(); twin.stop() }
        let got = try runSequencer(pf, on: p, clock: clock, maximumSeconds: 45)
        #expect(got.endReason == "protocol complete")
        #expect(got.stepEnds.map { "\($0.0) \($0.1) \($0.2)" } == expected.stepEnds.map { "\($0.0) \($0.1) \($0.2)" })
        let vrms = rms(got.voltages, expected.voltages)
        #expect(vrms < 5e-3, "V rms \(vrms)")

        try p.safeOff()
        var trips: [Int64] = []
        for _ in 0..<300 {
            let t = clock.monotonicNanoseconds
            _ = try p.queryVersion()
            trips.append(clock.monotonicNanoseconds - t)
        }
        let jitter = got.sampleIntervalsNanoseconds.map { abs($0 - 1_000_000_000) }
        print(String(format: "[wire-timing] MethodSCRIPT/pty: V rms vs in-process %.3f mV; round trip (t) median %.0f µs p99 %.0f µs; sample interval jitter median %.0f µs p99 %.0f µs max %.0f µs; read latency median %.0f µs p99 %.0f µs (%d samples)",
                     vrms * 1e3, percentile(trips, 0.5) / 1e3, percentile(trips, 0.99) / 1e3,
                     percentile(jitter, 0.5) / 1e3, percentile(jitter, 0.99) / 1e3, Double(jitter.max() ?? 0) / 1e3,
                     percentile(got.readLatencyNanoseconds, 0.5) / 1e3, percentile(got.readLatencyNanoseconds, 0.99) / 1e3, got.voltages.count))
        #expect(percentile(trips, 0.5) < 20e6)
    }
}
