import Foundation

/// Writes a calibration's files (docs/interfaces.md "calibrate outputs", docs/calibrate.md).
enum CalibrationOutput {
    static func g(_ x: Double) -> String { x.isFinite ? String(format: "%.9g", x) : "nan" }

    static func write(summary s: CalibrationSummary, problem: CalibrationProblem, grid: [Double],
                      evaluated: [Double: Evaluation], best: Evaluation, outputModel: ModelSamples,
                      autocorrelation: Double, to out: String) throws {
        let fm = FileManager.default
        let modelDir = (out as NSString).appendingPathComponent("model")
        do { try fm.createDirectory(atPath: modelDir, withIntermediateDirectories: true) } catch {
            throw CalibrationError.cannotWrite(path: out, reason: error.localizedDescription)
        }
        func put(_ name: String, _ text: String) throws {
            let path = (out as NSString).appendingPathComponent(name)
            do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw CalibrationError.cannotWrite(path: path, reason: error.localizedDescription)
            }
        }
        let theta0 = s.theta0
        // error_map.csv: e(S, A) over the S grid × an A grid around the best A (seed Fig. S2B).
        var map = "scale,gain,rmse\n"
        let gains = (0..<problem.options.gainGridPoints).map {
            s.centre.gain * (0.5 + Double($0) / Double(problem.options.gainGridPoints - 1))
        }
        for scale in grid { if let e = evaluated[scale] { for a in gains { map += "\(g(scale)),\(g(a)),\(g(e.centre.rmse(gain: a)))\n" } } }
        try put("error_map.csv", map)
        // The line-profile objective on the same grid, each S with its own best A.
        var profileMap = "scale,gain,rmse\n"
        for scale in evaluated.keys.sorted() {
            let e = evaluated[scale]!.profile
            if e.count > 0 { profileMap += "\(g(scale)),\(g(e.bestGain)),\(g(e.bestRMSE))\n" }
        }
        try put("profile_objective.csv", profileMap)
        // centre_fit.csv (seed Fig. S2C).
        var centre = "time_s,measured,model\n"
        for (k, t) in problem.centreTimes.enumerated() {
            centre += "\(g(t)),\(g(problem.centreMeasured[k])),\(g(s.centre.gain * (theta0 - best.centreTheta[k])))\n"
        }
        try put("centre_fit.csv", centre)
        // profile_fit.csv: measured and modelled contrast along the line at the centre fit's (S, A).
        var profile = "time_s,position_um,measured,model\n"
        for (k, t) in problem.profileTimes.enumerated() where k < best.profileTheta.count {
            for (j, x) in problem.profilePositions.enumerated() where j < best.profileTheta[k].count {
                profile += "\(g(t)),\(g(x)),\(g(problem.profileMeasured[k][j])),\(g(s.centre.gain * (theta0 - best.profileTheta[k][j])))\n"
            }
        }
        try put("profile_fit.csv", profile)
        // model/trace.csv and model/profiles.csv, the columns of `operando simulate`.
        var trace = "time_s,theta_centre,theta_mean,theta_min,theta_max,voltage_V,current_A\n"
        for row in outputModel.trace { trace += row.map(g).joined(separator: ",") + "\n" }
        try put("model/trace.csv", trace)
        var profiles = "time_s,position_um,theta\n"
        for (k, t) in stride(from: 0.0, through: problem.endSeconds, by: 300).enumerated() where k < outputModel.profileTheta.count {
            for (x, th) in zip(problem.allPositions, outputModel.profileTheta[k]) where th.isFinite {
                profiles += "\(g(t)),\(g(x)),\(g(th))\n"
            }
        }
        try put("model/profiles.csv", profiles)

        var json: [String: Any] = [
            "dataset": problem.data.path,
            "scale": s.centre.scale, "gain": s.centre.gain, "rmse": s.centre.rmse, "theta0": theta0,
            "scale_standard_error": s.scaleStandardError.isFinite ? s.scaleStandardError : NSNull(),
            "gain_standard_error": s.gainStandardError.isFinite ? s.gainStandardError : NSNull(),
            "scale_interval_95": [s.scaleInterval95.low.map { $0 as Any } ?? NSNull(), s.scaleInterval95.high.map { $0 as Any } ?? NSNull()],
            "uncertainty_method": "curvature of the sum of squares profiled over A (var S = 2σ²/SSE''), σ² = SSE/(N−2), widened by (1+ρ)/(1−ρ) for the residuals' lag-1 autocorrelation ρ; interval: profile likelihood ΔSSE = 3.84σ²",
            "residual_autocorrelation": autocorrelation,
            "points": s.centre.points,
            "objective": "seed Eq. 18 on the centre trace (analysis metrics.csv contrast_centre)",
            "profile_objective": [
                "scale": s.profile.scale, "gain": s.profile.gain, "rmse": s.profile.rmse, "points": s.profile.points,
                "rmse_at_centre_fit": s.profileRMSEAtCentreFit,
                "edge_margin_um": problem.options.edgeMarginMicrometres,
                "profiles": problem.profileTimes.count,
                "note": "RMS of contrast − A(θ0 − θ) along the horizontal line through the centroid; S from the scan grid (parabolic interpolation in log S)",
            ] as [String: Any],
            "scale_range": [problem.options.scaleRange.lowerBound, problem.options.scaleRange.upperBound],
            "scale_grid": grid,
            "model": [
                "kinetics": "butler-volmer", "parameter_set": problem.parameters.name,
                "particle": problem.data.shape.specification,
                "area_um2": problem.data.shape.areaMicrometres2, "perimeter_um": problem.data.shape.perimeterMicrometres,
                "element_size_um": problem.options.elementSizeMicrometres.map { $0 as Any } ?? (problem.data.shape.longestExtentMicrometres / 30),
                "drive_segments": problem.segments.count,
                "one_c_A": problem.data.oneCAmps,
            ] as [String: Any],
            "model_runs": s.modelRuns, "wall_time_s": s.wallSeconds, "notes": s.notes,
        ]
        if let d = s.diffusivity {
            json["diffusivity_fit"] = [
                "knots_x": d.knotsX, "initial_cm2_per_s": d.initialCm2PerS, "fitted_cm2_per_s": d.fittedCm2PerS,
                "log10_standard_error": d.log10StandardError, "free_knots": d.freeKnots,
                "visited_x": [d.visitedX.lowerBound, d.visitedX.upperBound], "scale": d.scale, "gain": d.gain,
                "rmse": d.rmse, "rmse_scale_only": d.rmseScaleOnly, "iterations": d.iterations, "model_runs": d.modelRuns,
                "smoothness": problem.options.smoothness,
            ] as [String: Any]
            var csv = "x,theta,d_initial_cm2_per_s,d_fit_cm2_per_s,d_fit_low_cm2_per_s,d_fit_high_cm2_per_s,d_eff_fit_cm2_per_s,resolved\n"
            for c in d.curve {
                let resolved = d.visitedX.contains(c.x) ? 1 : 0
                csv += "\(g(c.x)),\(g(1 - c.x)),\(g(c.initial)),\(g(c.fitted)),\(g(c.low)),\(g(c.high)),\(g(c.fitted / d.scale)),\(resolved)\n"
            }
            try put("diffusivity_fit.csv", csv)
        }
        do {
            let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
            try put("calibration.json", String(decoding: data, as: UTF8.self) + "\n")
        } catch let e as CalibrationError { throw e } catch {
            throw CalibrationError.cannotWrite(path: out + "/calibration.json", reason: error.localizedDescription)
        }
    }
}
