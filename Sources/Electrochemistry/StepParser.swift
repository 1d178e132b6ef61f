/// Parser for protocol step strings in PyBaMM's `Experiment` phrasing, e.g.
/// `Charge at C/3 until 4.3 V`, `Hold at 3 V for 2 hours or until C/200`, `Rest for 1 hour`.
/// See docs/protocol.md for the full grammar.
public enum StepParser {
    /// Physical ranges of the step language's quantities (docs/protocol.md "Ranges"). Voltages are
    /// vs Li/Li⁺ for cathode materials; a value outside is a typo (`4.3 mV`) or an impossible request.
    public enum Ranges {
        /// Step voltages (hold set points and voltage ends), V.
        public static let volts = 0.5...6.0
        /// Step durations, s: up to 30 days.
        public static let maximumSeconds = 30 * 86400.0
        /// C-rates, h⁻¹.
        public static let cRate = 1e-4...100.0
        public static let maximumCRate = 100.0
        /// Absolute currents, A.
        public static let amperes = 1e-12...10.0
        /// Specific currents, mA/g.
        public static let milliampsPerGram = 1e-3...1e5
        /// Voltage slopes of rest ends, V/s (0.001 mV/h to 10 V/h).
        public static let voltsPerSecond = (1e-6 / 3600)...(10.0 / 3600)
        /// Capacity ends, mAh/g.
        public static let milliampHoursPerGram = 1e-3...1000.0
        /// Longest step string, characters.
        public static let maximumTextLength = 1000
    }

    private static let expectedStep =
        "expected a step such as \"Charge at C/3 until 4.3 V\", \"Discharge at 1C for 20 minutes\", " +
        "\"Hold at 3.0 V for 2 hours or until C/200\" or \"Rest for 1 hour\""

