import Foundation

/// One particle advanced in time step by step under a drive — the building block of the simulated
/// cell (firmware-sim), where the potentiostat, not a step list, decides what happens next.
/// Butler–Volmer kinetics by default (a potentiostat can hold a voltage); `flux` for the seed's model.
public final class ParticleCell {
    /// What the particle's surface is driven by over an interval.
    public enum Drive: Sendable, Equatable {
        /// Constant current as a C-rate (h⁻¹), positive on charge (delithiation).
        case current(cRate: Double)
        /// Particle potential held, V vs Li/Li⁺ (needs Butler–Volmer kinetics).
        case potential(volts: Double)
        /// No current.
        case openCircuit
    }

    public let parameters: ParameterSet
    public let mesh: TriangleMesh
    public let kinetics: SurfaceKinetics
    let solver: ParticleSolver
    let law: TransportLaw
    let oneCFlux: Double
    let ampsPerFlux: Double
    /// Simulated time since creation, s.
    public private(set) var timeSeconds: Double = 0
    private var lastDrive: Drive?
    private var lastDt = 0.01
    private var stepper: StepController

    /// - Parameters:
    ///   - theta0: initial uniform occupancy.
    ///   - options: scale, constant diffusivity, element size and time tolerance are used.
    public init(parameters: ParameterSet, shape: ParticleShape, theta0: Double,
                kinetics: SurfaceKinetics = .butlerVolmer, options: SimulationOptions = SimulationOptions()) throws {
        try parameters.validate()
        guard theta0 > parameters.ocvTheta[0], theta0 < 1 else {
            throw SolverError.invalidInput("θ0 = \(theta0): expected a value inside the V_oc table (\(parameters.ocvTheta[0])…1)")
        }
        self.parameters = parameters
        self.kinetics = kinetics
        mesh = try TriangleMesh(shape: shape, elementSize: options.elementSizeMicrometres ?? shape.longestExtentMicrometres / 30)
        law = TransportLaw(parameters: parameters, scale: options.scale,
                           constantDiffusivityCm2PerS: options.diffusivityConstantCm2PerS,
                           constantChemicalDiffusivityMicrometres2PerS: options.constantChemicalDiffusivityMicrometres2PerS)
        solver = try ParticleSolver(mesh: mesh, law: law, parameters: parameters, theta0: theta0)
        let ratio = parameters.practicalCapacityMilliampHoursPerGram / parameters.theoreticalCapacityMilliampHoursPerGram
        oneCFlux = ratio * solver.area / 3600
        ampsPerFlux = PhysicalConstants.faraday * parameters.siteConcentrationMolPerCm3 * 1e-8
            * parameters.thicknessMicrometres * 1e-4
        stepper = StepController(tolerance: options.timeTolerance)
    }

    private func condition(_ drive: Drive) throws -> SurfaceCondition {
        switch (drive, kinetics) {
        case (.current(let n), .flux): return .uniformFlux(n * oneCFlux / solver.perimeter)
        case (.current(let n), .butlerVolmer): return .totalFlux(n * oneCFlux)
        case (.openCircuit, .flux): return .uniformFlux(0)
        case (.openCircuit, .butlerVolmer): return .totalFlux(0)
        case (.potential(let v), .butlerVolmer): return .potential(v)
        case (.potential, .flux):
            throw SolverError.invalidInput("holding a potential needs Butler–Volmer kinetics")
        }
    }

    /// Advances by `seconds` under `drive` with adaptive backward-Euler steps.
    /// - Throws: `SolverError` when θ leaves the tables or the step cannot converge; the state is then
    ///   that of the last accepted step.
    public func advance(by seconds: Double, drive: Drive) throws {
        guard seconds > 0 else { return }
        let cond = try condition(drive)
        if let last = lastDrive, Self.isSmallChange(from: last, to: drive) {
            // A potentiostat nudging its set point (noise, compliance) is not a discontinuity:
            // keep the step size, or every sample would restart the step history at 10 ms.
            lastDrive = drive
        } else if drive != lastDrive {
            // A change of drive kind or a large jump is a discontinuity: restart the step-size history.
            lastDt = min(lastDt, 0.01)
            stepper.reset()
            lastDrive = drive
        }
        let end = timeSeconds + seconds
        var attempts = 0
        while timeSeconds < end - 1e-12 {
            var h = min(lastDt, end - timeSeconds, 60)
            if end - timeSeconds - h < 1e-9 { h = end - timeSeconds }
            let clipped = h == end - timeSeconds
            let (outcome, saved, _) = try stepper.attempt(solver, h: h, condition: cond)
            switch outcome {
            case .diverged:
                lastDt = h / 4
                attempts += 1
                if lastDt < 1e-7 || attempts > 200 {
                    throw SolverError.stalled("particle cell: no convergence at t = \(timeSeconds) s under \(drive) (θ range \(solver.theta.min()!)…\(solver.theta.max()!))")
                }
                continue
            case .rejected(let retry):
                lastDt = retry
                continue
            case .accepted(let next):
                // A step clipped to the interval end should not shrink the next one.
                lastDt = clipped ? max(next, lastDt) : next
            }
            stepper.commit(savedTheta: saved, h: h)
            timeSeconds += h
        }
        timeSeconds = end
    }

