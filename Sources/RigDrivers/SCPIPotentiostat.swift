import Foundation
import Rig

/// Which SCPI instrument family the driver speaks to. Only the Keithley 2450 family is implemented:
/// the Keysight B2900 differs in limit syntax (`:SENS:VOLT:PROT`) and output-off modes, and is left out.
public enum SCPIDialect: String, Sendable, Equatable, CaseIterable {
    /// Keithley 2450 / 2460 / 2461 SourceMeter in its SCPI command set (`*LANG SCPI`).
    case keithley2450

    /// Models whose `*IDN?` this dialect accepts.
    public var acceptedModels: [String] {
        switch self { case .keithley2450: return ["MODEL 2450", "MODEL 2460", "MODEL 2461"] }
    }
}

/// How the cell leads are connected.
public enum SenseWiring: String, Sendable, Equatable, CaseIterable {
    /// Force leads only: the lead and contact resistance is in the measured voltage.
    case twoWire = "2-wire"
    /// Separate sense leads to the cell terminals (remote sense, Kelvin connection).
    case fourWire = "4-wire"
}

/// Configuration of an SCPI source-measure unit used as the rig's potentiostat. The rig file's
/// `[potentiostat]` table maps onto it: `address`, `dialect`, `sense`, `timeout_ms`, `simulation`.
public struct SCPIPotentiostatConfiguration: Sendable, Equatable {
    /// `tcp://HOST:5025` (LAN) or `serial:///dev/ttyUSB0?baud=115200` (RS-232 adapter).
    public var address: String
    /// Instrument family; `*IDN?` must match it before anything is sourced.
    public var dialect: SCPIDialect
    /// 2-wire or 4-wire (remote sense) connection of the cell.
    public var sense: SenseWiring
    /// Longest wait for a reply or for the link to take a command, ms (50…60000).
    public var timeoutMilliseconds: Int
    /// True only for firmware-sim's twin: allows the simulation-only `:SYST:SIM:TIME` command, which
    /// lets a virtual clock drive the twin's cell. A real instrument must run with `false`.
    public var simulation: Bool
    /// Device name in messages (default: dialect and address).
    public var name: String?

    public init(address: String, dialect: SCPIDialect = .keithley2450, sense: SenseWiring = .fourWire,
                timeoutMilliseconds: Int = 2000, simulation: Bool = false, name: String? = nil) {
        self.address = address
        self.dialect = dialect
        self.sense = sense
        self.timeoutMilliseconds = timeoutMilliseconds
        self.simulation = simulation
        self.name = name
    }

