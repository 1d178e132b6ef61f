import Foundation
import Imaging

// Units: S dimensionless, A contrast per unit θ; lags and block lengths in samples of the centre trace
// (one per analysed frame). u = ln S throughout, as in the scan and the refinement.
//
// Why this file exists (issue 16 item 4): the centre trace's residuals are correlated over minutes
// (drift-correction error, the model's own small mismatch, slow intensity changes), so an uncertainty
// from the curvature of Σ residual² — which assumes independent residuals, even widened by the lag-1
// autocorrelation — is several times too small: on a simulated world with S = 2 it gave
// S = 1.9922 ± 0.0012, 6.5 of its own standard errors from the truth. A lag-1 correction only sees the
// fast part of the correlation: white frame noise plus a slow wander has a small lag-1 correlation but a
// long-run variance the slow part dominates.

/// The uncertainty of the centre fit's (S, A) that accounts for residuals correlated in time: a
/// circular block bootstrap of the residuals (blocks of `blockLength` frames, chosen from the residuals'
/// autocovariance), each replicate refitted with the model traces already computed (interpolated in
/// ln S), with a Newey–West (Bartlett) sandwich estimate beside it as a check.
public struct ScaleGainUncertainty: Sendable, Equatable {
    /// 68 % and 95 % bootstrap percentile intervals of S and A.
    public var scaleInterval68: ClosedRange<Double>
    public var gainInterval68: ClosedRange<Double>
    public var scaleInterval95: ClosedRange<Double>
    public var gainInterval95: ClosedRange<Double>
    /// Half the width of the 68 % interval (the 1σ a symmetric distribution would have).
    public var scaleStandardError: Double
    public var gainStandardError: Double
    /// Newey–West (Bartlett kernel, bandwidth = block length) standard errors of the linearised fit.
    public var neweyWestScaleStandardError: Double
    public var neweyWestGainStandardError: Double
    /// The standard errors the residuals would give if they were independent (σ²(JᵀJ)⁻¹): what the
    /// correlation-aware estimate is to be compared with.
    public var independentScaleStandardError: Double
    public var independentGainStandardError: Double
    /// First lag at which the residuals' autocorrelation falls below 1/e (nil: not within n/2), frames.
    public var correlationLag: Int?
    /// Bootstrap block length, frames; `blockLengthCapped` when the automatic choice exceeded n/4.
    public var blockLength: Int
    public var blockLengthCapped: Bool
    /// Residuals used (finite in the data and in every model trace).
    public var samples: Int
    public var replicates: Int
    /// Replicates whose refit failed or left the interpolated S range (counted, not used).
    public var failedReplicates: Int
    /// The outline's term: the relative standard error of the modelled particle's area (from the
    /// outline refinement; 0 when not known) and what it alone gives S (S ∝ 1/area: D_eff = D/S is
    /// fitted through the time L²S/D the front takes to reach the centre). Each replicate draws it.
    public var outlineAreaRelativeStandardError: Double = 0
    public var outlineScaleStandardError: Double = 0
    /// Whether the centre fit had the offset term (Ī = Aχ + c).
    public var fitsOffset: Bool = false

    /// One line for calibration.json's `uncertainty_method`.
    public static let method = "circular block bootstrap of the centre-trace residuals of Ī = A(θ0 − θ) + c (block length: the largest of Politis–White/Patton's rule, √n and the stretch holding the middle half of the fit's sensitivity to S, at most n/4), "
        + "each replicate refitted in (S, A) with the model traces interpolated quadratically in ln S; "
        + "plus, per replicate, a normal draw of the outline's relative area error moving ln S by minus as much (S ∝ 1/area); "
        + "68 %/95 % percentile intervals; Newey–West (Bartlett) sandwich errors alongside"
}

