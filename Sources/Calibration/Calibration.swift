import Dataset
import Foundation
import Imaging
import ParticleModel

// Units: times s from the first protocol step, lengths µm, S dimensionless (D_eff = D_Li/S),
// A dimensionless (Ī = A·(θ0 − θ), seed Eq. 17).

/// Settings of a calibration (`operando calibrate`).
public struct CalibrationOptions: Sendable {
    /// Output directory; nil: DATASET/calibration/.
    public var outputDirectory: String?
    /// Analysis directory to read; nil: DATASET/analysis/ (run first when it is missing).
    public var analysisDirectory: String?
    /// θ0 of seed Eq. 17 and the model's initial occupancy.
    public var theta0: Double = 0.95
    /// Range of S scanned (seed Fig. S2B spans about 1…10).
    public var scaleRange: ClosedRange<Double> = 1...10
    /// Number of log-spaced S values in the scan.
    public var scaleGridPoints: Int = 13
    /// Number of A values per S in error_map.csv.
    public var gainGridPoints: Int = 41
    /// Relative tolerance of the Brent refinement of S.
    public var scaleTolerance: Double = 2e-3
    /// Material parameters (D_Li(θ), V_oc(θ), …).
    public var parameters: ParameterSet = .nmc87
    /// Model element size, µm (nil: the particle's longest extent / 30).
    public var elementSizeMicrometres: Double?
    /// Model time-step tolerance in θ.
    public var timeTolerance: Double = 1e-4
    /// Use data only up to this time, s (nil: the whole run).
    public var endSeconds: Double?
    /// Line profiles used by the spatio-temporal objectives, at most this many frames (evenly spread).
    public var maximumProfiles: Int = 120
    /// Profile points closer than this to the particle edge are left out (the PSF blurs the rim), µm.
    public var edgeMarginMicrometres: Double = 0.1
    /// Lateral resolution of the microscope as the FWHM of a Gaussian PSF, µm (seed: 265 nm); 0: no blur.
    public var psfFWHMMicrometres: Double = 0.265
    /// Radius of the analysis' centre disk, pixels (analysis default 3).
    public var centreRadiusPixels: Double = 3
    /// Width of the analysis' line profile, pixels (analysis default 3).
    public var profileWidthPixels: Int = 3
    /// Also fit the D_Li(θ) table to the spatio-temporal contrast.
    public var fitDiffusivity = false
    /// Weight of the smoothness penalty of the D(θ) fit (second differences of log10 D at the knots),
    /// relative to the data misfit at the S-only fit.
    public var smoothness: Double = 1e-3
    /// S held during the D(θ) fit (nil: the centre fit's S). Only D/S matters to the model, so a fitted
    /// table is always relative to the S it was fitted at.
    public var diffusivityFitScale: Double?
    /// Largest number of Levenberg–Marquardt iterations of the D(θ) fit.
    public var diffusivityIterations: Int = 10
    /// The particle outline to model, µm, origin at the analysis' centre disk, y up (nil: the outline of
    /// the analysis mask). For a particle whose outline is known better than a thresholded frame gives it.
    public var particleShape: ParticleShape?
    /// Fit an offset c beside A on the centre trace, Ī = A(θ0 − θ) + c (default on). The analysis
    /// divides every frame by one reference frame, so that frame's noise is an offset (and a gain
    /// factor, absorbed by A) shared by every frame: invisible to any resampling of the residuals, and
    /// without c it moves S by ~1 % per 3·10⁻⁴ of contrast on firmware-sim (issue 16 item 4).
    public var fitsCentreOffset = true
    /// Measure the particle's area on the dataset's first frame, blur-aware, and scale the mask's
    /// outline to it (OutlineRefinement.swift; default on). Its uncertainty enters S's interval.
    public var refinesOutline = true

    public init() {}

    /// Parses `LOW:HIGH` (e.g. `1:10`).
    public static func parseScaleRange(_ text: String) throws -> ClosedRange<Double> {
        let parts = text.split(separator: ":").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo.isFinite, hi.isFinite, lo > 0, hi > lo else {
            throw CalibrationError.badValue(option: "--scale-range", value: text, expected: "LOW:HIGH with 0 < LOW < HIGH, e.g. 1:10")
        }
        return lo...hi
    }