    static func isSmallChange(from a: Drive, to b: Drive) -> Bool {
        switch (a, b) {
        case (.current(let x), .current(let y)):
            return x == y || (x * y > 0 && abs(x - y) <= 0.02 * abs(x))
        case (.potential(let x), .potential(let y)):
            return abs(x - y) <= 2e-3
        case (.openCircuit, .openCircuit):
            return true
        default:
            return false
        }
    }

    /// Particle potential, V vs Li/Li⁺ (under `flux`: V_oc of the boundary-averaged θ).
    public var potentialVolts: Double {
        kinetics == .flux ? law.ocv(solver.boundaryMeanTheta) : solver.potential
    }

    /// Current of the last drive as a C-rate (positive on charge).
    public var currentCRate: Double {
        guard let d = lastDrive, let c = try? condition(d) else { return 0 }
        return solver.totalFlux(c) / oneCFlux
    }

    /// Current of the last drive in amperes for the particle (a prism of `thickness_um`), positive on charge.
    public var currentAmps: Double {
        guard let d = lastDrive, let c = try? condition(d) else { return 0 }
        return solver.totalFlux(c) * ampsPerFlux
    }

    /// 1C current of this particle, A.
    public var oneCAmps: Double { oneCFlux * ampsPerFlux }

    /// Mass-weighted mean occupancy.
    public var meanTheta: Double { solver.meanTheta }

    /// Nodal occupancies (mesh order).
    public var theta: [Double] { solver.theta }

    /// Open-circuit voltage of a uniform particle at θ (for cell-level bookkeeping).
    public func openCircuitVolts(theta: Double) -> Double { law.ocv(theta) }

    /// Precomputes where each point of a grid lies in the mesh, for fast repeated sampling of θ.
    /// Points outside the particle sample as NaN.
    public func sampler(points: [Point2]) -> ThetaSampler {
        ThetaSampler(mesh: mesh, points: points)
    }

    /// Samples θ at the sampler's points into `output` (no allocation).
    public func sample(_ sampler: ThetaSampler, into output: inout [Float]) {
        let th = solver.theta
        for k in 0..<sampler.count {
            let t = sampler.triangle[k]
            if t < 0 { output[k] = .nan; continue }
            let tri = mesh.triangles[Int(t)]
            let w = sampler.weights[k]
            output[k] = Float(w.x * th[Int(tri.x)] + w.y * th[Int(tri.y)] + w.z * th[Int(tri.z)])
        }
    }
}

/// Mesh locations of a fixed set of points (e.g. camera pixels in the sample plane).
public struct ThetaSampler: Sendable {
    public let count: Int
    let triangle: [Int32]          // −1 outside the particle
    let weights: [SIMD3<Double>]

    init(mesh: TriangleMesh, points: [Point2]) {
        count = points.count
        var tri = [Int32](repeating: -1, count: points.count)
        var w = [SIMD3<Double>](repeating: .zero, count: points.count)
        // Bin triangles on a coarse grid so each point tests only nearby triangles.
        let xs = mesh.nodes.map(\.x), ys = mesh.nodes.map(\.y)
        let x0 = xs.min()!, x1 = xs.max()!, y0 = ys.min()!, y1 = ys.max()!
        let cells = max(1, Int(Double(mesh.triangles.count).squareRoot()))
        let cw = (x1 - x0) / Double(cells) + 1e-12, ch = (y1 - y0) / Double(cells) + 1e-12
        var bins = [[Int]](repeating: [], count: cells * cells)
        for (k, t) in mesh.triangles.enumerated() {
            let p = [mesh.nodes[Int(t.x)], mesh.nodes[Int(t.y)], mesh.nodes[Int(t.z)]]
            let i0 = max(0, Int((p.map(\.x).min()! - x0) / cw)), i1 = min(cells - 1, Int((p.map(\.x).max()! - x0) / cw))
            let j0 = max(0, Int((p.map(\.y).min()! - y0) / ch)), j1 = min(cells - 1, Int((p.map(\.y).max()! - y0) / ch))
            for j in j0...j1 { for i in i0...i1 { bins[j * cells + i].append(k) } }
        }
        for (n, q) in points.enumerated() {
            guard q.x >= x0, q.x <= x1, q.y >= y0, q.y <= y1 else { continue }
            let i = min(cells - 1, Int((q.x - x0) / cw)), j = min(cells - 1, Int((q.y - y0) / ch))
            for k in bins[j * cells + i] {
                let t = mesh.triangles[k]
                let a = mesh.nodes[Int(t.x)], b = mesh.nodes[Int(t.y)], c = mesh.nodes[Int(t.z)]
                let d = (b.y - c.y) * (a.x - c.x) + (c.x - b.x) * (a.y - c.y)
                let w1 = ((b.y - c.y) * (q.x - c.x) + (c.x - b.x) * (q.y - c.y)) / d
                let w2 = ((c.y - a.y) * (q.x - c.x) + (a.x - c.x) * (q.y - c.y)) / d
                let w3 = 1 - w1 - w2
                if w1 >= -1e-12, w2 >= -1e-12, w3 >= -1e-12 {
                    tri[n] = Int32(k)
                    w[n] = SIMD3(w1, w2, w3)
                    break
                }
            }
        }
        triangle = tri
        weights = w
    }
}
