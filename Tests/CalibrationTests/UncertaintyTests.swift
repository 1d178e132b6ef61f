@testable import Calibration
import Foundation
import Imaging
import Testing

// Issue 16 item 4: the centre fit's interval must cover the truth when the residuals are correlated in
// time. These tests drive the same interval code as the calibration (CentreFitBootstrap.estimate) with
// a synthetic centre trace whose residual correlation is known, so coverage over many noise seeds is
// cheap; the full firmware-sim coverage over ten seeds is `Benchmarks calibration-coverage`.

/// A stand-in for the model's centre trace: χ = θ0 − θ rises as the delithiation front reaches the
/// centre, later and more slowly for larger S (slower effective diffusion, D_eff = D/S).
private func syntheticChi(scale: Double, times: [Double]) -> [Double] {
    times.map { t in 0.3 / (1 + exp(-(t - 800 * scale.squareRoot()) / (150 * scale))) }
}

/// The interpolation over the traces already made: nodes around the truth as the calibration's runs
/// around its optimum (±0.03 in ln S) and a coarser grid beyond.
private func syntheticModel(times: [Double], trueScale: Double, fitsOffset: Bool = false) -> TraceInterpolation {
    let u0 = log(trueScale)
    let nodes = [-0.4, -0.2, -0.06, -0.03, 0, 0.03, 0.06, 0.2, 0.4].map { u0 + $0 }
    return TraceInterpolation(nodes: nodes, chi: nodes.map { syntheticChi(scale: exp($0), times: times) }, fitsOffset: fitsOffset)
}

/// White frame noise plus a slow AR(1) wander (correlation time `tau` samples): the residuals' shape
/// on a real centre trace.
private func correlatedNoise(count: Int, white: Double, slow: Double, tau: Double, seed: UInt64) -> [Double] {
    var rng = SplitMix64(seed: seed)
    let rho = exp(-1 / tau)
    var a = slow * rng.nextGaussian()
    return (0..<count).map { _ in
        a = rho * a + slow * (1 - rho * rho).squareRoot() * rng.nextGaussian()
        return a + white * rng.nextGaussian()
    }
}

/// Over 100 noise seeds with residuals correlated over ~50 frames (a third of their variance slow),
/// the block bootstrap's 68 % interval covers the true S in 50–85 % of them; the earlier curvature
/// estimate (σ²(JᵀJ)⁻¹ widened by the lag-1 factor (1+ρ)/(1−ρ)) covers it far less often.
@Test func blockBootstrapIntervalCoversTruthOnCorrelatedResiduals() throws {
    let trueScale = 2.0, trueGain = 1.2, n = 4000
    let times = (0..<n).map { Double($0) }
    let model = syntheticModel(times: times, trueScale: trueScale)
    let clean = syntheticChi(scale: trueScale, times: times).map { trueGain * $0 }
    // Noise-free data: the interpolated fit returns the truth.
    let exact = model.fit(dots: model.dots(clean), yy: clean.reduce(0) { $0 + $1 * $1 }, start: log(trueScale) + 0.01)
    #expect(abs(exp(exact.u) / trueScale - 1) < 1e-4 && abs(exact.gain / trueGain - 1) < 1e-4, "\(exp(exact.u)) \(exact.gain)")

    let seeds = 100
    var covered = 0, coveredOld = 0, coveredNeweyWest = 0
    var widthRatio: [Double] = []
    for seed in 0..<seeds {
        let y = zip(clean, correlatedNoise(count: n, white: 0.004, slow: 0.003, tau: 50, seed: UInt64(seed) &+ 11)).map { $0 + $1 }
        let yy = y.reduce(0) { $0 + $1 * $1 }
        let start = model.fit(dots: model.dots(y), yy: yy, start: log(trueScale)).u
        let u = try #require(CentreFitBootstrap.estimate(y: y, model: model, start: start, replicates: 300, seed: UInt64(seed) &+ 1000))
        let s = exp(start)
        if u.scaleInterval68.contains(trueScale) { covered += 1 }
        if abs(s - trueScale) <= u.neweyWestScaleStandardError { coveredNeweyWest += 1 }
        // The earlier estimate: as if independent, widened for the lag-1 autocorrelation.
        let a = model.profile(start, dots: model.dots(y), yy: yy).gain
        let residuals = zip(y, model.chi(at: start)).map { $0 - a * $1 }
        let rho = max(0, min(0.99, lagOneAutocorrelation(residuals)))
        let old = u.independentScaleStandardError * ((1 + rho) / (1 - rho)).squareRoot()
        if abs(s - trueScale) <= old { coveredOld += 1 }
        widthRatio.append(u.scaleStandardError / old)
        #expect(u.scaleInterval68.contains(s) && u.scaleInterval95.lowerBound <= u.scaleInterval68.lowerBound
                && u.scaleInterval95.upperBound >= u.scaleInterval68.upperBound)
        #expect(u.gainInterval68.lowerBound < a && u.gainInterval68.upperBound > a)
    }
    let fraction = Double(covered) / Double(seeds), oldFraction = Double(coveredOld) / Double(seeds)
    print(String(format: "synthetic coverage of the true S over %d seeds: block bootstrap 68 %% %.2f, Newey–West ±1σ %.2f, curvature with lag-1 widening ±1σ %.2f; bootstrap/curvature width median %.1f",
                 seeds, fraction, Double(coveredNeweyWest) / Double(seeds), oldFraction, widthRatio.sorted()[seeds / 2]))
    #expect(fraction >= 0.5 && fraction <= 0.85, "coverage \(fraction)")
    #expect(oldFraction < 0.4, "the curvature estimate covered \(oldFraction): the test no longer shows its failure")
}