    func validate() throws {
        if !(theta0 > parameters.ocvTheta[0] && theta0 < 1) {
            throw CalibrationError.badValue(option: "--theta0", value: "\(theta0)",
                                            expected: "an occupancy inside the V_oc table (\(parameters.ocvTheta[0])…1)")
        }
        if !(scaleRange.lowerBound > 0 && scaleRange.upperBound > scaleRange.lowerBound && scaleRange.upperBound.isFinite) {
            throw CalibrationError.badValue(option: "--scale-range", value: "\(scaleRange.lowerBound):\(scaleRange.upperBound)",
                                            expected: "0 < LOW < HIGH")
        }
        if scaleGridPoints < 3 || scaleGridPoints > 200 {
            throw CalibrationError.badValue(option: "--scale-steps", value: "\(scaleGridPoints)", expected: "3…200 grid points")
        }
        if gainGridPoints < 2 || gainGridPoints > 1000 {
            throw CalibrationError.badValue(option: "--gain-steps", value: "\(gainGridPoints)", expected: "2…1000 grid points")
        }
        if let h = elementSizeMicrometres, !(h > 0 && h.isFinite) {
            throw CalibrationError.badValue(option: "--element-size", value: "\(h)", expected: "a positive size in µm")
        }
        if !(timeTolerance > 0 && timeTolerance < 0.1) {
            throw CalibrationError.badValue(option: "--time-tolerance", value: "\(timeTolerance)", expected: "a tolerance in θ between 0 and 0.1")
        }
        if let t = endSeconds, !(t > 0 && t.isFinite) {
            throw CalibrationError.badValue(option: "--until", value: "\(t)", expected: "a positive time in seconds")
        }
        if let s = diffusivityFitScale, !(s > 0 && s.isFinite) {
            throw CalibrationError.badValue(option: "--diffusivity-scale", value: "\(s)", expected: "a positive S")
        }
        if !(psfFWHMMicrometres >= 0 && psfFWHMMicrometres < 5) {
            throw CalibrationError.badValue(option: "--psf-fwhm", value: "\(psfFWHMMicrometres)", expected: "a resolution in µm from 0 to 5")
        }
        if !(smoothness >= 0 && smoothness.isFinite) {
            throw CalibrationError.badValue(option: "--smoothness", value: "\(smoothness)", expected: "a weight ≥ 0")
        }
        if !(edgeMarginMicrometres >= 0 && edgeMarginMicrometres.isFinite) {
            throw CalibrationError.badValue(option: "--edge-margin", value: "\(edgeMarginMicrometres)", expected: "a margin ≥ 0 in µm")
        }
        if maximumProfiles < 2 {
            throw CalibrationError.badValue(option: "--max-profiles", value: "\(maximumProfiles)", expected: "at least 2 frames")
        }
    }
}

/// One fit's best (S, A) and misfit.
public struct ScaleGainFit: Sendable {
    public var scale: Double
    public var gain: Double
    /// e(S, A), seed Eq. 18 (contrast units).
    public var rmse: Double
    /// Number of data points.
    public var points: Int
    /// The fitted offset c of Ī = (1 + c)·A(θ0 − θ) + c (0 when not fitted): the reference frame's
    /// error, I0 off by a factor 1/(1 + c), which also scales the measured contrast by 1 + c.
    public var offset: Double = 0
}

/// The result of a calibration.
public struct CalibrationSummary: Sendable {
    public var outputDirectory: String
    public var theta0: Double
    /// Centre-trace fit (seed Eq. 18).
    public var centre: ScaleGainFit
    /// 1σ standard errors of S and A: half the width of the block bootstrap's 68 % interval
    /// (`uncertainty`), which accounts for residuals correlated in time; when the bootstrap could not
    /// be made, the curvature estimate below.
    public var scaleStandardError: Double
    public var gainStandardError: Double
    /// 95 % interval of S: the bootstrap's, or (without one) the profile-likelihood interval from the
    /// evaluated points (nil ends: not bracketed).
    public var scaleInterval95: (low: Double?, high: Double?)
    /// The correlation-aware uncertainty (issue 16): 68 %/95 % intervals of S and A, the block length,
    /// the Newey–West check; nil when too few residuals or model runs were available.
    public var uncertainty: ScaleGainUncertainty?
    /// The earlier estimate, kept for comparison: the curvature of Σ residual² profiled over A, widened
    /// by (1+ρ)/(1−ρ) for the lag-1 autocorrelation ρ. Too small when the residuals wander slowly.
    public var curvatureScaleStandardError: Double
    public var curvatureGainStandardError: Double
    /// Spatio-temporal (line-profile) objective: best S on the scan grid (parabolic interpolation)
    /// with its own best A.
    public var profile: ScaleGainFit
    /// Line-profile RMS misfit at the centre fit's (S, A).
    public var profileRMSEAtCentreFit: Double
    /// The D(θ) fit, when asked for.
    public var diffusivity: DiffusivityFitResult?
    /// The outline refinement on the first frame (nil: not made; the mask's outline was modelled).
    public var outline: OutlineRefinement?
    public var modelRuns: Int
    public var wallSeconds: Double
    public var notes: [String]

