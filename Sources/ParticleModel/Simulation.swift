import Foundation
import Electrochemistry

/// The boundary condition of a simulation (docs/interfaces.md `--kinetics`).
public enum SurfaceKinetics: String, Sendable, CaseIterable {
    /// The seed's uniform constant flux from the C-rate (Eq. 15).
    case flux
    /// Butler–Volmer kinetics with the particle potential solved (CC), held (CV) or floating (rest).
    case butlerVolmer = "butler-volmer"
}

/// Options of a particle simulation.
public struct SimulationOptions: Sendable {
    /// Boundary condition; nil chooses `flux` unless a step holds a voltage.
    public var kinetics: SurfaceKinetics?
    /// S in D_eff = D_Li/S; nil keeps the parameter set's.
    public var scale: Double?
    /// Constant D0 (cm²/s) replacing D_Li/S.
    public var diffusivityConstantCm2PerS: Double?
    /// Initial occupancy; nil: θ0 for delithiation, or for lithiation when the first moving step is a discharge.
    public var theta0: Double?
    /// Target element size, µm; nil: the particle's longest extent / 30.
    public var elementSizeMicrometres: Double?
    /// Interval of trace rows, s.
    public var outputIntervalSeconds: Double = 10
    /// Times (s from the start) of line profiles.
    public var profileTimesSeconds: [Double] = []
    /// Local error tolerance of adaptive time stepping, in θ.
    public var timeTolerance: Double = 1e-4
    /// Largest time step, s.
    public var maxStepSeconds: Double = 60
    /// Verification only: a constant chemical diffusivity D_chem (µm²/s) with no thermodynamic
    /// factor, so runs can be checked against analytic solutions of the linear diffusion equation.
    public var constantChemicalDiffusivityMicrometres2PerS: Double?

    public init() {}
}

/// One row of `trace.csv`.
public struct TraceRow: Sendable {
    public var timeSeconds: Double
    public var thetaCentre: Double
    public var thetaMean: Double
    public var thetaMin: Double
    public var thetaMax: Double
    public var voltageVolts: Double
    public var currentAmps: Double
    /// Index of the protocol step.
    public var step: Int
}

/// A line profile through the centroid at one time.
public struct ThetaProfile: Sendable {
    public var timeSeconds: Double
    /// Positions along the horizontal line through the centroid, from the centroid, µm.
    public var positionsMicrometres: [Double]
    public var theta: [Double]
}

/// How a step ended.
public struct StepOutcome: Sendable {
    public var step: Int
    public var text: String
    public var startSeconds: Double
    public var endSeconds: Double
    /// e.g. `duration`, `voltage 4.3 V`, `current`, `slope`.
    public var reason: String
    public var thetaMeanAtEnd: Double
}

/// Everything a run produced, with its own checks.
public struct SimulationResult: Sendable {
    public var trace: [TraceRow]
    public var profiles: [ThetaProfile]
    public var steps: [StepOutcome]
    public var kinetics: SurfaceKinetics
    public var theta0: Double
    public var nodes: Int
    public var triangles: Int
    public var boundaryNodes: Int
    public var elementSizeMicrometres: Double
    public var meshAreaMicrometres2: Double
    public var meshPerimeterMicrometres: Double
    public var minRadiusRatio: Double
    public var minAngleDegrees: Double
    public var timeSteps: Int
    public var rejectedSteps: Int
    public var newtonIterations: Int
    /// Jacobian factorisations (the solver reuses one across iterations and equal-length steps).
    public var factorisations: Int = 0
    public var wallSeconds: Double
    /// Worst |mean θ − (θ0 − ∫ flux)| / (θ0 − ∫ flux) over accepted steps.
    public var massBalanceWorstRelativeError: Double
    /// Worst max/min ratio of the boundary flux during Butler–Volmer constant-current steps.
    public var boundaryFluxMaxMinRatio: Double?
    /// Mesh and final θ field (for maps).
    public var mesh: TriangleMesh
    public var finalTheta: [Double]
}

