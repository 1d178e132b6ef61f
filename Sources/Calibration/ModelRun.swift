import Foundation
import ParticleModel

// Units: times s from the first protocol step, lengths µm (the mask outline's frame: origin at the
// centroid, y up), C-rates h⁻¹ positive on charge.

/// A piece of the measured drive: the particle's C-rate held constant over [start, end).
public struct DriveSegment: Sendable, Equatable {
    public var startSeconds: Double
    public var endSeconds: Double
    public var drive: ParticleCell.Drive
}

/// Turns the measured current into a piecewise-constant drive for the imaged particle. Every particle
/// of the electrode sees the electrode's C-rate, n(t) = I(t) / (m·Q_prac) (seed Eq. 15's n). Each
/// sample's current holds until the next sample; consecutive samples of one step are merged while they
/// stay within `tolerance` of the running mean (measurement noise), because every change of drive
/// restarts the solver's step-size history. Rest steps, and spans with |n| below `restCRate`, are
/// open circuit.
public func driveSegments(echem: [EchemSample], oneCAmps: Double, toleranceFraction: Double = 0.01,
                          toleranceCRate: Double = 0.002, restCRate: Double = 2e-4) -> [DriveSegment] {
    var segments: [DriveSegment] = []
    var start = 0.0, sum = 0.0, weight = 0.0, step = Int.min, kindIsRest = false
    func close(at end: Double) {
        guard end > start else { return }
        let mean = weight > 0 ? sum / weight : 0
        let drive: ParticleCell.Drive = (kindIsRest || abs(mean) < restCRate) ? .openCircuit : .current(cRate: mean)
        if let last = segments.last, last.drive == drive, last.endSeconds == start {
            segments[segments.count - 1].endSeconds = end
        } else {
            segments.append(DriveSegment(startSeconds: start, endSeconds: end, drive: drive))
        }
    }
    // Before the first sample: open circuit (the dataset's time starts at the first step).
    if let first = echem.first, first.timeSeconds > 0 {
        segments.append(DriveSegment(startSeconds: 0, endSeconds: first.timeSeconds, drive: .openCircuit))
    }
    for k in 0..<(echem.count - 1) {
        let s = echem[k]
        let dt = echem[k + 1].timeSeconds - s.timeSeconds
        guard dt > 0 else { continue }
        let n = s.currentAmps / oneCAmps
        let mean = weight > 0 ? sum / weight : n
        let isRest = s.stepKind.lowercased().contains("rest")
        if weight == 0 {
            start = s.timeSeconds; step = s.step; kindIsRest = isRest
        } else if s.step != step || isRest != kindIsRest || abs(n - mean) > max(toleranceFraction * abs(mean), toleranceCRate) {
            close(at: s.timeSeconds)
            start = s.timeSeconds; step = s.step; kindIsRest = isRest; sum = 0; weight = 0
        }
        sum += n * dt; weight += dt
    }
    if weight > 0, let last = echem.last { close(at: last.timeSeconds) }
    return segments
}

/// What one model run must produce.
struct ModelRequest: Sendable {
    var shape: ParticleShape
    var parameters: ParameterSet
    var scale: Double
    var theta0: Double
    var elementSizeMicrometres: Double?
    var timeTolerance: Double
    var segments: [DriveSegment]
    /// Times of the centre samples, s (ascending).
    var centreTimes: [Double]
    /// Times of the line profiles, s (ascending), and positions along y = 0, µm.
    var profileTimes: [Double]
    var profilePositions: [Double]
    /// Interval of the trace rows (0: none), s.
    var traceIntervalSeconds: Double = 0
    /// How the image and the analysis average θ at the centre and along the profile.
    var centreStencil: Stencil
    var profileStencil: Stencil
}

/// What one model run produced.
struct ModelSamples: Sendable {
    var centreTheta: [Double]
    /// profileTheta[time][position]; NaN outside the particle.
    var profileTheta: [[Double]]
    /// Rows of the model trace: time (s), θ at the centroid, mean, min and max θ, voltage (V), current (A).
    var trace: [[Double]]
    var thetaRange: (min: Double, max: Double)
}

