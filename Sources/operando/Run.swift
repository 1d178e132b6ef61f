import ArgumentParser
import Dataset
import Electrochemistry
import FirmwareSim
import Foundation
import LiveView
import Rig
import RigDrivers
import TerminalProgress

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a protocol on the rig: lockstep LED/trigger exposures, CC/CV steps, dataset, on-line monitor.",
        discussion: """
        Without --rig the rig is firmware-sim on a virtual clock (a 6 h protocol runs in minutes). \
        The dataset (NAME.operando/) holds run.json, echem.csv, frames/*.tif, frames.csv, monitor.csv, \
        edges.csv, timing.json and events.jsonl (docs/run.md); --out must not exist or be empty. \
        Any fault, limit trip or SIGINT/SIGTERM ends in the same safe stop: LED off, cell at open circuit, \
        the safe state recorded, run_ended written. SIGHUP and a broken stderr do not stop a run.
        Exit status: 0 complete, 1 fault, 2 bad input, 3 limit tripped, 128+N stopped by signal N.
        """)

    @Argument(help: "Protocol file (TOML), e.g. examples/protocols/c3-cccv.toml.")
    var protocolPath: String

    @Option(help: "Rig file (TOML): backend = \"sim\" (default) or \"hardware\".")
    var rig: String?

    @Option(help: "Dataset directory to create (default: PROTOCOL-NAME.operando).")
    var out: String?

    @Flag(help: "Run firmware-sim on the wall clock (measures real loop latency; takes the protocol's real time).")
    var realtime = false

    @Option(name: .customLong("rt-priority"), help: "SCHED_FIFO priority of the exposure thread, 1–99.")
    var rtPriority: Int32 = 80

    @OptionGroup var output: OutputOptions

    @Option(name: .customLong("live"), help: ArgumentHelp("Serve the live view on ADDR:PORT while the run goes on (bare --live: 127.0.0.1:8642; docs/live.md).", valueName: "ADDR:PORT"))
    var live: String?

    @Option(name: .customLong("live-token"), help: "Token the live view requires (needed off loopback; generated when not given).")
    var liveToken: String?

    func run() throws {
        guard (1...99).contains(rtPriority) else {
            printError("--rt-priority \(rtPriority): expected a SCHED_FIFO priority from 1 to 99")
            throw ExitCode(2)
        }
        let proto: ProtocolFile
        do { proto = try ProtocolFile.load(path: protocolPath, purpose: try RigFactory.purpose(rigPath: rig)) } catch {
            printError("\(error)"); throw ExitCode(2)
        }
        let outDir = out ?? (URL(fileURLWithPath: protocolPath).deletingPathExtension().lastPathComponent + ".operando")
        let hardware: RigHardware
        do {
            hardware = try RigFactory.make(rigPath: rig, protocolFile: proto, realtime: realtime,
                                           instrumentRecordPath: outDir + ".instrument.mpt")
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        RunInterrupt.install()
        var options = RunOptions(outputDirectory: outDir)
        options.realtimePriority = rtPriority
        options.softwareVersion = "operando \(operandoVersion)"
        let engine = RunEngine(protocolFile: proto, hardware: hardware, options: options)
        let console = CommandOutput(output, label: "run")
        let status = StatusLine(reporter: console.progress(), program: try? StepProgram.compile(planned: proto.plannedSteps, cell: proto.cell,
                                                                                              resolution: .amperes))
        engine.subscribe(status)
        var liveServer: LiveViewServer? = nil
        if live != nil || liveToken != nil {
            do {
                let (host, port) = try LiveViewConfiguration.parse(address: live ?? "")
                let (config, generated) = try LiveViewConfiguration(host: host, port: port, token: liveToken, allowsStop: true).resolved()
                let server = try LiveViewServer(configuration: config)
                try server.start()
                // The token is printed even with --quiet: it is needed and shown only once.
                if generated { Terminal.write("live view token (printed once): \(config.token ?? "")\n") }
                console.note("live view: \(server.url)")
                engine.subscribe(server)
                liveServer = server
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
        }
        defer { liveServer?.stop() }
        let summary: RunSummary
        do { summary = try engine.run() } catch {
            status.finish(completed: false)
            printError("\(error)")
            throw ExitCode(error is DatasetError ? 2 : 1)
        }
        status.finish(completed: summary.completed)
        // Follow mode on firmware-sim: the simulated instrument's record is complete once the run is.
        var instrumentNote = ""
        if let instrument = (hardware.follow?.owner as? SimRig)?.instrument {
            do {
                try instrument.finish()
                if let p = instrument.settings.recordPath {
                    instrumentNote = "instrument record (firmware-sim): \(p), \(instrument.samples.count) rows; import it with operando import \(summary.directory) \(p)\n"
                }
            } catch { printError("firmware-sim instrument: \(error)") }
        }
        let line = String(format: "run: %@ after %.0f s (wall %.1f s)\n", summary.endReason, summary.runSeconds, summary.wallSeconds)
            + "frames: \(summary.triggers) triggers, \(summary.cameraFrames) camera frames, \(summary.recordedFrames) recorded, "
            + "\(summary.skippedFrames) skipped, \(summary.droppedFrames) dropped, \(summary.lockstepViolations) lockstep violations\n"
            + (summary.selfTestP99Microseconds.map { String(format: "latency self-test p99: %.0f µs\n", $0) } ?? "")
            + "dataset: \(summary.directory)\n" + instrumentNote
        // The summary is the command's result: stdout (a closed stdout fails the write, it does not kill us).
        console.summary(String(line.dropLast()))
        console.json(Self.json(summary, instrumentRecord: (hardware.follow?.owner as? SimRig)?.instrument?.settings.recordPath))
        if !summary.completed {
            printError("run ended early: \(summary.endReason) (safe state recorded in \(summary.directory)/events.jsonl)")
            throw ExitCode(summary.outcome.exitCode)
        }
    }
}

extension Run {
    /// The `--json` summary of a run.
    static func json(_ s: RunSummary, instrumentRecord: String?) -> [String: Any] {
        ["command": "run", "directory": s.directory, "completed": s.completed, "end_reason": s.endReason,
         "exit_code": s.completed ? 0 : Int(s.outcome.exitCode), "run_s": s.runSeconds, "wall_s": s.wallSeconds,
         "triggers": s.triggers, "camera_frames": s.cameraFrames, "recorded_frames": s.recordedFrames,
         "skipped_frames": s.skippedFrames, "dropped_frames": s.droppedFrames, "lockstep_violations": s.lockstepViolations,
         "latency_self_test_p99_us": JSONSummary.value(s.selfTestP99Microseconds),
         "instrument_record": JSONSummary.value(instrumentRecord)]
    }
}

/// The run's status line, a queued subscriber of the run drawn by the one `ProgressReporter`: a bar
/// with ETA rewritten in place on a terminal (fitted to its width), a plain line every 10 % or 10 s
/// otherwise, nothing with --quiet. The fraction is the run's own when every step has a duration,
/// else estimated from the protocol (`ProtocolProgress`), never 100 % before the end. Events worth
/// a person's attention (faults, trips, warnings) print on their own lines even with --quiet. Stops
/// writing when the terminal went away (SIGHUP, EPIPE); the run goes on.
final class StatusLine: RunSubscriber, @unchecked Sendable {
    let subscriberName = "status line"
    let reporter: ProgressReporter
    private let estimate: ProtocolProgress?
    private let lock = NSLock()

    init(reporter: ProgressReporter, program: StepProgram?) {
        self.reporter = reporter
        estimate = program.map { ProtocolProgress(program: $0) }
    }

    func receive(_ message: RunMessage, bus: RunBus) throws {
        lock.lock(); defer { lock.unlock() }
        switch message {
        case .status(let s):
            let fraction = s.fraction ?? estimate.flatMap { e in s.step < e.estimates.count ? e.fraction(step: s.step, modelSeconds: s.runSeconds) : nil }
            let width: Int
            if case .bar(let columns) = reporter.mode { width = max(20, columns - 1 - reporter.label.count - 40) } else { width = 160 }
            reporter.update(fraction, Self.text(s, width: width))
        case .event(let e, _):
            switch e {
            case .warning(let w): reporter.warning("warning: \(w)")
            case .fault(let d, let m): reporter.warning("fault: \(d): \(m)")
            case .limitTripped(let l, let v): reporter.warning("limit tripped: \(l) at \(v)")
            case .interrupted(let s): reporter.warning("\(s): stopping safely")
            case .outputOff(false, let m): reporter.warning("SAFE STOP INCOMPLETE: \(m)")
            case .ledOff(false, let m): reporter.warning("SAFE STOP INCOMPLETE: \(m)")
            default: break
            }
        default: break
        }
    }

    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "–" }
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }

    /// The status detail fitted to `width` columns: the most important fields first (the bar,
    /// percentage and ETA are the reporter's).
    static func text(_ s: RunStatus, width: Int) -> String {
        var parts: [String] = []
        parts.append("t \(clock(s.runSeconds))")
        parts.append("step \(s.step + 1)/\(s.stepCount)")
        parts.append(String(format: "%.4f V %+.4g mA", s.voltageVolts, s.currentAmps * 1e3))
        if s.intensityChange.isFinite { parts.append(String(format: "ΔI/I %+.2f%%", s.intensityChange * 100)) }
        if s.sdcStd.isFinite { parts.append(String(format: "σ %.4f%@", s.sdcStd, s.heterogeneous ? " het" : "")) }
        if s.droppedFrames + s.missedDeadlines + s.lockstepViolations > 0 {
            parts.append("drop \(s.droppedFrames) miss \(s.missedDeadlines) viol \(s.lockstepViolations)")
        }
        if s.loopP99Microseconds.isFinite { parts.append(String(format: "p99 %.0f µs", s.loopP99Microseconds)) }
        parts.append("frames \(s.recordedFrames)")
        parts.append(s.stepText)
        var line = ""
        for p in parts {
            let candidate = line.isEmpty ? p : line + " | " + p
            if candidate.count > width { break }
            line = candidate
        }
        return line
    }

    /// Ends the status line: at 100 % when the run completed, else without claiming it.
    func finish(completed: Bool) {
        lock.lock(); defer { lock.unlock() }
        if completed { reporter.finish() } else { reporter.abandon() }
    }
}