/// Runs protocol steps on one particle.
public final class ParticleSimulation {
    public let parameters: ParameterSet
    public let shape: ParticleShape
    public let options: SimulationOptions
    public let mesh: TriangleMesh
    public let law: TransportLaw

    /// Most mesh nodes a simulation may use.
    public static let maximumNodes = 200_000
    /// Most trace rows a run may produce (planned duration / output interval).
    public static let maximumTraceRows = 5_000_000

    /// Meshes the particle and prepares the material tables.
    public init(parameters: ParameterSet, shape: ParticleShape, options: SimulationOptions = SimulationOptions()) throws {
        try parameters.validate()
        if let s = options.scale, !(s.isFinite && s > 0) {
            throw SolverError.invalidInput("--scale \(s): expected a positive number")
        }
        if let d = options.diffusivityConstantCm2PerS, !(d.isFinite && d > 0) {
            throw SolverError.invalidInput("--diffusivity-constant \(d): expected a positive diffusivity in cm²/s")
        }
        if let t = options.theta0, !(t > parameters.ocvTheta[0] && t < 1) {
            throw SolverError.invalidInput("θ0 = \(t): expected a value inside the V_oc table (\(parameters.ocvTheta[0])…1)")
        }
        if !(options.outputIntervalSeconds >= 0.001 && options.outputIntervalSeconds <= 86400) {
            throw SolverError.invalidInput("output interval \(options.outputIntervalSeconds) s: expected an interval from 0.001 s to 1 day")
        }
        if options.profileTimesSeconds.count > 10_000 || options.profileTimesSeconds.contains(where: { !$0.isFinite }) {
            throw SolverError.invalidInput("\(options.profileTimesSeconds.count) profile times: expected at most 10000 finite times")
        }
        let extent = shape.longestExtentMicrometres
        let h = options.elementSizeMicrometres ?? extent / 30
        if !(h.isFinite && h > 0) || !(extent.isFinite && extent > 0) {
            throw SolverError.invalidInput("element size \(h) µm: expected a positive length")
        }
        // Bound the mesh before building it: a triangle mesh of size h has about 2.3·A/h² nodes.
        let estimatedNodes = 2.31 * shape.areaMicrometres2 / (h * h)
        if !(estimatedNodes <= Double(Self.maximumNodes)) {
            throw SolverError.invalidInput("element size \(h) µm on a \(String(format: "%.3g", shape.areaMicrometres2)) µm² particle gives about \(String(format: "%.3g", estimatedNodes)) nodes; expected at most \(Self.maximumNodes) (use a larger element size)")
        }
        self.parameters = parameters
        self.shape = shape
        self.options = options
        mesh = try TriangleMesh(shape: shape, elementSize: h)
        law = TransportLaw(parameters: parameters, scale: options.scale,
                           constantDiffusivityCm2PerS: options.diffusivityConstantCm2PerS,
                           constantChemicalDiffusivityMicrometres2PerS: options.constantChemicalDiffusivityMicrometres2PerS)
    }

    /// Runs `steps` in order on a cell (its active mass turns absolute currents into C-rates, as on a
    /// rig; without one, an absolute current is an error naming the step).
    /// - Parameter progress: called with the fraction done (by planned duration, when known) and a short status.
    public func run(steps: [Step], cell: CellSettings? = nil, progress: ((Double, String) -> Void)? = nil) throws -> SimulationResult {
        guard !steps.isEmpty else { throw SolverError.invalidInput("no steps to simulate") }
        var c = cell ?? CellSettings()
        if cell == nil { c.practicalCapacityMilliampHoursPerGram = parameters.practicalCapacityMilliampHoursPerGram }
        return try run(program: StepProgram.compile(steps: steps, cell: c, resolution: .cRate), progress: progress)
    }