/// Runs the particle model under the measured drive (Butler–Volmer kinetics, as the rig's particle
/// sees a potentiostat) and samples θ at the centroid and along the profile line.
func runModel(_ r: ModelRequest) throws -> ModelSamples {
    var options = SimulationOptions()
    options.scale = r.scale
    options.kinetics = .butlerVolmer
    options.elementSizeMicrometres = r.elementSizeMicrometres
    options.timeTolerance = r.timeTolerance
    var parameters = r.parameters
    parameters.scale = r.scale
    let cell: ParticleCell
    do {
        cell = try ParticleCell(parameters: parameters, shape: r.shape, theta0: r.theta0, kinetics: .butlerVolmer, options: options)
    } catch {
        throw CalibrationError.modelFailed(settings: String(format: "S = %.4g", r.scale), reason: "\(error)")
    }
    let points = [Point2(0, 0)] + r.centreStencil.points + r.profileStencil.points
    let profileOffset = 1 + r.centreStencil.points.count
    let sampler = cell.sampler(points: points)
    var buffer = [Float](repeating: 0, count: points.count)

    // All times at which something happens, each tagged with what to do.
    enum Event { case segment, centre(Int), profile(Int), trace }
    var events: [(Double, Event)] = []
    for (k, s) in r.segments.enumerated() where k > 0 { events.append((s.startSeconds, .segment)) }
    for (k, t) in r.centreTimes.enumerated() { events.append((t, .centre(k))) }
    for (k, t) in r.profileTimes.enumerated() { events.append((t, .profile(k))) }
    let end = max(r.centreTimes.last ?? 0, r.profileTimes.last ?? 0)
    if r.traceIntervalSeconds > 0 {
        for t in stride(from: 0.0, through: end, by: r.traceIntervalSeconds) { events.append((t, .trace)) }
    }
    events.sort { $0.0 < $1.0 }

    var centre = [Double](repeating: .nan, count: r.centreTimes.count)
    var profiles = [[Double]](repeating: [], count: r.profileTimes.count)
    var trace: [[Double]] = []
    var lo = r.theta0, hi = r.theta0
    var segment = 0
    var time = 0.0
    for (t, event) in events {
        while time < t - 1e-9 {
            while segment + 1 < r.segments.count && r.segments[segment].endSeconds <= time + 1e-9 { segment += 1 }
            let drive = r.segments.isEmpty ? .openCircuit : (time < r.segments[segment].endSeconds ? r.segments[segment].drive : .openCircuit)
            let stop = segment < r.segments.count && r.segments[segment].endSeconds > time ? min(t, r.segments[segment].endSeconds) : t
            do { try cell.advance(by: stop - time, drive: drive) } catch {
                throw CalibrationError.modelFailed(settings: String(format: "S = %.4g", r.scale),
                                                   reason: String(format: "at t = %.0f s: %@", time, "\(error)"))
            }
            time = stop
        }
        switch event {
        case .segment: break
        case .centre(let k):
            cell.sample(sampler, into: &buffer)
            centre[k] = r.centreStencil.apply(buffer, offset: 1)[0]
        case .profile(let k):
            cell.sample(sampler, into: &buffer)
            profiles[k] = r.profileStencil.apply(buffer, offset: profileOffset)
        case .trace:
            cell.sample(sampler, into: &buffer)
            let th = cell.theta
            trace.append([t, Double(buffer[0]), cell.meanTheta, th.min() ?? .nan, th.max() ?? .nan,
                          cell.potentialVolts, cell.currentAmps])
        }
        for v in cell.theta { lo = min(lo, v); hi = max(hi, v) }
    }
    return ModelSamples(centreTheta: centre, profileTheta: profiles, trace: trace, thetaRange: (lo, hi))
}