/// The block length follows the residuals' correlation: the √n floor for white noise, ≈ 1.14 τ^{2/3}
/// n^{1/3} for AR(1) with correlation time τ; and for white noise plus a slow wander whose
/// autocorrelation is below 1/e already at lag 1 (so a "1/e" rule would take blocks of one frame), the
/// block still spans several of the wander's correlation times.
@Test func blockLengthFollowsResidualCorrelation() {
    let n = 8000
    var rng = SplitMix64(seed: 3)
    let white = (0..<n).map { _ in rng.nextGaussian() }
    let w = chooseBlockLength(white)
    #expect(w.blockLength == Int(Double(n).squareRoot().rounded(.up)) && w.correlationLag == 1 && !w.capped, "\(w)")

    let tau = 20.0
    let ar = correlatedNoise(count: n, white: 0, slow: 1, tau: tau, seed: 5)
    let a = chooseBlockLength(ar)
    let expected = 1.14 * pow(tau, 2.0 / 3.0) * pow(Double(n), 1.0 / 3.0)
    #expect(Double(a.blockLength) > 0.6 * expected && Double(a.blockLength) < 1.6 * expected, "\(a), expected ≈ \(expected)")
    #expect(a.correlationLag.map { abs(Double($0) - tau) <= 4 } == true, "\(a)")

    let mixed = correlatedNoise(count: n, white: 1, slow: 0.6, tau: 100, seed: 9)
    let m = chooseBlockLength(mixed)
    #expect(m.correlationLag == 1, "\(m)")
    #expect(m.blockLength >= 200, "\(m)")
}

/// Uncertainties print to two significant digits, never as "± 0.0000" (issue 16 item 8's 2.3e-05).
@Test func uncertaintiesPrintSignificantDigits() {
    #expect(formatWithUncertainty(1.992213, 2.3e-05) == "1.992213 ± 2.3e-05")
    #expect(formatWithUncertainty(1.99221, 0.0041) == "1.9922 ± 0.0041")
    #expect(formatWithUncertainty(1.2, 0.15) == "1.20 ± 0.15")
    #expect(formatWithUncertainty(1.2, .nan) == "1.2")
    #expect(formatInterval(1.98801...1.99632) == "1.9880…1.9963")
    for sigma in [3e-7, 2.3e-5, 9.9e-5, 1e-4, 0.0012] {
        let text = formatWithUncertainty(2.0, sigma)
        #expect(!text.contains("± 0.0000") && !text.hasSuffix("± 0"), "\(text)")
    }
}

