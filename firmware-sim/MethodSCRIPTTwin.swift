import Foundation
import Rig

/// firmware-sim's PalmSens EmStat4 twin: the simulated cell (a `SimRig`'s `SimPotentiostat`) served
/// over a pseudo-terminal as an EmStat4 answers MethodSCRIPT: `t` (version, ending in `*`), `i`
/// (serial number), `e` + script + empty line (answered `e`, then the loops' `M0000` markers, data
/// packages `P…` at the loop interval, `*` at each loop's end and an empty line at the script's end),
/// `Z` (abort: `Z`, then the script's `on_finished:` and its end). Unknown script commands are
/// refused with `!0004` and the line number.
///
/// Script subset: `var`, `set_*` (`set_range ba` sets the current limit of the following
/// chronoamperometry loop), `cell_on`, `cell_off`, `meas_loop_cp p c I dt t`, `meas_loop_ca p c E dt t`,
/// `meas_loop_ocp p dt t`, `pck_start`/`pck_add`/`pck_end`, `if p > X` / `if p < X` + `breakloop` +
/// `endif`, `endloop`, `on_finished:`.
///
/// Simulation only: `~T<seconds>` moves the cell to that time since the driver connected, emits the
/// packages due until then, and answers `~T`. No real EmStat has it.
public final class MethodSCRIPTTwin: @unchecked Sendable {
    /// Version line (`t` reply).
    public static let defaultVersion = "tEmStat4 HR #firmware-sim twin 1.3"
    /// The simulated rig whose potentiostat is served (touch only while the twin is stopped).
    public let rig: SimRig
    /// The path a driver opens: the symlink if one was asked for, else the pty's slave device.
    public var path: String { lock.lock(); defer { lock.unlock() }; return pty.path }
    /// `serial://PATH?baud=921600`.
    public var address: String { "serial://\(path)?baud=921600" }
    public let version: String

    private var pty: TwinPty
    private let linkPath: String?
    private let thread = TwinThread()
    private let lock = NSLock()
    private var faults = TwinFaultState()
    private var log: [String] = []
    private let time: TwinTime

    private struct Loop {
        enum Kind { case cp(amps: Double), ca(volts: Double), ocp }
        var kind: Kind
        var intervalSeconds: Double
        var runSeconds: Double
        var breakAbove: Double?
        var breakBelow: Double?
        var currentLimitAmps: Double
    }
    private var receiving: [String]?
    private var loops: [Loop] = []
    private var loopIndex = 0
    private var loopStartNanoseconds: Int64 = 0
    private var nextPackageNanoseconds: Int64 = 0
    private var running = false

    /// - Parameters:
    ///   - linkPath: where to put a symlink to the pty's slave (nil: none).
    ///   - commandedTime: start in simulation-time mode (time moves only by `~T`).
    public init(configuration: SimConfiguration = SimConfiguration(), activeMassMilligrams: Double = 1.5,
                practicalCapacityMilliampHoursPerGram: Double = 210, linkPath: String? = nil,
                version: String = MethodSCRIPTTwin.defaultVersion, commandedTime: Bool = false) throws {
        rig = try SimRig(configuration: configuration, activeMassMilligrams: activeMassMilligrams,
                         practicalCapacityMilliampHoursPerGram: practicalCapacityMilliampHoursPerGram, realtime: false)
        self.linkPath = linkPath
        pty = try TwinPty(linkPath: linkPath, device: "methodscript-twin")
        self.version = version
        time = TwinTime(clock: rig.clock, originNanoseconds: rig.originNanoseconds, commanded: commandedTime)
    }

    deinit { close() }

    /// Starts serving.
    public func start() { thread.start(name: "methodscript-twin") { [self] in serve() } }

    /// Stops serving (the pty and its symlink stay until `close()` or release).
    public func stop() { thread.stop() }

    /// Stops serving, closes the pty and removes the symlink (idempotent).
    public func close() {
        thread.stop()
        lock.lock(); let p = pty; lock.unlock()
        p.close()
    }

    /// Produces a fault (see `TwinFault`).
    public func inject(_ fault: TwinFault) { lock.lock(); faults.add(fault); lock.unlock() }

    /// Every line received so far (script lines included), oldest first.
    public var receivedLines: [String] { lock.lock(); defer { lock.unlock() }; return log }