    /// Parses one step string.
    /// - Throws: `ProtocolError` naming `location` and the text, with what was expected.
    public static func parse(_ text: String, location: SourceLocation = SourceLocation(file: "step")) throws -> Step {
        func fail(_ problem: String) -> ProtocolError {
            ProtocolError(location: location, text: text, problem: problem)
        }
        func checkVolts(_ v: Double, _ written: String) throws {
            if !Ranges.volts.contains(v) {
                let hint = written.lowercased().hasSuffix("mv") && v < Ranges.volts.lowerBound ? " (did you mean V rather than mV?)" : ""
                throw fail("\"\(written)\" is \(fmt(v)) V; expected a voltage from \(fmt(Ranges.volts.lowerBound)) to \(fmt(Ranges.volts.upperBound)) V vs Li/Li⁺\(hint)")
            }
        }
        func checkCurrent(_ c: CurrentSetpoint, _ written: String) throws {
            switch c {
            case .cRate(let n) where !Ranges.cRate.contains(n):
                throw fail("\"\(written)\": expected a C-rate from C/10000 to 100C")
            case .amperes(let a) where !Ranges.amperes.contains(a):
                throw fail("\"\(written)\": expected a current from 1 pA to 10 A" + (a == 0 ? " (a current end of 0 is never reached)" : ""))
            case .milliampsPerGram(let i) where !Ranges.milliampsPerGram.contains(i):
                throw fail("\"\(written)\": expected a specific current from 0.001 to 100000 mA/g")
            default: break
            }
        }
        if text.unicodeScalars.count > Ranges.maximumTextLength {
            throw fail("the step is \(text.unicodeScalars.count) characters long; expected at most \(Ranges.maximumTextLength)")
        }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let verb = words.first?.lowercased() else { throw fail("empty step; " + expectedStep) }

        // Split the remainder into the setpoint part and the end-condition clauses.
        var rest = Array(words.dropFirst())
        var setpointWords: [String] = []
        switch verb {
        case "charge", "discharge", "hold":
            guard rest.first?.lowercased() == "at" else {
                throw fail("\"\(words[0])\" must be followed by \"at\" and a \(verb == "hold" ? "voltage" : "current"); " + expectedStep)
            }
            rest.removeFirst()
            while let w = rest.first, !["for", "until", "or"].contains(w.lowercased()) {
                setpointWords.append(w)
                rest.removeFirst()
            }
            if setpointWords.isEmpty {
                throw fail("missing \(verb == "hold" ? "voltage" : "current") after \"at\"; " + expectedStep)
            }
        case "rest":
            break
        default:
            throw fail("unknown step \"\(words[0])\"; " + expectedStep)
        }

        // End conditions: (for D | until X) (or (for D | until X))*
        var ends: [EndCondition] = []
        var first = true
        while !rest.isEmpty {
            if !first {
                guard rest.first?.lowercased() == "or" else {
                    throw fail("unexpected \"\(rest[0])\": end conditions are joined by \"or\"")
                }
                rest.removeFirst()
            }
            first = false
            guard let keyword = rest.first?.lowercased(), keyword == "for" || keyword == "until" else {
                if rest.isEmpty { throw fail("\"or\" must be followed by \"for DURATION\" or \"until VALUE\"") }
                throw fail("unexpected \"\(rest[0])\": expected \"for DURATION\" or \"until VALUE\"")
            }
            rest.removeFirst()
            var clause: [String] = []
            while let w = rest.first, !["or", "and", "for", "until"].contains(w.lowercased()) {
                clause.append(w)
                rest.removeFirst()
            }
            let clauseText = clause.joined(separator: " ")
            if clause.isEmpty { throw fail("\"\(keyword)\" needs a value") }
            if keyword == "for" {
                guard case .duration(let s)? = try Quantity.parse(clauseText, location: location, stepText: text),
                      s > 0 else {
                    throw fail("\"for \(clauseText)\": expected a positive duration such as \"20 minutes\", \"2 h\", \"30 s\"")
                }
                if s > Ranges.maximumSeconds {
                    throw fail("\"for \(clauseText)\": a step may last at most 30 days (\(fmt(Ranges.maximumSeconds)) s)")
                }
                ends.append(.duration(seconds: s))
            } else {
                switch try Quantity.parse(clauseText, location: location, stepText: text) {
                case .voltage(let v)?:
                    if verb == "hold" {
                        throw fail("\"until \(clauseText)\": a hold step cannot end on a voltage; expected a current (e.g. \"C/200\") or a duration")
                    }
                    if verb == "rest" {
                        throw fail("\"until \(clauseText)\": a rest step cannot end on a voltage; expected a voltage slope (e.g. \"until 1 mV/h\") or a duration")
                    }
                    try checkVolts(v, clauseText)
                    ends.append(.voltage(volts: v))
                case .current(let c)?:
                    if verb != "hold" {
                        throw fail("\"until \(clauseText)\": only a Hold step can end on a current")
                    }
                    try checkCurrent(c, clauseText)
                    ends.append(.current(c))
                case .slope(let r)?:
                    if verb != "rest" {
                        throw fail("\"until \(clauseText)\": only a Rest step can end on a voltage slope")
                    }
                    if !Ranges.voltsPerSecond.contains(r) {
                        throw fail("\"until \(clauseText)\": expected a slope from 0.001 mV/h to 10 V/h (a rest never settles to exactly 0)")
                    }
                    ends.append(.voltageSlope(voltsPerSecond: r))
                case .capacity(let q)?:
                    if verb != "charge" && verb != "discharge" {
                        throw fail("\"until \(clauseText)\": only a Charge or Discharge step can end on a capacity")
                    }
                    if !Ranges.milliampHoursPerGram.contains(q) {
                        throw fail("\"until \(clauseText)\": expected a capacity from 0.001 to 1000 mAh/g")
                    }
                    ends.append(.capacity(milliampHoursPerGram: q))
                case .duration?:
                    throw fail("\"until \(clauseText)\": a duration follows \"for\", not \"until\"")
                case nil:
                    throw fail("\"until \(clauseText)\": expected a voltage (\"4.3 V\"), a current (\"C/200\", \"10 uA\"), a slope (\"1 mV/h\") or a capacity (\"150 mAh/g\")")
                }
            }
        }

        let kind: StepKind
        let setpoint = setpointWords.joined(separator: " ")
        switch verb {
        case "charge", "discharge":
            guard case .current(let c)? = try Quantity.parse(setpoint, location: location, stepText: text) else {
                throw fail("\"at \(setpoint)\": expected a current such as \"C/3\", \"1C\", \"0.5 mA\", \"70 mA/g\"")
            }
            try checkCurrent(c, setpoint)
            kind = verb == "charge" ? .charge(c) : .discharge(c)
        case "hold":
            guard case .voltage(let v)? = try Quantity.parse(setpoint, location: location, stepText: text) else {
                throw fail("\"at \(setpoint)\": expected a voltage such as \"3.0 V\" or \"4300 mV\"")
            }
            try checkVolts(v, setpoint)
            kind = .hold(volts: v)
        default:
            kind = .rest
        }
        if ends.isEmpty {
            throw fail("the step never ends: add \"for DURATION\" or \"until VALUE\"")
        }
        return Step(kind: kind, endConditions: ends, text: text, location: location)
    }
}

