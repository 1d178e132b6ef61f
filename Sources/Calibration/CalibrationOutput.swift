import Dataset
import Foundation

/// Turns a calibration's results into `Dataset`'s calibration records and writes them
/// (docs/interfaces.md "calibrate outputs", docs/calibrate.md); the file names and columns are Dataset's.
enum CalibrationOutput {
    static func write(summary s: CalibrationSummary, problem: CalibrationProblem, grid: [Double],
                      evaluated: [Double: Evaluation], best: Evaluation, outputModel: ModelSamples,
                      autocorrelation: Double, to out: String) throws {
        let theta0 = s.theta0
        // The error map: e(S, A) over the S grid × an A grid around the best A (seed Fig. S2B).
        let gains = (0..<problem.options.gainGridPoints).map {
            s.centre.gain * (0.5 + Double($0) / Double(problem.options.gainGridPoints - 1))
        }
        var errorMap: [ErrorMapRecord] = []
        for scale in grid { if let e = evaluated[scale] { for a in gains { errorMap.append(ErrorMapRecord(scale: scale, gain: a, rmse: e.centre.rmse(gain: a))) } } }
        // The line-profile objective on the same grid, each S with its own best A.
        let profileObjective = evaluated.keys.sorted().compactMap { scale -> ErrorMapRecord? in
            let e = evaluated[scale]!.profile
            return e.count > 0 ? ErrorMapRecord(scale: scale, gain: e.bestGain, rmse: e.bestRMSE) : nil
        }
        // The centre fit (seed Fig. S2C).
        let centreFit = problem.centreTimes.enumerated().map { k, t in
            CentreFitRecord(timeSeconds: t, measured: problem.centreMeasured[k], model: (1 + s.centre.offset) * s.centre.gain * (theta0 - best.centreTheta[k]) + s.centre.offset)
        }
        // Measured and modelled contrast along the line at the centre fit's (S, A).
        var profileFit: [ProfileFitRecord] = []
        for (k, t) in problem.profileTimes.enumerated() where k < best.profileTheta.count {
            for (j, x) in problem.profilePositions.enumerated() where j < best.profileTheta[k].count {
                profileFit.append(ProfileFitRecord(timeSeconds: t, positionMicrometres: x, measured: problem.profileMeasured[k][j],
                                                   model: s.centre.gain * (theta0 - best.profileTheta[k][j])))
            }
        }
        // The model run at the optimum, in the columns of `operando simulate`.
        let trace = outputModel.trace.filter { $0.count >= 7 }.map {
            ModelTraceRecord(timeSeconds: $0[0], thetaCentre: $0[1], thetaMean: $0[2], thetaMin: $0[3], thetaMax: $0[4],
                             voltageVolts: $0[5], currentAmps: $0[6])
        }
        var modelProfiles: [ModelProfileRecord] = []
        for (k, t) in stride(from: 0.0, through: problem.endSeconds, by: 300).enumerated() where k < outputModel.profileTheta.count {
            for (x, th) in zip(problem.allPositions, outputModel.profileTheta[k]) where th.isFinite {
                modelProfiles.append(ModelProfileRecord(timeSeconds: t, positionMicrometres: x, theta: th))
            }
        }
        var diffusivityCurve: [DiffusivityFitRecord]? = nil
        var diffusivity: CalibrationRecord.DiffusivityFit? = nil
        if let d = s.diffusivity {
            diffusivity = CalibrationRecord.DiffusivityFit(
                knotsX: d.knotsX, initialCm2PerS: d.initialCm2PerS, fittedCm2PerS: d.fittedCm2PerS,
                log10StandardError: d.log10StandardError, freeKnots: d.freeKnots, visitedX: [d.visitedX.lowerBound, d.visitedX.upperBound],
                scale: d.scale, gain: d.gain, rmse: d.rmse, rmseScaleOnly: d.rmseScaleOnly, iterations: d.iterations,
                modelRuns: d.modelRuns, smoothness: problem.options.smoothness)
            diffusivityCurve = d.curve.map { c in
                DiffusivityFitRecord(x: c.x, theta: 1 - c.x, initialCm2PerS: c.initial, fittedCm2PerS: c.fitted, fittedLowCm2PerS: c.low,
                                     fittedHighCm2PerS: c.high, effectiveCm2PerS: c.fitted / d.scale, resolved: d.visitedX.contains(c.x))
            }
        }
        let shape = problem.data.shape
        var result = CalibrationRecord(
            dataset: problem.data.path, scale: s.centre.scale, gain: s.centre.gain, rmse: s.centre.rmse, theta0: theta0,
            scaleStandardError: s.scaleStandardError, gainStandardError: s.gainStandardError, scaleInterval95: s.scaleInterval95,
            uncertaintyMethod: s.uncertainty != nil ? ScaleGainUncertainty.method
                : "curvature of the sum of squares profiled over A (var S = 2σ²/SSE''), σ² = SSE/(N−2), widened by (1+ρ)/(1−ρ) for the residuals' lag-1 autocorrelation ρ; interval: profile likelihood ΔSSE = 3.84σ²",
            residualAutocorrelation: autocorrelation, points: s.centre.points,
            objective: "seed Eq. 18 on the centre trace (the analysis' contrast_centre)",
            profileObjective: CalibrationRecord.ProfileObjective(
                scale: s.profile.scale, gain: s.profile.gain, rmse: s.profile.rmse, points: s.profile.points,
                rmseAtCentreFit: s.profileRMSEAtCentreFit, edgeMarginMicrometres: problem.options.edgeMarginMicrometres,
                profiles: problem.profileTimes.count,
                note: "RMS of contrast − A(θ0 − θ) along the horizontal line through the centroid; S from the scan grid (parabolic interpolation in log S)"),
            scaleRange: [problem.options.scaleRange.lowerBound, problem.options.scaleRange.upperBound], scaleGrid: grid,
            model: CalibrationRecord.Model(
                kinetics: "butler-volmer", parameterSet: problem.parameters.name, particle: shape.specification,
                areaMicrometres2: shape.areaMicrometres2, perimeterMicrometres: shape.perimeterMicrometres,
                elementSizeMicrometres: problem.options.elementSizeMicrometres ?? shape.longestExtentMicrometres / 30,
                driveSegments: problem.segments.count, oneCAmps: problem.data.oneCAmps),
            modelRuns: s.modelRuns, wallTimeSeconds: s.wallSeconds, notes: s.notes, diffusivityFit: diffusivity)
        if let u = s.uncertainty {
            result.scaleInterval68 = [u.scaleInterval68.lowerBound, u.scaleInterval68.upperBound]
            result.gainInterval68 = [u.gainInterval68.lowerBound, u.gainInterval68.upperBound]
            result.gainInterval95 = [u.gainInterval95.lowerBound, u.gainInterval95.upperBound]
        }
        if problem.options.fitsCentreOffset { result.centreOffset = s.centre.offset }
        if let o = s.outline {
            result.outline = CalibrationRecord.Outline(maskAreaMicrometres2: o.maskAreaMicrometres2, measuredAreaMicrometres2: o.areaMicrometres2,
                                                       relativeStandardError: o.relativeStandardError)
        }
        result.uncertainty = CalibrationRecord.Uncertainty(
            method: s.uncertainty != nil ? "circular block bootstrap" : "curvature",
            blockLengthFrames: s.uncertainty?.blockLength ?? 0, correlationLagFrames: s.uncertainty?.correlationLag,
            replicates: s.uncertainty?.replicates ?? 0, failedReplicates: s.uncertainty?.failedReplicates ?? 0,
            samples: s.uncertainty?.samples ?? s.centre.points,
            neweyWestScaleStandardError: s.uncertainty?.neweyWestScaleStandardError ?? .nan,
            neweyWestGainStandardError: s.uncertainty?.neweyWestGainStandardError ?? .nan,
            independentScaleStandardError: s.uncertainty?.independentScaleStandardError ?? .nan,
            independentGainStandardError: s.uncertainty?.independentGainStandardError ?? .nan,
            curvatureScaleStandardError: s.curvatureScaleStandardError, curvatureGainStandardError: s.curvatureGainStandardError)
        do {
            try CalibrationWriter.write(CalibrationOutputs(result: result, errorMap: errorMap, profileObjective: profileObjective,
                                                           centreFit: centreFit, profileFit: profileFit, diffusivityFit: diffusivityCurve,
                                                           modelTrace: trace, modelProfiles: modelProfiles), to: out)
        } catch let e as DatasetError {
            throw CalibrationError.dataset(e)
        }
    }
}
