import Foundation
import Rig

/// firmware-sim's Keithley 2450 twin: the simulated cell (a `SimRig`'s `SimPotentiostat`: same cell
/// model, noise and compliance as the in-process simulator) served over TCP on 127.0.0.1, answering the
/// SCPI subset the rig's driver uses as a 2450 would: `*IDN?`, `*RST`, `*CLS`, `*OPC?`, `:SYST:ERR?`
/// (FIFO error queue, `0,"No error"` when empty), source function/level/range/limit and trip queries,
/// sense function/range/remote sense, `:OUTP`, `:OUTP:SMOD`, `:READ?`, `:MEAS:VOLT?`, `:MEAS:CURR?`.
/// Long and short mnemonics and any letter case are accepted. Unknown commands queue `-113`.
///
/// Simulation only: `:SYST:SIM:TIME <seconds>` moves the cell to that time since the driver connected
/// (a virtual clock drives the twin); without it the twin follows the wall clock. No real 2450 has it.
///
/// Faults on request (`inject`): slow replies, a dropped connection, garbage bytes, an error in the
/// queue, compliance reached (contact resistance added).
public final class SCPITwin: @unchecked Sendable {
    /// `*IDN?` of a 2450 as the reference manual shows it.
    public static let defaultIdentity = "KEITHLEY INSTRUMENTS INC.,MODEL 2450,04512345,1.7.12b"
    /// The simulated rig whose potentiostat is served (touch only while the twin is stopped).
    public let rig: SimRig
    /// The TCP port it listens on (the ephemeral one when created with port 0).
    public let port: UInt16
    /// `tcp://127.0.0.1:PORT`.
    public var address: String { "tcp://127.0.0.1:\(port)" }
    /// What `*IDN?` answers.
    public let identity: String

    private let listener: TwinListener
    private let thread = TwinThread()
    private let lock = NSLock()
    private var faults = TwinFaultState()
    private var log: [String] = []
    private let time: TwinTime

    // Instrument state (twin thread only).
    private var sourceFunction = "CURR"
    private var currentLevel = 0.0, currentRange = 1e-4, voltageLimit = 21.0
    private var voltageLevel = 0.0, voltageRange = 20.0, currentLimit = 1.05e-4
    private var senseFunction = "CURR"
    private var remoteSense = false
    private var outputOn = false
    private var outputOffMode = "NORM"
    private var errorQueue: [(Int, String)] = []
    private var applied: PotentiostatMode?

    /// - Parameters:
    ///   - configuration: the `[sim]` table (cell, noise, model step).
    ///   - port: TCP port on 127.0.0.1; 0 picks a free one (tests).
    ///   - commandedTime: start in simulation-time mode (time moves only by `:SYST:SIM:TIME`).
    public init(configuration: SimConfiguration = SimConfiguration(), activeMassMilligrams: Double = 1.5,
                practicalCapacityMilliampHoursPerGram: Double = 210, port: UInt16 = 0,
                identity: String = SCPITwin.defaultIdentity, commandedTime: Bool = false) throws {
        rig = try SimRig(configuration: configuration, activeMassMilligrams: activeMassMilligrams,
                         practicalCapacityMilliampHoursPerGram: practicalCapacityMilliampHoursPerGram, realtime: false)
        listener = try TwinListener(port: port, device: "scpi-twin")
        self.port = listener.port
        self.identity = identity
        time = TwinTime(clock: rig.clock, originNanoseconds: rig.originNanoseconds, commanded: commandedTime)
    }

    deinit { stop(); listener.close() }

    /// Starts serving (one client at a time, as the instrument's raw-socket port does).
    public func start() {
        thread.start(name: "scpi-twin") { [self] in serve() }
    }

    /// Stops serving and closes the client link.
    public func stop() { thread.stop() }

    /// Produces a fault (see `TwinFault`).
    public func inject(_ fault: TwinFault) { lock.lock(); faults.add(fault); lock.unlock() }

    /// Every command line received so far, oldest first.
    public var receivedCommands: [String] { lock.lock(); defer { lock.unlock() }; return log }

    private func serve() {
        while !thread.stopRequested {
            guard let client = listener.accept(waitMilliseconds: 50) else { continue }
            while !thread.stopRequested && !client.isClosed {
                for line in client.readLines(waitMilliseconds: 50) {
                    handle(line, client)
                    if client.isClosed { break }
                }
            }
            client.close()
            // A new session starts with the output off, as after the instrument's remote reset.
        }
    }

    private func takeFaults() -> TwinFaultState {
        lock.lock(); defer { lock.unlock() }
        let f = faults
        faults.dropPending = false
        faults.errors.removeAll()
        faults.complianceOhms.removeAll()
        return f
    }

