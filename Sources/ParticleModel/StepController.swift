/// Backward-Euler step-size control shared by protocol runs (`ParticleSimulation`) and stepped cells
/// (`ParticleCell`): the linear predictor from the last two accepted states is both Newton's starting
/// guess and the local-error estimate, err ≈ h/(h + h_prev)·max|θ_BE − θ_pred|.
struct StepController {
    /// Target local error in θ.
    let tolerance: Double
    private var previousTheta: [Double]?   // state before the last accepted step
    private var previousDt: Double?
    private var olderTheta: [Double]?      // state before the one before (Newton's quadratic start)
    private var olderDt: Double?

    init(tolerance: Double) { self.tolerance = tolerance }

    enum Outcome {
        /// Newton did not converge; the state is restored. Retry with a shorter step.
        case diverged
        /// Converged but the local error is too large; the state is restored.
        case rejected(retryDt: Double)
        /// Converged within tolerance; the state is the new one (call `commit` once it is kept).
        case accepted(nextDt: Double)
    }

    /// Forgets the history (a discontinuity in the drive).
    mutating func reset() {
        previousTheta = nil
        previousDt = nil
        olderTheta = nil
        olderDt = nil
    }

    /// Tries one step of length `h` from the solver's state. `saved` is that state, for `commit` and
    /// for callers that re-step (end conditions).
    func attempt(_ solver: ParticleSolver, h: Double, condition: SurfaceCondition) throws
        -> (outcome: Outcome, savedTheta: [Double], savedPotential: Double) {
        let saved = solver.theta
        let savedPotential = solver.potential
        // The predictor is built inside the solver's own θ (no per-step array).
        let converged: Bool
        if let pt = previousTheta, let pdt = previousDt, let qt = olderTheta, let qdt = olderDt,
           h <= 3 * pdt, pdt <= 4 * qdt, qdt <= 4 * pdt {
            // Newton starts from the quadratic through the last three states (the error estimate
            // below keeps the linear one): callgrind, issue 17 — each Newton iteration is a solve,
            // and the better start saves about one per step on the default C/3 run.
            converged = try solver.step(dt: h, condition: condition, predictorFrom: pt, previousDt: pdt,
                                        older: qt, olderDt: qdt)
        } else if let pt = previousTheta, let pdt = previousDt {
            converged = try solver.step(dt: h, condition: condition, predictorFrom: pt, previousDt: pdt)
        } else {
            converged = try solver.step(dt: h, condition: condition)
        }
        guard converged else { return (.diverged, saved, savedPotential) }
        guard let pt = previousTheta, let pdt = previousDt else { return (.accepted(nextDt: 2 * h), saved, savedPotential) }
        var err = 0.0
        solver.theta.withUnsafeBufferPointer { th in
            saved.withUnsafeBufferPointer { sv in
                pt.withUnsafeBufferPointer { p in
                    for i in 0..<th.count { err = max(err, abs(th[i] - (sv[i] + (sv[i] - p[i]) * h / pdt))) }
                }
            }
        }
        err *= h / (h + pdt)
        if err > 2 * tolerance && h > 1e-4 {
            solver.theta = saved
            solver.potential = savedPotential
            return (.rejected(retryDt: h * max(0.2, 0.9 * (tolerance / err).squareRoot())), saved, savedPotential)
        }
        let grow = err > 0 ? 0.9 * (tolerance / err).squareRoot() : 2.5
        return (.accepted(nextDt: h * min(2.5, max(0.3, grow))), saved, savedPotential)
    }

    /// Records an accepted step of length `h` taken from `savedTheta`.
    mutating func commit(savedTheta: [Double], h: Double) {
        olderTheta = previousTheta
        olderDt = previousDt
        previousTheta = savedTheta
        previousDt = h
    }

    /// Length of the last accepted step.
    var lastStep: Double? { previousDt }
}
