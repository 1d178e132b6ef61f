import ArgumentParser
import Dataset
import Foundation
import InstrumentImport

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an instrument's own record (EC-Lab .mpr/.mpt, Gamry .DTA, BDF CSV) into a follow-mode dataset.",
        discussion: """
        operando import DATASET FILE… [--offset SECONDS]: aligns the instrument's clock with the rig's on \
        the trigger edges the followed run recorded (offset and drift fitted, residuals stored in run.json), \
        writes instrument.csv (every original column, plus rig time) and echem.csv, and rewrites frames.csv \
        so frames carry the instrument's step and sample; analyse, calibrate and report then work as on a \
        commanded run. operando import FILE… --out DIR makes a new dataset of the record alone. \
        A dataset that already has electrochemistry is refused. See docs/follow.md.
        Exit status: 0 imported, 2 bad input (the message names the file and the cause).
        """)

    @Argument(help: "A follow-mode dataset (NAME.operando/) then the instrument file(s); with --out, the file(s) only.")
    var paths: [String]

    @Option(parsing: .unconditional,
            help: "Rig run time of the instrument's time 0 (s, or with a unit: -2.5s, 1min; when there was no trigger); skips the edge fit.")
    var offset: String?

    @Option(help: "Create this new dataset from the instrument file(s) instead of importing into one.")
    var out: String?

    @Option(name: .customLong("active-mass"), parsing: .unconditional,
            help: "With --out: the cell's active mass (mg, or with a unit: 0.79mg) when the file does not state it; gives capacities per gram.")
    var activeMass: String?

    @Option(name: .customLong("time-zone"), help: "The instrument PC's time zone, e.g. Europe/Berlin (default: this machine's).")
    var timeZone: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let offsetSeconds: Double?
        do { offsetSeconds = try offset.map { try FlagValue.signedSeconds($0, flag: "--offset") } } catch {
            printError("\(error)"); throw ExitCode(2)
        }
        var options = ImportOptions(offsetSeconds: offsetSeconds)
        options.softwareVersion = "operando \(operandoVersion)"
        if let activeMass {
            guard out != nil else {
                printError("--active-mass is for a new dataset (--out DIR); an existing dataset's mass is its run.json's")
                throw ExitCode(2)
            }
            do { options.activeMassMilligrams = try FlagValue.massMilligrams(activeMass, flag: "--active-mass") } catch {
                printError("\(error)"); throw ExitCode(2)
            }
        }
        if let o = offsetSeconds, !o.isFinite || abs(o) > 3.2e7 {
            printError("\(ImportError.badValue(option: "--offset", value: offset ?? "\(o)", expected: "a finite number of seconds within a year"))")
            throw ExitCode(2)
        }
        if let z = timeZone {
            guard let zone = TimeZone(identifier: z) else {
                printError("--time-zone \(z): expected a zone name such as UTC or Europe/Berlin")
                throw ExitCode(2)
            }
            options.timeZone = zone
        }
        let summary: ImportSummary
        do {
            if let out {
                guard !paths.isEmpty else { throw ImportError.noFiles }
                summary = try InstrumentImport.create(out: out, files: paths, options: options)
            } else {
                guard paths.count >= 2 else {
                    printError("give a dataset and at least one instrument file (operando import DATASET FILE…), or FILE --out DIR")
                    throw ExitCode(2)
                }
                summary = try InstrumentImport.into(dataset: paths[0], files: Array(paths.dropFirst()), options: options)
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        let a = summary.alignment
        var text = "import: \(summary.rows) rows from \(summary.files.count) file(s) into \(summary.directory) "
            + String(format: "(%.0f rows/s)\n", summary.rowsPerSecond)
        text += String(format: "alignment (%@): offset %.6f s, drift %+.2f ppm, residuals RMS %.3f ms, max %.3f ms over %d edge(s)\n",
                       summary.method, a.offsetSeconds, a.driftPPM, a.residualRMSSeconds * 1e3, a.residualMaxSeconds * 1e3, a.matchedPairs.count)
        if !a.unmatchedInstrumentSeconds.isEmpty || !a.unmatchedRigSeconds.isEmpty {
            text += "unmatched: \(a.unmatchedInstrumentSeconds.count) instrument step start(s), \(a.unmatchedRigSeconds.count) trigger edge(s)\n"
        }
        if summary.frames > 0 { text += "frames: \(summary.framesWithSample) of \(summary.frames) carry an instrument sample\n" }
        for n in summary.notes { text += "note: \(n)\n" }
        // The summary stays on stderr as before (stdout is for --json only).
        Terminal.write(text)
        CommandOutput(output, label: "import").json([
            "command": "import", "directory": summary.directory, "files": summary.files, "rows": summary.rows,
            "rows_per_s": summary.rowsPerSecond, "method": summary.method,
            "alignment": ["offset_s": a.offsetSeconds, "drift_ppm": a.driftPPM, "residual_rms_s": a.residualRMSSeconds,
                          "residual_max_s": a.residualMaxSeconds, "matched_edges": a.matchedPairs.count,
                          "unmatched_instrument_steps": a.unmatchedInstrumentSeconds.count,
                          "unmatched_trigger_edges": a.unmatchedRigSeconds.count],
            "frames": summary.frames, "frames_with_sample": summary.framesWithSample, "notes": summary.notes,
        ])
    }
}
