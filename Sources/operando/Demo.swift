import ArgumentParser
import Dataset
import Electrochemistry
import FirmwareSim
import Figures
import Foundation
import Imaging
import ParticleModel
import Rig

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The whole chain on firmware-sim: run the demo protocol, analyse, calibrate, report.",
        discussion: """
        The simulated rig runs the seed's first cycle (C/3 CC charge to 4.3 V, C/3 CC discharge to 3.0 V, \
        2 h CV hold at 3.0 V; 2.5 Hz exposures binned 30 to one recorded frame every 12 s) on a virtual clock, as \
        fast as the CPU allows. Then \
        the dataset is analysed, the model is calibrated against it and the figure report is rendered.

        Writes into --out: demo.operando/ (dataset with analysis/ and calibration/), report.pdf, \
        stage_times.json (wall and CPU seconds of each stage, also printed on stderr at the end).
        """)

    @Option(help: "Output directory.")
    var out: String = "reports/demo"

    @Option(help: "Rig file for the simulated world (default: firmware-sim defaults).")
    var rig: String?

    @OptionGroup var output: OutputOptions

    static let protocolText = """
    # operando demo: the seed's first cycle (Fig. 1E, 2, 4) on firmware-sim.
    [cell]
    active_mass_mg = 1.5
    practical_capacity_mAh_per_g = 210

    [limits]
    voltage_min_V = 2.8
    voltage_max_V = 4.4
    current_max_mA = 2.0

    # 2.5 Hz binned 30: each recorded frame sums as much light as the seed's 10 Hz binning (30 × 2.5 ms), so
    # it has the seed's noise; one frame every 12 s still resolves the front (minutes), and the run renders a
    # quarter of the seed's exposures and records a quarter of its frames (the demo dataset stays under 500 MB).
    [imaging]
    frame_rate_Hz = 2.5
    exposure_ms = 2.5
    bin = 30
    led_lead_ms = 0.2

    [[steps]]
    do = "Charge at C/3 until 4.3 V"
    [[steps]]
    do = "Discharge at C/3 until 3.0 V"
    [[steps]]
    do = "Hold at 3.0 V for 2 hours"

    """

    static func describe(_ m: DriftMethod) -> String {
        switch m {
        case .fiducial(let x, let y): return String(format: "Gaussian fit of the fiducial at (%.1f, %.1f) px", x, y)
        case .phaseCorrelation: return "phase correlation (no fiducial found)"
        }
    }

    func run() throws {
        let start = Date()
        var times = DemoStageTimes()
        let console = CommandOutput(output, label: "demo")
        func stage(_ s: String) {
            guard !output.quiet else { return }
            Terminal.write(String(format: "[%5.1f s] demo: %@\n", Date().timeIntervalSince(start), s))
        }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            printError("--out \(out): cannot create (\(error.localizedDescription))"); throw ExitCode(1)
        }
        let dataset = (out as NSString).appendingPathComponent("demo.operando")
        if FileManager.default.fileExists(atPath: dataset) {
            // The demo owns this directory: a fresh run replaces the previous demo dataset.
            try FileManager.default.removeItem(atPath: dataset)
        }
        let protoPath = (out as NSString).appendingPathComponent("demo-protocol.toml")
        try Self.protocolText.write(toFile: protoPath, atomically: true, encoding: .utf8)
        let proto = try ProtocolFile.parse(text: Self.protocolText, path: protoPath)

        // 1. The simulated experiment.
        stage("1/4 running the demo protocol on firmware-sim (virtual clock)")
        times.begin("simulated run")
        RunInterrupt.install()
        let hardware = try RigFactory.make(rigPath: rig, protocolFile: proto, realtime: false)
        // What the simulated world really is, to print beside what calibration recovers.
        let truth = try rig.map { try SimConfiguration.load(rigFile: $0) } ?? SimConfiguration()
        var options = RunOptions(outputDirectory: dataset)
        options.softwareVersion = "operando \(operandoVersion)"
        let engine = RunEngine(protocolFile: proto, hardware: hardware, options: options)
        let status = StatusLine(reporter: console.progress("demo run"),
                                program: try? StepProgram.compile(planned: proto.plannedSteps, cell: proto.cell, resolution: .amperes))
        engine.subscribe(status)
        let run: RunSummary
        do { run = try engine.run() } catch { status.finish(completed: false); throw error }
        status.finish(completed: run.completed)
        stage(String(format: "run: %@ after %.0f s simulated; %d frames recorded, %d lockstep violations",
                     run.endReason, run.runSeconds, run.recordedFrames, run.lockstepViolations))
        guard run.completed else {
            printError("demo run did not complete: \(run.endReason) (dataset kept at \(dataset))")
            throw ExitCode(1)
        }

        // 2. Offline analysis.
        stage("2/4 analysing the images")
        times.begin("analyse")
        let analysisProgress = console.progress("demo analyse")
        let analysisLines = ProgressLines(reporter: analysisProgress)
        let analysis = try DatasetAnalysis.run(input: dataset) { line in
            if ProgressLines.frameCount(line) != nil { analysisLines(line) } else { analysisProgress.clear(); stage(ProgressLines.prefixed("analyse", line)) }
        }
        analysisProgress.finish()
        if let t = analysis.sdcDropTimeSeconds { stage(String(format: "SDC std drop (front reaches the centre) at %.0f s", t)) }

        // 3. Calibration.
        stage("3/4 calibrating the model against the images")
        times.begin("calibrate")
        let calibration = try DemoCalibration.run(dataset: dataset, stage: stage)

        // 4. Report.
        stage("4/4 rendering the report")
        times.begin("report")
        let pdf = (out as NSString).appendingPathComponent("report.pdf")
        let report = try Figures.Report.render(datasetDirectory: dataset, to: pdf,
                                               progress: { stage(ProgressLines.prefixed("report", $0)) })
        times.end()
        try times.write(toDirectory: out)
        let summary = String(format: """
            operando demo
            dataset: %@
            run: %@, %.0f s simulated, %d recorded frames, %d lockstep violations
            analysis: %d frames, drift %@
            calibration (C/3 charge): S = %.3f, A = %.4f, rmse %.2e (firmware-sim truth: S = %.3f, A = %.4f)
            report: %@ (%d pages)
            wall time: %.1f s

            """, dataset, run.endReason, run.runSeconds, run.recordedFrames, run.lockstepViolations,
            analysis.frameCount, Self.describe(analysis.driftMethod), calibration.centre.scale, calibration.centre.gain,
            calibration.centre.rmse, truth.scale, truth.opticalGain, report.path, report.pages.count, Date().timeIntervalSince(start))
        try summary.write(toFile: (out as NSString).appendingPathComponent("summary.txt"), atomically: true, encoding: .utf8)
        console.summary(String(summary.dropLast()))
        console.summary("report: \(report.path)")
        if !output.quiet { Terminal.write(times.table) }
        console.json([
            "command": "demo", "output_directory": out, "dataset": dataset, "report": report.path, "report_pages": report.pages.count,
            "run": Run.json(run, instrumentRecord: nil),
            "analysis": ["frames": analysis.frameCount, "drift_method": Self.describe(analysis.driftMethod),
                         "sdc_drop_time_s": JSONSummary.value(analysis.sdcDropTimeSeconds)],
            "calibration": ["scale": calibration.centre.scale, "scale_standard_error": calibration.scaleStandardError,
                            "gain": calibration.centre.gain, "gain_standard_error": calibration.gainStandardError,
                            "rmse": calibration.centre.rmse],
            "truth": ["scale": truth.scale, "gain": truth.opticalGain],
            "wall_s": Date().timeIntervalSince(start),
        ])
    }
}
