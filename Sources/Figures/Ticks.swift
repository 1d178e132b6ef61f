import Foundation

/// An axis scale: how data values map to a 0…1 position along the axis.
public enum AxisScale: Sendable, Equatable {
    /// Linear mapping.
    case linear
    /// Base-10 logarithmic mapping; non-positive values are not drawn.
    case log10
}

/// One tick: position in data units, its label (empty for minor ticks) and whether it is major.
public struct Tick: Sendable, Equatable {
    /// Data value of the tick.
    public var value: Double
    /// Label text (Unicode minus for negatives, superscript exponents for decades).
    public var label: String
    /// Major ticks are longer and labelled.
    public var isMajor: Bool
}

/// "Nice" tick placement (1–2–5 steps, the closest to the wanted count) and tick-label formatting.
public enum TickLocator {
    /// Step candidates, as multiples of a power of ten.
    static let niceSteps: [Double] = [1, 2, 5, 10]

    /// Extends `range` outwards to nice round numbers (for axis limits); leaves a
    /// degenerate range a small symmetric interval around its value.
    public static func niceLimits(_ lo: Double, _ hi: Double, scale: AxisScale = .linear,
                                  targetCount: Int = 5) -> (Double, Double) {
        var a = min(lo, hi), b = max(lo, hi)
        switch scale {
        case .log10:
            guard b > 0 else { return (0.1, 10) }
            if a <= 0 { a = b / 100 }
            var la = Foundation.floor(Foundation.log10(a) + 1e-9), lb = Foundation.ceil(Foundation.log10(b) - 1e-9)
            if lb <= la { la -= 0.5; lb += 0.5; return (pow(10, Foundation.floor(la)), pow(10, Foundation.ceil(lb))) }
            return (pow(10, la), pow(10, lb))
        case .linear:
            if !(a.isFinite && b.isFinite) { return (0, 1) }
            if b - a <= abs(b) * 1e-12 || b == a {
                let d = a == 0 ? 1 : abs(a) * 0.1
                a -= d; b += d
            }
            let step = niceStep(span: b - a, targetCount: targetCount)
            return (Foundation.floor(a / step + 1e-9) * step, Foundation.ceil(b / step - 1e-9) * step)
        }
    }

    /// The nice step for a span so that about `targetCount` intervals fit.
    public static func niceStep(span: Double, targetCount: Int) -> Double {
        let raw = span / Double(max(targetCount, 1))
        let mag = pow(10, Foundation.floor(Foundation.log10(raw)))
        let r = raw / mag
        // Choose the nice multiple closest to the raw step (in log terms), never 0.
        var best = niceSteps[0]
        var bestErr = Double.infinity
        for s in niceSteps {
            let err = abs(Foundation.log(s / r))
            if err < bestErr { bestErr = err; best = s }
        }
        return best * mag
    }

    /// Ticks for the axis limits `lo…hi` (inclusive, in data units).
    public static func ticks(_ lo: Double, _ hi: Double, scale: AxisScale, targetCount: Int = 5) -> [Tick] {
        let a = min(lo, hi), b = max(lo, hi)
        switch scale {
        case .linear:
            guard a.isFinite, b.isFinite, b > a else { return [] }
            let step = niceStep(span: b - a, targetCount: targetCount)
            let first = Foundation.ceil(a / step - 1e-9)
            let last = Foundation.floor(b / step + 1e-9)
            guard last >= first, last - first < 1000 else { return [] }
            let decimals = decimalsFor(step: step)
            var out: [Tick] = []
            var k = first
            while k <= last {
                let v = k * step
                out.append(Tick(value: v, label: format(v, decimals: decimals), isMajor: true))
                k += 1
            }
            return out
        case .log10:
            guard a > 0, b > a else { return [] }
            let la = Foundation.log10(a), lb = Foundation.log10(b)
            let d0 = Int(Foundation.ceil(la - 1e-9)), d1 = Int(Foundation.floor(lb + 1e-9))
            let decades = d1 - d0 + 1
            if decades < 2 {
                // Less than two labelled decades: label 1-2-5 multiples instead.
                var out: [Tick] = []
                for d in (d0 - 1)...(d1 + 1) {
                    for m in 1...9 {
                        let v = Double(m) * pow(10, Double(d))
                        guard v >= a * (1 - 1e-9), v <= b * (1 + 1e-9) else { continue }
                        let major = m == 1 || m == 2 || m == 5
                        out.append(Tick(value: v, label: major ? formatLogMantissa(m, d) : "", isMajor: major))
                    }
                }
                return out
            }
            let every = max(1, Int(Foundation.ceil(Double(decades) / Double(max(targetCount, 2) + 2))))
            var out: [Tick] = []
            for d in (d0 - 1)...(d1) {
                for m in 1...9 {
                    let v = Double(m) * pow(10, Double(d))
                    guard v >= a * (1 - 1e-9), v <= b * (1 + 1e-9) else { continue }
                    if m == 1 {
                        let labelled = (d - d0) % every == 0
                        out.append(Tick(value: v, label: labelled ? "10" + superscript(d) : "", isMajor: labelled))
                    } else if every == 1 {
                        out.append(Tick(value: v, label: "", isMajor: false))
                    }
                }
            }
            return out
        }
    }

    static func decimalsFor(step: Double) -> Int {
        var d = 0
        var s = step
        while d < 10 && abs(s - s.rounded()) > 1e-6 * max(1, abs(s)) { s *= 10; d += 1 }
        return d
    }

    /// Formats `v` with fixed decimals and a typographic minus sign ("−"); avoids "−0".
    public static func format(_ v: Double, decimals: Int) -> String {
        var s = String(format: "%.\(decimals)f", v)
        if s.hasPrefix("-") {
            let body = s.dropFirst()
            if body.allSatisfy({ $0 == "0" || $0 == "." }) { s = String(body) } else { s = "−" + body }
        }
        return s
    }

    static func formatLogMantissa(_ m: Int, _ d: Int) -> String {
        if d >= -3 && d <= 4 {
            let v = Double(m) * pow(10, Double(d))
            return format(v, decimals: max(0, -d))
        }
        return m == 1 ? "10" + superscript(d) : "\(m)×10" + superscript(d)
    }

    /// Unicode superscript digits for an integer exponent, e.g. −13 → "⁻¹³".
    public static func superscript(_ n: Int) -> String {
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        var s = n < 0 ? "⁻" : ""
        for c in String(abs(n)) { s.append(digits[Int(String(c)) ?? 0]) }
        return s
    }
}
