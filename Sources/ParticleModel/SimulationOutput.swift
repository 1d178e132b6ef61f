import Foundation

/// Writes a simulation's `trace.csv`, `profiles.csv` and `summary.json` (docs/interfaces.md).
public enum SimulationOutput {
    /// Writes the three files into `directory` (created if missing) and returns their paths.
    @discardableResult
    public static func write(_ r: SimulationResult, inputs: [String: String], to directory: String) throws -> [String] {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SolverError.invalidInput("--out \(directory): cannot create the directory (\(error.localizedDescription))")
        }
        func g(_ x: Double) -> String { String(format: "%.9g", x) }
        var trace = "time_s,theta_centre,theta_mean,theta_min,theta_max,voltage_V,current_A\n"
        for row in r.trace {
            trace += "\(g(row.timeSeconds)),\(g(row.thetaCentre)),\(g(row.thetaMean)),\(g(row.thetaMin)),\(g(row.thetaMax)),\(g(row.voltageVolts)),\(g(row.currentAmps))\n"
        }
        var profiles = "time_s,position_um,theta\n"
        for p in r.profiles {
            for (x, t) in zip(p.positionsMicrometres, p.theta) { profiles += "\(g(p.timeSeconds)),\(g(x)),\(g(t))\n" }
        }
        let balanceOK = r.massBalanceWorstRelativeError <= 1e-6
        var summary: [String: Any] = [
            "inputs": inputs,
            "kinetics": r.kinetics.rawValue,
            "theta0": r.theta0,
            "mesh": [
                "nodes": r.nodes, "triangles": r.triangles, "boundary_nodes": r.boundaryNodes,
                "element_size_um": r.elementSizeMicrometres, "area_um2": r.meshAreaMicrometres2,
                "perimeter_um": r.meshPerimeterMicrometres, "min_radius_ratio": r.minRadiusRatio,
                "min_angle_deg": r.minAngleDegrees,
            ] as [String: Any],
            "solver": [
                "time_steps": r.timeSteps, "rejected_steps": r.rejectedSteps,
                "newton_iterations": r.newtonIterations, "wall_time_s": r.wallSeconds,
            ] as [String: Any],
            "mass_balance": [
                "worst_relative_error": r.massBalanceWorstRelativeError,
                "ok": balanceOK, "threshold": 1e-6,
            ] as [String: Any],
            "steps": r.steps.map {
                ["index": $0.step, "text": $0.text, "start_s": $0.startSeconds, "end_s": $0.endSeconds,
                 "ended_by": $0.reason, "theta_mean_at_end": $0.thetaMeanAtEnd] as [String: Any]
            },
            "final": r.trace.last.map {
                ["time_s": $0.timeSeconds, "theta_mean": $0.thetaMean, "theta_centre": $0.thetaCentre,
                 "theta_min": $0.thetaMin, "theta_max": $0.thetaMax, "voltage_V": $0.voltageVolts] as [String: Any]
            } ?? [:],
        ]
        if let ratio = r.boundaryFluxMaxMinRatio { summary["boundary_flux_max_min_ratio"] = ratio }
        let json = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
        let paths = ["trace.csv", "profiles.csv", "summary.json"].map { (directory as NSString).appendingPathComponent($0) }
        do {
            try trace.write(toFile: paths[0], atomically: true, encoding: .utf8)
            try profiles.write(toFile: paths[1], atomically: true, encoding: .utf8)
            try json.write(to: URL(fileURLWithPath: paths[2]))
        } catch {
            throw SolverError.invalidInput("--out \(directory): cannot write (\(error.localizedDescription))")
        }
        return paths
    }
}