    /// Runs a compiled step program (currents as C-rates of the material; see `StepProgram`). End
    /// conditions are the program's own: voltage, current and capacity ends are landed on by secant
    /// on the step length; slope ends are evaluated on the cell's sampling grid
    /// (`sample_interval_s`), exactly as the rig's sequencer evaluates them on its samples.
    public func run(program: StepProgram, progress: ((Double, String) -> Void)? = nil) throws -> SimulationResult {
        let wallStart = Date()
        let steps = program.steps.map(\.step)
        guard !steps.isEmpty else { throw SolverError.invalidInput("no steps to simulate") }
        guard program.resolution == .cRate else {
            throw SolverError.invalidInput("the step program was compiled for amperes; the model needs C-rates")
        }
        let needsPotential = steps.contains { if case .hold = $0.kind { return true } else { return false } }
        let kinetics = options.kinetics ?? (needsPotential ? .butlerVolmer : .flux)
        if kinetics == .flux, let hold = steps.first(where: { if case .hold = $0.kind { return true } else { return false } }) {
            throw SolverError.invalidInput("\(hold.location): \"\(hold.text)\": a Hold step needs --kinetics butler-volmer (the constant-flux model has no potential to hold)")
        }
        let firstMoving = steps.first { if case .rest = $0.kind { return false } else { return true } }
        var theta0 = parameters.theta0Delithiation
        if case .discharge? = firstMoving?.kind { theta0 = parameters.theta0Lithiation }
        if let t = options.theta0 { theta0 = t }
        let sampleInterval = program.cell.sampleIntervalSeconds
        if let longest = program.maximumSeconds, longest / options.outputIntervalSeconds > Double(Self.maximumTraceRows) {
            throw SolverError.invalidInput("\(Int(longest)) s of steps at one trace row every \(options.outputIntervalSeconds) s would write more than \(Self.maximumTraceRows) rows; use a longer output interval")
        }
        // mAh/g per θ-flux-second: ∮j ds·dt / (1C flux) is C·s of charge; × Q_prac/3600 gives mAh/g.
        let capacityPerCSecond = program.cell.practicalCapacityMilliampHoursPerGram / 3600

        let solver = try ParticleSolver(mesh: mesh, law: law, parameters: parameters, theta0: theta0)
        let area = solver.area
        let ratio = parameters.practicalCapacityMilliampHoursPerGram / parameters.theoreticalCapacityMilliampHoursPerGram
        // Total θ-flux ∮j ds (µm²/s) of a 1C charge: dθ̄/dt = −(Q_prac/Q_theo)/3600 (seed Eq. 15).
        let oneCFlux = ratio * area / 3600
        // Current (A) per unit of ∮j ds (µm²/s): I = F·N_L·∮j ds·thickness.
        let ampsPerFlux = PhysicalConstants.faraday * parameters.siteConcentrationMolPerCm3 * 1e-8
            * parameters.thicknessMicrometres * 1e-4

        // Sampling geometry: centroid and the horizontal line through it.
        let centroid = Self.centroid(mesh)
        let centreLocation = mesh.locate(centroid)
        let line = Self.profileLine(mesh: mesh, centroid: centroid)
        func interpolate(_ loc: (triangle: Int, weights: SIMD3<Double>)) -> Double {
            let t = mesh.triangles[loc.triangle]
            return loc.weights.x * solver.theta[Int(t.x)] + loc.weights.y * solver.theta[Int(t.y)]
                + loc.weights.z * solver.theta[Int(t.z)]
        }

        var trace: [TraceRow] = []
        var profiles: [ThetaProfile] = []
        var outcomes: [StepOutcome] = []
        var time = 0.0
        var integratedFlux = 0.0        // ∫∮j ds dt, θ·µm²
        var worstBalance = 0.0
        var worstFluxRatio: Double? = nil
        var timeSteps = 0, rejected = 0
        var pendingProfiles = options.profileTimesSeconds.filter { $0 >= 0 }.sorted()
        var nextOutput = 0.0
        let plannedTotal = steps.compactMap(\.durationSeconds).reduce(0, +)
        var skipToIndex = 0

        func voltage(_ condition: SurfaceCondition) -> Double {
            switch condition {
            case .uniformFlux: return law.ocv(solver.boundaryMeanTheta)
            default: return solver.potential
            }
        }
        func record(step: Int, condition: SurfaceCondition) {
            var lo = 1.0, hi = 0.0
            for t in solver.theta { lo = min(lo, t); hi = max(hi, t) }
            trace.append(TraceRow(timeSeconds: time, thetaCentre: interpolate(centreLocation),
                                  thetaMean: solver.meanTheta, thetaMin: lo, thetaMax: hi,
                                  voltageVolts: voltage(condition),
                                  currentAmps: solver.totalFlux(condition) * ampsPerFlux, step: step))
        }
        func recordProfile() {
            profiles.append(ThetaProfile(timeSeconds: time, positionsMicrometres: line.map(\.0),
                                         theta: line.map { interpolate($0.1) }))
        }

        for compiled in program.steps {
            let index = compiled.index
            let step = compiled.step
            if index < skipToIndex { continue }
            let stepStart = time
            // The step's surface condition and signed C-rate.
            var cRate = 0.0
            var condition: SurfaceCondition
            switch compiled.setpoint {
            case .current(let c, let sign):
                guard let n = c.cRate else {
                    throw SolverError.invalidInput("\(step.location): \"\(step.text)\": cannot convert \(c) to a C-rate")
                }
                cRate = sign * n
                condition = kinetics == .flux ? .uniformFlux(cRate * oneCFlux / solver.perimeter)
                                              : .totalFlux(cRate * oneCFlux)
            case .voltage(let v):
                condition = .potential(v)
            case .openCircuit:
                condition = kinetics == .flux ? .uniformFlux(0) : .totalFlux(0)
            }
            if index == 0 || trace.isEmpty {
                if case .potential = condition {} else if kinetics == .butlerVolmer {
                    // Start from equilibrium: φ = V_oc(θ0), zero current.
                    solver.potential = law.ocv(theta0)
                }
                record(step: index, condition: condition)
                nextOutput = options.outputIntervalSeconds
                while let p = pendingProfiles.first, p <= 0 { pendingProfiles.removeFirst(); recordProfile() }
            }
            let endTime = compiled.maximumSeconds.map { stepStart + $0 }
            let boundIsImplicit = !compiled.ends.contains { if case .duration = $0 { return true }; return false }
            var dt = 0.01
            var stepper = StepController(tolerance: options.timeTolerance)
            var reason = "duration"
            var stepDone = false
            var endedByRepeat = false
            var stepCapacity = 0.0     // mAh/g passed in this step
            // Instantaneous ends (voltage, current, capacity) of the step and of its repeat.
            let landing: [(CompiledEnd, Bool)] = compiled.ends.filter { $0.measure(StepState(secondsInStep: 0, voltageVolts: 0, cRate: 0, stepCapacityMilliampHoursPerGram: 0)) != nil }.map { ($0, false) }
                + (compiled.repeatUntil.map { $0.measure(StepState(secondsInStep: 0, voltageVolts: 0, cRate: 0, stepCapacityMilliampHoursPerGram: 0)) != nil ? [($0, true)] : [] } ?? [])
            // Slope ends, on the sampling grid, through the same tracker the rig uses.
            var slopeStep = compiled
            slopeStep.ends = compiled.ends.filter { if case .slopeAtMost = $0 { return true }; return false }
            if case .slopeAtMost? = compiled.repeatUntil {} else { slopeStep.repeatUntil = nil }
            var slopeTracker = EndTracker(step: slopeStep)
            let watchSlope = slopeTracker.needsHistory
            var nextGrid = 0.0           // next sample time, s in step
            var lastVoltage = voltage(condition)
            func state(extraCapacity: Double = 0) -> StepState {
                StepState(secondsInStep: time - stepStart, voltageVolts: voltage(condition),
                          cRate: abs(solver.totalFlux(condition)) / oneCFlux,
                          stepCapacityMilliampHoursPerGram: stepCapacity + extraCapacity)
            }
            if watchSlope {
                _ = slopeTracker.observe(StepState(secondsInStep: 0, voltageVolts: lastVoltage))
                nextGrid = sampleInterval
            }
            // A voltage end already met when the step starts ends it at once (reported as such).
            for (e, fromRepeat) in landing {
                switch e {
                case .voltageAtLeast, .voltageAtMost:
                    if e.isMet(state()) { reason = "already met at the step's start: \(e)"; stepDone = true; endedByRepeat = fromRepeat }
                default: break
                }
                if stepDone { break }
            }
            while !stepDone {
                // Clip the step to the next output, profile and end times.
                var h = min(dt, options.maxStepSeconds)
                var clippedTo: Double? = nil
                for t in [nextOutput, pendingProfiles.first, endTime].compactMap({ $0 }) where t > time && time + h >= t - 1e-9 {
                    h = t - time
                    clippedTo = t
                }
                let (outcome, savedTheta, savedPotential) = try stepper.attempt(solver, h: h, condition: condition)
                switch outcome {
                case .diverged:
                    rejected += 1
                    dt = h / 4
                    if dt < 1e-7 {
                        // Under constant flux a full rim cannot take more lithium (seed: the rim saturates
                        // before the mean reaches full): end the step there, keeping what was computed.
                        if kinetics == .flux, cRate < 0, (solver.theta.max() ?? 0) > 1 - 1e-3 {
                            reason = "rim saturated (θ → 1)"
                            record(step: index, condition: condition)
                            stepDone = true
                            continue
                        }
                        throw Self.stallError(solver: solver, law: law, parameters: parameters, step: step, time: time)
                    }
                    continue
                case .rejected(let retry):
                    rejected += 1
                    dt = retry
                    continue
                case .accepted(let next):
                    // A step clipped to an output or end time should not shrink the next one.
                    // (Issue 17: this keeps the last step *taken*, which locks the default C/3 run into
                    // an 8.04 s + 1.96 s cycle per 10 s output, 744 steps. Keeping the step wanted
                    // before the clip takes 402, but raises the centre error against a converged
                    // reference from 4.6e-4 to 6.5e-4 (573 nodes) and 1.6e-4 to 4.0e-4 (2,244
                    // nodes): not equal accuracy, so the cycle stays and the solver keeps a factor
                    // for each of its two step lengths instead.)
                    dt = clippedTo != nil ? max(next, stepper.lastStep ?? next) : next
                }
                // The state after a trial of length `x` from the saved state (time not yet advanced).
                func trialState(_ x: Double) -> StepState {
                    let flux = abs(solver.totalFlux(condition))
                    return StepState(secondsInStep: time + x - stepStart, voltageVolts: voltage(condition),
                                     cRate: flux / oneCFlux,
                                     stepCapacityMilliampHoursPerGram: stepCapacity + x * flux / oneCFlux * capacityPerCSecond)
                }
                // End conditions: locate a crossing by secant on the step length.
                var crossing: (CompiledEnd, Bool)? = nil
                for (e, fromRepeat) in landing where e.isMet(trialState(h)) { crossing = (e, fromRepeat); break }
                if let (e, fromRepeat) = crossing {
                    let goal = e.measure(trialState(h))!.target
                    var lo = 0.0, hi = h
                    var vLo: Double = {
                        if case .voltageAtLeast = e { return lastVoltage }
                        if case .voltageAtMost = e { return lastVoltage }
                        if case .capacityAtLeast = e { return stepCapacity }
                        let keep = solver.theta
                        solver.theta = savedTheta
                        let p0 = solver.potential
                        solver.potential = savedPotential
                        let v = e.measure(trialState(0))?.value ?? goal
                        solver.theta = keep
                        solver.potential = p0
                        return v
                    }()
                    var vHi = e.measure(trialState(h))?.value ?? goal
                    var accepted = h
                    let tol: Double = { switch e { case .voltageAtLeast, .voltageAtMost: return 1e-5; default: return 1e-4 * max(goal, 1e-6) } }()
                    for _ in 0..<40 {
                        if abs(vHi - goal) <= tol || hi - lo < 1e-6 { break }
                        var trial = lo + (hi - lo) * (goal - vLo) / (vHi - vLo)
                        if !(trial > lo + 0.01 * (hi - lo) && trial < hi - 0.01 * (hi - lo)) { trial = (lo + hi) / 2 }
                        solver.theta = savedTheta
                        solver.potential = savedPotential
                        guard try solver.step(dt: trial, condition: condition) else { hi = trial; continue }
                        let st = trialState(trial)
                        let v = e.measure(st)?.value ?? goal
                        if e.isMet(st) { hi = trial; vHi = v; accepted = trial } else { lo = trial; vLo = v }
                        if e.isMet(st), abs(v - goal) <= tol { break }
                    }
                    // Leave the state at the accepted (crossed) point.
                    if accepted != h || !e.isMet(trialState(h)) {
                        solver.theta = savedTheta
                        solver.potential = savedPotential
                        guard try solver.step(dt: accepted, condition: condition) else {
                            throw SolverError.stalled("\(step.location): \"\(step.text)\": could not land on \(e) at t = \(time) s")
                        }
                    }
                    h = accepted
                    clippedTo = nil
                    reason = fromRepeat ? "repeat \(e)" : "\(e)"
                    endedByRepeat = fromRepeat
                    stepDone = true
                }
                // Slope ends: sample the voltage on the grid (linear between solver steps) and end at
                // the first sample where the tracker's fitted slope is met, landing the state there.
                if watchSlope, !stepDone {
                    let t0 = time - stepStart, v0 = lastVoltage, v1 = voltage(condition)
                    while nextGrid <= t0 + h + 1e-9 {
                        let g = nextGrid
                        let vg = h > 0 ? v0 + (v1 - v0) * (g - t0) / h : v1
                        nextGrid += sampleInterval
                        if let (e, fromRepeat) = slopeTracker.observe(StepState(secondsInStep: g, voltageVolts: vg)) {
                            let x = g - t0
                            if x < h - 1e-9 {
                                solver.theta = savedTheta
                                solver.potential = savedPotential
                                guard try solver.step(dt: x, condition: condition) else {
                                    throw SolverError.stalled("\(step.location): \"\(step.text)\": could not land on \(e) at t = \(time) s")
                                }
                                h = x
                            }
                            clippedTo = nil
                            reason = fromRepeat ? "repeat \(e)" : "\(e)"
                            endedByRepeat = fromRepeat
                            stepDone = true
                            break
                        }
                    }
                }
                // Accept.
                timeSteps += 1
                time += h
                integratedFlux += h * solver.totalFlux(condition)
                stepCapacity += h * abs(solver.totalFlux(condition)) / oneCFlux * capacityPerCSecond
                let expected = theta0 - integratedFlux / area
                worstBalance = max(worstBalance, abs(solver.meanTheta - expected) / abs(expected))
                if kinetics == .butlerVolmer, case .totalFlux(let target) = condition, target != 0, time - stepStart > 10 {
                    var jmax = -Double.infinity, jmin = Double.infinity
                    for i in solver.boundaryList {
                        let j = solver.butlerVolmer(theta: solver.theta[i], potential: solver.potential).j
                        jmax = max(jmax, j); jmin = min(jmin, j)
                    }
                    let r = (jmax * jmin > 0) ? max(jmax / jmin, jmin / jmax) : .infinity
                    worstFluxRatio = max(worstFluxRatio ?? 1, r)
                }
                stepper.commit(savedTheta: savedTheta, h: h)
                lastVoltage = voltage(condition)
                if !stepDone, let end = endTime, time >= end - 1e-9 {
                    time = end
                    stepDone = true
                    if boundIsImplicit, let bound = compiled.ends.first(where: { if case .timeBound = $0 { return true }; return false }) {
                        reason = "\(bound)"
                    }
                }
                if time >= nextOutput - 1e-9 {
                    record(step: index, condition: condition)
                    while nextOutput <= time + 1e-9 { nextOutput += options.outputIntervalSeconds }
                } else if stepDone {
                    record(step: index, condition: condition)
                }
                while let p = pendingProfiles.first, p <= time + 1e-9 { pendingProfiles.removeFirst(); recordProfile() }
                // Reported on `until` steps too (fraction 0 when no step has a fixed duration): the
                // command line estimates the whole from model time and the step (issue 16).
                if let progress {
                    progress(plannedTotal > 0 ? min(1, time / plannedTotal) : 0, "step \(index + 1)/\(steps.count) t = \(Int(time)) s")
                }
            }
            outcomes.append(StepOutcome(step: index, text: step.text, startSeconds: stepStart, endSeconds: time,
                                        reason: reason, thetaMeanAtEnd: solver.meanTheta))
            if endedByRepeat, let block = compiled.block {
                var next = index + 1
                while next < program.steps.count, program.steps[next].block == block { next += 1 }
                skipToIndex = next
            }
        }
        let q = mesh.quality
        return SimulationResult(
            trace: trace, profiles: profiles, steps: outcomes, kinetics: kinetics, theta0: theta0,
            nodes: mesh.nodes.count, triangles: mesh.triangles.count, boundaryNodes: mesh.boundaryNodes.count,
            elementSizeMicrometres: mesh.elementSizeMicrometres, meshAreaMicrometres2: area,
            meshPerimeterMicrometres: solver.perimeter, minRadiusRatio: q.minRadiusRatio, minAngleDegrees: q.minAngleDegrees,
            timeSteps: timeSteps, rejectedSteps: rejected, newtonIterations: solver.newtonIterations,
            factorisations: solver.factorisations,
            wallSeconds: Date().timeIntervalSince(wallStart), massBalanceWorstRelativeError: worstBalance,
            boundaryFluxMaxMinRatio: worstFluxRatio, mesh: mesh, finalTheta: solver.theta)
    }

