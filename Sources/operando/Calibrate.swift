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

    @Option(name: .customLong("element-size"), help: "Model element size in µm (default: longest extent / 30).")
    var elementSize: Double?

    @Option(name: .customLong("time-tolerance"), help: "Model time-step tolerance in θ.")
    var timeTolerance: Double = 1e-4

    @Option(help: "Use data only up to this many seconds from the start.")
    var until: Double?

    @Option(name: .customLong("edge-margin"), help: "Leave out profile points this close to the particle edge, µm.")
    var edgeMargin: Double = 0.1

    @Option(name: .customLong("psf-fwhm"), help: "Microscope resolution (Gaussian PSF FWHM) in µm applied to the model (0: none).")
    var psfFWHM: Double = 0.265

    @Option(name: .customLong("max-profiles"), help: "Line profiles used by the spatio-temporal objectives.")
    var maxProfiles: Int = 120

    @Flag(name: .customLong("fit-diffusivity"), help: "Also fit the D_Li(θ) table to the line-profile contrast.")
    var fitDiffusivity = false

    @Option(name: .customLong("diffusivity-scale"), help: "S held during the D(θ) fit (default: the centre fit's S).")
    var diffusivityScale: Double?

    @Option(help: "Smoothness weight of the D(θ) fit.")
    var smoothness: Double = 1e-3

    func run() throws {
        do {
            var o = CalibrationOptions()
            o.outputDirectory = out
            o.analysisDirectory = analysis
            o.theta0 = theta0
            o.scaleRange = try CalibrationOptions.parseScaleRange(scaleRange)
            o.scaleGridPoints = scaleSteps
            o.gainGridPoints = gainSteps
            if let params { o.parameters = try ParameterSet.load(path: params) }
            o.elementSizeMicrometres = elementSize
            o.endSeconds = until
            o.timeTolerance = timeTolerance
            o.edgeMarginMicrometres = edgeMargin
            o.maximumProfiles = maxProfiles
            o.psfFWHMMicrometres = psfFWHM
            o.fitDiffusivity = fitDiffusivity
            o.smoothness = smoothness
            o.diffusivityFitScale = diffusivityScale
            let s = try CalibrationRun.run(dataset: dataset, options: o) { line in
                Terminal.write(line + "\n")
            }
            print(s.centreFitDescription)   // S and A with their 68 % intervals (block bootstrap; issue 16)
            print(String(format: "line profiles: S = %.3f, A = %.4f, e = %.5f; at the centre fit e = %.5f",
                         s.profile.scale, s.profile.gain, s.profile.rmse, s.profileRMSEAtCentreFit))
            if let d = s.diffusivity {
                print(String(format: "D(θ) fit: line-profile e = %.5f (S-only %.5f), %d knots fitted over x = %.3f…%.3f",
                             d.rmse, d.rmseScaleOnly, d.freeKnots.count, d.visitedX.lowerBound, d.visitedX.upperBound))
            }
            for n in s.notes { print("note: \(n)") }
            print(String(format: "%d model runs in %.1f s → %@", s.modelRuns, s.wallSeconds, s.outputDirectory))
        } catch let e as CalibrationError {
            printError("\(e)")
            throw ExitCode(1)
        } catch let e as ParameterError {
            printError("\(e)")
            throw ExitCode(1)
        }
    }
}
