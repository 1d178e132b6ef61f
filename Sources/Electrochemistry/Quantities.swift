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
        case .cRate(let n): return n >= 1 || n == 0 ? "\(QuantityText.number(n))C" : "C/\(QuantityText.number(1 / n))"
        case .amperes(let a): return QuantityText.current(amps: a)
        case .milliampsPerGram(let i): return "\(QuantityText.number(i)) mA/g"
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

/// Quantities as a person reads them in messages and end reasons: at most 6 significant digits
/// (a unit conversion's last-bit error never shows: 1 mV/h → V/s → "1 mV/h", not
/// "0.9999999999999999 mV/h") in the step language's units, the unit chosen as a user writes it
/// (`20 min`, `1.5 h`, `0.5 mA`, `10 µA`). Every text parses back to the same value with the step
/// language (`StepParser`).
public enum QuantityText {
    /// `x` with at most `digits` significant digits, no trailing zeros or exponent below 1e-5.
    public static func number(_ x: Double, digits: Int = 6) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
        if x == 0 { return "0" }
        let text = String(format: "%.\(digits)g", x)
        if text.contains("e") {
            // %g switches to an exponent; print small and large values in plain decimals when short.
            let exponent = Int(log10(abs(x)).rounded(.down))
            if exponent >= -5 && exponent < 15 {
                let decimals = max(0, digits - 1 - exponent)
                // Above `digits` integer digits, round to `digits` significant ones (1234567 → 1234570).
                let scale = pow(10.0, Double(max(0, exponent - digits + 1)))
                var plain = String(format: "%.\(decimals)f", (x / scale).rounded() * scale)
                if plain.contains(".") {
                    while plain.hasSuffix("0") { plain.removeLast() }
                    if plain.hasSuffix(".") { plain.removeLast() }
                }
                return plain
            }
        }
        return text
    }

    /// A duration in the largest of h, min, s that gives a short number (`2 h`, `1.5 h`, `20 min`, `45 s`).
    public static func duration(seconds s: Double) -> String {
        for (unit, size) in [("h", 3600.0), ("min", 60.0)] where abs(s) >= size {
            let v = s / size
            if abs(v * 100 - (v * 100).rounded()) < 1e-6 { return "\(number(v)) \(unit)" }
        }
        return "\(number(s)) s"
    }

    /// A current in the largest of A, mA, µA, nA that gives at least 0.1 (`0.5 mA`, `10 µA`).
    public static func current(amps a: Double) -> String {
        for (unit, size) in [("A", 1.0), ("mA", 1e-3), ("µA", 1e-6), ("nA", 1e-9)] where abs(a) >= 0.1 * size {
            return "\(number(a / size)) \(unit)"
        }
        return a == 0 ? "0 A" : "\(number(a / 1e-9)) nA"   // the step language has no pA
    }

    /// A voltage slope in mV/h, or V/h from 1000 mV/h.
    public static func slope(voltsPerSecond r: Double) -> String {
        let mVPerHour = r * 3.6e6
        return abs(mVPerHour) >= 1000 ? "\(number(mVPerHour / 1000)) V/h" : "\(number(mVPerHour)) mV/h"
    }
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
        case .duration(let s): return "for \(QuantityText.duration(seconds: s))"
        case .voltage(let v): return "until \(QuantityText.number(v)) V"
        case .current(let c): return "until \(c)"
        case .voltageSlope(let r): return "until \(QuantityText.slope(voltsPerSecond: r))"
        case .capacity(let q): return "until \(QuantityText.number(q)) mAh/g"
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
