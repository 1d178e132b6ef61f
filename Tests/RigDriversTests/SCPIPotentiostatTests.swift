import Electrochemistry
import Foundation
import Rig
import Testing
@testable import FirmwareSim
@testable import RigDrivers

/// A scripted 2450: IDN, an empty error queue (or the given errors first), READ? and TRIP? answers.
func scripted2450(identity: String = SCPITwin.defaultIdentity, errors: [String] = [],
                  read: String = "3.7000000E+00,1.0000000E-04") throws -> RecordingPeer {
    let queue = NSLockedQueue(errors)
    return try RecordingPeer { line in
        switch line {
        case "*IDN?": return [identity]
        case ":SYST:ERR?": return [queue.pop() ?? "0,\"No error;0;0 0\""]
        case _ where line.hasPrefix(":READ?"): return [read]
        case _ where line.hasSuffix(":TRIP?"): return ["0"]
        default: return []
        }
    }
}

final class NSLockedQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String]
    init(_ items: [String]) { self.items = items }
    func pop() -> String? { lock.lock(); defer { lock.unlock() }; return items.isEmpty ? nil : items.removeFirst() }
    func push(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
}

struct SCPIPotentiostatTests {
    @Test func addressesParseOrSayWhatIsExpected() throws {
        #expect(try TransportAddress.parse("tcp://192.168.0.20:5025") == .tcp(host: "192.168.0.20", port: 5025))
        #expect(try TransportAddress.parse("serial:///dev/ttyUSB0?baud=230400") == .serial(path: "/dev/ttyUSB0", baud: 230400))
        #expect(try TransportAddress.parse("serial:///dev/ttyACM0", defaultBaud: 921600) == .serial(path: "/dev/ttyACM0", baud: 921600))
        for (text, fragment) in [("tcp://host", "tcp://HOST:PORT"), ("tcp://h:99999", "port \"99999\""),
                                 ("serial://dev/tty?baud=9600", "absolute device path"), ("serial:///dev/tty?baud=12345", "baud \"12345\""),
                                 ("serial:///dev/tty?speed=9600", "unknown option"), ("gpib://5", "expected tcp://")] {
            #expect { try TransportAddress.parse(text) } throws: { "\($0)".contains(fragment) && "\($0)".contains(text) }
        }
    }

    @Test func configurationIsValidatedWithTheKeyNamed() throws {
        let c = try SCPIPotentiostatConfiguration.from(address: "tcp://127.0.0.1:5025", dialect: "keithley2450", sense: "2-wire", timeoutMilliseconds: 500)
        #expect(c.sense == .twoWire && c.timeoutMilliseconds == 500 && !c.simulation)
        #expect { try SCPIPotentiostatConfiguration.from(address: "tcp://127.0.0.1:5025", dialect: "b2901") } throws: { "\($0)".contains("dialect") && "\($0)".contains("keithley2450") }
        #expect { try SCPIPotentiostatConfiguration.from(address: "tcp://127.0.0.1:5025", sense: "3-wire") } throws: { "\($0)".contains("sense") && "\($0)".contains("4-wire") }
        #expect { try SCPIPotentiostatConfiguration.from(address: "tcp://127.0.0.1:5025", timeoutMilliseconds: 5) } throws: { "\($0)".contains("timeout_ms") }
    }

    @Test func currentRangesFollowTheCurrent() {
        // 1.5 mg at C/3 is 105 µA: the 1 mA range; 10 µA on the 10 µA range; 0 A on the lowest.
        #expect(SCPIPotentiostat.currentRange(forAmps: 1.05e-4) == 1e-3)
        #expect(SCPIPotentiostat.currentRange(forAmps: -1e-5) == 1e-5)
        #expect(SCPIPotentiostat.currentRange(forAmps: 3e-6) == 1e-5)
        #expect(SCPIPotentiostat.currentRange(forAmps: 0) == 1e-8)
        #expect(SCPIPotentiostat.currentRange(forAmps: 2) == nil)
    }

