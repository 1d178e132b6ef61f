import Electrochemistry
import Foundation
import Rig
import Testing
@testable import FirmwareSim
@testable import RigDrivers

/// A twin and a driver connected to it; `simulation` drives the twin from a virtual clock.
func connectedSCPITwin(simulation: Bool = true, timeoutMilliseconds: Int = 3000,
                       configuration: SimConfiguration = shortProtocolSimConfiguration()) throws -> (SCPITwin, SCPIPotentiostat, any Clock) {
    let twin = try SCPITwin(configuration: configuration, commandedTime: simulation)
    twin.start()
    let clock: any Clock = simulation ? VirtualClock() : MonotonicClock()
    let driver = try SCPIPotentiostat(configuration: .init(address: twin.address, timeoutMilliseconds: timeoutMilliseconds,
                                                           simulation: simulation), clock: clock)
    return (twin, driver, clock)
}

@Suite(.serialized) struct SCPITwinTests {
    @Test func slowRepliesEndInATimeoutNamingTheCommand() throws {
        let (twin, p, _) = try connectedSCPITwin(timeoutMilliseconds: 150)
        defer { p.close(); twin.stop() }
        try p.apply(.openCircuit)
        twin.inject(.slowReplies(milliseconds: 400))
        #expect { try p.read() } throws: {
            guard case .commandTimeout(_, let c, let s) = $0 as? PotentiostatError else { return false }
            return c.hasPrefix(":SYST:SIM:TIME") || c.hasPrefix(":READ?") && s == 0.15
        }
        #expect(p.fault != nil)
    }

    @Test func aDroppedConnectionEndsInADisconnect() throws {
        let (twin, p, _) = try connectedSCPITwin()
        defer { p.close(); twin.stop() }
        try p.apply(.openCircuit)
        twin.inject(.dropConnection)
        #expect { try p.read() } throws: {
            guard case .disconnected(let d, let r) = $0 as? PotentiostatError else { return false }
            return d.contains("keithley2450") && r.contains("closed by the instrument")
        }
        // The safe state cannot be confirmed over a dead link: that is an error too, not silence.
        #expect(throws: PotentiostatError.self) { try p.apply(.openCircuit) }
    }

    @Test func garbageBytesAreAnUnexpectedReplyAndTheOutputIsTurnedOff() throws {
        let (twin, p, clock) = try connectedSCPITwin()
        defer { p.close(); twin.stop() }
        try p.apply(.constantCurrent(amps: 1e-4, voltageComplianceVolts: 2.5...4.4))
        (clock as! VirtualClock).advance(bySeconds: 1)
        twin.inject(.garbage)
        #expect { try p.read() } throws: {
            let m = "\($0)"
            return m.contains("unexpected reply \"\\u{FFFD}") && m.contains("\\x1B")
        }
        #expect(eventually { twin.receivedCommands.last == ":OUTP OFF" })
    }

    @Test func anErrorInTheQueueIsSurfacedWithItsMessage() throws {
        let (twin, p, _) = try connectedSCPITwin()
        defer { p.close(); twin.stop() }
        twin.inject(.instrumentError(code: 5074, message: "Interlock tripped"))
        #expect { try p.apply(.constantCurrent(amps: 1e-4, voltageComplianceVolts: 2.5...4.4)) } throws: {
            let m = "\($0)"
            return m.contains("5074, \"Interlock tripped\"") && m.contains(":SOUR:FUNC CURR")
        }
        #expect(eventually { twin.receivedCommands.last == ":OUTP OFF" })
    }

    @Test func complianceReachedIsReportedByTheTripState() throws {
        // The model's step after a contact fault is costly in debug builds: allow the twin time.
        let (twin, p, clock) = try connectedSCPITwin(timeoutMilliseconds: 10000)
        defer { p.close(); twin.stop() }
        try p.apply(.constantCurrent(amps: 1e-4, voltageComplianceVolts: 2.5...4.2))
        (clock as! VirtualClock).advance(bySeconds: 2)
        #expect(try !p.read().inCompliance)
        twin.inject(.compliance(ohms: 1e5))        // +10 V at 100 µA: far past the 4.2 V limit
        (clock as! VirtualClock).advance(bySeconds: 2)
        _ = try p.read()
        (clock as! VirtualClock).advance(bySeconds: 2)
        let s = try p.read()
        #expect(s.inCompliance)
        #expect(abs(s.voltageVolts - 4.2) < 2e-3)
        #expect(s.currentAmps < 1e-4)
    }

    @Test func aFaultDuringARunEndsItWithTheOutputOff() throws {
        let (twin, p, _) = try connectedSCPITwin()
        defer { p.close(); twin.stop() }
        let pf = try ProtocolFile.parse(text: shortProtocolText, path: "short.toml")
        let sequencer = try Sequencer(protocolFile: pf, potentiostat: p)
        _ = try sequencer.start(atSeconds: 0)
        _ = try sequencer.onSample(try p.read(), runSeconds: 0)
        twin.inject(.garbage)
        #expect(throws: PotentiostatError.self) { _ = try sequencer.onSample(try p.read(), runSeconds: 1) }
        // The run engine's safe stop after the fault: the output is switched off and confirmed.
        #expect(sequencer.safeStop() == nil)
        #expect(eventually { twin.receivedCommands.suffix(2) == [":OUTP OFF", ":SYST:ERR?"] })
    }

    /// A C/3 charge to 4.0 V, a hold and rests on a virtual clock through the wire: the twin's samples
    /// are the in-process simulator's (same cell, same noise stream, same times).
    @Test func virtualTimeDrivesTheTwinLikeTheInProcessSimulator() throws {
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
        let config = SimConfiguration()
        let reference = try SimRig(configuration: config)
        let expected = try runSequencer(pf, on: reference.potentiostat, clock: reference.clock, maximumSeconds: 3600)
        let (twin, p, clock) = try connectedSCPITwin(simulation: true, timeoutMilliseconds: 2000, configuration: config)
        defer { p.close(); twin.stop() }
        let got = try runSequencer(pf, on: p, clock: clock, maximumSeconds: 3600)
        #expect(got.endReason == "protocol complete")
        #expect(got.stepEnds.map { "\($0.0) \($0.1) \($0.2)" } == expected.stepEnds.map { "\($0.0) \($0.1) \($0.2)" })
        #expect(rms(got.voltages, expected.voltages) < 1e-4, "V rms \(rms(got.voltages, expected.voltages))")
        #expect(got.compliance == expected.compliance)
    }
}