    private func handle(_ raw: String, _ client: TwinConnection) {
        let line = raw.trimmingCharacters(in: .whitespaces)
        guard !line.isEmpty else { return }
        lock.lock(); log.append(line); lock.unlock()
        let f = takeFaults()
        if f.dropPending { client.close(); return }
        for e in f.errors { errorQueue.append((e.code, e.message)) }
        for ohms in f.complianceOhms { rig.potentiostat.inject(.complianceHit(ohms: ohms)) }
        time.followWall()
        guard let reply = execute(line) else { return }
        if f.replyDelayMilliseconds > 0 { usleep(UInt32(f.replyDelayMilliseconds) * 1000) }
        if f.garbagePending {
            // Garbage replaces a reply, so it is taken only when there is one to replace.
            lock.lock(); faults.garbagePending = false; lock.unlock()
            client.write(twinGarbageBytes)
            return
        }
        client.writeLine(reply)
    }

    /// Canonical short form of a header: `:SOURce:CURRent:VLIMit` → `:SOUR:CURR:VLIM`.
    static func canonicalHeader(_ header: String) -> String {
        let long: [String: String] = ["SOURCE": "SOUR", "SOURCE1": "SOUR", "SOUR1": "SOUR", "CURRENT": "CURR", "VOLTAGE": "VOLT",
                                      "SENSE": "SENS", "SENSE1": "SENS", "SENS1": "SENS", "FUNCTION": "FUNC", "RANGE": "RANG",
                                      "OUTPUT": "OUTP", "OUTPUT1": "OUTP", "OUTP1": "OUTP", "SYSTEM": "SYST", "ERROR": "ERR",
                                      "VLIMIT": "VLIM", "ILIMIT": "ILIM", "TRIPPED": "TRIP", "SMODE": "SMOD", "RSENSE": "RSEN",
                                      "MEASURE": "MEAS", "SIMULATION": "SIM", "NEXT": "", "LEVEL": "", "LEV": "", "STATE": "", "STAT": "",
                                      "IMMEDIATE": "", "IMM": "", "AMPLITUDE": "", "AMPL": ""]
        var h = header.uppercased()
        let query = h.hasSuffix("?")
        if query { h.removeLast() }
        let parts = h.split(separator: ":").map { long[String($0)] ?? String($0) }.filter { !$0.isEmpty }
        return (h.hasPrefix("*") ? "" : ":") + parts.joined(separator: ":") + (query ? "?" : "")
    }

    private func queue(_ code: Int, _ message: String) {
        // The 2450 keeps the newest entries when the queue overflows; 32 is plenty for a twin.
        if errorQueue.count < 32 { errorQueue.append((code, message)) }
    }

    private func number(_ s: String) -> Double? {
        let t = s.trimmingCharacters(in: .whitespaces).uppercased()
        switch t {
        case "MIN", "MINIMUM": return nil
        default: return Double(t)
        }
    }

    private func boolean(_ s: String) -> Bool? {
        switch s.trimmingCharacters(in: .whitespaces).uppercased() {
        case "ON", "1": return true
        case "OFF", "0": return false
        default: return nil
        }
    }

