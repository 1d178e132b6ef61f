import Foundation
import Rig

/// Which MethodSCRIPT instrument the driver expects (checked against the `t` version reply).
public enum MethodSCRIPTDialect: String, Sendable, Equatable, CaseIterable {
    /// PalmSens EmStat4 (LR/HR, 921600 baud on USB).
    case emstat4
    /// PalmSens Nexus.
    case nexus

    /// Text one of which the version reply must contain (case-insensitive).
    public var versionMarkers: [String] {
        switch self {
        case .emstat4: return ["emstat4", "es4"]
        case .nexus: return ["nexus"]
        }
    }

    /// Baud rate when the address gives none.
    public var defaultBaud: Int { 921600 }
}

/// Configuration of a PalmSens MethodSCRIPT potentiostat. Rig-file keys: `address`, `dialect`,
/// `sense`, `timeout_ms`, `simulation`, `package_interval_ms`.
public struct MethodSCRIPTPotentiostatConfiguration: Sendable, Equatable {
    /// `serial:///dev/ttyACM0?baud=921600` (a pty path works the same), or `tcp://HOST:PORT` for a
    /// serial-to-network bridge.
    public var address: String
    /// Instrument; the version reply must match before any script runs.
    public var dialect: MethodSCRIPTDialect
    /// 2-wire: RE and CE clipped together on the lithium counter; 4-wire: the S (sense) lead on the
    /// working electrode as well. The scripts are the same; the value is recorded.
    public var sense: SenseWiring
    /// Longest wait for a reply or for the next data package beyond its interval, ms (50…60000).
    public var timeoutMilliseconds: Int
    /// True only for firmware-sim's twin: allows the simulation-only `~T<seconds>` time command.
    public var simulation: Bool
    /// Interval of the streamed data packages, ms (10…10000); `read()` returns the latest.
    public var packageIntervalMilliseconds: Int
    /// Device name in messages (default: dialect and address).
    public var name: String?

    public init(address: String, dialect: MethodSCRIPTDialect = .emstat4, sense: SenseWiring = .twoWire,
                timeoutMilliseconds: Int = 2000, simulation: Bool = false, packageIntervalMilliseconds: Int = 100, name: String? = nil) {
        self.address = address
        self.dialect = dialect
        self.sense = sense
        self.timeoutMilliseconds = timeoutMilliseconds
        self.simulation = simulation
        self.packageIntervalMilliseconds = packageIntervalMilliseconds
        self.name = name
    }

    /// Builds a configuration from the rig file's strings, validating each.
    public static func from(address: String, dialect: String = "emstat4", sense: String = "2-wire", timeoutMilliseconds: Int = 2000,
                            simulation: Bool = false, packageIntervalMilliseconds: Int = 100) throws(RigDriverError) -> MethodSCRIPTPotentiostatConfiguration {
        guard let d = MethodSCRIPTDialect(rawValue: dialect) else {
            throw .badConfiguration(key: "dialect", value: "\"\(dialect)\"",
                                    expected: MethodSCRIPTDialect.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or "))
        }
        guard let s = SenseWiring(rawValue: sense) else {
            throw .badConfiguration(key: "sense", value: "\"\(sense)\"", expected: "\"2-wire\" or \"4-wire\"")
        }
        let c = MethodSCRIPTPotentiostatConfiguration(address: address, dialect: d, sense: s, timeoutMilliseconds: timeoutMilliseconds,
                                                      simulation: simulation, packageIntervalMilliseconds: packageIntervalMilliseconds)
        _ = try c.validated()
        return c
    }

    /// Checks every value; returns the parsed address.
    public func validated() throws(RigDriverError) -> TransportAddress {
        guard (50...60000).contains(timeoutMilliseconds) else {
            throw .badConfiguration(key: "timeout_ms", value: "\(timeoutMilliseconds)", expected: "50…60000 ms")
        }
        guard (10...10000).contains(packageIntervalMilliseconds) else {
            throw .badConfiguration(key: "package_interval_ms", value: "\(packageIntervalMilliseconds)", expected: "10…10000 ms")
        }
        return try TransportAddress.parse(address, defaultBaud: dialect.defaultBaud)
    }
}

/// A PalmSens EmStat4/Nexus driven by MethodSCRIPT as the rig's potentiostat.
///
/// Each `apply` aborts the running script (`Z`) and starts the mode's script
/// (`MethodSCRIPT.scriptLines(for:intervalSeconds:)`), which streams data packages at the package
/// interval; `read()` parses what has arrived and returns the latest sample. Constant current runs a
/// chronopotentiometry loop that breaks at the voltage window's edge into a chronoamperometry hold at
/// that edge (the instrument evaluates the limit itself; samples from the hold are `inCompliance`);
/// constant voltage is a chronoamperometry loop (an overloaded current is `inCompliance`); open
/// circuit is an OCP loop with the cell off. `!XXXX` lines become errors with the code's meaning; a
/// stream that stops, an unexpected line or a closed port throw `PotentiostatError` naming the
/// instrument, the script and the line; the script is aborted (cell off) first when the link allows.
public final class MethodSCRIPTPotentiostat: Potentiostat {
    /// Device name for messages.
    public let name: String
    /// The configuration it was opened with.
    public let configuration: MethodSCRIPTPotentiostatConfiguration
    /// The version reply (`t`), first line.
    public private(set) var version = ""
    /// The mode last applied.
    public private(set) var mode: PotentiostatMode = .openCircuit
    /// The first error that faulted the driver.
    public private(set) var fault: PotentiostatError?
    /// The script last sent (lines, without `e` and the final empty line).
    public private(set) var scriptLines: [String] = []