/// The centre fit's bootstrap: what `CalibrationRun` computes after the refinement.
enum CentreFitBootstrap {
    /// Bootstrap of the centre fit around `bestScale` (which must be one of `traces`' scales).
    /// `traces` are model runs already made (θ at the centre samples); those closer than 0.02 in ln S
    /// to a nearer one are left out so the interpolation does not amplify solver noise. Nil when fewer
    /// than 20 samples or 3 usable traces remain.
    static func run(measured: [Double], traces: [(scale: Double, theta: [Double])], theta0: Double, bestScale: Double,
                    fitsOffset: Bool = false, outlineAreaRelativeError: Double = 0,
                    replicates: Int = 400, seed: UInt64 = 0x0BE7_A5EED) -> ScaleGainUncertainty? {
        let uStar = log(bestScale)
        // Nodes: the optimum, then the others outward from it, each at least 0.02 from those kept.
        var kept: [(u: Double, theta: [Double])] = []
        guard let centre = traces.first(where: { $0.scale == bestScale }) else { return nil }
        kept.append((uStar, centre.theta))
        for t in traces.sorted(by: { abs(log($0.scale) - uStar) < abs(log($1.scale) - uStar) }) where t.scale != bestScale {
            let u = log(t.scale)
            if kept.allSatisfy({ abs($0.u - u) >= 0.02 }) { kept.append((u, t.theta)) }
        }
        guard kept.count >= 3 else { return nil }
        kept.sort { $0.u < $1.u }
        let rows = measured.indices.filter { i in measured[i].isFinite && kept.allSatisfy { i < $0.theta.count && $0.theta[i].isFinite } }
        guard rows.count >= 20 else { return nil }
        let y = rows.map { measured[$0] }
        let model = TraceInterpolation(nodes: kept.map(\.u), chi: kept.map { k in rows.map { theta0 - k.theta[$0] } }, fitsOffset: fitsOffset)
        return estimate(y: y, model: model, start: uStar, outlineAreaRelativeError: outlineAreaRelativeError, replicates: replicates, seed: seed)
    }

