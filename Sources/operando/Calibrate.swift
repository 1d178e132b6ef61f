import ArgumentParser
import Calibration
import Foundation
import ParticleModel

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit the model's S and A to a dataset's centre trace (seed Eq. 16–18); optionally fit D(θ).",
        discussion: """
        Reads the dataset's run information, electrochemistry and DATASET/analysis/ (running the \
        analysis first when it is missing); writes the calibration (calibration.json, the error map, \
        the centre and profile fits, the model run at the optimum; the D(θ) fit with \
        --fit-diffusivity) into --out (default DATASET/calibration/), replacing an earlier one only \
        when this one succeeds. See docs/calibrate.md.
        """)

    @Argument(help: "A dataset directory (NAME.operando/).")
    var dataset: String

    @Option(help: "Output directory (default DATASET/calibration/).")
    var out: String?

    @Option(help: "Analysis directory to read (default DATASET/analysis/).")
    var analysis: String?

    @Option(name: .customLong("theta0"), help: "θ0 of seed Eq. 17 and the model's initial occupancy.")
    var theta0: Double = 0.95

    @Option(name: .customLong("scale-range"), help: "Range of S to scan, LOW:HIGH.")
    var scaleRange: String = "1:10"

    @Option(name: .customLong("scale-steps"), help: "Log-spaced S values in the scan.")
    var scaleSteps: Int = 13

    @Option(name: .customLong("gain-steps"), help: "A values per S in error_map.csv.")
    var gainSteps: Int = 41

    @Option(help: "Parameter-set file (TOML) replacing the default set nmc87.")
    var params: String?

    @Option(name: .customLong("element-size"), parsing: .unconditional,
            help: "Model element size (µm, or with a unit: 0.1um, 100nm; default: longest extent / 30).")
    var elementSize: String?

    @Option(name: .customLong("time-tolerance"), help: "Model time-step tolerance in θ.")
    var timeTolerance: Double = 1e-4

    @Option(parsing: .unconditional, help: "Use data only up to this time from the start (s, or with a unit: 3h, 90min).")
    var until: String?

    @Option(name: .customLong("edge-margin"), parsing: .unconditional,
            help: "Leave out profile points this close to the particle edge (µm, or with a unit: 100nm).")
    var edgeMargin: String = "0.1"

    @Option(name: .customLong("psf-fwhm"), parsing: .unconditional,
            help: "Microscope resolution (Gaussian PSF FWHM) applied to the model (µm, or with a unit: 265nm; 0: none).")
    var psfFWHM: String = "0.265"

    @Option(name: .customLong("max-profiles"), help: "Line profiles used by the spatio-temporal objectives.")
    var maxProfiles: Int = 120

    @Flag(name: .customLong("fit-diffusivity"), help: "Also fit the D_Li(θ) table to the line-profile contrast.")
    var fitDiffusivity = false

    @Option(name: .customLong("diffusivity-scale"), help: "S held during the D(θ) fit (default: the centre fit's S).")
    var diffusivityScale: Double?

    @Option(help: "Smoothness weight of the D(θ) fit.")
    var smoothness: Double = 1e-3

    @OptionGroup var output: OutputOptions

    func run() throws {
        let out = CommandOutput(output, label: "calibrate")
        let progress = out.progress()
        do {
            var o = CalibrationOptions()
            o.outputDirectory = self.out
            o.analysisDirectory = analysis
            o.theta0 = theta0
            o.scaleRange = try CalibrationOptions.parseScaleRange(scaleRange)
            o.scaleGridPoints = scaleSteps
            o.gainGridPoints = gainSteps
            if let params { o.parameters = try ParameterSet.load(path: params) }
            o.elementSizeMicrometres = try elementSize.map { try FlagValue.lengthMicrometres($0, flag: "--element-size") }
            o.endSeconds = try until.map { try FlagValue.durationSeconds($0, flag: "--until") }
            o.timeTolerance = timeTolerance
            o.edgeMarginMicrometres = try FlagValue.nonNegativeLengthMicrometres(edgeMargin, flag: "--edge-margin")
            o.maximumProfiles = maxProfiles
            o.psfFWHMMicrometres = try FlagValue.nonNegativeLengthMicrometres(psfFWHM, flag: "--psf-fwhm")
            o.fitDiffusivity = fitDiffusivity
            o.smoothness = smoothness
            o.diffusivityFitScale = diffusivityScale
            let lines = ProgressLines(reporter: progress)
            let s = try CalibrationRun.run(dataset: dataset, options: o) { lines($0) }
            progress.finish()
            out.summary(s.centreFitDescription)   // S and A with their 68 % intervals (block bootstrap; issue 16)
            out.summary(String(format: "line profiles: S = %.3f, A = %.4f, e = %.5f; at the centre fit e = %.5f",
                               s.profile.scale, s.profile.gain, s.profile.rmse, s.profileRMSEAtCentreFit))
            if let d = s.diffusivity {
                out.summary(String(format: "D(θ) fit: line-profile e = %.5f (S-only %.5f), %d knots fitted over x = %.3f…%.3f",
                                   d.rmse, d.rmseScaleOnly, d.freeKnots.count, d.visitedX.lowerBound, d.visitedX.upperBound))
            }
            for n in s.notes { out.summary("note: \(n)") }
            out.summary(String(format: "%d model runs in %.1f s → %@", s.modelRuns, s.wallSeconds, s.outputDirectory))
            var json: [String: Any] = [
                "command": "calibrate", "dataset": dataset, "output_directory": s.outputDirectory,
                "scale": s.centre.scale, "scale_standard_error": s.scaleStandardError,
                "scale_interval95": [JSONSummary.value(s.scaleInterval95.low), JSONSummary.value(s.scaleInterval95.high)],
                "gain": s.centre.gain, "gain_standard_error": s.gainStandardError,
                "rmse": s.centre.rmse, "points": s.centre.points, "theta0": s.theta0,
                "profile": ["scale": s.profile.scale, "gain": s.profile.gain, "rmse": s.profile.rmse,
                            "rmse_at_centre_fit": s.profileRMSEAtCentreFit],
                "model_runs": s.modelRuns, "wall_s": s.wallSeconds, "notes": s.notes,
            ]
            if let u = s.uncertainty {
                json["scale_interval68"] = [u.scaleInterval68.lowerBound, u.scaleInterval68.upperBound]
                json["gain_interval68"] = [u.gainInterval68.lowerBound, u.gainInterval68.upperBound]
                json["gain_interval95"] = [u.gainInterval95.lowerBound, u.gainInterval95.upperBound]
                json["uncertainty_method"] = "circular block bootstrap"
                json["block_length_frames"] = u.blockLength
            }
            if let d = s.diffusivity {
                json["diffusivity"] = ["rmse": d.rmse, "rmse_scale_only": d.rmseScaleOnly, "free_knots": d.freeKnots.count,
                                       "visited_x": [d.visitedX.lowerBound, d.visitedX.upperBound]]
            }
            out.json(json)
        } catch let e as FlagValueError {
            progress.abandon()
            printError(e.description)
            throw ExitCode(2)
        } catch let e as CalibrationError {
            progress.abandon()
            printError("\(e)")
            throw ExitCode(1)
        } catch let e as ParameterError {
            progress.abandon()
            printError("\(e)")
            throw ExitCode(1)
        }
    }
}
