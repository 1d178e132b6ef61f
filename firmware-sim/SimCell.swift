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
/// electrode at 0 V, behind a series resistance. Capacity and 1C come from the protocol's active mass
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
        case .current(let amps):
            // Uniform current per unit capacity: every particle sees the electrode's C-rate.
            particleDrive = .current(cRate: amps / oneCAmps)
        case .voltage(let volts):
            // The particles see the set voltage minus the ohmic drop of the last step's current
            // (explicit in I; stable while R·dI/dφ ≪ 1, which holds by orders of magnitude here).
            particleDrive = .potential(volts: volts - currentAmps * totalResistanceOhms)
        case .openCircuit:
            particleDrive = .openCircuit
        }
        try imaged.advance(by: seconds, drive: particleDrive)
        for p in population { try p.advance(by: seconds, drive: particleDrive) }
        timeSeconds += seconds
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