    private let link: LineTransport
    private let clock: any Clock
    private let originNanoseconds: Int64
    private var scriptRunning = false
    private var loopsStarted = 0
    private var latest: ElectrochemSample?
    private var lastPackageNanoseconds: Int64 = 0
    private var scriptStartNanoseconds: Int64 = 0
    private var timeoutMs: Int { configuration.timeoutMilliseconds }
    private var technique: String {
        switch mode {
        case .constantCurrent: return "meas_loop_cp"
        case .constantVoltage: return "meas_loop_ca"
        case .openCircuit: return "meas_loop_ocp"
        }
    }

    /// Opens the port, queries the version (`t`) and checks it against the dialect before any script
    /// runs; a script left running by an earlier session is aborted.
    public init(configuration: MethodSCRIPTPotentiostatConfiguration, clock: any Clock) throws {
        self.configuration = configuration
        self.clock = clock
        originNanoseconds = clock.monotonicNanoseconds
        (name, link) = try WireInstrument.connect(configuration, clock: clock, openFailure: "cannot open")
        do {
            link.discardInput()
            let (reply, staleStream) = try versionReply()
            let text = reply.joined(separator: " ").lowercased()
            guard configuration.dialect.versionMarkers.contains(where: { text.contains($0) }) else {
                throw PotentiostatError.rejected(device: name, command: "t",
                    reason: "version \"\(reply[0])\" is not a \(configuration.dialect.rawValue) (expected it to name \(configuration.dialect.versionMarkers.joined(separator: " or "))); nothing was started")
            }
            version = reply[0]
            if staleStream { scriptRunning = true; try abortScript() }
        } catch {
            link.close()
            throw error
        }
    }

    deinit { link.close() }

    // MARK: - Potentiostat

    /// Aborts the running script and starts the one for `mode`. After a fault only `.openCircuit`
    /// is accepted: it aborts the script, whose `on_finished:` turns the cell off.
    public func apply(_ mode: PotentiostatMode) throws {
        if let fault {
            guard mode == .openCircuit else {
                throw PotentiostatError.rejected(device: name, command: "apply \(mode)", reason: "refused after an earlier fault: \(fault)")
            }
            try guarded { scriptRunning = true; try abortScript() }
            return
        }
        switch mode {
        case .constantCurrent(let amps, let window):
            guard amps.isFinite, window.lowerBound.isFinite, window.upperBound.isFinite, window.lowerBound < window.upperBound,
                  MethodSCRIPT.currentRange(forAmps: amps) != nil else {
                throw PotentiostatError.rejected(device: name, command: "constant current \(amps) A",
                                                 reason: "expected a finite current ≤ 100 mA and a voltage window low < high")
            }
        case .constantVoltage(let volts, let limit):
            guard volts.isFinite, limit.isFinite, limit > 0, MethodSCRIPT.currentRange(forAmps: limit) != nil else {
                throw PotentiostatError.rejected(device: name, command: "constant voltage \(volts) V",
                                                 reason: "expected a finite voltage and a current limit 0 < I ≤ 100 mA")
            }
        case .openCircuit: break
        }
        try guarded {
            try syncSimulationTime()
            if scriptRunning { try abortScript() }
            self.mode = mode
            try startScript()
        }
    }

