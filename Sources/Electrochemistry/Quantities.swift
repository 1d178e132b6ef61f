import Foundation

/// A current as written in a protocol: a C-rate, an absolute current, or a specific current.
/// Magnitudes only; the step kind (charge or discharge) carries the sign.
public enum CurrentSetpoint: Sendable, Equatable, CustomStringConvertible {
    /// Multiples of the 1C current (h⁻¹): `C/3` is 1/3.
    case cRate(Double)
    /// Amperes.
    case amperes(Double)
    /// Milliamperes per gram of active material.
    case milliampsPerGram(Double)

    /// The C-rate (h⁻¹) this setpoint means, given the cell's practical capacity and active mass.
    /// - Parameters:
    ///   - practicalCapacityMilliampHoursPerGram: capacity that defines 1C (seed: 210 mAh/g).
    ///   - activeMassGrams: mass of active material, needed for absolute currents; nil if unknown.
    /// - Returns: the C-rate, or nil when an absolute current is given and the mass is unknown.
    public func cRate(practicalCapacityMilliampHoursPerGram q: Double, activeMassGrams m: Double?) -> Double? {
        switch self {
        case .cRate(let n): return n
        case .milliampsPerGram(let i): return i / q
        case .amperes(let a):
            guard let m, m > 0 else { return nil }
            return a * 1000 / (q * m)
        }
    }

    public var description: String {
        switch self {
        case .cRate(let n): return n >= 1 || n == 0 ? "\(fmt(n))C" : "C/\(fmt(1 / n))"
        case .amperes(let a): return "\(fmt(a)) A"
        case .milliampsPerGram(let i): return "\(fmt(i)) mA/g"
        }
    }
}

/// Compact number formatting for messages and round-trips (no trailing `.0`).
func fmt(_ x: Double) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    // 12 significant digits: unit conversions such as 1 mV/h → V/s → mV/h print as written.
    let r = Double(String(format12(x))) ?? x
    if r == r.rounded(), abs(r) < 1e15 { return String(Int64(r)) }
    return String(r)
}

private func format12(_ x: Double) -> String {
    guard x != 0 else { return "0" }
    let digits = 12 - Int((log10(abs(x))).rounded(.down)) - 1
    let scale = pow(10.0, Double(max(min(digits, 300), -300)))
    let y = (x * scale).rounded() / scale
    return y.isFinite ? String(y) : String(x)
}

/// One way a step may end; any one of a step's conditions ends it.
public enum EndCondition: Sendable, Equatable, CustomStringConvertible {
    /// After this many seconds in the step.
    case duration(seconds: Double)
    /// When the voltage reaches this value (from either side: rising on charge, falling on discharge).
    case voltage(volts: Double)
    /// When the magnitude of the current falls to this value (CV holds).
    case current(CurrentSetpoint)
    /// When |dV/dt| falls below this slope (rests), in volts per second.
    case voltageSlope(voltsPerSecond: Double)
    /// When the charge passed in the step reaches this (charge and discharge), mAh/g.
    case capacity(milliampHoursPerGram: Double)

    public var description: String {
        switch self {
        case .duration(let s): return "for \(fmt(s)) s"
        case .voltage(let v): return "until \(fmt(v)) V"
        case .current(let c): return "until \(c)"
        case .voltageSlope(let r): return "until \(fmt(r * 3.6e6)) mV/h"
        case .capacity(let q): return "until \(fmt(q)) mAh/g"
        }
    }
}

/// What a step does to the cell.
public enum StepKind: Sendable, Equatable {
    /// Constant current, delithiating the cathode (positive current).
    case charge(CurrentSetpoint)
    /// Constant current, lithiating the cathode (negative current).
    case discharge(CurrentSetpoint)
    /// Constant voltage (V vs Li/Li⁺).
    case hold(volts: Double)
    /// Open circuit.
    case rest

    /// Short name used in CSV columns (`step_kind`).
    public var name: String {
        switch self {
        case .charge: return "charge"
        case .discharge: return "discharge"
        case .hold: return "hold"
        case .rest: return "rest"
        }
    }
}

/// One parsed protocol step.
public struct Step: Sendable, Equatable {
    public var kind: StepKind
    /// End conditions; any one ends the step.
    public var endConditions: [EndCondition]
    /// The text the step was parsed from.
    public var text: String
    /// Where the text came from.
    public var location: SourceLocation

    public init(kind: StepKind, endConditions: [EndCondition], text: String, location: SourceLocation) {
        self.kind = kind
        self.endConditions = endConditions
        self.text = text
        self.location = location
    }

    /// The step's duration limit in seconds, if it has one.
    public var durationSeconds: Double? {
        endConditions.compactMap { if case .duration(let s) = $0 { return s } else { return nil } }.min()
    }
}
