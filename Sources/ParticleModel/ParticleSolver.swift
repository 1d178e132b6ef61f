import Foundation

// Units: µm, s, V. θ is dimensionless. Fluxes of θ across the boundary are in µm/s (θ·µm per µm
// of boundary per s); their boundary integrals in µm²/s.

/// Errors of the particle model's solver.
public enum SolverError: Error, Sendable, Equatable, CustomStringConvertible {
    case linearAlgebra(String)
    /// θ was driven out of the range the material tables cover (with what to do about it).
    case outOfRange(String)
    /// The time step fell below its floor without converging.
    case stalled(String)
    /// The options or steps cannot be simulated as given.
    case invalidInput(String)

    public var description: String {
        switch self {
        case .linearAlgebra(let s): return "linear algebra: \(s)"
        case .outOfRange(let s), .stalled(let s), .invalidInput(let s): return s
        }
    }
}

/// What the particle surface is held to during a time step.
enum SurfaceCondition: Equatable {
    /// Uniform outward θ-flux q (µm/s) — the seed's constant-flux model (Eq. 15).
    case uniformFlux(Double)
    /// Butler–Volmer kinetics with the particle potential solved so that ∮ j ds equals this (µm²/s).
    case totalFlux(Double)
    /// Butler–Volmer kinetics at a held potential (V).
    case potential(Double)
}

/// P1 finite elements with lumped mass for ∂θ/∂t = ΔΦ(θ) on a triangle mesh, backward Euler in
/// time, Newton on θ (and the particle potential φ under Butler–Volmer kinetics), KLU for the
/// Jacobian. The Kirchhoff form makes the Jacobian M/Δt + K·diag(D_chem) with the constant P1
/// stiffness K; on a Delaunay mesh K is an M-matrix, so the scheme keeps a discrete maximum
/// principle — no overshoot or oscillation at steep fronts — and 1ᵀK = 0 makes the mass balance
/// exact after every Newton iteration.
final class ParticleSolver {
    let mesh: TriangleMesh
    let law: TransportLaw
    let n: Int                    // θ unknowns; index n is φ
    let lumpedMass: [Double]      // µm²
    let boundaryWeight: [Double]  // µm, per node (0 inside)
    let boundaryList: [Int]
    let area: Double
    let perimeter: Double
    // Pattern (compressed column, size n+1) and values of K aligned with it.
    let lu: SparseLU
    let stiffness: [Double]
    let diagonalSlot: [Int]
    let phiColumnSlot: [Int]      // slot of (i, n) for boundary node i, else -1
    let phiRowSlot: [Int]         // slot of (n, j) for boundary node j, else -1
    let cornerSlot: Int           // slot of (n, n)
    // Butler–Volmer constants
    let exchangeCurrentRef: Double    // A/cm²
    let alpha: Double
    let fOverRT: Double
    let fluxPerCurrentDensity: Double // (µm/s) per (A/cm²) = 1e4 / (F N_L)

    // State
    var theta: [Double]
    var potential: Double
    // Work arrays (preallocated)
    private var phi: [Double]
    private var dphi: [Double]
    private var residual: [Double]
    private var surfaceFlux: [Double]
    private var surfaceFluxDTheta: [Double]
    private var surfaceFluxDPotential: [Double]
    private(set) var newtonIterations = 0
    private(set) var factorisations = 0

