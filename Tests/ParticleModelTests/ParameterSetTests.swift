import Foundation
import Testing
@testable import ParticleModel

@Test func defaultSetMatchesModelSpec() throws {
    let p = ParameterSet.nmc87
    try p.validate()
    // docs/model.md "unit sanity": D_eff at θ = 0.95 ≈ 4.6e-14 cm²/s; thermodynamic factor there ≈ 30.
    let law = TransportLaw(parameters: p)
    #expect(abs(law.effectiveDiffusivityCm2PerS(0.95) - 1.6e-13 / 3.5) < 1e-16)
    let factor = law.chemicalDiffusivityMicrometres2PerS(0.95) / (law.effectiveDiffusivityCm2PerS(0.95) * 1e8)
    #expect(factor > 25 && factor < 35, "thermodynamic factor \(factor)")
    // N_L = ρ·Q_theo·3.6/F
    #expect(abs(p.siteConcentrationMolPerCm3 - 4.78 * 275 * 3.6 / 96485.33212) < 1e-12)
}

@Test func kirchhoffPotentialIntegratesDiffusivity() {
    let law = TransportLaw(parameters: .nmc87)
    // dΦ/dθ from the table equals D_chem; Φ differences equal a fine quadrature of D_chem.
    for t in [0.1234, 0.33, 0.52, 0.77, 0.93, 0.985, 0.9973] {
        let d = law.chemicalDiffusivityMicrometres2PerS(t)
        #expect(abs(law.kirchhoff(t).dphi - d) < 1e-6 * d, "θ = \(t)")
    }
    // V_oc knots (where D_chem has kinks) are grid nodes, so they are exact too.
    for t in ParameterSet.nmc87.ocvTheta.dropFirst().dropLast() {
        let d = law.chemicalDiffusivityMicrometres2PerS(t)
        #expect(abs(law.kirchhoff(t).dphi - d) < 1e-6 * d, "θ = \(t)")
    }
    var integral = 0.0
    let a = 0.4, b = 0.9, n = 200_000
    for k in 0..<n {
        let t = a + (b - a) * (Double(k) + 0.5) / Double(n)
        integral += law.chemicalDiffusivityMicrometres2PerS(t) * (b - a) / Double(n)
    }
    let phi = law.kirchhoff(b).phi - law.kirchhoff(a).phi
    #expect(abs(phi - integral) < 1e-6 * integral)
}

@Test func parameterFileRoundTrips() throws {
    let text = ParameterSet.nmc87.tomlText
    var p = try ParameterSet.parse(toml: text, source: "round.toml")
    p.source = "built-in"
    #expect(p == ParameterSet.nmc87)
    // The example file shipped in examples/ is the default set.
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/params/nmc87.toml")
    var shipped = try ParameterSet.load(path: url.standardizedFileURL.path)
    shipped.source = "built-in"
    #expect(shipped == ParameterSet.nmc87)
}

@Test func partialFileKeepsDefaultsButNeedsItsOwnOCV() throws {
    let ocv = "[ocv]\ntheta = [0.1, 0.5, 1.0]\nV = [4.5, 4.0, 2.9]\n"
    let p = try ParameterSet.parse(toml: "scale = 5\nexchange_current_ref_A_per_cm2 = 1e-6\n" + ocv, source: "mine.toml")
    #expect(p.scale == 5)
    #expect(p.exchangeCurrentRefAmpsPerCm2 == 1e-6)
    #expect(p.ocvVolts == [4.5, 4.0, 2.9])
    #expect(p.diffusivityCm2PerS == ParameterSet.nmc87.diffusivityCm2PerS)
    #expect(p.name == "mine")
    // A file without [ocv] is refused, not silently given nmc87's curve.
    do {
        _ = try ParameterSet.parse(toml: "scale = 5\n", source: "mine.toml")
        Issue.record("a file without [ocv] was accepted")
    } catch let e as ParameterError {
        #expect(e.field == "ocv" && e.description.contains("[ocv]"), "\(e)")
    }
}

