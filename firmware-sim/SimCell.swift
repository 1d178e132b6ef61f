import Foundation
import ParticleModel

// Units: seconds, volts, amperes, ohms; lengths in µm (ParticleModel's system).

/// What the simulated instrument imposes on the electrode over one model step.
public enum ElectrodeDrive: Sendable, Equatable {
    /// Cell current, A, positive on charge.
    case current(amps: Double)
    /// Cell voltage (working vs lithium counter), V; the particles see it minus I·R_series.
    case voltage(volts: Double)
    /// No current.
    case openCircuit
}

/// The simulated cell: one imaged particle (the one the camera sees) and optionally a population of
/// particles with a size distribution that carries the electrode's current, against a lithium counter
/// electrode at 0 V, behind a series resistance. With a population the electrode is an equipotential:
/// every particle, the imaged one included, sits at one potential and takes the current its own size,
/// state and kinetics give it; without one, the imaged particle carries the electrode's C-rate. Capacity and 1C come from the protocol's active mass
/// and practical capacity, so a C-rate means the same here as on the bench.
public final class SimCell {
    /// The imaged particle.
    public let imaged: ParticleCell
    /// Electrode particles other than the imaged one (may be empty).
    public let population: [ParticleCell]
    /// Share of the electrode's capacity each population particle holds (sums to 1).
    public let populationWeights: [Double]
    /// Active mass of the electrode, mg.
    public let activeMassMilligrams: Double
    /// Practical capacity defining 1C, mAh/g.
    public let practicalCapacityMilliampHoursPerGram: Double
    /// Series resistance (electrolyte, contacts), Ω.
    public var seriesResistanceOhms: Double
    /// Extra resistance from an injected contact fault, Ω.
    public var faultResistanceOhms: Double = 0
    /// Simulated time since construction, s.
    public private(set) var timeSeconds: Double = 0
    /// Electrode current after the last step, A (positive on charge).
    public private(set) var currentAmps: Double = 0

    /// - Parameters:
    ///   - imaged: the particle the camera images.
    ///   - population: particles carrying the electrode's current (empty: the imaged one stands for all).
    ///   - populationWeights: their capacity shares (normalised here).
    public init(imaged: ParticleCell, population: [ParticleCell] = [], populationWeights: [Double] = [],
                activeMassMilligrams: Double, practicalCapacityMilliampHoursPerGram: Double,
                seriesResistanceOhms: Double) {
        self.imaged = imaged
        self.population = population
        let total = populationWeights.reduce(0, +)
        self.populationWeights = population.isEmpty ? [] :
            (populationWeights.count == population.count && total > 0
                ? populationWeights.map { $0 / total }
                : Array(repeating: 1 / Double(population.count), count: population.count))
        self.activeMassMilligrams = activeMassMilligrams
        self.practicalCapacityMilliampHoursPerGram = practicalCapacityMilliampHoursPerGram
        self.seriesResistanceOhms = seriesResistanceOhms
    }

    private var lastDriveWasVoltage = false
    private var heldPotentialVolts: Double?
    private var faradayOverRT: Double {
        PhysicalConstants.faraday / (PhysicalConstants.gas * imaged.parameters.temperatureKelvin)
    }

    /// Electrode exchange current, A: i0(θ̄)·surface of the imaged particle, scaled from its 1C to the
    /// electrode's (a tangent estimate for the voltage control, not part of the model's physics).
    var exchangeCurrentAmps: Double {
        let p = imaged.parameters
        let t = min(max(imaged.meanTheta, 0.01), 0.99)
        let surfaceCm2 = imaged.mesh.perimeterMicrometres * p.thicknessMicrometres * 1e-8
        return p.exchangeCurrentRefAmpsPerCm2 * 2 * (t * (1 - t)).squareRoot() * surfaceCm2 / imaged.oneCAmps * oneCAmps
    }

    private var heldSharedVolts: Double?
    private var chargeErrorCRateSeconds = 0.0

    /// Butler–Volmer exchange current of a particle as a C-rate (at its mean θ).
    private func exchangeCRate(_ p: ParticleCell) -> Double {
        let t = min(max(p.meanTheta, 0.01), 0.99)
        let surfaceCm2 = p.mesh.perimeterMicrometres * p.parameters.thicknessMicrometres * 1e-8
        return p.parameters.exchangeCurrentRefAmpsPerCm2 * 2 * (t * (1 - t)).squareRoot() * surfaceCm2 / p.oneCAmps
    }

    /// Galvanostatic control of a population: the electrode is an equipotential, so all particles
    /// share one potential φ, chosen so that their currents add up to the target (C-rate of the
    /// electrode). Newton step on the Butler–Volmer tangents Σ wₖ·(F/2RT)·√(nₖ² + 4n₀ₖ²) plus the
    /// charge the control missed so far. The tangent overestimates the response over a step (the
    /// surface θ moves too), so the update is over-damped, never oscillating. At open circuit the
    /// target is zero and particles exchange lithium among themselves.
    private func sharedPotential(targetCRate target: Double, seconds: Double) -> Double {
        let phiPrev = electrodePotentialVolts
        var nPrev = 0.0, g = 0.0
        for (p, w) in zip(population, populationWeights) {
            let n = p.currentCRate
            let n0 = exchangeCRate(p)
            nPrev += w * n
            g += w * 0.5 * faradayOverRT * (n * n + 4 * n0 * n0).squareRoot()
        }
        if heldSharedVolts == nil { chargeErrorCRateSeconds = 0 }
        let want = target + chargeErrorCRateSeconds / seconds
        var phi = phiPrev + (want - nPrev) / max(g, 1e-12)
        phi = min(max(phi, phiPrev - 0.2), phiPrev + 0.2)
        // Same 50 µV hysteresis as the voltage control: unchanged drives keep the model's step size.
        if let held = heldSharedVolts, abs(phi - held) < 5e-5 { phi = held }
        heldSharedVolts = phi
        return phi
    }

