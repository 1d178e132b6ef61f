import Electrochemistry
import TerminalProgress

/// Honest progress of a protocol (simulate's model time, run's run time) against the protocol's
/// estimated duration. A step with a fixed duration counts that; a current step ending on a voltage
/// counts the time its C-rate needs for a full capacity (1/n h at nC); any other step counts an hour
/// (its duration or bound if shorter). A step running longer than
/// its estimate stretches the total, so the fraction slows instead of passing 100 %; the reporter
/// shows 99 % at most until the run has ended.
final class ProtocolProgress {
    /// Estimated seconds of each program step.
    let estimates: [Double]
    /// Model time at which each step was first reported, s.
    private var starts: [Int: Double] = [:]

    init(program: StepProgram) {
        estimates = program.steps.map(Self.estimateSeconds)
    }

    static func estimateSeconds(_ s: CompiledStep) -> Double {
        let bound = s.maximumSeconds ?? .infinity
        var guess = Double.infinity
        if case .current(let c, _) = s.setpoint, let n = c.cRate, n > 0 {
            for e in s.ends {
                switch e {
                case .voltageAtLeast, .voltageAtMost: guess = min(guess, 3600 / n)
                default: break
                }
            }
        }
        if s.ends.contains(where: { if case .duration = $0 { return true }; return false }) { guess = min(guess, bound) }
        if !guess.isFinite { guess = min(bound, 3600) }
        return max(1, min(guess, bound))
    }

    /// The fraction done and a detail (`step 2/3, model t 1:02:03`) from the model's status text
    /// (`step K/N t = X s`); nil fraction when the status cannot be read.
    func fraction(status: String) -> (Double?, String) {
        guard let (k, t) = Self.parse(status), k >= 1, k <= estimates.count else { return (nil, status) }
        let detail = "step \(k)/\(estimates.count), model t \(ProgressReporter.clock(t))"
        return (fraction(step: k - 1, modelSeconds: t), detail)
    }

    /// Fraction done at model time `t` in program step `step` (0-based): t over t plus what is left
    /// (this step's estimate less its time so far, at least 1 % of it, and the later steps').
    func fraction(step: Int, modelSeconds t: Double) -> Double {
        if starts[step] == nil { starts[step] = t }
        let inStep = max(0, t - (starts[step] ?? t))
        let left = max(estimates[step] - inStep, 0.01 * estimates[step]) + estimates[(step + 1)...].reduce(0, +)
        return t + left > 0 ? t / (t + left) : 0
    }

    static func parse(_ status: String) -> (Int, Double)? {
        // "step K/N t = X s"
        let words = status.split(separator: " ")
        guard words.count >= 5, words[0] == "step", let slash = words[1].firstIndex(of: "/"),
              let k = Int(words[1][..<slash]), words[2] == "t", let t = Double(words[4]) else { return nil }
        return (k, t)
    }
}