    /// Builds a configuration from the rig file's strings, validating each.
    /// - Throws: `RigDriverError.badConfiguration` / `.badAddress` naming the key and what is expected.
    public static func from(address: String, dialect: String = "keithley2450", sense: String = "4-wire",
                            timeoutMilliseconds: Int = 2000, simulation: Bool = false) throws(RigDriverError) -> SCPIPotentiostatConfiguration {
        guard let d = SCPIDialect(rawValue: dialect) else {
            throw .badConfiguration(key: "dialect", value: "\"\(dialect)\"",
                                    expected: SCPIDialect.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or "))
        }
        guard let s = SenseWiring(rawValue: sense) else {
            throw .badConfiguration(key: "sense", value: "\"\(sense)\"", expected: "\"2-wire\" or \"4-wire\"")
        }
        let c = SCPIPotentiostatConfiguration(address: address, dialect: d, sense: s,
                                              timeoutMilliseconds: timeoutMilliseconds, simulation: simulation)
        _ = try c.validated()
        return c
    }

    /// Checks every value; returns the parsed address.
    public func validated() throws(RigDriverError) -> TransportAddress {
        guard (50...60000).contains(timeoutMilliseconds) else {
            throw .badConfiguration(key: "timeout_ms", value: "\(timeoutMilliseconds)", expected: "50…60000 ms")
        }
        return try TransportAddress.parse(address, defaultBaud: 9600)
    }
}

/// A Keithley 2450-family SourceMeter driven over SCPI as the rig's potentiostat/galvanostat.
///
/// - Constant current: current source with a voltage limit (`:SOUR:CURR:VLIM`), voltage measured.
///   The 2450's limit is a magnitude, so it holds the upper window edge itself (trip state read with
///   `:SOUR:CURR:VLIM:TRIP?`); the lower edge of a discharge is held by the driver, which switches to
///   constant voltage at that edge when a sample reaches it (reported `inCompliance`), as the
///   in-process simulator does.
/// - Constant voltage: voltage source with a current limit (`:SOUR:VOLT:ILIM`), current measured.
/// - Open circuit (rests): 0 A from the current source, voltage measured — the instrument's own way of
///   measuring an open-circuit voltage (input impedance > 10 GΩ). The output-off state is set to high
///   impedance (`:OUTP:SMOD HIMP`) at connect, so `safeOff()`, `close()`, every fault, and
///   `apply(.openCircuit)` after a fault open the output relay (`:OUTP OFF`).
///
/// Every configuration ends with `:SYST:ERR?` read until `0`; any instrument error, timeout,
/// disconnect or unexpected reply throws `PotentiostatError` naming the instrument, the command and the
/// reply, after the output-off has been attempted.
public final class SCPIPotentiostat: Potentiostat {
    /// Device name for messages, e.g. `keithley2450 tcp://192.168.0.20:5025`.
    public let name: String
    /// The configuration it was opened with.
    public let configuration: SCPIPotentiostatConfiguration
    /// The instrument's `*IDN?` reply.
    public private(set) var identity = ""
    /// The mode last applied (the driver's compliance switch does not change it).
    public private(set) var mode: PotentiostatMode = .openCircuit
    /// The first error that faulted the driver; later commands other than the safe state are refused.
    public private(set) var fault: PotentiostatError?
    /// Every command line sent, oldest first, when `keepsCommandLog` is set (tests, debugging).
    public private(set) var commandLog: [String] = []
    /// Keep `commandLog`.
    public var keepsCommandLog = false

    private let link: LineTransport
    private let clock: any Clock
    private let originNanoseconds: Int64
    private var outputOn = false
    /// Constant current held at the lower window edge by the driver.
    private var heldAtLowerEdge = false
    private var timeoutMs: Int { configuration.timeoutMilliseconds }

    /// Current ranges of the 2450 (source and measure), A.
    public static let currentRangesAmps: [Double] = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]
    /// Voltage range used for cells (the 2450's 20 V range covers 0…5 V cells).
    public static let voltageRangeVolts = 20.0

    /// The smallest current range that holds `amps` (µA ranges for µA currents); nil above 1 A.
    public static func currentRange(forAmps amps: Double) -> Double? {
        currentRangesAmps.first { abs(amps) <= $0 * 1.0000001 }
    }

    /// Connects, checks `*IDN?` against the dialect (before anything is sourced), resets (`*RST`,
    /// `*CLS`), sets the output-off mode to high impedance and the sense wiring, and reads the error queue.
    /// - Parameters:
    ///   - clock: the rig's clock; samples are stamped with it. A virtual clock is only accepted with
    ///     `configuration.simulation` (it then drives the twin through `:SYST:SIM:TIME`).
    public init(configuration: SCPIPotentiostatConfiguration, clock: any Clock) throws {
        self.configuration = configuration
        self.clock = clock
        originNanoseconds = clock.monotonicNanoseconds
        (name, link) = try WireInstrument.connect(configuration, clock: clock, openFailure: "cannot connect")
        do {
            let idn = try queryRaw("*IDN?")
            let fields = idn.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2, fields[0].uppercased().hasPrefix("KEITHLEY INSTRUMENTS"),
                  configuration.dialect.acceptedModels.contains(fields[1].uppercased()) else {
                throw PotentiostatError.rejected(device: name, command: "*IDN?",
                    reason: "reply \"\(idn)\" is not a \(configuration.dialect.acceptedModels.joined(separator: "/")) (dialect \(configuration.dialect.rawValue)); nothing was sourced")
            }
            identity = idn
            try configure(["*RST", "*CLS", ":OUTP:SMOD HIMP",
                           ":SENS:VOLT:RSEN \(rsen)", ":SENS:CURR:RSEN \(rsen)"], what: "reset")
        } catch {
            link.close()
            throw error
        }
    }

