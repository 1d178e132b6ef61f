import Foundation
import ConfigFile

/// A material parameter set: the data the particle model needs, never hard-coded in the solver.
/// Units are in the field names; tables are PCHIP-interpolated (see `MonotoneTable`).
public struct ParameterSet: Sendable, Equatable {
    /// Short name, e.g. `nmc87`.
    public var name: String
    /// Where the set came from (file path, or `built-in`).
    public var source: String
    public var temperatureKelvin: Double
    /// Capacity of one Li per formula unit; sets the site concentration N_L.
    public var theoreticalCapacityMilliampHoursPerGram: Double
    /// Capacity that defines 1C (seed: 210 mAh/g).
    public var practicalCapacityMilliampHoursPerGram: Double
    public var densityGramsPerCm3: Double
    /// S in D_eff = D_Li / S (seed: 3.5).
    public var scale: Double
    /// Butler–Volmer exchange current density at θ = 0.5, A/cm².
    public var exchangeCurrentRefAmpsPerCm2: Double
    /// Anodic transfer coefficient α.
    public var transferCoefficient: Double
    /// Particle extent along c (µm); only converts θ-fluxes to a current in amperes.
    public var thicknessMicrometres: Double
    /// Initial occupancy for delithiation (charge) runs.
    public var theta0Delithiation: Double
    /// Initial occupancy for lithiation (discharge) runs.
    public var theta0Lithiation: Double
    /// Knots of the D_Li table: x = 1 − θ.
    public var diffusivityX: [Double]
    /// D_Li at the knots, cm²/s (interpolated in log10).
    public var diffusivityCm2PerS: [Double]
    /// Knots of the open-circuit voltage table: θ.
    public var ocvTheta: [Double]
    /// V_oc at the knots, V vs Li/Li⁺ (decreasing in θ).
    public var ocvVolts: [Double]

    /// The default set "nmc87" (LiNi0.87Mn0.05Co0.08O2) of docs/model.md: D_Li and the steep V_oc tail
    /// are a reconstruction that reproduces the seed's statements (its Fig. S1 data are not published
    /// as numbers); V_oc for θ ≤ 0.97 samples the NMC811 fit of Chen et al. 2020.
    public static let nmc87 = ParameterSet(
        name: "nmc87", source: "built-in",
        temperatureKelvin: 298.15,
        theoreticalCapacityMilliampHoursPerGram: 275,
        practicalCapacityMilliampHoursPerGram: 210,
        densityGramsPerCm3: 4.78,
        scale: 3.5,
        exchangeCurrentRefAmpsPerCm2: 3e-7,
        transferCoefficient: 0.5,
        thicknessMicrometres: 1.0,
        theta0Delithiation: 0.95,
        theta0Lithiation: 0.2,
        diffusivityX: [0.00, 0.07, 0.085, 0.17, 0.27, 0.42, 0.51, 0.60, 0.68, 0.80, 0.90, 1.00],
        diffusivityCm2PerS: [1.6e-13, 1.6e-13, 2.4e-13, 1.2e-12, 4.5e-12, 1.3e-11, 1.8e-11, 1.9e-11,
                             1.5e-11, 5.0e-12, 5.9e-13, 5.9e-13],
        ocvTheta: [0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.95, 0.97,
                   0.98, 0.99, 0.995, 1.00],
        ocvVolts: [4.5945, 4.5442, 4.4690, 4.3366, 4.2054, 4.1750, 4.1047, 3.9720, 3.8245, 3.7304,
                   3.6491, 3.5682, 3.5278, 3.5116, 3.480, 3.420, 3.330, 2.900])

    /// Lithium site concentration N_L = ρ·Q_theo·3.6/F, mol/cm³.
    public var siteConcentrationMolPerCm3: Double {
        densityGramsPerCm3 * theoreticalCapacityMilliampHoursPerGram * 3.6 / PhysicalConstants.faraday
    }

    /// D_Li(θ) table as PCHIP of log10 D against x = 1 − θ, constant outside the knots.
    public var log10DiffusivityTable: MonotoneTable {
        MonotoneTable(x: diffusivityX, y: diffusivityCm2PerS.map { log10($0) }, extrapolation: .constant)
    }

    /// V_oc(θ) table, continued linearly outside the knots (runs check they stay inside).
    public var ocvTable: MonotoneTable {
        MonotoneTable(x: ocvTheta, y: ocvVolts, extrapolation: .linear)
    }