    static func stallError(solver: ParticleSolver, law: TransportLaw, parameters: ParameterSet, step: Step,
                           time: Double) -> SolverError {
        let lo = solver.theta.min() ?? 0, hi = solver.theta.max() ?? 1
        if hi > 1 - 1e-4 {
            return .outOfRange("\(step.location): \"\(step.text)\": at t = \(Int(time)) s the particle's rim is full (θ → 1) and cannot take the imposed current; end the step on a voltage (e.g. \"until 3.0 V\") or use --kinetics butler-volmer")
        }
        if lo < law.thetaLow + 1e-3 {
            return .outOfRange("\(step.location): \"\(step.text)\": at t = \(Int(time)) s θ reached \(lo), the lowest θ of the V_oc table in \(parameters.source) (\(law.thetaLow)); extend the table or end the step on a voltage (e.g. \"until 4.3 V\")")
        }
        return .stalled("\(step.location): \"\(step.text)\": the time step fell below 1e-7 s at t = \(Int(time)) s without converging")
    }

    /// Area centroid of the meshed domain.
    static func centroid(_ mesh: TriangleMesh) -> Point2 {
        var a = 0.0, x = 0.0, y = 0.0
        for t in mesh.triangles {
            let ar = TriangleMesh.area(mesh.nodes, t)
            let p = [mesh.nodes[Int(t.x)], mesh.nodes[Int(t.y)], mesh.nodes[Int(t.z)]]
            a += ar
            x += ar * (p[0].x + p[1].x + p[2].x) / 3
            y += ar * (p[0].y + p[1].y + p[2].y) / 3
        }
        return Point2(x / a, y / a)
    }

    /// Sample points on the horizontal line through the centroid, inside the domain: (position from
    /// the centroid in µm, location).
    static func profileLine(mesh: TriangleMesh, centroid c: Point2) -> [(Double, (triangle: Int, weights: SIMD3<Double>))] {
        var xs: [Double] = []
        let loop = mesh.boundaryNodes
        for k in loop.indices {
            let a = mesh.nodes[loop[k]], b = mesh.nodes[loop[(k + 1) % loop.count]]
            if (a.y > c.y) != (b.y > c.y) { xs.append(a.x + (c.y - a.y) * (b.x - a.x) / (b.y - a.y)) }
        }
        guard let left = xs.filter({ $0 < c.x }).max(), let right = xs.filter({ $0 > c.x }).min() else { return [] }
        let count = 101
        return (0..<count).map { k in
            let x = left + (right - left) * Double(k) / Double(count - 1)
            return (x - c.x, mesh.locate(Point2(x, c.y)))
        }
    }
}