    static let currentRanges: [Double] = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]
    static let voltageRanges: [Double] = [0.02, 0.2, 2, 20, 200]

    private func fmt(_ x: Double) -> String { String(format: "%.7E", x) }

    /// Runs one command; returns the reply line of a query (nil: no reply).
    private func execute(_ line: String) -> String? {
        let split = line.firstIndex(of: " ")
        let header = Self.canonicalHeader(split.map { String(line[..<$0]) } ?? line)
        let argument = split.map { String(line[line.index(after: $0)...]).trimmingCharacters(in: .whitespaces) } ?? ""
        func dataOutOfRange() { queue(-222, "Parameter data out of range") }
        func setNumber(_ check: (Double) -> Bool, _ assign: (Double) -> Void) {
            guard let x = number(argument) else { queue(-104, "Data type error; expected a number, got \"\(argument)\""); return }
            guard x.isFinite, check(x) else { dataOutOfRange(); return }
            assign(x)
        }
        switch header {
        case "*IDN?": return identity
        case "*RST":
            sourceFunction = "VOLT"; voltageLevel = 0; voltageRange = 20; currentLimit = 1.05e-4
            currentLevel = 0; currentRange = 1e-4; voltageLimit = 21; senseFunction = "CURR"; remoteSense = false
            outputOn = false; outputOffMode = "NORM"
        case "*CLS": errorQueue.removeAll()
        case "*OPC?": return "1"
        case ":SYST:ERR?":
            if errorQueue.isEmpty { return "0,\"No error;0;0 0\"" }
            let (c, m) = errorQueue.removeFirst()
            return "\(c),\"\(m);1;2026/12/01 00:00:00.000\""
        case ":SYST:SIM:TIME":
            setNumber({ $0 >= 0 }) { time.command(seconds: $0) }
        case ":SOUR:FUNC":
            switch argument.uppercased() {
            case "CURR", "CURRENT": sourceFunction = "CURR"
            case "VOLT", "VOLTAGE": sourceFunction = "VOLT"
            default: queue(-224, "Illegal parameter value \"\(argument)\"")
            }
        case ":SOUR:FUNC?": return sourceFunction
        case ":SOUR:CURR:RANG":
            setNumber({ x in Self.currentRanges.contains { abs($0 - abs(x)) <= $0 * 1e-6 } || abs(x) < 1 }) { x in
                currentRange = Self.currentRanges.first { abs(x) <= $0 * 1.0000001 } ?? 1
            }
        case ":SOUR:CURR":
            setNumber({ abs($0) <= currentRange * 1.05 }) { currentLevel = $0 }
        case ":SOUR:CURR?": return fmt(currentLevel)
        case ":SOUR:CURR:VLIM":
            setNumber({ $0 >= 0.02 && $0 <= 210 }) { voltageLimit = $0 }
        case ":SOUR:CURR:VLIM?": return fmt(voltageLimit)
        case ":SOUR:CURR:VLIM:TRIP?":
            return sourceFunction == "CURR" && outputOn && rig.potentiostat.inCompliance ? "1" : "0"
        case ":SOUR:VOLT:RANG":
            setNumber({ abs($0) <= 200 }) { x in voltageRange = Self.voltageRanges.first { abs(x) <= $0 * 1.0000001 } ?? 200 }
        case ":SOUR:VOLT":
            setNumber({ abs($0) <= voltageRange * 1.05 }) { voltageLevel = $0 }
        case ":SOUR:VOLT?": return fmt(voltageLevel)
        case ":SOUR:VOLT:ILIM":
            setNumber({ $0 >= 1e-9 && $0 <= 1.05 }) { currentLimit = $0 }
        case ":SOUR:VOLT:ILIM?": return fmt(currentLimit)
        case ":SOUR:VOLT:ILIM:TRIP?":
            return sourceFunction == "VOLT" && outputOn && rig.potentiostat.inCompliance ? "1" : "0"
        case ":SENS:FUNC":
            switch argument.uppercased().replacingOccurrences(of: "\"", with: "").replacingOccurrences(of: "'", with: "") {
            case "CURR", "CURRENT", "CURR:DC": senseFunction = "CURR"
            case "VOLT", "VOLTAGE", "VOLT:DC": senseFunction = "VOLT"
            default: queue(-224, "Illegal parameter value \(argument)")
            }
        case ":SENS:FUNC?": return "\"\(senseFunction):DC\""
        case ":SENS:VOLT:RANG": setNumber({ abs($0) <= 200 }) { _ in }
        case ":SENS:CURR:RANG": setNumber({ abs($0) <= 1.05 }) { _ in }
        case ":SENS:VOLT:RSEN", ":SENS:CURR:RSEN":
            if let b = boolean(argument) { remoteSense = b } else { queue(-224, "Illegal parameter value \"\(argument)\"") }
        case ":OUTP":
            if let b = boolean(argument) { outputOn = b } else { queue(-224, "Illegal parameter value \"\(argument)\"") }
        case ":OUTP?": return outputOn ? "1" : "0"
        case ":OUTP:SMOD":
            let m = argument.uppercased()
            if ["HIMP", "HIMPEDANCE", "NORM", "NORMAL", "ZERO", "GUAR", "GUARD"].contains(m) { outputOffMode = String(m.prefix(4)) }
            else { queue(-224, "Illegal parameter value \"\(argument)\"") }
        case ":OUTP:SMOD?": return outputOffMode
        case ":READ?", ":MEAS:VOLT?", ":MEAS:CURR?":
            updateDrive()
            let s: ElectrochemSample
            do { s = try rig.potentiostat.read() } catch {
                queue(5000, "simulated cell: \(error)")
                return "9.9100000E+37,9.9100000E+37"
            }
            let i = outputOn ? s.currentAmps : 0
            if header == ":MEAS:VOLT?" { return fmt(s.voltageVolts) }
            if header == ":MEAS:CURR?" { return fmt(i) }
            // READ? "defbuffer1", READ, SOUR: the sense function's reading, then the source read-back.
            let reading = senseFunction == "VOLT" ? s.voltageVolts : i
            let source = sourceFunction == "CURR" ? i : s.voltageVolts
            let elements = argument.uppercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if elements.count >= 2 {
                var out: [String] = []
                for e in elements.dropFirst() {
                    switch e {
                    case "READ", "READING": out.append(fmt(reading))
                    case "SOUR", "SOURCE": out.append(fmt(source))
                    default: queue(-224, "Illegal parameter value \(e)"); return nil
                    }
                }
                return out.joined(separator: ",")
            }
            return fmt(reading)
        default:
            queue(-113, "Undefined header \(header)")
            return nil
        }
        if header != ":SYST:SIM:TIME" { updateDrive() }
        return nil
    }

    /// Imposes on the simulated cell what the front end now sources.
    private func updateDrive() {
        let mode: PotentiostatMode
        if !outputOn {
            mode = .openCircuit            // HIMP or NORM: no current flows through the open relay
        } else if sourceFunction == "CURR" {
            // 0 A from the current source is an open circuit; the 2450's voltage limit is a magnitude.
            mode = currentLevel == 0 ? .openCircuit
                : .constantCurrent(amps: currentLevel, voltageComplianceVolts: -voltageLimit...voltageLimit)
        } else {
            mode = .constantVoltage(volts: voltageLevel, currentComplianceAmps: currentLimit)
        }
        guard mode != applied else { return }
        do {
            try rig.potentiostat.apply(mode)
            applied = mode
        } catch {
            queue(5000, "simulated cell: \(error)")
        }
    }
}