/// The interpolation between model runs is exact at the nodes and for a trace quadratic in ln S, and
/// its derivative is the trace's.
@Test func traceInterpolationIsQuadraticInLogScale() {
    let nodes = [0.0, 0.1, 0.2, 0.5]
    let f = { (u: Double, i: Int) -> Double in 1 + Double(i) * u + 0.5 * u * u }
    let model = TraceInterpolation(nodes: nodes, chi: nodes.map { u in (0..<5).map { f(u, $0) } })
    for u in [0.05, 0.1, 0.17] {
        let c = model.chi(at: u), d = model.derivative(at: u)
        for i in 0..<5 {
            #expect(abs(c[i] - f(u, i)) < 1e-12)
            #expect(abs(d[i] - (Double(i) + u)) < 1e-10)
        }
    }
}

/// The outline's term: an area known to ±1 % makes S's 68 % interval at least ±1 % wide (S ∝ 1/area)
/// and adds to, not replaces, the residuals' part; an area known exactly leaves the interval as the
/// residuals alone make it.
@Test func outlineAreaErrorWidensTheScaleIntervalByItsShare() throws {
    let trueScale = 2.0, trueGain = 1.2, n = 1500
    let times = (0..<n).map { Double($0) * 2.7 }
    let model = syntheticModel(times: times, trueScale: trueScale)
    let y = zip(syntheticChi(scale: trueScale, times: times).map { trueGain * $0 },
                correlatedNoise(count: n, white: 0.003, slow: 0.002, tau: 30, seed: 4)).map { $0 + $1 }
    let start = model.fit(dots: model.dots(y), yy: y.reduce(0) { $0 + $1 * $1 }, start: log(trueScale)).u
    let plain = try #require(CentreFitBootstrap.estimate(y: y, model: model, start: start, replicates: 400, seed: 5))
    let none = try #require(CentreFitBootstrap.estimate(y: y, model: model, start: start, outlineAreaRelativeError: 0,
                                                        replicates: 400, seed: 5))
    let shaped = try #require(CentreFitBootstrap.estimate(y: y, model: model, start: start, outlineAreaRelativeError: 0.01,
                                                          replicates: 400, seed: 5))
    let s = exp(start)
    let residualPart = plain.scaleStandardError / s
    let combined = shaped.scaleStandardError / s
    print(String(format: "S's 68 %% half-width: residuals alone %.3f %%, with a 1 %% outline error %.3f %% (√(r² + 1²) = %.3f %%)",
                 100 * residualPart, 100 * combined, 100 * (residualPart * residualPart + 1e-4).squareRoot()))
    #expect(none == plain)
    #expect(none.outlineScaleStandardError == 0 && abs(shaped.outlineScaleStandardError / s - 0.01) < 1e-12)
    #expect(combined > 0.009 && combined > residualPart)
    let expected = (residualPart * residualPart + 1e-4).squareRoot()
    #expect(abs(combined / expected - 1) < 0.2, "combined \(combined), expected ≈ \(expected)")
    // A does not depend on the particle's size at a given S·area: its interval is unchanged.
    #expect(shaped.gainInterval68 == plain.gainInterval68)
}