    /// Checks every field; throws naming the source, field and value, and what was expected.
    public func validate() throws {
        func fail(_ field: String, _ value: String, _ expected: String) -> ParameterError {
            ParameterError(file: source, field: field, value: value, expected: expected)
        }
        let positives: [(String, Double)] = [
            ("temperature_K", temperatureKelvin),
            ("theoretical_capacity_mAh_per_g", theoreticalCapacityMilliampHoursPerGram),
            ("practical_capacity_mAh_per_g", practicalCapacityMilliampHoursPerGram),
            ("density_g_per_cm3", densityGramsPerCm3),
            ("scale", scale),
            ("exchange_current_ref_A_per_cm2", exchangeCurrentRefAmpsPerCm2),
            ("thickness_um", thicknessMicrometres),
        ]
        for (field, v) in positives where !(v.isFinite && v > 0) {
            throw fail(field, fmtValue(v), "a finite positive number")
        }
        // Physical ranges (docs/protocol.md "Ranges"): beyond these a value is a typo or a unit slip.
        let ceilings: [(String, Double, Double, String)] = [
            ("temperature_K", temperatureKelvin, 1000, "K"),
            ("theoretical_capacity_mAh_per_g", theoreticalCapacityMilliampHoursPerGram, 4000, "mAh/g"),
            ("practical_capacity_mAh_per_g", practicalCapacityMilliampHoursPerGram, 4000, "mAh/g"),
            ("density_g_per_cm3", densityGramsPerCm3, 30, "g/cm³"),
            ("scale", scale, 1e6, ""),
            ("exchange_current_ref_A_per_cm2", exchangeCurrentRefAmpsPerCm2, 1, "A/cm²"),
            ("thickness_um", thicknessMicrometres, 100, "µm"),
        ]
        for (field, v, top, unit) in ceilings where v > top {
            throw fail(field, fmtValue(v), "a finite positive number up to \(fmtValue(top))\(unit.isEmpty ? "" : " " + unit)")
        }
        for (name, a) in [("diffusivity.x", diffusivityX), ("ocv.theta", ocvTheta)] where a.count > Self.maximumTableKnots {
            throw fail(name, "\(a.count) knots", "at most \(Self.maximumTableKnots) knots")
        }
        if !(transferCoefficient > 0 && transferCoefficient < 1) {
            throw fail("transfer_coefficient", fmtValue(transferCoefficient), "a number between 0 and 1")
        }
        if practicalCapacityMilliampHoursPerGram > theoreticalCapacityMilliampHoursPerGram {
            throw fail("practical_capacity_mAh_per_g", fmtValue(practicalCapacityMilliampHoursPerGram),
                       "at most theoretical_capacity_mAh_per_g (\(fmtValue(theoreticalCapacityMilliampHoursPerGram)))")
        }
        for (field, v) in [("theta0_delithiation", theta0Delithiation), ("theta0_lithiation", theta0Lithiation)]
        where !(v > 0 && v < 1) {
            throw fail(field, fmtValue(v), "an occupancy strictly between 0 and 1")
        }
        try checkTable(x: diffusivityX, y: diffusivityCm2PerS, xName: "diffusivity.x",
                       yName: "diffusivity.D_cm2_per_s", xRange: 0...1)
        for (k, d) in diffusivityCm2PerS.enumerated() where !(d > 0 && d <= 1e-3) {
            throw fail("diffusivity.D_cm2_per_s[\(k)]", fmtValue(d), "a positive diffusivity in cm²/s (at most 1e-3)")
        }
        try checkTable(x: ocvTheta, y: ocvVolts, xName: "ocv.theta", yName: "ocv.V", xRange: 0...1)
        for (k, v) in ocvVolts.enumerated() where !(v >= 0 && v <= 10) {
            throw fail("ocv.V[\(k)]", fmtValue(v), "a voltage from 0 to 10 V vs Li/Li⁺")
        }
        for k in 1..<ocvVolts.count where !(ocvVolts[k] < ocvVolts[k - 1]) {
            throw fail("ocv.V[\(k)]", fmtValue(ocvVolts[k]),
                       "V_oc strictly decreasing in θ (ocv.V[\(k - 1)] = \(fmtValue(ocvVolts[k - 1])) at θ = \(fmtValue(ocvTheta[k - 1])))")
        }
        let needLow = min(theta0Lithiation, theta0Delithiation)
        if ocvTheta[0] > needLow {
            throw fail("ocv.theta[0]", fmtValue(ocvTheta[0]),
                       "a V_oc table that starts at or below θ = \(fmtValue(needLow)) (the initial occupancy of a run)")
        }
        if ocvTheta[ocvTheta.count - 1] < 0.999 {
            throw fail("ocv.theta[\(ocvTheta.count - 1)]", fmtValue(ocvTheta[ocvTheta.count - 1]),
                       "a V_oc table that reaches θ = 1 (lithiation runs approach full occupancy)")
        }
    }