    private var rsen: String { configuration.sense == .fourWire ? "ON" : "OFF" }

    deinit { link.close() }

    // MARK: - Potentiostat

    /// Sets the control mode (see the type's description for the commands of each mode).
    /// After a fault only `.openCircuit` is accepted, and it turns the output off.
    public func apply(_ mode: PotentiostatMode) throws {
        if let fault {
            guard mode == .openCircuit else {
                throw PotentiostatError.rejected(device: name, command: "apply \(mode)", reason: "refused after an earlier fault: \(fault)")
            }
            try outputOff()
            return
        }
        try syncSimulationTime()
        heldAtLowerEdge = false
        switch mode {
        case .constantCurrent(let amps, let window):
            guard amps.isFinite, window.lowerBound.isFinite, window.upperBound.isFinite, window.upperBound > 0,
                  let range = Self.currentRange(forAmps: amps) else {
                throw PotentiostatError.rejected(device: name, command: "constant current \(amps) A",
                                                 reason: "expected a finite current ≤ 1 A and a finite voltage window")
            }
            try configure(Self.constantCurrentCommands(amps: amps, rangeAmps: range, voltageLimitVolts: window.upperBound, rsen: rsen),
                          what: "constant current \(amps) A")
        case .constantVoltage(let volts, let limit):
            guard volts.isFinite, limit.isFinite, limit > 0, let range = Self.currentRange(forAmps: limit) else {
                throw PotentiostatError.rejected(device: name, command: "constant voltage \(volts) V",
                                                 reason: "expected a finite voltage and a current limit 0 < I ≤ 1 A")
            }
            try configure(Self.constantVoltageCommands(volts: volts, currentLimitAmps: limit, rangeAmps: range, rsen: rsen),
                          what: "constant voltage \(volts) V")
        case .openCircuit:
            try configure(Self.openCircuitCommands(voltageLimitVolts: Self.limitForRest(after: self.mode), rsen: rsen),
                          what: "open circuit")
        }
        self.mode = mode
        outputOn = true
    }

    /// Measures now: `:READ? "defbuffer1", READ, SOUR` (the sense function's reading and the source
    /// read-back) and the limit's trip state.
    public func read() throws -> ElectrochemSample {
        if let fault { throw fault }
        try syncSimulationTime()
        let t = clock.monotonicNanoseconds
        let command = ":READ? \"defbuffer1\", READ, SOUR"
        let reply = try query(command)
        let parts = reply.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let reading = parts[0], let source = parts[1], reading.isFinite, source.isFinite,
              abs(reading) < 1e30, abs(source) < 1e30 else {
            throw anomaly(command: command, reply: reply, expected: "two numbers <reading>,<source>")
        }
        let measuresVoltage: Bool
        let tripQuery: String?
        switch mode {
        case .constantVoltage: measuresVoltage = false; tripQuery = ":SOUR:VOLT:ILIM:TRIP?"
        case .constantCurrent: measuresVoltage = !heldAtLowerEdge; tripQuery = heldAtLowerEdge ? nil : ":SOUR:CURR:VLIM:TRIP?"
        case .openCircuit: measuresVoltage = true; tripQuery = nil
        }
        let volts = measuresVoltage ? reading : source
        let amps = measuresVoltage ? source : reading
        var tripped = heldAtLowerEdge
        if let q = tripQuery {
            let r = try query(q)
            guard r == "0" || r == "1" else { throw anomaly(command: q, reply: r, expected: "0 or 1") }
            tripped = tripped || r == "1"
        }
        // The 2450's voltage limit is a magnitude: the lower edge of a discharge is held here.
        if case .constantCurrent(let set, let window) = mode, set < 0, !heldAtLowerEdge, volts <= window.lowerBound {
            try configure(Self.constantVoltageCommands(volts: window.lowerBound, currentLimitAmps: abs(set),
                                                       rangeAmps: Self.currentRange(forAmps: set) ?? 1, rsen: rsen),
                          what: "hold at the lower voltage limit \(window.lowerBound) V")
            heldAtLowerEdge = true
            tripped = true
        }
        return ElectrochemSample(monotonicNanoseconds: t, voltageVolts: volts, currentAmps: amps, inCompliance: tripped)
    }