    /// The bootstrap and the sandwich estimate for data `y` fitted by A·χ(u) (the seed's Eq. 17 form
    /// with χ = θ0 − θ), the fit starting at `start`. Shared by the calibration and the tests, which
    /// feed it synthetic residual series of known correlation.
    static func estimate(y: [Double], model: TraceInterpolation, start: Double, outlineAreaRelativeError: Double = 0,
                         replicates: Int, seed: UInt64) -> ScaleGainUncertainty? {
        let n = y.count
        let yy0 = y.reduce(0) { $0 + $1 * $1 }, sy0 = y.reduce(0, +)
        let fit0 = model.fit(dots: model.dots(y), yy: yy0, sum: sy0, start: start)
        let uHat = fit0.u, aHat = fit0.gain, cHat = fit0.offset
        guard uHat.isFinite, aHat.isFinite else { return nil }
        let chi = model.chi(at: uHat)
        let fitted = chi.map { aHat * $0 + cHat }
        let residuals = zip(y, fitted).map { $0 - $1 }
        var choice = chooseBlockLength(residuals)
        // The residuals that move S are those where the trace depends on S (the front reaching the
        // centre): a slow error there (drift correction, model mismatch) acts as one unit, so a block
        // spans at least the stretch holding the middle half of Σ(∂χ/∂u)², capped at n/4.
        let sensitivity = model.derivative(at: uHat).map { $0 * $0 }
        let window = sensitivityWindow(sensitivity, fraction: 0.5)
        if window > choice.blockLength {
            choice.blockLength = min(window, max(1, n / 4))
            choice.capped = choice.capped || window > n / 4
        }
        let b = choice.blockLength

        // Circular block bootstrap: blocks of b consecutive residuals starting anywhere (wrapping at the
        // end, so every residual is equally likely to be drawn), laid end to end. The residuals are
        // centred first: the fit has no offset term, so their mean is not zero, and a replicate's
        // expected residual (that mean at every frame, unlike the residuals themselves) is not
        // orthogonal to the fit's Jacobian and would shift every replicate's S the same way.
        let residualMean = residuals.reduce(0, +) / Double(n)
        let centred = residuals.map { $0 - residualMean }
        var rng = SplitMix64(seed: seed)
        var du: [Double] = [], da: [Double] = []
        var failed = 0
        var ystar = [Double](repeating: 0, count: n)
        let shape = max(0, outlineAreaRelativeError.isFinite ? outlineAreaRelativeError : 0)
        // Its own stream, so the blocks drawn (and A's interval) do not depend on the outline's term.
        var shapeRandom = SplitMix64(seed: seed ^ 0x5EED_0F_0A7E)
        for _ in 0..<replicates {
            var i = 0
            while i < n {
                let s = Int(rng.next() % UInt64(n))
                for k in 0..<min(b, n - i) { ystar[i + k] = fitted[i + k] + centred[(s + k) % n] }
                i += b
            }
            let yy = ystar.reduce(0) { $0 + $1 * $1 }
            let f = model.fit(dots: model.dots(ystar), yy: yy, sum: ystar.reduce(0, +), start: uHat)
            // The outline's error is independent of the frames' noise: a modelled area too large by a
            // fraction ε gives an S too small by the same fraction (S ∝ 1/area).
            let z = shape > 0 ? shapeRandom.nextGaussian() * shape : 0
            if f.u.isFinite, f.gain.isFinite, f.u > model.nodes.first! + 1e-9, f.u < model.nodes.last! - 1e-9 {
                // The gain net of the reference's factor 1 + c (as the calibration reports it).
                du.append(f.u - uHat + z); da.append(f.gain / (1 + f.offset) - aHat / (1 + cHat))
            } else {
                failed += 1
            }
        }
        guard du.count >= max(10, replicates / 2) else { return nil }

        // Newey–West sandwich of the linearised fit: J = [A ∂χ/∂u, χ], H = JᵀJ, Ω = Σ_k w_k Σ_i g_i g_{i−k}ᵀ.
        // With the offset fitted, the Jacobian's columns are centred (the offset partialled out).
        var dchi = model.derivative(at: uHat)
        var chiC = chi
        if model.fitsOffset {
            let m1 = dchi.reduce(0, +) / Double(n), m2 = chi.reduce(0, +) / Double(n)
            dchi = dchi.map { $0 - m1 }; chiC = chi.map { $0 - m2 }
        }
        let ju = dchi.map { aHat * $0 }
        var h = [[0.0, 0.0], [0.0, 0.0]]
        for i in 0..<n { h[0][0] += ju[i] * ju[i]; h[0][1] += ju[i] * chiC[i]; h[1][1] += chiC[i] * chiC[i] }
        h[1][0] = h[0][1]
        let g0 = (0..<n).map { ju[$0] * residuals[$0] }, g1 = (0..<n).map { chiC[$0] * residuals[$0] }
        func lagged(_ lags: Int) -> [[Double]] {
            var o = [[0.0, 0.0], [0.0, 0.0]]
            for k in 0...min(lags, n - 1) {
                let w = lags == 0 ? 1 : 1 - Double(k) / Double(lags + 1)
                var s00 = 0.0, s01 = 0.0, s10 = 0.0, s11 = 0.0
                for i in k..<n {
                    s00 += g0[i] * g0[i - k]; s01 += g0[i] * g1[i - k]; s10 += g1[i] * g0[i - k]; s11 += g1[i] * g1[i - k]
                }
                if k == 0 { o[0][0] += s00; o[0][1] += s01; o[1][0] += s10; o[1][1] += s11 }
                else { o[0][0] += 2 * w * s00; o[0][1] += w * (s01 + s10); o[1][0] += w * (s01 + s10); o[1][1] += 2 * w * s11 }
            }
            return o
        }
        var nwU = Double.nan, nwA = Double.nan, iidU = Double.nan, iidA = Double.nan
        if let hi = invert(h) {
            let omega = lagged(b)
            func sandwich(_ o: [[Double]]) -> [[Double]] {
                let t = (0..<2).map { r in (0..<2).map { c in hi[r][0] * o[0][c] + hi[r][1] * o[1][c] } }
                return (0..<2).map { r in (0..<2).map { c in t[r][0] * hi[0][c] + t[r][1] * hi[1][c] } }
            }
            let cov = sandwich(omega)
            nwU = max(0, cov[0][0]).squareRoot(); nwA = max(0, cov[1][1]).squareRoot()
            let sigma2 = residuals.reduce(0) { $0 + $1 * $1 } / Double(max(1, n - (model.fitsOffset ? 3 : 2)))
            iidU = (sigma2 * max(0, hi[0][0])).squareRoot(); iidA = (sigma2 * max(0, hi[1][1])).squareRoot()
        }

        // Percentile intervals of the replicates' departures from the interpolated fit, placed around
        // the caller's estimate (its S from full model runs; the two agree to the refinement's tolerance).
        let su = du.sorted(), sa = da.sorted()
        let p0 = model.profile(start, dots: model.dots(y), yy: yy0, sum: sy0)
        let aStart = p0.gain / (1 + p0.offset)
        let sHat = exp(start)
        func range(_ s: [Double], _ p: Double, around x: Double, log isLog: Bool) -> ClosedRange<Double> {
            let lo = quantile(s, (1 - p) / 2), hi = quantile(s, (1 + p) / 2)
            return isLog ? exp(x + lo)...exp(x + hi) : (x + lo)...(x + hi)
        }
        let s68 = range(su, 0.6827, around: start, log: true), a68 = range(sa, 0.6827, around: aStart, log: false)
        return ScaleGainUncertainty(
            scaleInterval68: s68, gainInterval68: a68,
            scaleInterval95: range(su, 0.95, around: start, log: true), gainInterval95: range(sa, 0.95, around: aStart, log: false),
            scaleStandardError: (s68.upperBound - s68.lowerBound) / 2, gainStandardError: (a68.upperBound - a68.lowerBound) / 2,
            neweyWestScaleStandardError: sHat * nwU, neweyWestGainStandardError: nwA,
            independentScaleStandardError: sHat * iidU, independentGainStandardError: iidA,
            correlationLag: choice.correlationLag, blockLength: b, blockLengthCapped: choice.capped,
            samples: n, replicates: replicates, failedReplicates: failed,
            outlineAreaRelativeStandardError: shape, outlineScaleStandardError: sHat * shape, fitsOffset: model.fitsOffset)
    }
}