    /// The latest streamed sample (waiting for the first package of a new script).
    public func read() throws -> ElectrochemSample {
        if let fault { throw fault }
        return try guarded {
            if configuration.simulation && clock.isVirtual {
                try send(Self.simulationTimeCommand(seconds: elapsedSeconds))
                while true {
                    let line = try receive(command: "~T", timeoutMilliseconds: timeoutMs)
                    if line == "~T" { break }
                    try process(line)
                }
            } else {
                let lines: [String]
                do { lines = try link.receiveAvailableLines(operation: "data stream of \(technique)") } catch let e as RigDriverError {
                    throw map(e, command: "data stream of \(technique)")
                }
                for line in lines { try process(line) }
            }
            let interval = Int64(configuration.packageIntervalMilliseconds) * 1_000_000
            let allowed = interval + Int64(timeoutMs) * 1_000_000
            while true {
                let now = clock.monotonicNanoseconds
                let since = latest == nil ? scriptStartNanoseconds : lastPackageNanoseconds
                if let s = latest, now - lastPackageNanoseconds <= allowed || clock.isVirtual { return s }
                let left = since + allowed - now
                if left <= 0 || clock.isVirtual {
                    throw PotentiostatError.commandTimeout(device: name, command: "data package of \(technique)",
                                                           seconds: Double(allowed) / 1e9)
                }
                let line: String
                do { line = try link.receiveLine(timeoutMilliseconds: Int(left / 1_000_000) + 1, operation: "data stream") } catch let e as RigDriverError {
                    if case .timeout = e { continue }
                    throw map(e, command: "data stream of \(technique)")
                }
                try process(line)
            }
        }
    }

    // MARK: - Safe state, simulation time

    /// Aborts the script: its `on_finished:` turns the cell off.
    public func safeOff() throws {
        try guarded { scriptRunning = true; try abortScript() }
    }

    /// Aborts the script if possible and closes the port.
    public func close() {
        if link.isOpen { try? link.send("Z", timeoutMilliseconds: min(timeoutMs, 500)) }
        link.close()
    }

    /// The simulation-only time command (firmware-sim's twin): `~T<seconds>`.
    public static func simulationTimeCommand(seconds: Double) -> String { String(format: "~T%.6f", seconds) }

    /// Moves the twin's cell to `seconds` since this driver was opened (firmware-sim only).
    /// - Throws: `PotentiostatError.rejected` unless `simulation = true`: no EmStat has this command.
    public func setSimulationTime(seconds: Double) throws {
        guard configuration.simulation else {
            throw PotentiostatError.rejected(device: name, command: "~T",
                                             reason: "simulation-only command refused: this driver talks to a real instrument (simulation = false)")
        }
        try send(Self.simulationTimeCommand(seconds: seconds))
        while true {
            let line = try receive(command: "~T", timeoutMilliseconds: timeoutMs)
            if line == "~T" { return }
            try process(line)
        }
    }

    /// Sends a line and returns the next line received (diagnostics, round-trip measurements while no
    /// script streams: `t` answers its version).
    public func query(_ command: String) throws -> String {
        try guarded {
            try send(command)
            return try receive(command: command, timeoutMilliseconds: timeoutMs)
        }
    }

    /// Queries the version (`t`) and returns its first line (also a round-trip probe while no
    /// script streams).
    public func queryVersion() throws -> String {
        try guarded { try versionReply().lines[0] }
    }

    // MARK: - Internals

    /// Sends `t` and reads its reply up to the line ending in `*`; skips (and reports) lines of a
    /// script still streaming from an earlier session.
    private func versionReply() throws -> (lines: [String], staleStream: Bool) {
        try send("t")
        var reply: [String] = []
        var staleStream = false
        let deadline = LineTransport.nowMilliseconds() + Int64(timeoutMs)
        while true {
            let left = Int(deadline - LineTransport.nowMilliseconds())
            guard left > 0 else { throw PotentiostatError.commandTimeout(device: name, command: "t", seconds: Double(timeoutMs) / 1000) }
            let line = try receive(command: "t", timeoutMilliseconds: left)
            if reply.isEmpty && !line.hasPrefix("t") {
                if line.hasPrefix("P") || line.hasPrefix("M") || line == "*" || line.isEmpty { staleStream = true; continue }
                throw PotentiostatError.rejected(device: name, command: "t",
                    reason: "reply \"\(SCPIPotentiostat.printable(line))\" is not a version; expected a line starting with t (dialect \(configuration.dialect.rawValue)); nothing was started")
            }
            reply.append(line)
            if line.hasSuffix("*") || line == "*" { return (reply, staleStream) }
        }
    }

    private var elapsedSeconds: Double { Double(clock.monotonicNanoseconds - originNanoseconds) * 1e-9 }