    private func serve() {
        while !thread.stopRequested {
            var wait = 50
            if running && !time.commanded {
                let dueWall = time.wallNanoseconds(forVirtual: nextPackageNanoseconds)
                wait = Int(max(0, min(50, (dueWall - TwinTime.wallNanoseconds()) / 1_000_000)))
            }
            let lines = pty.master.readLines(waitMilliseconds: wait)
            for l in lines { handle(l) }
            applyStreamFaults()
            if running && !time.commanded {
                time.followWall()
                emitDue(upTo: rig.clock.monotonicNanoseconds)
            }
            if pty.master.isClosed { reopen() }
        }
    }

    /// A dropped link comes back as a fresh pty behind the same symlink (a re-enumerated USB device).
    private func reopen() {
        let old = pty
        old.close()
        if let fresh = try? TwinPty(linkPath: linkPath, device: "methodscript-twin") {
            lock.lock(); pty = fresh; lock.unlock()
        }
        running = false
        receiving = nil
    }

    private func takeFaults() -> TwinFaultState {
        lock.lock(); defer { lock.unlock() }
        let f = faults
        faults.dropPending = false
        faults.errors.removeAll()
        faults.complianceOhms.removeAll()
        return f
    }

    private func applyStreamFaults() {
        let f = takeFaults()
        for ohms in f.complianceOhms { rig.potentiostat.inject(.complianceHit(ohms: ohms)) }
        for e in f.errors { emit(String(format: "!%04X", e.code)) }
        if f.dropPending { pty.master.close() }
    }

    /// Writes a line, applying slow-reply and garbage faults.
    private func emit(_ line: String) {
        lock.lock()
        let delay = faults.replyDelayMilliseconds
        let garbage = faults.garbagePending
        faults.garbagePending = false
        lock.unlock()
        if delay > 0 { usleep(UInt32(delay) * 1000) }
        if garbage { pty.master.write(twinGarbageBytes); return }
        pty.master.writeLine(line)
    }

    private func handle(_ line: String) {
        lock.lock(); log.append(line); lock.unlock()
        applyStreamFaults()
        if pty.master.isClosed { return }
        if var script = receiving {
            time.followWall()
            if line.isEmpty { receiving = nil; run(script) } else { script.append(line); receiving = script }
            return
        }
        // The cell is brought to now before any command, so a loop starts at the present.
        time.followWall()
        if running && !time.commanded { emitDue(upTo: rig.clock.monotonicNanoseconds) }
        switch line {
        case "t": emit(version); emit("*")
        case "i": emit("iES4TWIN0001"); emit("*")
        case "e": receiving = []
        case "Z":
            emit("Z")
            if running { emit("*"); finishScript() } else { emit("") }
        case _ where line.hasPrefix("~T"):
            guard let s = Double(line.dropFirst(2)), s >= 0 else { emit("!0008"); return }
            let target = time.commandedTarget(seconds: s)
            if running { emitDue(upTo: target) }
            rig.clock.sleep(untilNanoseconds: target)
            emit("~T")
        case "": break
        default: emit("!0004")
        }
    }

    private func number(_ s: Substring) -> Double? {
        guard let last = s.last else { return nil }
        let factors: [Character: Double] = ["p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3]
        if let f = factors[last] { return Double(s.dropLast()).map { $0 * f } }
        return Double(s)
    }

    /// Parses the script; answers `e` and starts it, or `!XXXX: Line N`.
    private func run(_ script: [String]) {
        var parsed: [Loop] = []
        var currentLimit = 0.1
        var inLoop = false
        var pendingIf: (above: Bool, value: Double)?
        var afterFinished = false
        for (n, raw) in script.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let w = line.split(separator: " ")
            guard let cmd = w.first else { continue }
            func fail(_ code: Int) { emit(String(format: "!%04X: Line %d", code, n + 1)) }
            switch cmd {
            case "var", "set_pgstat_chan", "set_pgstat_mode", "set_max_bandwidth", "set_autoranging", "set_e", "set_range_minmax",
                 "cell_on", "cell_off", "pck_start", "pck_add", "pck_end", "breakloop", "endif", "#":
                continue
            case "set_range":
                if w.count == 3, w[1] == "ba", let x = number(w[2]) { currentLimit = x } else if w.count != 3 { fail(0x8); return }
            case "meas_loop_cp", "meas_loop_ca", "meas_loop_ocp":
                guard !afterFinished else { fail(0x4); return }
                let args = cmd == "meas_loop_ocp" ? Array(w.dropFirst(2)) : Array(w.dropFirst(3))
                guard args.count == (cmd == "meas_loop_ocp" ? 2 : 3), let values = Optional(args.compactMap(number)), values.count == args.count else {
                    fail(0x8); return
                }
                let kind: Loop.Kind = cmd == "meas_loop_cp" ? .cp(amps: values[0]) : cmd == "meas_loop_ca" ? .ca(volts: values[0]) : .ocp
                let dt = values[values.count - 2], t = values[values.count - 1]
                guard dt > 0, t > 0 else { fail(0x8); return }
                parsed.append(Loop(kind: kind, intervalSeconds: dt, runSeconds: t, currentLimitAmps: currentLimit))
                inLoop = true
            case "if":
                guard inLoop, w.count == 4, w[1] == "p", w[2] == ">" || w[2] == "<", let x = number(w[3]) else { fail(0x8); return }
                pendingIf = (w[2] == ">", x)
                if pendingIf!.above { parsed[parsed.count - 1].breakAbove = x } else { parsed[parsed.count - 1].breakBelow = x }
            case "endloop": inLoop = false; pendingIf = nil
            case "on_finished:": afterFinished = true
            default: fail(0x4); return
            }
        }
        guard !parsed.isEmpty else { emit("!0008: Line 1"); return }
        emit("e")
        loops = parsed
        running = true
        startLoop(0)
    }