/// Real time over TCP: the short protocol (rest, fast charge to a voltage limit, hold, rest: ~30 s)
/// through the SCPI driver against the twin, compared with the in-process simulator.
@Test func shortProtocolInRealTimeOverTCPMatchesTheInProcessSimulator() throws {
    let pf = try ProtocolFile.parse(text: shortProtocolText, path: "short.toml")
    let reference = try SimRig(configuration: shortProtocolSimConfiguration())
    let expected = try runSequencer(pf, on: reference.potentiostat, clock: reference.clock, maximumSeconds: 60)

    let (twin, p, clock) = try connectedSCPITwin(simulation: false, timeoutMilliseconds: 1000)
    defer { p.close(); twin.stop() }
    let got = try runSequencer(pf, on: p, clock: clock, maximumSeconds: 45)
    #expect(got.endReason == "protocol complete")
    #expect(got.stepEnds.map { "\($0.0) \($0.1) \($0.2)" } == expected.stepEnds.map { "\($0.0) \($0.1) \($0.2)" })
    let vrms = rms(got.voltages, expected.voltages)
    #expect(vrms < 3e-3, "V rms \(vrms)")

    // Round trip of a query, and the sample-interval jitter of the real-clock loop.
    var trips: [Int64] = []
    for _ in 0..<300 {
        let t = clock.monotonicNanoseconds
        _ = try p.query(":SYST:ERR?")
        trips.append(clock.monotonicNanoseconds - t)
    }
    let jitter = got.sampleIntervalsNanoseconds.map { abs($0 - 1_000_000_000) }
    print(String(format: "[wire-timing] SCPI/TCP: V rms vs in-process %.3f mV; round trip median %.0f µs p99 %.0f µs; sample interval jitter median %.0f µs p99 %.0f µs max %.0f µs; read latency median %.0f µs p99 %.0f µs (%d samples)",
                 vrms * 1e3, percentile(trips, 0.5) / 1e3, percentile(trips, 0.99) / 1e3,
                 percentile(jitter, 0.5) / 1e3, percentile(jitter, 0.99) / 1e3, Double(jitter.max() ?? 0) / 1e3,
                 percentile(got.readLatencyNanoseconds, 0.5) / 1e3, percentile(got.readLatencyNanoseconds, 0.99) / 1e3, got.voltages.count))
    #expect(percentile(trips, 0.5) < 20e6)
}