    private func syncSimulationTime() throws {
        guard configuration.simulation, clock.isVirtual else { return }
        try setSimulationTime(seconds: elapsedSeconds)
    }

    private func startScript() throws {
        scriptLines = MethodSCRIPT.scriptLines(for: mode, intervalSeconds: Double(configuration.packageIntervalMilliseconds) / 1000)
        let text = (["e"] + scriptLines).joined(separator: "\n") + "\n"     // send() adds the empty line's LF
        loopsStarted = 0
        latest = nil
        scriptStartNanoseconds = clock.monotonicNanoseconds
        try send(text)
        // The instrument answers `e` once it has the script, or `!XXXX` when it refuses it.
        while true {
            let line = try receive(command: technique, timeoutMilliseconds: timeoutMs)
            if line == "e" { break }
            if line.hasPrefix("!") {
                throw PotentiostatError.rejected(device: name, command: "script (\(technique))", reason: MethodSCRIPT.errorDescription(line))
            }
            // Late lines of the aborted script are skipped.
            if line.hasPrefix("P") || line.hasPrefix("M") || line == "*" || line.isEmpty || line == "Z" { continue }
            throw unexpected(line, command: "script (\(technique))")
        }
        scriptRunning = true
    }

    /// Sends `Z` and waits for the script's end (its empty line).
    private func abortScript() throws {
        try send("Z")
        while scriptRunning {
            let line = try receive(command: "Z", timeoutMilliseconds: timeoutMs)
            if line.isEmpty { scriptRunning = false }
            if line.hasPrefix("!") {
                throw PotentiostatError.rejected(device: name, command: "Z", reason: MethodSCRIPT.errorDescription(line))
            }
        }
    }

    private func process(_ line: String) throws {
        if line.hasPrefix("P") {
            guard let vars = MethodSCRIPT.parsePackage(line) else { throw unexpected(line, command: "data stream of \(technique)") }
            let volts = vars.first { $0.type == "ab" }?.value ?? vars.first { $0.type == "da" }?.value
            guard let v = volts else { throw unexpected(line, command: "data stream of \(technique)") }
            let current = vars.first { $0.type == "ba" }
            var compliance = (current?.status ?? 0) & MethodSCRIPT.statusOverload != 0
            if case .constantCurrent = mode, loopsStarted >= 2 { compliance = true }
            let now = clock.monotonicNanoseconds
            latest = ElectrochemSample(monotonicNanoseconds: now, voltageVolts: v, currentAmps: current?.value ?? 0, inCompliance: compliance)
            lastPackageNanoseconds = now
            return
        }
        if line.hasPrefix("M") { loopsStarted += 1; return }
        if line == "*" || line == "e" || line == "Z" { return }
        if line.hasPrefix("!") {
            throw PotentiostatError.rejected(device: name, command: "script (\(technique))", reason: MethodSCRIPT.errorDescription(line))
        }
        if line.isEmpty {
            // The script ended by itself (its loops run a day): start it again in the same mode.
            scriptRunning = false
            try startScript()
            return
        }
        throw unexpected(line, command: "data stream of \(technique)")
    }

    private func unexpected(_ line: String, command: String) -> PotentiostatError {
        .rejected(device: name, command: command, reason: "unexpected line \"\(SCPIPotentiostat.printable(line))\"; expected a data package, a loop marker or !XXXX")
    }

    /// Runs `body`; on a potentiostat error records the fault and aborts the script (best effort)
    /// before rethrowing.
    private func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PotentiostatError {
            if fault == nil {
                fault = e
                if link.isOpen { try? link.send("Z", timeoutMilliseconds: min(timeoutMs, 500)) }
            }
            throw e
        }
    }

    private func send(_ text: String) throws {
        do { try link.send(text, timeoutMilliseconds: timeoutMs) } catch { throw map(error, command: String(text.prefix(1))) }
    }

    private func receive(command: String, timeoutMilliseconds: Int) throws -> String {
        do { return try link.receiveLine(timeoutMilliseconds: timeoutMilliseconds, operation: "reply to \(command)") } catch {
            throw map(error, command: command)
        }
    }

    private func map(_ e: RigDriverError, command: String) -> PotentiostatError {
        switch e {
        case .timeout(_, _, let ms): return .commandTimeout(device: name, command: command, seconds: Double(ms) / 1000)
        case .closed: return .disconnected(device: name, reason: "port closed by the instrument at \"\(command)\"")
        default: return .disconnected(device: name, reason: "\(e) at \"\(command)\"")
        }
    }
}