    /// The electrode's 1C current, A: active mass × practical capacity per hour.
    public var oneCAmps: Double { activeMassMilligrams * 1e-3 * practicalCapacityMilliampHoursPerGram * 1e-3 }

    /// Electrode potential vs Li/Li⁺, V: the population's capacity-weighted mean, or the imaged
    /// particle's when there is no population.
    public var electrodePotentialVolts: Double {
        if population.isEmpty { return imaged.potentialVolts }
        var v = 0.0
        for (p, w) in zip(population, populationWeights) { v += w * p.potentialVolts }
        return v
    }

    /// Total series resistance including faults, Ω.
    public var totalResistanceOhms: Double { seriesResistanceOhms + faultResistanceOhms }

    /// Cell voltage without measurement noise: electrode potential + I·R.
    public var voltageVolts: Double { electrodePotentialVolts + currentAmps * totalResistanceOhms }

    /// Mean occupancy of the electrode (capacity-weighted).
    public var meanTheta: Double {
        if population.isEmpty { return imaged.meanTheta }
        var t = 0.0
        for (p, w) in zip(population, populationWeights) { t += w * p.meanTheta }
        return t
    }

    /// Advances every particle by `seconds` under `drive`.
    /// - Throws: the model's `SolverError` when θ leaves its tables (e.g. charged far past 4.6 V).
    public func advance(by seconds: Double, drive: ElectrodeDrive) throws {
        guard seconds > 0 else { return }
        let particleDrive: ParticleCell.Drive
        switch drive {
        case .current(let amps) where !population.isEmpty:
            particleDrive = .potential(volts: sharedPotential(targetCRate: amps / oneCAmps, seconds: seconds))
        case .openCircuit where !population.isEmpty:
            particleDrive = .potential(volts: sharedPotential(targetCRate: 0, seconds: seconds))
        case .current(let amps):
            // A lone particle stands for the electrode: it carries the electrode's C-rate.
            particleDrive = .current(cRate: amps / oneCAmps)
        case .voltage(let volts):
            // The particles see the set voltage minus I·R. I(φ) is only known after a step, so φ comes
            // from a Newton-like update on the Butler–Volmer tangent at the last current,
            //   φ + R·(I + g·(φ − φ_prev)) = V,  g = dI/dφ = (F/2RT)·√(I² + 4·I0²)  (α = ½),
            // which stays stable even with a MΩ contact fault (an explicit I·R diverges there).
            // Limiting φ's change per step keeps the model inside its tables on a sudden change.
            let r = totalResistanceOhms
            let phiPrev = electrodePotentialVolts
            let g = 0.5 * faradayOverRT * (currentAmps * currentAmps + 4 * exchangeCurrentAmps * exchangeCurrentAmps).squareRoot()
            var phi = (volts - r * currentAmps + r * g * phiPrev) / (1 + r * g)
            if lastDriveWasVoltage || r * abs(currentAmps) > 0.05 { phi = min(max(phi, phiPrev - 0.1), phiPrev + 0.1) }
            // Hysteresis of 50 µV (below the instrument's accuracy): an unchanged drive lets the model
            // keep its step size, while every change restarts its step history at 10 ms.
            if let held = heldPotentialVolts, lastDriveWasVoltage, abs(phi - held) < 5e-5 { phi = held }
            heldPotentialVolts = phi
            particleDrive = .potential(volts: phi)
        case .openCircuit:
            particleDrive = .openCircuit
        }
        if case .voltage = drive { lastDriveWasVoltage = true } else { lastDriveWasVoltage = false }
        let shared: Bool
        switch drive { case .voltage: shared = false; default: shared = !population.isEmpty }
        if !shared { heldSharedVolts = nil }
        try imaged.advance(by: seconds, drive: particleDrive)
        for p in population { try p.advance(by: seconds, drive: particleDrive) }
        timeSeconds += seconds
        if shared {
            // Keep the passed charge exact: what the control missed this step is asked for next step.
            var n = 0.0
            for (p, w) in zip(population, populationWeights) { n += w * p.currentCRate }
            let target: Double
            if case .current(let amps) = drive { target = amps / oneCAmps } else { target = 0 }
            chargeErrorCRateSeconds += (target - n) * seconds
        }
        switch drive {
        case .current(let amps): currentAmps = amps
        case .openCircuit: currentAmps = 0
        case .voltage:
            if population.isEmpty {
                currentAmps = imaged.currentCRate * oneCAmps
            } else {
                var n = 0.0
                for (p, w) in zip(population, populationWeights) { n += w * p.currentCRate }
                currentAmps = n * oneCAmps
            }
        }
    }
}