    @Test func connectResetsAndEachStepKindSendsItsExactCommands() throws {
        let peer = try scripted2450()
        defer { peer.stop() }
        let p = try SCPIPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 1000), clock: MonotonicClock())
        defer { p.close() }
        #expect(p.identity == SCPITwin.defaultIdentity)
        #expect(peer.received == ["*IDN?", "*RST", "*CLS", ":OUTP:SMOD HIMP", ":SENS:VOLT:RSEN ON", ":SENS:CURR:RSEN ON", ":SYST:ERR?"])

        peer.clear()
        try p.apply(.constantCurrent(amps: 1.05e-4, voltageComplianceVolts: 2.5...4.4))
        #expect(peer.received == [":SOUR:CURR:RANG 1.000000E-03", ":SOUR:CURR 1.050000E-04", ":SOUR:CURR:VLIM 4.400000E+00",
                                  ":SOUR:FUNC CURR", ":SENS:FUNC \"VOLT\"", ":SENS:VOLT:RANG 2.000000E+01", ":SENS:VOLT:RSEN ON",
                                  ":OUTP ON", ":SYST:ERR?"])
        peer.clear()
        let s = try p.read()
        #expect(peer.received == [":READ? \"defbuffer1\", READ, SOUR", ":SOUR:CURR:VLIM:TRIP?"])
        #expect(s.voltageVolts == 3.7 && s.currentAmps == 1e-4 && !s.inCompliance)

        peer.clear()
        try p.apply(.constantVoltage(volts: 4.2, currentComplianceAmps: 5e-4))
        #expect(peer.received == [":SOUR:VOLT:RANG 2.000000E+01", ":SOUR:VOLT 4.200000E+00", ":SOUR:VOLT:ILIM 5.000000E-04",
                                  ":SOUR:FUNC VOLT", ":SENS:FUNC \"CURR\"", ":SENS:CURR:RANG 1.000000E-03", ":SENS:CURR:RSEN ON",
                                  ":OUTP ON", ":SYST:ERR?"])
        peer.clear()
        let cv = try p.read()
        // In CV the reading is the current and the source read-back the voltage.
        #expect(peer.received == [":READ? \"defbuffer1\", READ, SOUR", ":SOUR:VOLT:ILIM:TRIP?"])
        #expect(cv.voltageVolts == 1e-4 && cv.currentAmps == 3.7)

        peer.clear()
        try p.apply(.openCircuit)
        #expect(peer.received == [":SOUR:CURR:RANG 1.000000E-08", ":SOUR:CURR 0", ":SOUR:CURR:VLIM 5.000000E+00",
                                  ":SOUR:FUNC CURR", ":SENS:FUNC \"VOLT\"", ":SENS:VOLT:RANG 2.000000E+01", ":SENS:VOLT:RSEN ON",
                                  ":OUTP ON", ":SYST:ERR?"])
        peer.clear()
        // Through the protocol, as the run engine calls it: the output relay opens.
        let generic: Potentiostat = p
        try generic.safeOff()
        #expect(peer.received == [":OUTP OFF", ":SYST:ERR?"])
    }

    @Test func theSimulatorsSafeOffIsOpenCircuit() throws {
        let rig = try SimRig(configuration: SimConfiguration())
        try rig.potentiostat.apply(.constantCurrent(amps: 1e-4, voltageComplianceVolts: 2.5...4.4))
        let generic: Potentiostat = rig.potentiostat
        try generic.safeOff()
        #expect(rig.potentiostat.mode == .openCircuit)
    }

    @Test func twoWireSenseTurnsRemoteSenseOff() throws {
        let peer = try scripted2450()
        defer { peer.stop() }
        let p = try SCPIPotentiostat(configuration: .init(address: peer.address, sense: .twoWire, timeoutMilliseconds: 1000), clock: MonotonicClock())
        defer { p.close() }
        #expect(peer.received.contains(":SENS:VOLT:RSEN OFF") && peer.received.contains(":SENS:CURR:RSEN OFF"))
    }

    @Test func aWrongIdentityIsRefusedBeforeAnythingIsSourced() throws {
        let peer = try scripted2450(identity: "Keysight Technologies,B2901A,MY12345678,3.4.2011.5100")
        defer { peer.stop() }
        #expect { try SCPIPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 1000), clock: MonotonicClock()) } throws: {
            let m = "\($0)"
            return m.contains("*IDN?") && m.contains("B2901A") && m.contains("nothing was sourced")
        }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(peer.received == ["*IDN?"])
    }

    @Test func theErrorQueueAfterAConfigurationFaultsTheDriver() throws {
        let queue = NSLockedQueue([])
        let peer = try RecordingPeer { line in
            switch line {
            case "*IDN?": return [SCPITwin.defaultIdentity]
            case ":SYST:ERR?": return [queue.pop() ?? "0,\"No error;0;0 0\""]
            default: return []
            }
        }
        defer { peer.stop() }
        let p = try SCPIPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 1000), clock: MonotonicClock())
        defer { p.close() }
        queue.push("-222,\"Parameter data out of range;1;2026/12/01 07:00:00.000\"")
        queue.push("-113,\"Undefined header;1;2026/12/01 07:00:00.000\"")
        peer.clear()
        #expect { try p.apply(.constantCurrent(amps: 1e-4, voltageComplianceVolts: 2.5...4.4)) } throws: {
            let m = "\($0)"
            return m.contains("-222, \"Parameter data out of range\"") && m.contains("-113, \"Undefined header\"")
                && m.contains(":SOUR:CURR 1.000000E-04") && m.contains("keithley2450")
        }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(peer.received.suffix(4) == [":SYST:ERR?", ":SYST:ERR?", ":SYST:ERR?", ":OUTP OFF"])
        // Faulted: sourcing is refused, the safe state is still reachable.
        #expect(throws: PotentiostatError.self) { try p.apply(.constantVoltage(volts: 4, currentComplianceAmps: 1e-3)) }
        try p.apply(.openCircuit)
        #expect(peer.received.suffix(2) == [":OUTP OFF", ":SYST:ERR?"])
    }

    @Test func anUnexpectedReplyReadsTheErrorQueueAndNamesBoth() throws {
        let peer = try scripted2450(read: "OVERFLOW")
        defer { peer.stop() }
        let p = try SCPIPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 1000), clock: MonotonicClock())
        defer { p.close() }
        try p.apply(.openCircuit)
        #expect { try p.read() } throws: {
            let m = "\($0)"
            return m.contains(":READ?") && m.contains("unexpected reply \"OVERFLOW\"") && m.contains("two numbers")
        }
    }

    @Test func theSimulationTimeCommandIsRefusedUnlessConfiguredAsSimulation() throws {
        let peer = try scripted2450()
        defer { peer.stop() }
        // A virtual clock cannot drive a real instrument.
        #expect { try SCPIPotentiostat(configuration: .init(address: peer.address), clock: VirtualClock()) } throws: {
            "\($0)".contains("virtual clock") && "\($0)".contains("simulation")
        }
        let p = try SCPIPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 1000), clock: MonotonicClock())
        defer { p.close() }
        #expect { try p.setSimulationTime(seconds: 10) } throws: { "\($0)".contains("simulation-only command refused") }
        #expect(!peer.received.contains { $0.contains("SIM") })
    }

    @Test func aSilentInstrumentTimesOutNamingTheCommand() throws {
        let peer = try RecordingPeer { _ in [] }
        defer { peer.stop() }
        let start = Date()
        #expect { try SCPIPotentiostat(configuration: .init(address: peer.address, timeoutMilliseconds: 200), clock: MonotonicClock()) } throws: {
            $0 as? PotentiostatError == .commandTimeout(device: "keithley2450 \(peer.address)", command: "*IDN?", seconds: 0.2)
        }
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test func nothingListeningIsADisconnectNamingTheAddress() throws {
        let peer = try RecordingPeer { _ in [] }
        let address = peer.address
        peer.stop()
        #expect { try SCPIPotentiostat(configuration: .init(address: address, timeoutMilliseconds: 300), clock: MonotonicClock()) } throws: {
            "\($0)".contains("cannot connect") && "\($0)".contains(address)
        }
    }
}
