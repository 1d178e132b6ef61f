// Issue 16 item 4: does the calibration's 68 % interval cover the truth? Ten (or more) noise seeds of
// one firmware-sim world with known S and A, each recorded, analysed and calibrated as a user would,
// the interval of each checked against the truth. Run with `Benchmarks calibration-coverage [SEEDS]`
// (`make bench-coverage`); release build, 15–25 s per seed on two cores. The 68 % interval printed is
// the calibration's: the block bootstrap of the centre fit (with its offset term) plus the outline's term.
import Calibration
import Electrochemistry
import FirmwareSim
import Foundation
import ParticleModel
import Rig

/// Records one firmware-sim dataset (C/3 charge of 25 min after 2 min rest; `SimCalibrationDataset`,
/// as CalibrationTests record theirs) with the given truth and noise seed.
func recordCoverageDataset(directory: String, scale: Double, gain: Double, seed: Int, noise: Double = 1.0) throws {
    try SimCalibrationDataset.record(directory: directory, scale: scale, gain: gain,
                                     steps: ["Rest for 2 minutes", "Charge at C/3 for 25 minutes"], seed: seed, noise: noise)
}

/// Prints one row per seed (S, the new 68 % interval, the earlier ± and whether each covers the
/// truth) and the coverage fractions.
func calibrationCoverage(seeds: Int, scale: Double = 2.0, gain: Double = 1.2) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("operando-coverage-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    line("== issue 16 item 4: coverage of the calibration's 68 % interval, firmware-sim S = \(scale), A = \(gain), \(seeds) noise seeds ==")
    line(pad("seed", 6) + pad("S", 9) + pad("68 % interval (bootstrap)", 28) + pad("covers", 8) + pad("old ±", 10) + pad("covers", 8)
         + pad("NW ±", 10) + pad("A 68 % interval", 20) + pad("covers", 8) + pad("block", 7) + "wall")
    var covered = 0, coveredOld = 0, coveredNW = 0, coveredGain = 0, done = 0
    var results: [(scale: Double, interval: ClosedRange<Double>, old: Double)] = []
    for seed in 1...seeds {
        let dir = root + "/seed\(seed).operando"
        do {
            let start = Date()
            try recordCoverageDataset(directory: dir, scale: scale, gain: gain, seed: seed)
            let s = try CalibrationRun.run(dataset: dir)
            let wall = Date().timeIntervalSince(start)
            guard let u = s.uncertainty else { line(pad("\(seed)", 6) + "no bootstrap: \(s.notes)"); continue }
            done += 1
            let new = u.scaleInterval68.contains(scale)
            let old = abs(s.centre.scale - scale) <= s.curvatureScaleStandardError
            let nw = abs(s.centre.scale - scale) <= u.neweyWestScaleStandardError
            let a = u.gainInterval68.contains(gain)
            results.append((s.centre.scale, u.scaleInterval68, s.curvatureScaleStandardError))
            if new { covered += 1 }; if old { coveredOld += 1 }; if nw { coveredNW += 1 }; if a { coveredGain += 1 }
            line(pad("\(seed)", 6) + pad(String(format: "%.4f", s.centre.scale), 9)
                 + pad(String(format: "%.4f…%.4f", u.scaleInterval68.lowerBound, u.scaleInterval68.upperBound), 28)
                 + pad(new ? "yes" : "no", 8) + pad(String(format: "%.2g", s.curvatureScaleStandardError), 10) + pad(old ? "yes" : "no", 8)
                 + pad(String(format: "%.2g", u.neweyWestScaleStandardError), 10)
                 + pad(String(format: "%.4f…%.4f", u.gainInterval68.lowerBound, u.gainInterval68.upperBound), 20) + pad(a ? "yes" : "no", 8)
                 + pad("\(u.blockLength)", 7) + String(format: "%.0f s", wall))
        } catch {
            line(pad("\(seed)", 6) + "FAILED: \(error)")
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
    guard done > 0 else { return }
    func f(_ k: Int) -> String { String(format: "%d/%d = %.0f %%", k, done, 100 * Double(k) / Double(done)) }
    line("coverage of S: block bootstrap 68 % " + f(covered) + " (goal 50–85 %); Newey–West ±1σ " + f(coveredNW)
         + "; earlier curvature ±1σ " + f(coveredOld) + "; A: bootstrap 68 % " + f(coveredGain))
    // The statistical part alone: does each interval cover the mean S over the seeds (what the noise
    // moves S around), whatever bias the model shares on every seed?
    let mean = results.map(\.scale).reduce(0, +) / Double(results.count)
    let sd = (results.map { ($0.scale - mean) * ($0.scale - mean) }.reduce(0, +) / Double(max(1, results.count - 1))).squareRoot()
    let aroundMean = results.filter { $0.interval.contains(mean) }.count
    let oldAroundMean = results.filter { abs($0.scale - mean) <= $0.old }.count
    let halfWidth = results.map { ($0.interval.upperBound - $0.interval.lowerBound) / 2 }.sorted()[results.count / 2]
    line(String(format: "S over the seeds: mean %.4f (bias %+.2f %% of the truth), SD %.4f; median bootstrap half-width %.4f, median earlier ± %.4f",
                mean, 100 * (mean / scale - 1), sd, halfWidth, results.map(\.old).sorted()[results.count / 2]))
    line("coverage of the seeds' mean S: block bootstrap 68 % " + f(aroundMean) + "; earlier curvature ±1σ " + f(oldAroundMean))
}

/// Diagnosis of the coverage benchmark's bias (issue 16 item 4): per seed, the analysis mask's area
/// against the simulated ellipse's, and S fitted with the mask's outline and with the true outline.
func calibrationCoverageDiagnosis(seeds: Int, firstSeed: Int = 1, scale: Double = 2.0, gain: Double = 1.2, noise: Double = 1.0) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("operando-coverage-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let truth = ParticleShape.ellipse(width: 3.04, height: 2.04)
    line(String(format: "true ellipse area %.4f µm² (%.1f px)", truth.areaMicrometres2, truth.areaMicrometres2 / (0.0347 * 0.0347)))
    for seed in firstSeed..<(firstSeed + seeds) {
        let dir = root + "/seed\(seed).operando"
        do {
            try recordCoverageDataset(directory: dir, scale: scale, gain: gain, seed: seed, noise: noise)
            let data = try CalibrationDataset.load(path: dir)
            let s = try CalibrationRun.run(dataset: dir)
            var o = CalibrationOptions()
            o.particleShape = truth
            let t = try CalibrationRun.run(dataset: dir, options: o)
            let area = data.shape.areaMicrometres2
            if let r = s.outline {
                line(String(format: "  outline: mask %.4f µm² (%+.2f %%), refined %.4f µm² (%+.2f %%) ± %.2f %%, levels %.1f / %.1f",
                            r.maskAreaMicrometres2, 100 * (r.maskAreaMicrometres2 / truth.areaMicrometres2 - 1), r.areaMicrometres2,
                            100 * (r.areaMicrometres2 / truth.areaMicrometres2 - 1), 100 * r.relativeStandardError, r.particleLevel, r.backgroundLevel))
            }
            if let u = s.uncertainty {
                line(String(format: "  bootstrap 68 %% %.4f…%.4f, block %d, NW %.4f, iid %.4f, corr lag %d, n %d", u.scaleInterval68.lowerBound,
                            u.scaleInterval68.upperBound, u.blockLength, u.neweyWestScaleStandardError, u.independentScaleStandardError,
                            u.correlationLag ?? -1, u.samples))
            }
            line(String(format: "seed %d: mask area %.4f µm² (%+.2f %%), extent %.4f µm; S refined %.4f A %.4f e %.5f | S true shape %.4f A %.4f e %.5f; S·area/area_true %.4f",
                        seed, area, 100 * (area / truth.areaMicrometres2 - 1), data.shape.longestExtentMicrometres,
                        s.centre.scale, s.centre.gain, s.centre.rmse, t.centre.scale, t.centre.gain, t.centre.rmse,
                        s.centre.scale * area / truth.areaMicrometres2))
        } catch {
            line("seed \(seed): FAILED: \(error)")
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