    init(mesh: TriangleMesh, law: TransportLaw, parameters: ParameterSet, theta0: Double) throws {
        self.mesh = mesh
        self.law = law
        n = mesh.nodes.count
        var mass = [Double](repeating: 0, count: n)
        var entries: [[(Int, Double)]] = Array(repeating: [], count: n)  // column j: (row i, K_ij)
        for t in mesh.triangles {
            let v = [Int(t.x), Int(t.y), Int(t.z)]
            let p = v.map { mesh.nodes[$0] }
            let a2 = (p[1].x - p[0].x) * (p[2].y - p[0].y) - (p[2].x - p[0].x) * (p[1].y - p[0].y)
            let area = a2 / 2
            var b = [0.0, 0.0, 0.0], c = [0.0, 0.0, 0.0]
            for i in 0..<3 {
                let j = (i + 1) % 3, k = (i + 2) % 3
                b[i] = (p[j].y - p[k].y) / a2
                c[i] = (p[k].x - p[j].x) / a2
            }
            for i in 0..<3 {
                mass[v[i]] += area / 3
                for j in 0..<3 {
                    entries[v[j]].append((v[i], area * (b[i] * b[j] + c[i] * c[j])))
                }
            }
        }
        var weight = [Double](repeating: 0, count: n)
        let loop = mesh.boundaryNodes
        for k in loop.indices {
            let a = loop[k], b = loop[(k + 1) % loop.count]
            let l = hypot(mesh.nodes[b].x - mesh.nodes[a].x, mesh.nodes[b].y - mesh.nodes[a].y)
            weight[a] += l / 2
            weight[b] += l / 2
        }
        lumpedMass = mass
        boundaryWeight = weight
        boundaryList = loop
        area = mass.reduce(0, +)
        perimeter = weight.reduce(0, +)

        // Assemble the (n+1)×(n+1) pattern: K's pattern, plus φ's row and column on boundary nodes.
        var colStarts: [Int32] = [0]
        var rows: [Int32] = []
        var kvals: [Double] = []
        var diag = [Int](repeating: -1, count: n)
        var phiRow = [Int](repeating: -1, count: n)
        for j in 0..<n {
            var merged: [Int: Double] = [:]
            for (i, v) in entries[j] { merged[i, default: 0] += v }
            for i in merged.keys.sorted() {
                if i == j { diag[j] = rows.count }
                rows.append(Int32(i))
                kvals.append(merged[i]!)
            }
            if weight[j] > 0 {
                phiRow[j] = rows.count
                rows.append(Int32(n))
                kvals.append(0)
            }
            colStarts.append(Int32(rows.count))
        }
        var phiCol = [Int](repeating: -1, count: n)
        for i in 0..<n where weight[i] > 0 {
            phiCol[i] = rows.count
            rows.append(Int32(i))
            kvals.append(0)
        }
        cornerSlot = rows.count
        rows.append(Int32(n))
        kvals.append(0)
        colStarts.append(Int32(rows.count))
        stiffness = kvals
        diagonalSlot = diag
        phiRowSlot = phiRow
        phiColumnSlot = phiCol
        lu = try SparseLU(n: n + 1, columnStarts: colStarts, rowIndices: rows)

        exchangeCurrentRef = parameters.exchangeCurrentRefAmpsPerCm2
        alpha = parameters.transferCoefficient
        fOverRT = PhysicalConstants.faraday / (PhysicalConstants.gas * parameters.temperatureKelvin)
        fluxPerCurrentDensity = 1e4 / (PhysicalConstants.faraday * parameters.siteConcentrationMolPerCm3)

        theta = [Double](repeating: theta0, count: n)
        potential = law.ocv(theta0)
        phi = [Double](repeating: 0, count: n)
        dphi = [Double](repeating: 0, count: n)
        residual = [Double](repeating: 0, count: n + 1)
        surfaceFlux = [Double](repeating: 0, count: n)
        surfaceFluxDTheta = [Double](repeating: 0, count: n)
        surfaceFluxDPotential = [Double](repeating: 0, count: n)
    }

    /// Butler–Volmer outward θ-flux (µm/s) at a boundary node and its derivatives.
    @inline(__always)
    func butlerVolmer(theta t: Double, potential v: Double) -> (j: Double, dTheta: Double, dPotential: Double) {
        let tc = min(max(t, 1e-12), 1 - 1e-12)
        let root = (tc * (1 - tc)).squareRoot()
        let i0 = exchangeCurrentRef * 2 * root
        let di0 = exchangeCurrentRef * (1 - 2 * tc) / root
        let (u, du) = law.ocv.evaluate(tc)
        let eta = v - u
        let xa = min(max(alpha * fOverRT * eta, -60), 60)
        let xc = min(max(-(1 - alpha) * fOverRT * eta, -60), 60)
        let ea = exp(xa), ec = exp(xc)
        let bracket = ea - ec
        let dBracketDEta = alpha * fOverRT * ea + (1 - alpha) * fOverRT * ec
        let c = fluxPerCurrentDensity
        return (c * i0 * bracket, c * (di0 * bracket - i0 * dBracketDEta * du), c * i0 * dBracketDEta)
    }

    /// ∮ j ds (µm²/s) of the current state under `condition`.
    func totalFlux(_ condition: SurfaceCondition) -> Double {
        switch condition {
        case .uniformFlux(let q): return q * perimeter
        case .totalFlux, .potential:
            var s = 0.0
            for i in boundaryList { s += boundaryWeight[i] * butlerVolmer(theta: theta[i], potential: potential).j }
            return s
        }
    }

    /// Mass-weighted mean θ.
    var meanTheta: Double {
        var s = 0.0
        for i in 0..<n { s += lumpedMass[i] * theta[i] }
        return s / area
    }

    /// Boundary-averaged θ (weights: boundary lengths).
    var boundaryMeanTheta: Double {
        var s = 0.0
        for i in boundaryList { s += boundaryWeight[i] * theta[i] }
        return s / perimeter
    }

