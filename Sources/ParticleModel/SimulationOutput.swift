import Foundation

/// What a simulation reports about itself (`operando simulate`'s summary.json; the files themselves are
/// written by Dataset's `SimulationFiles`, the one owner of trace.csv and profiles.csv).
extension SimulationResult {
    /// The summary object: inputs, mesh, solver, mass balance, steps and the final state.
    public func summaryObject(inputs: [String: String]) -> [String: Any] {
        let r = self
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
        return summary
    }
}