    /// The centre fit for a terminal: "S = 1.992 ± 0.004 (68 % interval 1.988…1.996), A = …, e = …
    /// (centre trace, N frames; block bootstrap, blocks of B frames)", uncertainties to two significant
    /// digits (never "± 0.0000").
    public var centreFitDescription: String {
        var text = "S = " + formatWithUncertainty(centre.scale, scaleStandardError)
        if let u = uncertainty { text += " (68 % interval " + formatInterval(u.scaleInterval68) + ")" }
        text += ", A = " + formatWithUncertainty(centre.gain, gainStandardError)
        if let u = uncertainty { text += " (68 % interval " + formatInterval(u.gainInterval68) + ")" }
        text += String(format: ", e = %.5f (centre trace, %d frames; ", centre.rmse, centre.points)
        if let u = uncertainty {
            text += "block bootstrap, \(u.replicates) replicates of \(u.blockLength)-frame blocks)"
        } else {
            text += "curvature estimate: too few residuals or model runs for the bootstrap)"
        }
        return text
    }
}

/// The calibration entry point (seed Supplementary Section 1, "Calibration of the scaling factor S").
public enum CalibrationRun {
    /// Calibrates S and A against `dataset`'s centre trace (seed Eq. 16–18), reports the line-profile
    /// objective beside it, optionally fits D(θ), and writes calibration.json, error_map.csv,
    /// centre_fit.csv, profile_fit.csv and model/{trace,profiles}.csv (docs/calibrate.md).
    public static func run(dataset: String, options: CalibrationOptions = CalibrationOptions(),
                           progress: (String) -> Void = { _ in }) throws -> CalibrationSummary {
        let clock = Date()
        try options.validate()
        var data = try CalibrationDataset.load(path: dataset, analysisDirectory: options.analysisDirectory, progress: progress)
        var outline: OutlineRefinement?
        if options.refinesOutline && options.particleShape == nil {
            outline = refineOutline(&data, options: options, progress: progress)
        }
        let problem = try CalibrationProblem(data: data, options: options)
        progress(String(format: "calibrate: %d centre samples, %d profiles × %d points, %d drive segments, particle %.2f µm²",
                        problem.centreTimes.count, problem.profileTimes.count, problem.profilePositions.count,
                        problem.segments.count, data.shape.areaMicrometres2))
        var notes = data.notes
        var runs = 0
        if let o = outline {
            notes.append(String(format: "outline: the mask's area %.4f µm², measured on the first frame %.4f µm² ± %.2f %% (modelled)",
                                o.maskAreaMicrometres2, o.areaMicrometres2, 100 * o.relativeStandardError))
        }

        // 1. The S grid, log-spaced, in parallel (seed Fig. S2B).
        let lo = log(options.scaleRange.lowerBound), hi = log(options.scaleRange.upperBound)
        let grid = (0..<options.scaleGridPoints).map { exp(lo + (hi - lo) * Double($0) / Double(options.scaleGridPoints - 1)) }
        progress("calibrate: scanning \(grid.count) values of S on \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let gridResults = runModels(grid.map { problem.request(scale: $0) })
        runs += grid.count
        var evaluated: [Double: Evaluation] = [:]
        for (s, r) in zip(grid, gridResults) {
            switch r {
            case .success(let m): evaluated[s] = problem.evaluate(m)
            case .failure(let e): notes.append(String(format: "S = %.3g: model failed (%@); left out", s, "\(e)"))
            }
        }
        guard let bestGrid = grid.filter({ evaluated[$0] != nil }).min(by: { evaluated[$0]!.centre.bestSSE < evaluated[$1]!.centre.bestSSE }) else {
            throw CalibrationError.modelFailed(settings: "every S in \(options.scaleRange)", reason: notes.last ?? "no run succeeded")
        }
        for s in grid { if let e = evaluated[s] { progress(String(format: "  S = %6.3f  A = %.4f  e = %.5f", s, e.centre.bestGain, e.centre.bestRMSE)) } }

        // 2. Brent refinement of S in log S between the best grid point's neighbours.
        let i = grid.firstIndex(of: bestGrid)!
        let a = log(grid[max(0, i - 1)]), b = log(grid[min(grid.count - 1, i + 1)])
        var failure: Error?
        let refined = brentMinimise(a, b, start: log(bestGrid), fStart: evaluated[bestGrid]!.centre.bestSSE,
                                    tolerance: options.scaleTolerance, maxEvaluations: 14) { u -> Double in
            let s = exp(u)
            do {
                let e = problem.evaluate(try runModel(problem.request(scale: s)))
                runs += 1
                evaluated[s] = e
                progress(String(format: "  refine S = %.4f  e = %.6f", s, e.centre.bestRMSE))
                return e.centre.bestSSE
            } catch { failure = error; return .infinity }
        }
        if let failure { notes.append("refinement: a model run failed (\(failure))") }
        let bestScale = exp(refined.x)
        guard let best = evaluated[bestScale] else {
            throw CalibrationError.modelFailed(settings: String(format: "S = %.4g", bestScale), reason: "no result")
        }
        if i == 0 || i == grid.count - 1 {
            notes.append(String(format: "the best S (%.3g) is at the end of --scale-range; widen the range", bestScale))
        }

        // 3. Curvature at the optimum (two more runs) and the model's outputs at the optimum, in parallel.
        let h = 0.03
        var outputRequest = problem.request(scale: bestScale)
        outputRequest.traceIntervalSeconds = 10
        let endTime = problem.endSeconds
        outputRequest.profileTimes = stride(from: 0.0, through: endTime, by: 300).map { $0 }
        outputRequest.profilePositions = problem.allPositions
        outputRequest.profileStencil = problem.allPositionsStencil
        let side = runModels([problem.request(scale: bestScale * (1 - h)), problem.request(scale: bestScale * (1 + h)), outputRequest])
        runs += 3
        var curvature = Double.nan, slopeGain = 0.0
        if case .success(let m0) = side[0], case .success(let m1) = side[1] {
            let e0 = problem.evaluate(m0), e1 = problem.evaluate(m1)
            evaluated[bestScale * (1 - h)] = e0
            evaluated[bestScale * (1 + h)] = e1
            let dS = bestScale * h
            curvature = (e0.centre.bestSSE - 2 * best.centre.bestSSE + e1.centre.bestSSE) / (dS * dS)
            slopeGain = (e1.centre.bestGain - e0.centre.bestGain) / (2 * dS)
        }
        guard case .success(let outputModel) = side[2] else {
            if case .failure(let e) = side[2] { throw e }
            throw CalibrationError.modelFailed(settings: "output run", reason: "no result")
        }

        // Uncertainties (1): the earlier curvature estimate, σ² = SSE/(N − 2), var S = 2σ²/SSE''
        // (profile over A), widened by (1+ρ)/(1−ρ); kept for comparison and as the fallback.
        let n = best.centre.count
        let residuals = zip(problem.centreMeasured, best.centreTheta).compactMap { y, th -> Double? in
            y.isFinite && th.isFinite ? y - best.centre.bestGain * (options.theta0 - th) - best.centre.bestOffset : nil
        }
        let rho = max(0, min(0.99, lagOneAutocorrelation(residuals)))
        let inflation = (1 + rho) / (1 - rho)
        let sigma2 = best.centre.bestSSE / Double(max(1, n - (options.fitsCentreOffset ? 3 : 2)))
        let varScale = curvature > 0 ? 2 * sigma2 / curvature * inflation : .nan
        let varGain = sigma2 / max(best.centre.centredSumXX, 1e-300) * inflation + slopeGain * slopeGain * (varScale.isFinite ? varScale : 0)
        // Profile likelihood: where SSE(S) crosses SSE_min + 3.84 σ²·inflation among the evaluated S.
        let threshold = best.centre.bestSSE + 3.84 * sigma2 * inflation
        let sortedS = evaluated.keys.sorted()
        // Crossing on one side (points ordered away from the optimum): a quadratic through the optimum
        // and the two evaluated points that bracket the threshold (the sum of squares is convex there, so
        // straight-line interpolation would make the interval too narrow).
        func crossing(_ range: [Double]) -> Double? {
            let fStar = best.centre.bestSSE
            for (p, q) in zip(range, range.dropFirst()) {
                let fp = evaluated[p]!.centre.bestSSE, fq = evaluated[q]!.centre.bestSSE
                guard fp <= threshold && fq > threshold else { continue }
                if p == bestScale {
                    let c = (fq - fStar) / ((q - bestScale) * (q - bestScale))
                    return bestScale + (q > bestScale ? 1 : -1) * ((threshold - fStar) / c).squareRoot()
                }
                // Quadratic through (S*, f*), (p, fp), (q, fq) in u = S − S*.
                let u1 = p - bestScale, u2 = q - bestScale
                let den = u1 * u2 * (u2 - u1)
                let a = ((fq - fStar) * u1 - (fp - fStar) * u2) / den
                let b = ((fp - fStar) * u2 * u2 - (fq - fStar) * u1 * u1) / den
                let c = fStar - threshold
                let disc = b * b - 4 * a * c
                if a > 0, disc >= 0 {
                    let roots = [(-b + disc.squareRoot()) / (2 * a), (-b - disc.squareRoot()) / (2 * a)]
                    if let u = roots.first(where: { ($0 - u1) * ($0 - u2) <= 0 }) { return bestScale + u }
                }
                return p + (q - p) * (threshold - fp) / (fq - fp)
            }
            return nil
        }
        let lowSide = sortedS.filter { $0 <= bestScale }.reversed().map { $0 }
        let highSide = sortedS.filter { $0 >= bestScale }
        var interval = (low: crossing(lowSide), high: crossing(highSide))

        // Uncertainties (2): the circular block bootstrap of the residuals, refitted with the traces
        // already computed (Uncertainty.swift); it replaces the curvature figures when it can be made.
        let uncertainty = CentreFitBootstrap.run(measured: problem.centreMeasured,
                                                 traces: evaluated.map { (scale: $0.key, theta: $0.value.centreTheta) },
                                                 theta0: options.theta0, bestScale: bestScale, fitsOffset: options.fitsCentreOffset,
                                                 outlineAreaRelativeError: outline?.relativeStandardError ?? 0)
        var scaleError = varScale.squareRoot(), gainError = varGain.squareRoot()
        if let u = uncertainty {
            scaleError = u.scaleStandardError
            gainError = u.gainStandardError
            interval = (u.scaleInterval95.lowerBound, u.scaleInterval95.upperBound)
            progress(String(format: "calibrate: residuals correlated over %@ frames; bootstrap blocks of %d frames%@; "
                            + "S ± %.2g (Newey–West %.2g, as if independent %.2g, curvature with lag-1 widening %.2g)",
                            u.correlationLag.map { "\($0)" } ?? "more than n/2", u.blockLength,
                            u.blockLengthCapped ? " (capped at n/4)" : "", u.scaleStandardError,
                            u.neweyWestScaleStandardError, u.independentScaleStandardError, varScale.squareRoot()))
            if u.blockLengthCapped {
                notes.append("the centre-trace residuals are correlated over much of the run (bootstrap blocks capped at a quarter of it): the interval of S may still be too narrow")
            }
        } else {
            notes.append("too few residuals or model runs for the block bootstrap: the uncertainty of S is the curvature estimate, which ignores slow correlation of the residuals")
        }

        // 4. The spatio-temporal objective beside it: best S on the grid, parabola in log S.
        var profileFit = ScaleGainFit(scale: .nan, gain: .nan, rmse: .nan, points: 0)
        let gridOK = grid.filter { evaluated[$0]?.profile.count ?? 0 > 0 }
        if let pBest = gridOK.min(by: { evaluated[$0]!.profile.bestSSE < evaluated[$1]!.profile.bestSSE }) {
            var sStar = pBest
            if let k = gridOK.firstIndex(of: pBest), k > 0, k < gridOK.count - 1 {
                let x = [log(gridOK[k - 1]), log(pBest), log(gridOK[k + 1])]
                let y = x.indices.map { evaluated[gridOK[k - 1 + $0]]!.profile.bestSSE }
                let den = (x[0] - x[1]) * (x[0] - x[2]) * (x[1] - x[2])
                let A2 = (x[2] * (y[1] - y[0]) + x[1] * (y[0] - y[2]) + x[0] * (y[2] - y[1])) / den
                let B2 = (x[2] * x[2] * (y[0] - y[1]) + x[1] * x[1] * (y[2] - y[0]) + x[0] * x[0] * (y[1] - y[2])) / den
                if A2 > 0 { sStar = exp(min(max(-B2 / (2 * A2), x[0]), x[2])) }
            }
            let e = evaluated[pBest]!.profile
            profileFit = ScaleGainFit(scale: sStar, gain: e.bestGain, rmse: e.bestRMSE, points: e.count)
        }
        let profileAtCentre = best.profile.rmse(gain: best.centre.bestGain)

        // Ī = I/I0 − 1 with a reference I0 off by a factor 1 + ε is (1 + c)·A(θ0 − θ) + c with
        // 1 + c = 1/(1 + ε): the fitted gain carries the factor 1 + c, taken out here.
        let centreFit = ScaleGainFit(scale: bestScale, gain: best.centre.bestGain / (1 + best.centre.bestOffset), rmse: best.centre.bestRMSE,
                                     points: n, offset: best.centre.bestOffset)
        if options.fitsCentreOffset {
            notes.append(String(format: "centre fit: offset c = %.3g (the reference frame's error; A is net of its factor 1 + c)", centreFit.offset))
        }
        progress("calibrate: S = " + formatWithUncertainty(bestScale, scaleError) + ", A = " + formatWithUncertainty(centreFit.gain, gainError)
                 + String(format: ", e = %.5f (centre, %d points); profiles: S = %.3f, A = %.4f, e = %.5f",
                          centreFit.rmse, n, profileFit.scale, profileFit.gain, profileFit.rmse))

        // 5. Optional D(θ) fit to the spatio-temporal contrast.
        var diffusivity: DiffusivityFitResult?
        if options.fitDiffusivity {
            var startSSE = best.profile.bestSSE, range = outputModel.thetaRange
            let fitScale = options.diffusivityFitScale ?? bestScale
            if let s = options.diffusivityFitScale {
                var r = problem.request(scale: s)
                r.traceIntervalSeconds = 10
                let m = try runModel(r)
                runs += 1
                startSSE = problem.evaluate(m).profile.bestSSE
                range = m.thetaRange
            }
            let fit = try DiffusivityFit.run(problem: problem, scale: fitScale, startSSE: startSSE,
                                             startThetaRange: range, progress: progress)
            runs += fit.modelRuns
            diffusivity = fit
        }

        // 6. Outputs.
        let out = options.outputDirectory ?? (dataset as NSString).appendingPathComponent(DatasetFormat.File.calibrationDirectory)
        let summary = CalibrationSummary(
            outputDirectory: out, theta0: options.theta0, centre: centreFit,
            scaleStandardError: scaleError, gainStandardError: gainError,
            scaleInterval95: interval, uncertainty: uncertainty,
            curvatureScaleStandardError: varScale.squareRoot(), curvatureGainStandardError: varGain.squareRoot(),
            profile: profileFit, profileRMSEAtCentreFit: profileAtCentre,
            diffusivity: diffusivity, outline: outline, modelRuns: runs, wallSeconds: Date().timeIntervalSince(clock), notes: notes)
        try CalibrationOutput.write(summary: summary, problem: problem, grid: grid, evaluated: evaluated, best: best,
                                    outputModel: outputModel, autocorrelation: rho, to: out)
        progress(String(format: "calibrate: %d model runs in %.1f s → %@", runs, summary.wallSeconds, out))
        return summary
    }
}

extension CalibrationRun {
    /// Scales `data.shape` to the area measured on the dataset's first frame (OutlineRefinement);
    /// leaves it as it is, with a note, when the frame cannot be read or the measurement fails.
    static func refineOutline(_ data: inout CalibrationDataset, options: CalibrationOptions,
                              progress: (String) -> Void) -> OutlineRefinement? {
        guard let mask = data.mask else { return nil }
        let frame: BinnedFrame
        do {
            let reader = try DatasetReader(data.path)
            guard reader.hasFrames else { return nil }
            var recording = try reader.recording()
            frame = try recording.frame(0).frame
        } catch {
            data.notes.append("outline: the first frame could not be read (\(error)); the mask's outline is modelled as it is")
            return nil
        }
        let sigma = options.psfFWHMMicrometres / (8 * log(2)).squareRoot()
        guard let r = OutlineRefinement.measure(frame: frame, mask: mask, outlineAreaMicrometres2: data.shape.areaMicrometres2,
                                                pixelSizeMicrometres: data.pixelSizeMicrometres, psfSigmaMicrometres: sigma) else {
            data.notes.append("outline: the particle's area could not be measured on the first frame; the mask's outline is modelled as it is")
            return nil
        }
        // A threshold off the half level moves the whole edge by about the same distance, so the
        // outline is moved along its normals (not scaled, which would keep the wrong aspect ratio).
        let (boundary, d) = offsetOutline(data.shape.boundary, toArea: r.areaMicrometres2)
        data.shape = ParticleShape(boundary: boundary, isSmooth: data.shape.isSmooth,
                                   specification: data.shape.specification + String(format: ",offset=%.5fum", d))
        progress(String(format: "calibrate: particle area %.4f µm² on the first frame (mask %.4f µm²) ± %.2f %%",
                        r.areaMicrometres2, r.maskAreaMicrometres2, 100 * r.relativeStandardError))
        return r
    }
}

/// `boundary` (counter-clockwise) moved along its vertex normals by the distance d (outward positive)
/// that makes its area `area`: Newton steps on A(d) ≈ A₀ + P·d. Returns the polygon and d, µm.
func offsetOutline(_ boundary: [Point2], toArea area: Double) -> ([Point2], Double) {
    func signedArea(_ v: [Point2]) -> Double {
        var s = 0.0
        for i in v.indices { let j = (i + 1) % v.count; s += v[i].x * v[j].y - v[j].x * v[i].y }
        return s / 2
    }
    let n = boundary.count
    guard n >= 3 else { return (boundary, 0) }
    let orientation: Double = signedArea(boundary) >= 0 ? 1 : -1
    // Vertex normals: the mean of the two edges' outward normals, scaled so a straight run moves by d.
    var normals: [Point2] = []
    for i in 0..<n {
        let p = boundary[(i + n - 1) % n], q = boundary[i], r = boundary[(i + 1) % n]
        func normal(_ a: Point2, _ b: Point2) -> Point2 {
            let dx = b.x - a.x, dy = b.y - a.y, l = max(hypot(dx, dy), 1e-12)
            return Point2(orientation * dy / l, -orientation * dx / l)
        }
        let n1 = normal(p, q), n2 = normal(q, r)
        let m = Point2(n1.x + n2.x, n1.y + n2.y)
        let dot = max(0.2, 0.5 * (1 + n1.x * n2.x + n1.y * n2.y))     // cos²(half the turn)
        let l = max(hypot(m.x, m.y), 1e-12)
        normals.append(Point2(m.x / l / dot.squareRoot(), m.y / l / dot.squareRoot()))
    }
    var perimeter = 0.0
    for i in 0..<n { let j = (i + 1) % n; perimeter += hypot(boundary[j].x - boundary[i].x, boundary[j].y - boundary[i].y) }
    var d = 0.0
    var moved = boundary
    for _ in 0..<4 {
        let a = abs(signedArea(moved))
        d += (area - a) / max(perimeter, 1e-12)
        moved = (0..<n).map { Point2(boundary[$0].x + d * normals[$0].x, boundary[$0].y + d * normals[$0].y) }
    }
    return (moved, d)
}

/// One model run scored against the data.
struct Evaluation: Sendable {
    var centre: GainSums
    var profile: GainSums
    var centreTheta: [Double]
    var profileTheta: [[Double]]
}

/// The data and fixed settings shared by every model run of one calibration.
struct CalibrationProblem: Sendable {
    var data: CalibrationDataset
    var options: CalibrationOptions
    var segments: [DriveSegment]
    var centreTimes: [Double]
    var centreMeasured: [Double]
    var profileTimes: [Double]
    /// Positions used by the spatio-temporal objective (inside the particle, off the edge), µm.
    var profilePositions: [Double]
    /// profileMeasured[time][position] at those positions.
    var profileMeasured: [[Double]]
    /// Every measured position along the line (for model/profiles.csv).
    var allPositions: [Double]
    var endSeconds: Double
    var parameters: ParameterSet
    var centreStencil: Stencil
    var profileStencil: Stencil
    var allPositionsStencil: Stencil