/// θ0 − θ at the centre samples between model runs already made, as a function of u = ln S: the
/// Lagrange quadratic through the three nodes nearest u. The fit of seed Eq. 18 only needs the dot
/// products of the data with each node's trace and the nodes' Gram matrix, so a refit costs one pass
/// over the data per node and then O(1) per trial S.
struct TraceInterpolation: Sendable {
    /// ln S of each node, ascending.
    let nodes: [Double]
    /// χ = θ0 − θ of each node at each sample.
    let traces: [[Double]]
    let gram: [[Double]]
    /// Σχ of each node, and the sample count (for the offset).
    let sums: [Double]
    /// Fit y = Aχ(u) + c (c profiled out) instead of y = Aχ(u).
    let fitsOffset: Bool

    init(nodes: [Double], chi: [[Double]], fitsOffset: Bool = false) {
        self.nodes = nodes
        traces = chi
        gram = chi.map { a in chi.map { b in zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } } }
        sums = chi.map { $0.reduce(0, +) }
        self.fitsOffset = fitsOffset
    }

    /// The three nodes used at u and their weights (and the weights' derivatives in u).
    func weights(_ u: Double) -> (first: Int, w: [Double], dw: [Double]) {
        var nearest = 0
        for k in nodes.indices where abs(nodes[k] - u) < abs(nodes[nearest] - u) { nearest = k }
        let j = min(max(nearest - 1, 0), nodes.count - 3)
        let x = [nodes[j], nodes[j + 1], nodes[j + 2]]
        var w = [0.0, 0.0, 0.0], dw = [0.0, 0.0, 0.0]
        for a in 0..<3 {
            let others = (0..<3).filter { $0 != a }
            let den = others.reduce(1.0) { $0 * (x[a] - x[$1]) }
            w[a] = others.reduce(1.0) { $0 * (u - x[$1]) } / den
            dw[a] = ((u - x[others[0]]) + (u - x[others[1]])) / den
        }
        return (j, w, dw)
    }

    func chi(at u: Double) -> [Double] {
        let (j, w, _) = weights(u)
        return traces[j].indices.map { i in w[0] * traces[j][i] + w[1] * traces[j + 1][i] + w[2] * traces[j + 2][i] }
    }

    func derivative(at u: Double) -> [Double] {
        let (j, _, dw) = weights(u)
        return traces[j].indices.map { i in dw[0] * traces[j][i] + dw[1] * traces[j + 1][i] + dw[2] * traces[j + 2][i] }
    }

    /// y·χ_j for every node.
    func dots(_ y: [Double]) -> [Double] { traces.map { c in zip(c, y).reduce(0) { $0 + $1.0 * $1.1 } } }

    /// Σ(y − Aχ(u) − c)² minimised over A (and c when fitted) in closed form (seed Eq. 18); `sum` is Σy.
    func profile(_ u: Double, dots: [Double], yy: Double, sum: Double = 0) -> (sse: Double, gain: Double, offset: Double) {
        let (j, w, _) = weights(u)
        var sxy = 0.0, sxx = 0.0, sx = 0.0
        for a in 0..<3 {
            sxy += w[a] * dots[j + a]
            sx += w[a] * sums[j + a]
            for b in 0..<3 { sxx += w[a] * w[b] * gram[j + a][j + b] }
        }
        var syy = yy
        if fitsOffset {
            let n = Double(max(1, traces[0].count))
            sxy -= sx * sum / n; sxx -= sx * sx / n; syy -= sum * sum / n
            guard sxx > 0 else { return (.infinity, .nan, .nan) }
            let a = sxy / sxx
            return (syy - sxy * sxy / sxx, a, (sum - a * sx) / n)
        }
        guard sxx > 0 else { return (.infinity, .nan, .nan) }
        return (syy - sxy * sxy / sxx, sxy / sxx, 0)
    }

    /// The best u (Brent, from `start`, within the nodes), its A and offset.
    func fit(dots: [Double], yy: Double, sum: Double = 0, start: Double) -> (u: Double, gain: Double, offset: Double) {
        let f0 = profile(start, dots: dots, yy: yy, sum: sum).sse
        let r = brentMinimise(nodes.first!, nodes.last!, start: start, fStart: f0, tolerance: 1e-7, maxEvaluations: 200) {
            profile($0, dots: dots, yy: yy, sum: sum).sse
        }
        let p = profile(r.x, dots: dots, yy: yy, sum: sum)
        return (r.x, p.gain, p.offset)
    }
}

