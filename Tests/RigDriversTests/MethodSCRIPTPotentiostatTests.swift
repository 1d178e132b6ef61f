import Foundation
import Rig
import Testing
@testable import FirmwareSim
@testable import RigDrivers

/// A scripted EmStat4 on a pty: version, scripts accepted (`e`, a loop marker and one package),
/// abort answered with the script's end.
func scriptedEmStat4(version: String = MethodSCRIPTTwin.defaultVersion, scriptReply: [String]? = nil) throws -> RecordingPeer {
    try RecordingPeer(pty: true) { line in
        switch line {
        case "t": return [version, "*"]
        case "": return scriptReply ?? ["e", "M0000", "Pab8387520u;ba8000069u,10"]
        case "Z": return ["Z", "*", ""]
        default: return []
        }
    }
}

struct MethodSCRIPTTests {
    @Test func valuesDecodeFromHexWithTheirPrefix() {
        // The manual's example: 0.01 is 0x800000A on the milli prefix; -0.01 is 0x7FFFFF6.
        #expect(MethodSCRIPT.decodeValue("800000Am") == 0.01)
        #expect(MethodSCRIPT.decodeValue("7FFFFF6m") == -0.01)
        #expect(MethodSCRIPT.decodeValue("8000000 ") == 0)
        #expect(MethodSCRIPT.decodeValue("800000Ax") == nil)
        #expect(MethodSCRIPT.decodeValue("80000Am") == nil)
    }

    @Test func packagesParseWithTypesAndMetadata() throws {
        let vars = try #require(MethodSCRIPT.parsePackage("Pda7F85F3Fu;ba48D503Dp,10,288"))
        #expect(vars.map(\.type) == ["da", "ba"])
        #expect(abs(vars[0].value - (-0.499905)) < 1e-12)
        #expect(abs(vars[1].value - (-57_847_747e-12)) < 1e-18)
        #expect(vars[1].status == 0 && vars[1].currentRange == 0x88)
        #expect(MethodSCRIPT.parsePackage("Pab12") == nil)
        #expect(MethodSCRIPT.parsePackage("M0000") == nil)
        #expect(MethodSCRIPT.parsePackage("Pab800000Am,1Z") == nil)
    }

    @Test func scriptArgumentsUseIntegerMantissasWithSIPrefixes() {
        #expect(MethodSCRIPT.argument(4.2) == "4200m")
        #expect(MethodSCRIPT.argument(1.05e-4) == "105u")
        #expect(MethodSCRIPT.argument(-1.26e-3) == "-1260u")
        #expect(MethodSCRIPT.argument(0.1) == "100m")
        #expect(MethodSCRIPT.argument(86400) == "86400")
        #expect(MethodSCRIPT.argument(0) == "0")
    }

    @Test func deviceErrorsAreNamed() {
        #expect(MethodSCRIPT.errorDescription("!0004: Line 5") == "error 0x0004: the command is not recognised (Line 5)")
        #expect(MethodSCRIPT.errorDescription("!4ABC").hasPrefix("error 0x4ABC: device error"))
    }