extension StepParser {
    /// Parses a duration with the step language's units (`30 s`, `5min`, `2 hours`, `1 d`) to seconds.
    public static func duration(_ text: String, location: SourceLocation) throws -> Double {
        guard case .duration(let s)? = try Quantity.parse(text, location: location, stepText: text) else {
            throw ProtocolError(location: location, text: text,
                                problem: "expected a duration such as \"30 s\", \"5 min\", \"2 h\"")
        }
        return s
    }
}

/// A number with a unit, classified by dimension (internal to parsing).
enum Quantity: Equatable {
    case current(CurrentSetpoint)
    case voltage(Double)
    case duration(Double)
    case slope(Double)  // V/s
    case capacity(Double)  // mAh/g

    /// Parses text such as `C/3`, `1C`, `0.5 mA`, `70 mA/g`, `4.3 V`, `300mV`, `2 hours`, `1 mV/h`.
    /// Returns nil when the unit is not one of these; throws when the number is bad.
    static func parse(_ raw: String, location: SourceLocation, stepText: String) throws -> Quantity? {
        func fail(_ problem: String) -> ProtocolError {
            ProtocolError(location: location, text: stepText, problem: problem)
        }
        let s = String(raw.filter { $0 != " " })
        let lower = s.lowercased()
        if lower.hasPrefix("-") {
            throw fail("\"\(raw)\": expected a positive value (the step kind — Charge, Discharge — sets the sign)")
        }
        // C-rates: C/3, C/20, 1C, 0.5C, 2C
        if lower.hasPrefix("c/") {
            guard let d = Double(lower.dropFirst(2)), d.isFinite else { return nil }
            guard d > 0 else { throw fail("\"\(raw)\": the divisor of a C-rate must be positive") }
            return .current(.cRate(1 / d))
        }
        if lower.hasSuffix("c"), let n = Double(lower.dropLast()) {
            guard n.isFinite, n > 0 else { throw fail("\"\(raw)\": a C-rate must be positive") }
            return .current(.cRate(n))
        }
        // number then unit
        var numberEnd = s.startIndex
        var seenDigit = false
        for i in s.indices {
            let c = s[i]
            if c.isNumber { seenDigit = true; numberEnd = s.index(after: i); continue }
            if c == "." || c == "-" || c == "+" { numberEnd = s.index(after: i); continue }
            if (c == "e" || c == "E"), seenDigit, s.index(after: i) < s.endIndex,
               s[s.index(after: i)].isNumber || s[s.index(after: i)] == "-" || s[s.index(after: i)] == "+" {
                numberEnd = s.index(after: i); continue
            }
            break
        }
        if s.hasPrefix("-") {
            throw fail("\"\(raw)\": expected a positive value (the step kind — Charge, Discharge — sets the sign)")
        }
        let numberText = String(s[..<numberEnd])
        let unit = String(s[numberEnd...])
        guard !numberText.isEmpty else { return nil }
        guard let value = Double(numberText), value.isFinite else {
            throw fail("\"\(raw)\": \"\(numberText)\" is not a number")
        }
        guard value >= 0 else { throw fail("\"\(raw)\": expected a non-negative value (the step kind sets the sign)") }
        switch unit {
        case "A": return .current(.amperes(value))
        case "mA": return .current(.amperes(value * 1e-3))
        case "uA", "µA", "μA": return .current(.amperes(value * 1e-6))
        case "nA": return .current(.amperes(value * 1e-9))
        case "mA/g": return .current(.milliampsPerGram(value))
        case "A/g": return .current(.milliampsPerGram(value * 1000))
        case "V": return .voltage(value)
        case "mV": return .voltage(value * 1e-3)
        case "mV/h": return .slope(value * 1e-3 / 3600)
        case "V/h": return .slope(value / 3600)
        case "mV/min": return .slope(value * 1e-3 / 60)
        case "mAh/g": return .capacity(value)
        default: break
        }
        switch unit.lowercased() {
        case "s", "sec", "secs", "second", "seconds": return .duration(value)
        case "min", "mins", "minute", "minutes": return .duration(value * 60)
        case "h", "hr", "hrs", "hour", "hours": return .duration(value * 3600)
        case "d", "day", "days": return .duration(value * 86400)
        default: return nil
        }
    }
}
