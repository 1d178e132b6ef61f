import Foundation

/// The map from an instrument's clock to the rig's: `rig = offset + (1 + drift·10⁻⁶) · instrument`,
/// fitted by least squares on matched trigger edges (the instrument's technique-start times and the
/// rig's recorded edge times), or given as a plain offset when there was no trigger.
public struct ClockAlignment: Sendable, Equatable {
    /// Rig time at instrument time 0, s.
    public var offsetSeconds: Double
    /// How much faster the rig clock runs than the instrument's, ppm.
    public var driftPPM: Double
    /// RMS of the fit residuals, s (0 for a given offset).
    public var residualRMSSeconds: Double
    /// Largest absolute residual, s.
    public var residualMaxSeconds: Double
    /// The matched (instrument, rig) edge pairs the fit used.
    public var matchedPairs: [EdgePair]
    /// Instrument edges with no rig edge (a missed trigger).
    public var unmatchedInstrumentSeconds: [Double]
    /// Rig edges with no instrument event (a spurious edge).
    public var unmatchedRigSeconds: [Double]

    /// One matched edge.
    public struct EdgePair: Sendable, Equatable {
        /// Instrument time, s.
        public var instrumentSeconds: Double
        /// Rig time, s.
        public var rigSeconds: Double
    }

    /// A fixed offset, no drift (`operando import --offset SECONDS`).
    public init(offsetSeconds: Double) {
        self.offsetSeconds = offsetSeconds
        self.driftPPM = 0
        self.residualRMSSeconds = 0
        self.residualMaxSeconds = 0
        self.matchedPairs = []
        self.unmatchedInstrumentSeconds = []
        self.unmatchedRigSeconds = []
    }

    /// The rig time of an instrument time.
    public func rigSeconds(fromInstrument t: Double) -> Double {
        offsetSeconds + (1 + driftPPM * 1e-6) * t
    }

    /// The instrument time of a rig time.
    public func instrumentSeconds(fromRig t: Double) -> Double {
        (t - offsetSeconds) / (1 + driftPPM * 1e-6)
    }

    /// Fits offset and drift to the two edge lists. The lists need not have the same length: edges
    /// are matched first (an offset hypothesis from each pairing of one of the first instrument
    /// edges with a rig edge, scored by how many edges then coincide within half the shortest
    /// interval between instrument edges), so an extra or missing edge is left unmatched instead of
    /// shifting every pair. With one matched pair only the offset is fitted (drift 0). Throws when no
    /// pair can be matched.
    public static func fit(instrumentSeconds: [Double], rigSeconds: [Double]) throws -> ClockAlignment {
        let instrument = instrumentSeconds.filter(\.isFinite).sorted()
        let rig = rigSeconds.filter(\.isFinite).sorted()
        guard !instrument.isEmpty, !rig.isEmpty else {
            throw InstrumentFileError.alignment(detail: "\(instrument.count) instrument edge(s) and \(rig.count) rig edge(s); at least one of each is needed (or give --offset SECONDS)")
        }
        // Matching tolerance: half the shortest interval between instrument events (those are
        // clean; rig edges may include a contact bounce a millisecond after a real edge, which the
        // nearest-edge choice then passes over).
        var minGap = Double.infinity
        for k in 1..<max(1, instrument.count) where instrument[k] > instrument[k - 1] { minGap = min(minGap, instrument[k] - instrument[k - 1]) }
        let tolerance = minGap.isFinite ? minGap / 2 : 1.0

        func match(_ map: (Double) -> Double, tolerance: Double) -> [(Int, Int)] {
            var pairs: [(Int, Int)] = []
            var used = Set<Int>()
            for (i, t) in instrument.enumerated() {
                let target = map(t)
                // Nearest rig edge by binary search.
                var lo = 0, hi = rig.count
                while lo < hi { let mid = (lo + hi) / 2; if rig[mid] < target { lo = mid + 1 } else { hi = mid } }
                var best: (index: Int, distance: Double)? = nil
                for j in [lo - 1, lo] where j >= 0 && j < rig.count && !used.contains(j) {
                    let distance = abs(rig[j] - target)
                    if distance <= tolerance, distance < (best?.distance ?? .infinity) { best = (j, distance) }
                }
                if let b = best { pairs.append((i, b.index)); used.insert(b.index) }
            }
            return pairs
        }

        var bestPairs: [(Int, Int)] = []
        var bestSpread = Double.infinity
        for i in 0..<min(3, instrument.count) {
            for j in rig.indices {
                let offset = rig[j] - instrument[i]
                let pairs = match({ $0 + offset }, tolerance: tolerance)
                let spread = pairs.reduce(0) { $0 + abs(rig[$1.1] - instrument[$1.0] - offset) }
                if pairs.count > bestPairs.count || (pairs.count == bestPairs.count && spread < bestSpread) {
                    bestPairs = pairs
                    bestSpread = spread
                }
            }
        }
        guard !bestPairs.isEmpty else {
            throw InstrumentFileError.alignment(detail: "no instrument edge could be matched to a rig edge")
        }
        // Fit, then match again with the fitted map at a tighter tolerance and refit once.
        var (offset, slope) = leastSquares(bestPairs.map { (instrument[$0.0], rig[$0.1]) })
        let refined = match({ offset + slope * $0 }, tolerance: tolerance / 2)
        if refined.count >= bestPairs.count {
            bestPairs = refined
            (offset, slope) = leastSquares(bestPairs.map { (instrument[$0.0], rig[$0.1]) })
        }
        let residuals = bestPairs.map { rig[$0.1] - (offset + slope * instrument[$0.0]) }
        let rms = (residuals.reduce(0) { $0 + $1 * $1 } / Double(residuals.count)).squareRoot()
        let maxAbs = residuals.map(abs).max() ?? 0
        let usedI = Set(bestPairs.map(\.0)), usedR = Set(bestPairs.map(\.1))
        var a = ClockAlignment(offsetSeconds: offset)
        a.driftPPM = (slope - 1) * 1e6
        a.residualRMSSeconds = rms
        a.residualMaxSeconds = maxAbs
        a.matchedPairs = bestPairs.map { EdgePair(instrumentSeconds: instrument[$0.0], rigSeconds: rig[$0.1]) }
        a.unmatchedInstrumentSeconds = instrument.indices.filter { !usedI.contains($0) }.map { instrument[$0] }
        a.unmatchedRigSeconds = rig.indices.filter { !usedR.contains($0) }.map { rig[$0] }
        return a
    }

    /// Least-squares line rig = offset + slope·instrument, in centred coordinates so that large
    /// clock readings keep sub-microsecond precision. One pair: slope 1.
    static func leastSquares(_ pairs: [(Double, Double)]) -> (offset: Double, slope: Double) {
        let n = Double(pairs.count)
        let mx = pairs.reduce(0) { $0 + $1.0 } / n
        let my = pairs.reduce(0) { $0 + $1.1 } / n
        var sxx = 0.0, sxy = 0.0
        for (x, y) in pairs { sxx += (x - mx) * (x - mx); sxy += (x - mx) * (y - my) }
        let slope = pairs.count >= 2 && sxx > 0 ? sxy / sxx : 1
        return (my - slope * mx, slope)
    }
}