    init(data: CalibrationDataset, options: CalibrationOptions) throws {
        var data = data
        if let shape = options.particleShape { data.shape = shape }
        self.data = data
        self.options = options
        parameters = options.parameters
        segments = driveSegments(echem: data.echem, oneCAmps: data.oneCAmps)
        var end = data.echem.last!.timeSeconds
        if let t = options.endSeconds { end = min(end, t) }
        endSeconds = end
        let keep = data.centreTimesSeconds.indices.filter { data.centreTimesSeconds[$0] >= 0 && data.centreTimesSeconds[$0] <= end }
        centreTimes = keep.map { data.centreTimesSeconds[$0] }
        centreMeasured = keep.map { data.centreContrast[$0] }
        guard centreTimes.count >= 3 else {
            throw CalibrationError.noData(path: data.centreTraceSource,
                                          reason: "fewer than three frames inside the electrochemistry record (0…\(Int(end)) s)")
        }
        // Where the horizontal line through the centroid crosses the outline.
        var xs: [Double] = []
        let b = data.shape.boundary
        for k in b.indices {
            let p = b[k], q = b[(k + 1) % b.count]
            if (p.y <= 0 && q.y > 0) || (q.y <= 0 && p.y > 0) { xs.append(p.x + (q.x - p.x) * (0 - p.y) / (q.y - p.y)) }
        }
        let left = xs.filter { $0 < 0 }.max() ?? -.infinity, right = xs.filter { $0 > 0 }.min() ?? .infinity
        let usable = data.profiles.filter { $0.timeSeconds >= 0 && $0.timeSeconds <= end }
        let reference = usable.first?.positionsMicrometres ?? []
        allPositions = reference.filter { $0 > left && $0 < right }
        let positionIndices = reference.indices.filter {
            reference[$0] >= left + options.edgeMarginMicrometres && reference[$0] <= right - options.edgeMarginMicrometres
        }
        profilePositions = positionIndices.map { reference[$0] }
        let consistent = usable.filter { $0.positionsMicrometres == reference }
        let stride = max(1, Int((Double(consistent.count) / Double(options.maximumProfiles)).rounded(.up)))
        let chosen = Swift.stride(from: 0, to: consistent.count, by: stride).map { consistent[$0] }
        profileTimes = chosen.map(\.timeSeconds)
        profileMeasured = chosen.map { p in positionIndices.map { p.contrast[$0] } }
        let sigma = options.psfFWHMMicrometres / (8 * log(2)).squareRoot()
        let pixel = data.pixelSizeMicrometres
        centreStencil = Stencil.centre(pixelSizeMicrometres: pixel, radiusPixels: options.centreRadiusPixels, sigma: sigma)
        profileStencil = Stencil.profile(positions: profilePositions, pixelSizeMicrometres: pixel,
                                         widthPixels: options.profileWidthPixels, sigma: sigma)
        // model/profiles.csv holds θ itself along the line, as `operando simulate` writes it.
        allPositionsStencil = Stencil.profile(positions: allPositions, pixelSizeMicrometres: pixel, widthPixels: 1, sigma: 0)
    }

    func request(scale: Double, parameters: ParameterSet? = nil) -> ModelRequest {
        ModelRequest(shape: data.shape, parameters: parameters ?? self.parameters, scale: scale, theta0: options.theta0,
                     elementSizeMicrometres: options.elementSizeMicrometres, timeTolerance: options.timeTolerance,
                     segments: segments, centreTimes: centreTimes, profileTimes: profileTimes,
                     profilePositions: profilePositions, centreStencil: centreStencil, profileStencil: profileStencil)
    }

    func evaluate(_ m: ModelSamples) -> Evaluation {
        let centre = GainSums(measured: centreMeasured, theta: m.centreTheta, theta0: options.theta0, fitsOffset: options.fitsCentreOffset)
        let profile = GainSums(measured: profileMeasured.flatMap { $0 }, theta: m.profileTheta.flatMap { $0 },
                               theta0: options.theta0)
        return Evaluation(centre: centre, profile: profile, centreTheta: m.centreTheta, profileTheta: m.profileTheta)
    }
}