    private func checkTable(x: [Double], y: [Double], xName: String, yName: String,
                            xRange: ClosedRange<Double>) throws {
        if x.count < 2 {
            throw ParameterError(file: source, field: xName, value: "\(x.count) knots", expected: "at least 2 knots")
        }
        if x.count != y.count {
            throw ParameterError(file: source, field: yName, value: "\(y.count) values",
                                 expected: "as many values as \(xName) has knots (\(x.count))")
        }
        for (k, v) in x.enumerated() {
            if !v.isFinite || !xRange.contains(v) {
                throw ParameterError(file: source, field: "\(xName)[\(k)]", value: fmtValue(v),
                                     expected: "a finite value in [\(fmtValue(xRange.lowerBound)), \(fmtValue(xRange.upperBound))]")
            }
            if k > 0, !(v > x[k - 1]) {
                throw ParameterError(file: source, field: "\(xName)[\(k)]", value: fmtValue(v),
                                     expected: "knots strictly increasing (previous knot \(fmtValue(x[k - 1])))")
            }
        }
        for (k, v) in y.enumerated() where !v.isFinite {
            throw ParameterError(file: source, field: "\(yName)[\(k)]", value: fmtValue(v), expected: "a finite number")
        }
    }
}

/// A bad parameter file or value: names the file, the field and the value, and what was expected.
public struct ParameterError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var field: String
    public var value: String
    public var expected: String

    public init(file: String, field: String, value: String, expected: String) {
        self.file = file
        self.field = field
        self.value = value
        self.expected = expected
    }

    /// The configuration reader's error as a parameter error (`file:line`, the key as the field).
    init(_ e: ConfigError) {
        let at = e.line.map { "\(e.file):\($0)" } ?? e.file
        switch e.kind {
        case .syntax: self.init(file: at, field: "(syntax)", value: e.text, expected: "valid TOML (\(e.problem))")
        case .file: self.init(file: e.file, field: "(file)", value: "unreadable", expected: "a readable UTF-8 TOML file (\(e.problem))")
        default: self.init(file: at, field: e.key ?? "(file)", value: e.text.isEmpty ? "(\(e.kind == .unknownKey ? "unknown key" : "missing"))" : e.text,
                           expected: e.problem.hasPrefix("expected ") ? String(e.problem.dropFirst(9)) : e.problem)
        }
    }

    public var description: String {
        ConfigError.displayText("\(file): \(field) = \(value): expected \(expected)", limit: 800, escapeQuotes: false)
    }
}

func fmtValue(_ v: Double) -> String {
    if v.isNaN { return "nan" }
    if v.isInfinite { return v > 0 ? "inf" : "-inf" }
    return "\(v)"
}

extension ParameterSet {
    /// The TOML keys a parameter file may hold (unknown keys are errors, Klipper-style).
    static let topKeys: Set<String> = [
        "name", "description", "temperature_K", "theoretical_capacity_mAh_per_g",
        "practical_capacity_mAh_per_g", "density_g_per_cm3", "scale", "exchange_current_ref_A_per_cm2",
        "transfer_coefficient", "thickness_um", "theta0_delithiation", "theta0_lithiation",
        "diffusivity", "ocv",
    ]

    /// Loads a parameter file (TOML, same fields as `examples/params/nmc87.toml`). Scalar fields left
    /// out take the default set's values; the V_oc table `[ocv]` is required (a material's own curve is
    /// never silently replaced by nmc87's). Unknown keys, wrong types and bad values are errors naming
    /// the file, line and field.
    public static func load(path: String) throws -> ParameterSet {
        let file: ConfigFile
        do { file = try ConfigFile.load(path: path) } catch let e as ConfigError {
            throw ParameterError(e)
        }
        return try parse(file: file)
    }

    /// Parses parameter-file text; `source` names it in errors.
    public static func parse(toml text: String, source: String) throws -> ParameterSet {
        let file: ConfigFile
        do { file = try ConfigFile.parse(text: text, path: source) } catch let e as ConfigError {
            throw ParameterError(e)
        }
        return try parse(file: file)
    }

    /// Reads an already parsed parameter file.
    public static func parse(file: ConfigFile) throws -> ParameterSet {
        do { return try parseChecked(file: file) } catch let e as ConfigError {
            throw ParameterError(e)
        }
    }