    // MARK: - Safe state, simulation time, raw access

    /// Turns the output off (high impedance, relay open) and confirms with the error queue.
    public func safeOff() throws { try outputOff() }

    /// Turns the output off if possible and closes the link.
    public func close() {
        if link.isOpen { try? sendRaw(":OUTP OFF") }
        link.close()
    }

    /// Moves the twin's cell to `seconds` since this driver was opened (firmware-sim only).
    /// - Throws: `PotentiostatError.rejected` unless the configuration says `simulation = true`:
    ///   a real 2450 has no such command.
    public func setSimulationTime(seconds: Double) throws {
        guard configuration.simulation else {
            throw PotentiostatError.rejected(device: name, command: ":SYST:SIM:TIME",
                                             reason: "simulation-only command refused: this driver talks to a real instrument (simulation = false)")
        }
        try sendRaw(":SYST:SIM:TIME " + Self.number(seconds))
    }

    /// Sends a query and returns its reply (for diagnostics and round-trip measurements).
    public func query(_ command: String) throws -> String {
        do { return try queryRaw(command) } catch let e as PotentiostatError { throw faulted(e) }
    }

    // MARK: - Command sets (exact lines, in order)

    /// Constant current: range before level (a level above the range is an error), the level and limit
    /// before the function switch (so the switch never sources a stale level), then measure voltage.
    public static func constantCurrentCommands(amps: Double, rangeAmps: Double, voltageLimitVolts: Double, rsen: String) -> [String] {
        [":SOUR:CURR:RANG " + number(rangeAmps), ":SOUR:CURR " + number(amps), ":SOUR:CURR:VLIM " + number(voltageLimitVolts),
         ":SOUR:FUNC CURR", ":SENS:FUNC \"VOLT\"", ":SENS:VOLT:RANG " + number(voltageRangeVolts), ":SENS:VOLT:RSEN " + rsen,
         ":OUTP ON"]
    }

    /// Constant voltage with a current limit; the current is measured on the range of the limit.
    public static func constantVoltageCommands(volts: Double, currentLimitAmps: Double, rangeAmps: Double, rsen: String) -> [String] {
        [":SOUR:VOLT:RANG " + number(voltageRangeVolts), ":SOUR:VOLT " + number(volts), ":SOUR:VOLT:ILIM " + number(currentLimitAmps),
         ":SOUR:FUNC VOLT", ":SENS:FUNC \"CURR\"", ":SENS:CURR:RANG " + number(rangeAmps), ":SENS:CURR:RSEN " + rsen,
         ":OUTP ON"]
    }

    /// Open circuit with the voltage measured: 0 A on the lowest current range.
    public static func openCircuitCommands(voltageLimitVolts: Double, rsen: String) -> [String] {
        constantCurrentCommands(amps: 0, rangeAmps: currentRangesAmps[0], voltageLimitVolts: voltageLimitVolts, rsen: rsen)
    }

    static func limitForRest(after mode: PotentiostatMode) -> Double {
        if case .constantCurrent(_, let w) = mode { return w.upperBound }
        return 5
    }

    /// A number as the driver writes it: `%.6E` (instrument resolution is 6½ digits).
    public static func number(_ x: Double) -> String {
        if x == 0 { return "0" }
        return String(format: "%.6E", x)
    }

    // MARK: - Internals

    private func syncSimulationTime() throws {
        guard configuration.simulation, clock.isVirtual else { return }
        try setSimulationTime(seconds: Double(clock.monotonicNanoseconds - originNanoseconds) * 1e-9)
    }