/// The reference frame's noise: every frame's contrast is divided by the same I0, so an error ε of I0
/// turns Ī into (1 + c)·Aχ + c with 1 + c = 1/(1 + ε), shared by every frame and so invisible to any
/// resampling of the residuals. Over 40 seeds with ε of the frame noise's size, S without an offset
/// term is off by several times more than with it (measured: rms 1.3 % against 0.35 %), and the 68 %
/// interval with it covers the truth in 50–90 % of them. (A's interval covers the true A less often,
/// about 40 %: printed, not asserted; see the report of issue 16 item 4.)
@Test func offsetTermAbsorbsTheReferenceFramesNoise() throws {
    let trueScale = 2.0, trueGain = 1.2, n = 1000
    let times = (0..<n).map { Double($0) * 4 }
    // As on the rig: a rest (χ = 0) before the current, then the centre's χ rising later for larger S.
    func chi(_ scale: Double) -> [Double] {
        times.map { t in t < 300 ? 0 : 0.3 * pow(1 - exp(-(t - 300) / (400 * scale)), 2) }
    }
    let clean = chi(trueScale).map { trueGain * $0 }
    let nodes = [-0.4, -0.2, -0.06, -0.03, 0, 0.03, 0.06, 0.2, 0.4].map { log(trueScale) + $0 }
    let withOffset = TraceInterpolation(nodes: nodes, chi: nodes.map { chi(exp($0)) }, fitsOffset: true)
    let without = TraceInterpolation(nodes: nodes, chi: nodes.map { chi(exp($0)) })
    var coveredWith = 0, coveredWithout = 0, coveredGain = 0
    var errorWith: [Double] = [], errorWithout: [Double] = []
    let seeds = 40
    for seed in 0..<seeds {
        var rng = SplitMix64(seed: UInt64(seed) &+ 77)
        let epsilon = 0.004 * rng.nextGaussian()
        let noise = correlatedNoise(count: n, white: 0.004, slow: 0.001, tau: 20, seed: UInt64(seed) &+ 500)
        let y = zip(clean, noise).map { (1 + $0 + $1) / (1 + epsilon) - 1 }
        let yy = y.reduce(0) { $0 + $1 * $1 }, sy = y.reduce(0, +)
        let a = withOffset.fit(dots: withOffset.dots(y), yy: yy, sum: sy, start: log(trueScale))
        let b = without.fit(dots: without.dots(y), yy: yy, start: log(trueScale))
        let u1 = try #require(CentreFitBootstrap.estimate(y: y, model: withOffset, start: a.u, replicates: 200, seed: UInt64(seed)))
        let u0 = try #require(CentreFitBootstrap.estimate(y: y, model: without, start: b.u, replicates: 200, seed: UInt64(seed)))
        #expect(u1.fitsOffset && !u0.fitsOffset)
        #expect(abs(a.offset - (1 / (1 + epsilon) - 1)) < 0.002, "offset \(a.offset), ε \(epsilon)")
        errorWith.append(exp(a.u) / trueScale - 1); errorWithout.append(exp(b.u) / trueScale - 1)
        if u1.scaleInterval68.contains(trueScale) { coveredWith += 1 }
        if u0.scaleInterval68.contains(trueScale) { coveredWithout += 1 }
        if u1.gainInterval68.contains(trueGain) { coveredGain += 1 }
    }
    let f1 = Double(coveredWith) / Double(seeds), f0 = Double(coveredWithout) / Double(seeds)
    func rms(_ e: [Double]) -> Double { (e.map { $0 * $0 }.reduce(0, +) / Double(e.count)).squareRoot() }
    print(String(format: "reference-frame noise, %d seeds: 68 %% interval covers the true S %.2f with the offset term, %.2f without; A %.2f; rms error of S %.3f %% with, %.3f %% without",
                 seeds, f1, f0, Double(coveredGain) / Double(seeds), 100 * rms(errorWith), 100 * rms(errorWithout)))
    #expect(f1 >= 0.5 && f1 <= 0.9, "with the offset: \(f1)")
    // Without the offset S is off by the reference's error (its interval widens too, but not enough).
    #expect(f0 < f1, "without the offset \(f0), with \(f1)")
    #expect(rms(errorWithout) > 2 * rms(errorWith), "rms error of S \(rms(errorWithout)) without, \(rms(errorWith)) with")
}