    private static func parseChecked(file: ConfigFile) throws -> ParameterSet {
        let source = file.path
        let table = file.root
        var p = ParameterSet.nmc87
        p.source = source
        p.name = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        try table.checkKeys(allowed: topKeys.sorted())
        if let s = try table.string("name", maxLength: 200) { p.name = s }
        table.ignore("description")
        // Values are only checked for type here; `validate()` checks every physical range.
        func finiteOrNot(_ key: String, _ value: inout Double) throws {
            guard let n = table.node(key) else { return }
            switch n.value {
            case .float(let d): value = d
            case .integer(let i): value = Double(i)
            default: throw table.error(key, "\(key) must be a number; got a \(n.value.typeName)", kind: .wrongType)
            }
        }
        try finiteOrNot("temperature_K", &p.temperatureKelvin)
        try finiteOrNot("theoretical_capacity_mAh_per_g", &p.theoreticalCapacityMilliampHoursPerGram)
        try finiteOrNot("practical_capacity_mAh_per_g", &p.practicalCapacityMilliampHoursPerGram)
        try finiteOrNot("density_g_per_cm3", &p.densityGramsPerCm3)
        try finiteOrNot("scale", &p.scale)
        try finiteOrNot("exchange_current_ref_A_per_cm2", &p.exchangeCurrentRefAmpsPerCm2)
        try finiteOrNot("transfer_coefficient", &p.transferCoefficient)
        try finiteOrNot("thickness_um", &p.thicknessMicrometres)
        try finiteOrNot("theta0_delithiation", &p.theta0Delithiation)
        try finiteOrNot("theta0_lithiation", &p.theta0Lithiation)
        func values(_ t: ConfigTable, _ key: String) throws -> [Double]? {
            guard let a = try t.array(key, maxCount: maximumTableKnots) else { return nil }
            return try a.enumerated().map { k, e in
                switch e.value {
                case .float(let d): return d
                case .integer(let i): return Double(i)
                default:
                    throw ConfigError(kind: .wrongType, file: source, line: e.line, column: e.column, key: "\(t.keyPath(key))[\(k)]",
                                      text: e.value.displayText, problem: "a number")
                }
            }
        }
        var ocvGiven = false
        for (section, keys) in [("diffusivity", ["x", "D_cm2_per_s"]), ("ocv", ["theta", "V"])] {
            guard let t = try table.table(section) else { continue }
            try t.checkKeys(allowed: keys)
            guard let xs = try values(t, keys[0]), let ys = try values(t, keys[1]) else {
                throw t.error(nil, "both \(section).\(keys[0]) and \(section).\(keys[1])", kind: .missing, text: "incomplete")
            }
            if section == "diffusivity" {
                p.diffusivityX = xs
                p.diffusivityCm2PerS = ys
            } else {
                p.ocvTheta = xs
                p.ocvVolts = ys
                ocvGiven = true
            }
        }
        try file.finish()
        try p.validate()
        if !ocvGiven {
            throw ParameterError(file: source, field: "ocv", value: "(missing)",
                                 expected: "an [ocv] table with theta and V: the open-circuit voltage is the material's own and is not filled in from nmc87 (start from `operando params`)")
        }
        return p
    }

    /// Most knots a parameter table may have.
    public static let maximumTableKnots = 10_000

    /// The set as a parameter file (round-trips through `parse`).
    public var tomlText: String {
        func list(_ a: [Double]) -> String { "[" + a.map { "\($0)" }.joined(separator: ", ") + "]" }
        return """
        # operando parameter set. Units are in the key names. Tables are interpolated with monotone
        # cubics (PCHIP): D_Li in log10 against x = 1 - theta (constant outside the knots), V_oc against theta.
        name = "\(name)"
        temperature_K = \(temperatureKelvin)
        theoretical_capacity_mAh_per_g = \(theoreticalCapacityMilliampHoursPerGram)
        practical_capacity_mAh_per_g = \(practicalCapacityMilliampHoursPerGram)
        density_g_per_cm3 = \(densityGramsPerCm3)
        scale = \(scale)
        exchange_current_ref_A_per_cm2 = \(exchangeCurrentRefAmpsPerCm2)
        transfer_coefficient = \(transferCoefficient)
        thickness_um = \(thicknessMicrometres)
        theta0_delithiation = \(theta0Delithiation)
        theta0_lithiation = \(theta0Lithiation)

        [diffusivity]
        x = \(list(diffusivityX))
        D_cm2_per_s = \(list(diffusivityCm2PerS))

        [ocv]
        theta = \(list(ocvTheta))
        V = \(list(ocvVolts))

        """
    }
}