/// Runs requests on all cores (DispatchQueue.concurrentPerform); each result is the samples or the error.
func runModels(_ requests: [ModelRequest]) -> [Result<ModelSamples, Error>] {
    final class Box: @unchecked Sendable {
        var results: [Result<ModelSamples, Error>?]
        let lock = NSLock()
        init(_ n: Int) { results = Array(repeating: nil, count: n) }
    }
    let box = Box(requests.count)
    DispatchQueue.concurrentPerform(iterations: requests.count) { k in
        let r: Result<ModelSamples, Error>
        do { r = .success(try runModel(requests[k])) } catch { r = .failure(error) }
        box.lock.lock(); box.results[k] = r; box.lock.unlock()
    }
    return box.results.map { $0! }
}

/// Weighted sample points that turn the model's θ field into what the analysis measures: the image is
/// the field blurred by the microscope's PSF (a Gaussian of the seed's 265 nm FWHM), and the analysis
/// then averages it over a small disk (contrast_centre) or across a 3-pixel-wide line (profiles.csv).
/// Without this the centre of a particle with slow diffusion looks later in the model than in the
/// image, because the blur mixes in the already-delithiated surroundings.
struct Stencil: Sendable {
    var points: [Point2] = []
    var weights: [Double] = []
    /// Point ranges of each sample (one for the centre, one per profile position).
    var groups: [Range<Int>] = []

    /// Adds one sample: the PSF-blurred field averaged over `targets` (pixel centres).
    mutating func add(targets: [Point2], sigma: Double) {
        let start = points.count
        guard sigma > 0 else {
            for q in targets { points.append(q); weights.append(1) }
            groups.append(start..<points.count)
            return
        }
        let h = sigma / 2, reach = 3 * sigma
        let xs = targets.map(\.x), ys = targets.map(\.y)
        let x0 = xs.min()! - reach, x1 = xs.max()! + reach, y0 = ys.min()! - reach, y1 = ys.max()! + reach
        let nx = Int(((x1 - x0) / h).rounded(.up)), ny = Int(((y1 - y0) / h).rounded(.up))
        for j in 0...ny {
            for i in 0...nx {
                let p = Point2(x0 + Double(i) * h, y0 + Double(j) * h)
                var w = 0.0
                for q in targets {
                    let d2 = (p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y)
                    if d2 < reach * reach { w += exp(-d2 / (2 * sigma * sigma)) }
                }
                if w > 1e-6 { points.append(p); weights.append(w) }
            }
        }
        groups.append(start..<points.count)
    }

    /// The weighted mean of `values` (sampled at `points`) for each group, over points inside the particle.
    func apply(_ values: [Float], offset: Int) -> [Double] {
        groups.map { g in
            var s = 0.0, w = 0.0
            for k in g {
                let v = values[offset + k]
                if v.isFinite { s += weights[k] * Double(v); w += weights[k] }
            }
            return w > 0 ? s / w : .nan
        }
    }

    /// The analysis' centre disk (pixel centres within `radiusPixels` of the centroid).
    static func centre(pixelSizeMicrometres p: Double, radiusPixels: Double, sigma: Double) -> Stencil {
        var targets: [Point2] = []
        let r = Int(radiusPixels.rounded(.up))
        for j in -r...r { for i in -r...r where Double(i * i + j * j) <= radiusPixels * radiusPixels {
            targets.append(Point2(Double(i) * p, Double(j) * p))
        } }
        var s = Stencil()
        s.add(targets: targets, sigma: sigma)
        return s
    }

    /// The analysis' line profile: at each position the mean across `widthPixels` pixels perpendicular to the line.
    static func profile(positions: [Double], pixelSizeMicrometres p: Double, widthPixels: Int, sigma: Double) -> Stencil {
        var s = Stencil()
        let half = Double(max(1, widthPixels) - 1) / 2
        for x in positions {
            let targets = stride(from: -half, through: half, by: 1).map { Point2(x, $0 * p) }
            s.add(targets: targets, sigma: sigma)
        }
        return s
    }
}