    private func startLoop(_ i: Int) {
        loopIndex = i
        let l = loops[i]
        let mode: PotentiostatMode
        switch l.kind {
        case .cp(let a): mode = .constantCurrent(amps: a, voltageComplianceVolts: -10...10)
        case .ca(let v): mode = .constantVoltage(volts: v, currentComplianceAmps: l.currentLimitAmps)
        case .ocp: mode = .openCircuit
        }
        do { try rig.potentiostat.apply(mode) } catch { emit("!0001"); finishScript(); return }
        loopStartNanoseconds = rig.clock.monotonicNanoseconds
        nextPackageNanoseconds = loopStartNanoseconds
        emit("M0000")
    }

    /// Emits the packages due up to `t` (virtual ns), moving the cell to each package's time.
    private func emitDue(upTo t: Int64) {
        while running && nextPackageNanoseconds <= t {
            let l = loops[loopIndex]
            rig.clock.sleep(untilNanoseconds: nextPackageNanoseconds)
            let s: ElectrochemSample
            do { s = try rig.potentiostat.read() } catch { emit("!0001"); emit("*"); finishScript(); return }
            switch l.kind {
            case .cp: emit("P" + Self.variable("ab", s.voltageVolts) + ";" + Self.variable("ba", s.currentAmps) + ",10")
            case .ca(let v):
                let status = rig.potentiostat.inCompliance ? 2 : 0
                emit("P" + Self.variable("da", v) + ";" + Self.variable("ba", s.currentAmps) + ",1\(status)")
            case .ocp: emit("P" + Self.variable("ab", s.voltageVolts))
            }
            nextPackageNanoseconds += Int64((l.intervalSeconds * 1e9).rounded())
            let ended = (l.breakAbove.map { s.voltageVolts > $0 } ?? false) || (l.breakBelow.map { s.voltageVolts < $0 } ?? false)
                || Double(nextPackageNanoseconds - loopStartNanoseconds) * 1e-9 > l.runSeconds
            if ended {
                emit("*")
                if loopIndex + 1 < loops.count { startLoop(loopIndex + 1) } else { finishScript() }
            }
        }
    }

    /// `on_finished:` (cell off) and the script's end.
    private func finishScript() {
        running = false
        try? rig.potentiostat.apply(.openCircuit)
        emit("")
    }

    /// `TTHHHHHHHp`: the value on the coarsest prefix that keeps 7 significant digits in 27 bits.
    static func variable(_ type: String, _ value: Double) -> String {
        let prefixes: [(Double, String)] = [(1, " "), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")]
        var chosen = prefixes.last!
        for p in prefixes where abs(value) / p.0 >= 1e6 || value == 0 { chosen = p; break }
        if value != 0 && abs(value) / chosen.0 < 1e6 {
            for p in prefixes where abs(value) / p.0 >= 1e5 { chosen = p; break }
        }
        let mantissa = max(-0x7FF_FFFF, min(0x7FF_FFFF, Int((value / chosen.0).rounded())))
        return type + String(format: "%07X", mantissa + 0x800_0000) + chosen.1
    }
}
