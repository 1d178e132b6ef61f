import Foundation
import ParticleModel

extension ReportInputs {
    /// Demo-like synthetic inputs (C/3 charge, C/3 discharge, 2 h CV hold at 3.0 V; a 3.04 × 2.04 µm
    /// ellipse imaged at 0.0347 µm per pixel), for tests and the report benchmark. Shapes are
    /// qualitative stand-ins for the seed's curves, not physics.
    /// - Parameters:
    ///   - echemIntervalSeconds: sampling interval of the electrochemistry (the demo records every second).
    ///   - frameIntervalSeconds: interval between contrast frames.
    public static func synthetic(echemIntervalSeconds: Double = 1, frameIntervalSeconds: Double = 60) -> ReportInputs {
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        func noise() -> Double {  // deterministic, roughly uniform in −0.5…0.5
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Double(rng >> 11) / Double(1 << 53) - 0.5
        }
        let rest = 600.0, charge = 3.2 * 3600, discharge = 2.8 * 3600, hold = 2 * 3600.0
        let tEnd = rest + charge + discharge + hold
        let iC3 = 105e-6
        var t: [Double] = [], v: [Double] = [], i: [Double] = [], kind: [String] = [], step: [Int] = []
        var time = 0.0
        while time <= tEnd {
            t.append(time)
            if time < rest {
                v.append(3.52); i.append(0); kind.append("rest"); step.append(0)
            } else if time < rest + charge {
                let x = (time - rest) / charge
                v.append(3.62 + 0.45 * x + 0.22 * pow(x, 6) - 0.08 * exp(-x * 40)); i.append(iC3); kind.append("charge"); step.append(1)
            } else if time < rest + charge + discharge {
                let x = (time - rest - charge) / discharge
                v.append(4.18 - 0.55 * x - 0.62 * pow(x, 8)); i.append(-iC3); kind.append("discharge"); step.append(2)
            } else {
                let x = (time - rest - charge - discharge) / 3600
                v.append(3.0); i.append(-iC3 * 0.45 * exp(-x * 1.6) - 0.5e-6); kind.append("hold"); step.append(3)
            }
            time += echemIntervalSeconds
        }
        let echem = EchemSeries(timeSeconds: t, voltageVolts: v, currentAmps: i, stepKind: kind, step: step)

        // Particle: ellipse 3.04 × 2.04 µm in an 96 × 68 px frame.
        let px = 0.0347, w = 96, h = 68
        let cx = Double(w - 1) / 2, cy = Double(h - 1) / 2
        let ax = 1.52 / px, by = 1.02 / px
        func rho(_ x: Int, _ y: Int) -> Double {
            let dx = (Double(x) - cx) / ax, dy = (Double(y) - cy) / by
            return (dx * dx + dy * dy).squareRoot()
        }
        /// Mean delithiation (0…1) and the front position: the shell leads the core by ~35 min at C/3.
        func contrastAt(_ r: Double, _ ts: Double) -> Double {
            let tc = ts - rest
            if tc < 0 { return 0 }
            if tc < charge {
                let mean = 0.62 * tc / charge
                let front = min(1, tc / 2100)             // front reaches the centre at 35 min
                let shell = 1 / (1 + exp(-(r - (1 - front)) / 0.07))
                // Normalised so the particle mean follows `mean` continuously as the front arrives.
                let avg = 0.25 + 0.75 * (1 - (1 - front) * (1 - front))
                return mean * (0.25 + 0.75 * shell) / avg
            }
            let td = tc - charge
            if td < discharge {
                let x = td / discharge
                let end = 0.62 - 0.54 * x
                return end + 0.06 * x * (1 - r * r)       // lithium-rich rim, deficient core
            }
            let x = (td - discharge) / hold
            return 0.08 * exp(-x * 3) + 0.06 * exp(-x * 2) * (1 - r * r)
        }
        var frames: [[Float]] = []
        var ftimes: [Double] = []
        var ts = 0.0
        while ts <= tEnd {
            var f = [Float](repeating: .nan, count: w * h)
            for y in 0..<h {
                for x in 0..<w {
                    let r = rho(x, y)
                    if r <= 1 { f[y * w + x] = Float(contrastAt(r, ts) * 0.25 + 0.004 * noise()) }
                }
            }
            frames.append(f); ftimes.append(ts)
            ts += frameIntervalSeconds
        }
        let contrast = ImageStack(width: w, height: h, pixelSizeMicrometres: px, timesSeconds: ftimes, frames: frames)

        // Metrics per frame.
        var inten: [Double] = [], sdc: [Double] = [], centre: [Double] = []
        for (k, f) in frames.enumerated() {
            let fin = f.filter(\.isFinite).map(Double.init)
            inten.append(fin.reduce(0, +) / Double(max(fin.count, 1)) / 0.25 * 1.0)
            centre.append(Double(f[Int(cy) * w + Int(cx)]))
            let tc = ftimes[k] - rest
            let base = tc < 0 ? 0.002 : (tc < 2100 ? 0.004 + 0.012 * tc / 2100 : 0.004 * exp(-(tc - 2100) / 600) + 0.003)
            sdc.append(base + 0.0008 * noise())
        }
        // Profiles along the centre row. Model times are dataset times, as calibrate writes them.
        let positions = (0..<w).map { (Double($0) - cx) * px }
        var measured: [ProfileSet.Curve] = []
        var model: [ProfileSet.Curve] = []
        var modelMaps: [[Float]] = []
        let profileTimes = [5.0, 15, 25, 35].map { $0 * 60 }
        for pt in profileTimes {
            if let k = contrast.nearestFrame(to: rest + pt) {
                let row = Array(frames[k][(Int(cy) * w)..<(Int(cy) * w + w)]).map(Double.init)
                let keep = row.indices.filter { row[$0].isFinite }
                measured.append(.init(timeSeconds: ftimes[k], positionMicrometres: keep.map { positions[$0] }, values: keep.map { row[$0] }))
            }
            let keep = (0..<w).filter { rho($0, Int(cy)) <= 1 }
            model.append(.init(timeSeconds: rest + pt, positionMicrometres: keep.map { positions[$0] },
                               values: keep.map { 0.95 - contrastAt(rho($0, Int(cy)), rest + pt) * 0.25 / 1.0526 }))
            var map = [Float](repeating: .nan, count: w * h)
            for y in 0..<h { for x in 0..<w where rho(x, y) <= 1 { map[y * w + x] = Float(0.95 - contrastAt(rho(x, y), rest + pt) * 0.25 / 1.0526) } }
            modelMaps.append(map)
        }
        let fitTimes = ftimes.filter { $0 >= rest && $0 <= rest + 3600 }
        let centreTrace = CentreTrace(timeSeconds: fitTimes,
                                      measured: fitTimes.map { contrastAt(0, $0) * 0.25 + 0.003 * noise() },
                                      model: fitTimes.map { contrastAt(0, $0) * 0.25 })
        var rows: [(scale: Double, gain: Double, rmse: Double)] = []
        for s in stride(from: 1.0, through: 6.0, by: 0.125) {
            for a in stride(from: 0.85, through: 1.25, by: 0.01) {
                let e = 0.004 + 0.02 * pow(log(s / 3.5), 2) + 0.3 * pow(a - 1.0526, 2) + 0.01 * (log(s / 3.5)) * (a - 1.0526)
                rows.append((s, a, e))
            }
        }
        var errorMap = ErrorMap(rows: rows)
        errorMap.optimum = (3.5, 1.0526, 0.004)
        return ReportInputs(
            datasetName: "synthetic-demo", echem: echem,
            intensityChange: TimeSeries(timeSeconds: ftimes, values: inten),
            sdcStd: TimeSeries(timeSeconds: ftimes, values: sdc),
            sdcDropTimeSeconds: rest + 2100,   // the synthetic front reaches the centre 35 min into the charge
            contrast: contrast,
            modelThetaMaps: ImageStack(width: w, height: h, pixelSizeMicrometres: px, timesSeconds: profileTimes.map { rest + $0 }, frames: modelMaps),
            measuredProfiles: ProfileSet(curves: measured), modelProfiles: ProfileSet(curves: model),
            centreTrace: centreTrace, measuredCentre: TimeSeries(timeSeconds: ftimes, values: centre),
            errorMap: errorMap, calibration: CalibrationResult(scale: 3.5, gain: 1.0526, rmse: 0.004, theta0: 0.95),
            parameters: .nmc87)
    }
}