    /// One backward-Euler step of length dt from the current state. On failure the state is
    /// restored and false returned; the caller shortens dt.
    func step(dt: Double, condition: SurfaceCondition, guess: [Double]? = nil) throws -> Bool {
        let oldTheta = theta
        let oldPotential = potential
        if let guess {
            // Start Newton from the caller's predictor, kept inside the tables' range.
            for i in 0..<n { theta[i] = min(max(guess[i], law.thetaLow), law.thetaHigh - 1e-12) }
        }
        let usesKinetics: Bool
        switch condition {
        case .uniformFlux: usesKinetics = false
        case .totalFlux: usesKinetics = true
        case .potential(let v): usesKinetics = true; potential = v
        }
        var delta = [Double](repeating: 0, count: n + 1)
        var converged = false
        // Chord (simplified) Newton: the Jacobian is refactorised on the first iteration and again
        // only when convergence slows; the mass balance stays exact because 1ᵀK = 0 for any D.
        var refactor = true
        var previousMaxDelta = Double.infinity
        for _ in 0..<25 {
            newtonIterations += 1
            // Material functions and surface fluxes at the iterate.
            for i in 0..<n {
                let (p, d) = law.kirchhoff(theta[i])
                phi[i] = p
                dphi[i] = d
            }
            var fluxSum = 0.0
            var fluxSumDPotential = 0.0
            for i in boundaryList {
                if usesKinetics {
                    let (j, dt_, dp) = butlerVolmer(theta: theta[i], potential: potential)
                    surfaceFlux[i] = j
                    surfaceFluxDTheta[i] = dt_
                    surfaceFluxDPotential[i] = dp
                } else if case .uniformFlux(let q) = condition {
                    surfaceFlux[i] = q
                    surfaceFluxDTheta[i] = 0
                    surfaceFluxDPotential[i] = 0
                }
                fluxSum += boundaryWeight[i] * surfaceFlux[i]
                fluxSumDPotential += boundaryWeight[i] * surfaceFluxDPotential[i]
            }
            // Residual r = M(θ − θold)/dt + KΦ + L j ; last row: the surface condition.
            for i in 0..<n {
                residual[i] = lumpedMass[i] * (theta[i] - oldTheta[i]) / dt + boundaryWeight[i] * surfaceFlux[i]
            }
            let cs = lu.columnStarts, ri = lu.rowIndices
            for j in 0..<n {
                let pj = phi[j]
                for s in Int(cs[j])..<Int(cs[j + 1]) where Int(ri[s]) < n {
                    residual[Int(ri[s])] += stiffness[s] * pj
                }
            }
            switch condition {
            case .uniformFlux: residual[n] = 0
            case .totalFlux(let target): residual[n] = fluxSum - target
            case .potential: residual[n] = 0
            }
            // Jacobian values.
            if refactor {
            for j in 0..<n {
                for s in Int(cs[j])..<Int(cs[j + 1]) {
                    lu.values[s] = Int(ri[s]) < n ? stiffness[s] * dphi[j] : 0
                }
                lu.values[diagonalSlot[j]] += lumpedMass[j] / dt
            }
            for i in boundaryList {
                lu.values[diagonalSlot[i]] += boundaryWeight[i] * surfaceFluxDTheta[i]
                if case .totalFlux = condition {
                    lu.values[phiColumnSlot[i]] = boundaryWeight[i] * surfaceFluxDPotential[i]
                    lu.values[phiRowSlot[i]] = boundaryWeight[i] * surfaceFluxDTheta[i]
                } else if case .potential = condition {
                    lu.values[phiColumnSlot[i]] = 0
                    lu.values[phiRowSlot[i]] = 0
                } else {
                    lu.values[phiColumnSlot[i]] = 0
                    lu.values[phiRowSlot[i]] = 0
                }
            }
            if case .totalFlux = condition {
                lu.values[cornerSlot] = fluxSumDPotential
            } else {
                lu.values[cornerSlot] = 1
            }
            try lu.factor()
            factorisations += 1
            }
            for i in 0...n { delta[i] = -residual[i] }
            try lu.solve(&delta)
            // Damping: keep θ inside the tables' range (strictly), never step across a bound.
            var lambda = 1.0
            for i in 0..<n {
                let t = theta[i] + delta[i]
                if t > law.thetaHigh - 1e-12 { lambda = min(lambda, 0.9 * (law.thetaHigh - 1e-12 - theta[i]) / delta[i]) }
                if t < law.thetaLow { lambda = min(lambda, 0.9 * (law.thetaLow - theta[i]) / delta[i]) }
            }
            if usesKinetics, case .totalFlux = condition {
                // Newton on φ through the exponential can overshoot by volts; limit a step to 0.2 V.
                if abs(delta[n]) > 0.2 { lambda = min(lambda, 0.2 / abs(delta[n])) }
            }
            lambda = max(lambda, 0)
            var maxDelta = 0.0
            for i in 0..<n {
                theta[i] += lambda * delta[i]
                maxDelta = max(maxDelta, abs(lambda * delta[i]))
            }
            if case .totalFlux = condition { potential += lambda * delta[n] }
            // Quadratic convergence: an update below 1e-9 leaves an error far below 1e-12.
            if lambda == 1, maxDelta < 1e-9, (abs(delta[n]) < 1e-9 || !usesKinetics) {
                converged = true
                break
            }
            if lambda < 1e-6 { break }
            refactor = lambda < 1 || maxDelta > 0.2 * previousMaxDelta
            previousMaxDelta = maxDelta
        }
        if !converged {
            theta = oldTheta
            potential = oldPotential
        }
        return converged
    }
}