/// The bootstrap's block length and the residuals' correlation lag.
struct BlockLengthChoice: Equatable {
    var blockLength: Int
    /// First lag where the autocorrelation falls below 1/e (nil: not within the lags examined).
    var correlationLag: Int?
    /// The lag window's half-width M (frames).
    var bandwidth: Int
    var capped: Bool
}

/// The block length of the circular block bootstrap, by Politis & White's automatic rule (2004, with
/// Patton, Politis & White's 2009 correction): b = (2G²/D · n)^{1/3}, G = Σ λ(k/M)|k|R(k),
/// D = (4/3)(Σ λ(k/M)R(k))², λ the flat-top window, M twice the first lag m after which K_n
/// consecutive autocorrelations stay inside ±2√(log10 n / n). It minimises the error of the bootstrap's
/// long-run variance, which is what the uncertainty of S is made of.
///
/// Why not the simpler rules: n^{1/3} ignores the correlation altogether, and "the first lag where the
/// autocorrelation falls below 1/e" (reported as `correlationLag`) fails on the residuals here, which
/// are white frame noise plus a slow wander: the autocorrelation can drop below 1/e at lag 1 while the
/// slow part, a few tenths of the variance, carries most of the long-run variance. The flat-top rule
/// looks at the whole autocovariance out to where it is lost in the noise. For an AR(1) series of
/// correlation time τ ≫ 1 it gives b ≈ 1.14 τ^{2/3} n^{1/3}, several τ for the n here, so the bootstrap's
/// variance bias (about −τ/b) stays small. Unlike the reference rule, m is searched up to n/4 (not
/// √n + K_n), because a trace of 10⁴ frames can be correlated over 10³.
///
/// b is at least ⌈√n⌉ (the upper end of the usual n^{1/3}…n^{1/2} range): on firmware-sim centre traces
/// (n ≈ 540 analysed frames for a 27 min run) the rule alone picked blocks of 2–9 frames on some noise
/// seeds and 107–128 on others, because the slow wander sits under its ±2√(log10 n / n) ≈ 0.14
/// significance band while still dominating the long-run variance; the short-block intervals were
/// 3–5× narrower than the spread of S over seeds, the long-block ones matched it
/// (`Benchmarks calibration-coverage`). The caller also raises b to the stretch where the fit depends
/// on S (`CentreFitBootstrap.estimate`). b is capped at n/4 (at least four blocks) and `capped` says so.
func chooseBlockLength(_ r: [Double]) -> BlockLengthChoice {
    let n = r.count
    guard n >= 8 else { return BlockLengthChoice(blockLength: 1, correlationLag: nil, bandwidth: 0, capped: false) }
    let mean = r.reduce(0, +) / Double(n)
    let d = r.map { $0 - mean }
    func autocovariance(_ k: Int) -> Double {
        var s = 0.0
        for i in k..<n { s += d[i] * d[i - k] }
        return s / Double(n)
    }
    let r0 = autocovariance(0)
    guard r0 > 0 else { return BlockLengthChoice(blockLength: 1, correlationLag: nil, bandwidth: 0, capped: false) }
    let kn = max(5, Int(log10(Double(n)).squareRoot().rounded(.up)))
    let band = 2 * (log10(Double(n)) / Double(n)).squareRoot()
    let maxLag = n / 2
    var rho: [Double] = [1]
    func rhoAt(_ k: Int) -> Double {
        while rho.count <= k { rho.append(autocovariance(rho.count) / r0) }
        return rho[k]
    }
    var m: Int?
    var run = 0
    var k = 1
    while k <= n / 4 + kn, k < maxLag {
        if abs(rhoAt(k)) < band { run += 1; if run >= kn { m = k - kn; break } } else { run = 0 }
        k += 1
    }
    let bandwidth = min(maxLag - 1, 2 * max(1, m ?? n / 4))
    var lag: Int?
    for j in 1..<min(rho.count, maxLag) where rho[j] < exp(-1) { lag = j; break }
    if lag == nil {
        var j = rho.count
        while j < maxLag { if rhoAt(j) < exp(-1) { lag = j; break }; j += 1 }
    }
    func lambda(_ t: Double) -> Double { let a = abs(t); return a <= 0.5 ? 1 : (a <= 1 ? 2 * (1 - a) : 0) }
    var g = r0, bigG = 0.0
    for j in 1...bandwidth {
        let c = rhoAt(j) * r0, w = lambda(Double(j) / Double(bandwidth))
        g += 2 * w * c
        bigG += 2 * w * Double(j) * c
    }
    // Without a positive long-run variance and slope the rule is undefined: fall back to n^{1/3}.
    let b = g > 0 && bigG > 0 ? pow(2 * bigG * bigG / ((4.0 / 3.0) * g * g) * Double(n), 1.0 / 3.0) : pow(Double(n), 1.0 / 3.0)
    let cap = max(1, n / 4)
    let floor = Int(Double(n).squareRoot().rounded(.up))
    let blockLength = min(max(floor, Int(b.rounded(.up))), cap)
    return BlockLengthChoice(blockLength: blockLength, correlationLag: lag, bandwidth: bandwidth, capped: b > Double(cap))
}