    /// Sends each command, then reads the error queue; any error faults the driver.
    private func configure(_ commands: [String], what: String) throws {
        do {
            for c in commands { try sendRaw(c) }
            let errors = try drainErrorQueue()
            if !errors.isEmpty {
                throw PotentiostatError.rejected(device: name, command: commands.joined(separator: "; "),
                    reason: "instrument error queue after \(what): " + errors.joined(separator: "; "))
            }
        } catch let e as PotentiostatError { throw faulted(e) }
    }

    /// Reads `:SYST:ERR?` until `0,"No error"` (at most 32 entries); returns the messages.
    private func drainErrorQueue() throws -> [String] {
        var messages: [String] = []
        for _ in 0..<32 {
            let r = try queryRaw(":SYST:ERR?")
            guard let comma = r.firstIndex(of: ","), let code = Int(r[..<comma].trimmingCharacters(in: .whitespaces)) else {
                throw PotentiostatError.rejected(device: name, command: ":SYST:ERR?",
                                                 reason: "unexpected reply \"\(r)\"; expected <code>,\"<message>\"")
            }
            if code == 0 { return messages }
            var text = r[r.index(after: comma)...].trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 { text = String(text.dropFirst().dropLast()) }
            // The 2450 appends ";<severity>;<timestamp>" to the message.
            let message = text.split(separator: ";", maxSplits: 1).first.map(String.init) ?? text
            messages.append("\(code), \"\(message)\"")
        }
        return messages
    }

    /// An unexpected reply: read what the error queue says (best effort), fault, and describe both.
    private func anomaly(command: String, reply: String, expected: String) -> PotentiostatError {
        var reason = "unexpected reply \"\(Self.printable(reply))\"; expected \(expected)"
        link.discardInput()
        if let errors = try? drainErrorQueue(), !errors.isEmpty { reason += "; instrument error queue: " + errors.joined(separator: "; ") }
        return faulted(.rejected(device: name, command: command, reason: reason))
    }

    /// Records the first fault and attempts the output-off (the safe state) before the error propagates.
    private func faulted(_ e: PotentiostatError) -> PotentiostatError {
        if fault == nil {
            fault = e
            if link.isOpen {
                link.discardInput()
                try? link.send(":OUTP OFF", timeoutMilliseconds: min(timeoutMs, 500))
            }
        }
        return e
    }

    private func outputOff() throws {
        do {
            // Late replies to a command that timed out must not be read as the queue's answer.
            link.discardInput()
            try sendRaw(":OUTP OFF")
            let errors = try drainErrorQueue()
            outputOn = false
            if !errors.isEmpty {
                throw PotentiostatError.rejected(device: name, command: ":OUTP OFF", reason: "instrument error queue: " + errors.joined(separator: "; "))
            }
        } catch let e as PotentiostatError {
            if fault == nil { fault = e }
            throw e
        }
    }

    private func sendRaw(_ command: String) throws {
        if keepsCommandLog { commandLog.append(command) }
        do { try link.send(command, timeoutMilliseconds: timeoutMs) } catch { throw map(error, command: command) }
    }

    private func queryRaw(_ command: String) throws -> String {
        try sendRaw(command)
        do { return try link.receiveLine(timeoutMilliseconds: timeoutMs, operation: "reply to \"\(command)\"") } catch {
            throw map(error, command: command)
        }
    }

    private func map(_ e: RigDriverError, command: String) -> PotentiostatError {
        switch e {
        case .timeout(_, _, let ms): return .commandTimeout(device: name, command: command, seconds: Double(ms) / 1000)
        case .closed: return .disconnected(device: name, reason: "connection closed by the instrument at \"\(command)\"")
        default: return .disconnected(device: name, reason: "\(e) at \"\(command)\"")
        }
    }

    static func printable(_ s: String) -> String {
        // Control characters and undecodable bytes (U+FFFD after UTF-8 decoding) shown as escapes.
        let shown = s.unicodeScalars.prefix(80).map { c -> String in
            if c.value >= 0x20 && c.value < 0x7F { return String(c) }
            return c.value < 0x100 ? String(format: "\\x%02X", c.value) : String(format: "\\u{%04X}", c.value)
        }
        return shown.joined() + (s.unicodeScalars.count > 80 ? "…" : "")
    }
}