    @Test func eachStepKindHasItsScript() {
        let cc = MethodSCRIPT.scriptLines(for: .constantCurrent(amps: 1.05e-4, voltageComplianceVolts: 2.5...4.4), intervalSeconds: 0.1)
        #expect(cc == ["var p", "var c", "set_pgstat_chan 0", "set_pgstat_mode 2", "set_max_bandwidth 40",
                       "set_range ba 1m", "set_autoranging ba 1m 1m", "cell_on", "meas_loop_cp p c 105u 100m 86400",
                       "pck_start", "pck_add p", "pck_add c", "pck_end", "if p > 4400m", "breakloop", "endif", "endloop",
                       "set_e 4400m", "meas_loop_ca p c 4400m 100m 86400", "pck_start", "pck_add p", "pck_add c", "pck_end",
                       "endloop", "on_finished:", "cell_off"])
        let discharge = MethodSCRIPT.scriptLines(for: .constantCurrent(amps: -1.05e-4, voltageComplianceVolts: 2.5...4.4), intervalSeconds: 0.1)
        #expect(discharge.contains("meas_loop_cp p c -105u 100m 86400") && discharge.contains("if p < 2500m")
                && discharge.contains("meas_loop_ca p c 2500m 100m 86400"))
        let cv = MethodSCRIPT.scriptLines(for: .constantVoltage(volts: 4.2, currentComplianceAmps: 1.5e-3), intervalSeconds: 0.1)
        #expect(cv == ["var p", "var c", "set_pgstat_chan 0", "set_pgstat_mode 2", "set_max_bandwidth 40",
                       "set_range ba 10m", "set_autoranging ba 1n 10m", "set_e 4200m", "cell_on", "meas_loop_ca p c 4200m 100m 86400",
                       "pck_start", "pck_add p", "pck_add c", "pck_end", "endloop", "on_finished:", "cell_off"])
        let ocp = MethodSCRIPT.scriptLines(for: .openCircuit, intervalSeconds: 0.25)
        #expect(ocp == ["var p", "set_pgstat_chan 0", "set_pgstat_mode 2", "set_max_bandwidth 40", "cell_off",
                        "meas_loop_ocp p 250m 86400", "pck_start", "pck_add p", "pck_end", "endloop", "on_finished:", "cell_off"])
    }

    @Test func configurationIsValidatedWithTheKeyNamed() throws {
        let c = try MethodSCRIPTPotentiostatConfiguration.from(address: "serial:///dev/ttyACM0", dialect: "nexus")
        #expect(try c.validated() == .serial(path: "/dev/ttyACM0", baud: 921600))
        #expect { try MethodSCRIPTPotentiostatConfiguration.from(address: "serial:///dev/ttyACM0", dialect: "pico") } throws: { "\($0)".contains("\"emstat4\"") }
        #expect { try MethodSCRIPTPotentiostatConfiguration.from(address: "serial:///dev/ttyACM0", packageIntervalMilliseconds: 1) } throws: { "\($0)".contains("package_interval_ms") }
        #expect { try MethodSCRIPTPotentiostatConfiguration.from(address: "/dev/ttyACM0") } throws: { "\($0)".contains("serial:///dev/PATH") }
    }

    @Test func overAPtyTheDriverSendsTheVersionQueryThenEachScriptAndParsesThePackages() throws {
        let peer = try scriptedEmStat4()
        defer { peer.stop() }
        let p = try MethodSCRIPTPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 1000), clock: MonotonicClock())
        defer { p.close() }
        #expect(p.version == MethodSCRIPTTwin.defaultVersion)
        #expect(peer.received == ["t"])
        peer.clear()
        let mode = PotentiostatMode.constantCurrent(amps: 1.05e-4, voltageComplianceVolts: 2.5...4.4)
        try p.apply(mode)
        #expect(peer.received == ["e"] + MethodSCRIPT.scriptLines(for: mode, intervalSeconds: 0.1) + [""])
        let s = try p.read()
        #expect(abs(s.voltageVolts - 3.7) < 1e-12 && abs(s.currentAmps - 105e-6) < 1e-15 && !s.inCompliance)
        peer.clear()
        try p.apply(.openCircuit)
        #expect(peer.received == ["Z", "e"] + MethodSCRIPT.scriptLines(for: .openCircuit, intervalSeconds: 0.1) + [""])
        peer.clear()
        try p.safeOff()
        #expect(peer.received == ["Z"])
    }

    @Test func aWrongVersionIsRefusedBeforeAnyScript() throws {
        let peer = try scriptedEmStat4(version: "tespico1.2 #Jun 1 2021")
        defer { peer.stop() }
        #expect { try MethodSCRIPTPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 1000), clock: MonotonicClock()) } throws: {
            "\($0)".contains("tespico1.2") && "\($0)".contains("nothing was started")
        }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(peer.received == ["t"])
    }

    @Test func aRefusedScriptIsAnErrorWithTheCodesMeaning() throws {
        let peer = try scriptedEmStat4(scriptReply: ["!0004: Line 9"])
        defer { peer.stop() }
        let p = try MethodSCRIPTPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 1000), clock: MonotonicClock())
        defer { p.close() }
        #expect { try p.apply(.constantVoltage(volts: 4, currentComplianceAmps: 1e-3)) } throws: {
            let m = "\($0)"
            return m.contains("meas_loop_ca") && m.contains("the command is not recognised (Line 9)") && m.contains("emstat4")
        }
        #expect(p.fault != nil)
    }

    @Test func theSimulationTimeCommandIsRefusedUnlessConfiguredAsSimulation() throws {
        let peer = try scriptedEmStat4()
        defer { peer.stop() }
        #expect { try MethodSCRIPTPotentiostat(configuration: .init(address: peer.address), clock: VirtualClock()) } throws: {
            "\($0)".contains("virtual clock")
        }
        let p = try MethodSCRIPTPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 1000), clock: MonotonicClock())
        defer { p.close() }
        #expect { try p.setSimulationTime(seconds: 3) } throws: { "\($0)".contains("simulation-only command refused") }
        #expect(!peer.received.contains { $0.hasPrefix("~") })
    }
}