/// The number of consecutive samples between the (1−f)/2 and (1+f)/2 points of the cumulative sum of
/// `weights` (the stretch holding the middle fraction f of their total).
func sensitivityWindow(_ weights: [Double], fraction f: Double) -> Int {
    let total = weights.reduce(0, +)
    guard total > 0 else { return 0 }
    var sum = 0.0, first = 0, last = weights.count - 1
    var foundFirst = false
    for (i, w) in weights.enumerated() {
        sum += w
        if !foundFirst && sum >= (1 - f) / 2 * total { first = i; foundFirst = true }
        if sum >= (1 + f) / 2 * total { last = i; break }
    }
    return last - first + 1
}

/// The p-quantile of sorted values (linear between order statistics).
func quantile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let h = p * Double(sorted.count - 1)
    let i = Int(h.rounded(.down)), f = h - Double(i)
    return i + 1 < sorted.count ? sorted[i] + f * (sorted[i + 1] - sorted[i]) : sorted[i]
}

/// "1.9922 ± 0.0041": the uncertainty to two significant digits and the value to the same decimal
/// place; an uncertainty under 10⁻⁴ in scientific notation ("1.992213 ± 2.3e-05"), so it never prints
/// as "± 0.0000". A missing uncertainty prints the value alone.
public func formatWithUncertainty(_ value: Double, _ sigma: Double) -> String {
    guard value.isFinite else { return "\(value)" }
    guard sigma.isFinite, sigma > 0 else { return String(format: "%.4g", value) }
    let decimals = max(0, min(12, 1 - Int(log10(sigma).rounded(.down))))
    let s = sigma < 1e-4 || sigma >= 1e4 ? String(format: "%.2g", sigma) : String(format: "%.\(decimals)f", sigma)
    return String(format: "%.\(decimals)f", value) + " ± " + s
}

/// "1.9880…1.9963": an interval's ends to the decimal place of two significant digits of its half-width.
public func formatInterval(_ r: ClosedRange<Double>) -> String {
    let half = (r.upperBound - r.lowerBound) / 2
    let decimals = half > 0 && half.isFinite ? max(0, min(12, 1 - Int(log10(half).rounded(.down)))) : 4
    return String(format: "%.\(decimals)f…%.\(decimals)f", r.lowerBound, r.upperBound)
}