struct BadParameterCase: Sendable, CustomTestStringConvertible {
    var toml: String
    var field: String
    var fragment: String
    var testDescription: String { field }
}

let badParameterCases: [BadParameterCase] = [
    .init(toml: "scale = -1", field: "scale", fragment: "positive"),
    .init(toml: "scale = nan", field: "scale", fragment: "finite"),
    .init(toml: "density_g_per_cm3 = inf", field: "density_g_per_cm3", fragment: "finite"),
    .init(toml: "scale = \"big\"", field: "scale", fragment: "a number"),
    .init(toml: "colour = 3", field: "colour", fragment: "one of"),
    .init(toml: "practical_capacity_mAh_per_g = 300", field: "practical_capacity_mAh_per_g", fragment: "at most theoretical"),
    .init(toml: "transfer_coefficient = 1.5", field: "transfer_coefficient", fragment: "between 0 and 1"),
    .init(toml: "theta0_lithiation = 1.2", field: "theta0_lithiation", fragment: "between 0 and 1"),
    .init(toml: "[diffusivity]\nx = [0, 0.5, 1]\nD_cm2_per_s = [1e-12, 0, 1e-12]", field: "diffusivity.D_cm2_per_s[1]", fragment: "positive diffusivity"),
    .init(toml: "[diffusivity]\nx = [0, 0.5, 1]\nD_cm2_per_s = [1e-12, -1e-12, 1e-12]", field: "diffusivity.D_cm2_per_s[1]", fragment: "positive diffusivity"),
    .init(toml: "[diffusivity]\nx = [0, 0.5, 0.4]\nD_cm2_per_s = [1e-12, 1e-12, 1e-12]", field: "diffusivity.x[2]", fragment: "strictly increasing"),
    .init(toml: "[diffusivity]\nx = [0, 0.5]\nD_cm2_per_s = [1e-12, 1e-12, 1e-12]", field: "diffusivity.D_cm2_per_s", fragment: "as many values"),
    .init(toml: "[diffusivity]\nx = [0, 0.5, 1]", field: "diffusivity", fragment: "both"),
    .init(toml: "[ocv]\ntheta = [0.1, 0.5, 1.0]\nV = [4.5, 4.6, 2.9]", field: "ocv.V[1]", fragment: "strictly decreasing"),
    .init(toml: "[ocv]\ntheta = [0.3, 0.5, 1.0]\nV = [4.5, 4.0, 2.9]", field: "ocv.theta[0]", fragment: "θ = 0.2"),
    .init(toml: "[ocv]\ntheta = [0.1, 0.5, 0.9]\nV = [4.5, 4.0, 3.5]", field: "ocv.theta[2]", fragment: "reaches θ = 1"),
    .init(toml: "[ocv]\ntheta = [0.1, 0.5, 1.0]\nV = [4.5, 4.0, nan]", field: "ocv.V[2]", fragment: "finite"),
    .init(toml: "scale = [1, 2", field: "(syntax)", fragment: "valid TOML"),
]

@Test(arguments: badParameterCases)
func badParameterFilesNameFieldAndValue(_ c: BadParameterCase) {
    do {
        _ = try ParameterSet.parse(toml: c.toml, source: "bad.toml")
        Issue.record("accepted: \(c.toml)")
    } catch let e as ParameterError {
        #expect(e.file.hasPrefix("bad.toml"))
        #expect(e.field == c.field)
        #expect(e.description.contains(c.fragment), "\(e.description)")
    } catch {
        Issue.record("unexpected \(error)")
    }
}

@Test func missingFileIsNamed() {
    #expect(throws: ParameterError.self) { try ParameterSet.load(path: "/nonexistent/params.toml") }
    do { _ = try ParameterSet.load(path: "/nonexistent/params.toml") } catch {
        #expect("\(error)".contains("/nonexistent/params.toml"))
    }
}
