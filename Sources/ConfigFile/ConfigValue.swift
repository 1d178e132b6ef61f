/// One TOML value with the place it was written.
public struct ConfigNode {
    /// The value.
    public var value: ConfigValue
    /// 1-based line and column where the value starts.
    public var line: Int
    public var column: Int

    public init(value: ConfigValue, line: Int, column: Int) {
        self.value = value
        self.line = line
        self.column = column
    }
}

/// A TOML value. Dates and times are kept as their text (nothing here needs them as dates).
public enum ConfigValue {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    /// An offset or local date-time, date or time, as written.
    case dateTime(String)
    case array([ConfigNode])
    case table(ConfigTable)

    /// The TOML type's name, for messages (`string`, `integer`, `float`, `boolean`, …).
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .bool: return "boolean"
        case .dateTime: return "date-time"
        case .array: return "array"
        case .table: return "table"
        }
    }

    /// The value as TOML-like text, shortened for messages.
    public var displayText: String {
        switch self {
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .float(let d):
            if d.isNaN { return "nan" }
            if d.isInfinite { return d > 0 ? "inf" : "-inf" }
            return formatNumber(d)
        case .bool(let b): return b ? "true" : "false"
        case .dateTime(let s): return s
        case .array(let a):
            var s = "["
            for (k, e) in a.prefix(8).enumerated() { s += (k > 0 ? ", " : "") + e.value.displayText }
            if a.count > 8 { s += ", … \(a.count - 8) more" }
            return s + "]"
        case .table: return "{…}"
        }
    }
}

/// A number without a trailing `.0`, as a user would write it.
func formatNumber(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return String(x)
}

/// A physical range for a number: lower and upper bounds, each inclusive or not. Messages describe it
/// in words (`a positive number up to 1000 Hz`).
public struct NumberRange: Sendable, Equatable, CustomStringConvertible {
    public var lower: Double
    public var lowerInclusive: Bool
    public var upper: Double
    public var upperInclusive: Bool

    public init(lower: Double, lowerInclusive: Bool, upper: Double, upperInclusive: Bool) {
        self.lower = lower
        self.lowerInclusive = lowerInclusive
        self.upper = upper
        self.upperInclusive = upperInclusive
    }

    /// `lower ≤ x ≤ upper`.
    public init(_ r: ClosedRange<Double>) {
        self.init(lower: r.lowerBound, lowerInclusive: true, upper: r.upperBound, upperInclusive: true)
    }

    /// `0 < x ≤ upper`.
    public static func positive(upTo upper: Double) -> NumberRange {
        NumberRange(lower: 0, lowerInclusive: false, upper: upper, upperInclusive: true)
    }

    /// `lower < x < upper`.
    public static func open(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, lowerInclusive: false, upper: upper, upperInclusive: false)
    }

    /// True for finite values inside the range.
    public func contains(_ x: Double) -> Bool {
        guard x.isFinite else { return false }
        let okLow = lowerInclusive ? x >= lower : x > lower
        let okHigh = upperInclusive ? x <= upper : x < upper
        return okLow && okHigh
    }

    /// Words for the range, with `unit` after the numbers.
    public func describe(unit: String) -> String {
        let u = unit.isEmpty ? "" : " " + unit
        let hi = formatNumber(upper) + u
        if lower == 0 && !lowerInclusive {
            return "a finite positive number " + (upperInclusive ? "up to " : "below ") + hi
        }
        if lower == 0 && lowerInclusive {
            return "a finite non-negative number " + (upperInclusive ? "up to " : "below ") + hi
        }
        let lo = formatNumber(lower) + u
        if lowerInclusive && upperInclusive { return "a finite number from \(lo) to \(hi)" }
        return "a number " + (lowerInclusive ? "from \(lo)" : "above \(lo)") + (upperInclusive ? " up to \(hi)" : " and below \(hi)")
    }

    public var description: String { describe(unit: "") }
}
