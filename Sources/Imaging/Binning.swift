// Temporal binning (seed Fig. S12: "every 20 frames were binned to improve statistics"; the rig bins
// 20–100 exposures per recorded frame). Bins are fixed windows of exposure sequence numbers, so a
// dropped exposure lowers that bin's count but never shifts later bins in time.

/// Averages consecutive exposures into bins of `framesPerBin`, keyed by exposure sequence number.
public struct TemporalBinner: Sendable {
    /// Exposures per bin.
    public let framesPerBin: Int
    /// Nominal time between exposures, s.
    public let exposureIntervalSeconds: Double
    /// Time of exposure 0's start, s.
    public let firstExposureSeconds: Double
    private var currentBin: Int?
    /// Raw exposures are summed in UInt32: exact for any bin (65535 × 65535 < 2³²), and the
    /// accumulate is a widening integer add the compiler vectorises (10 bytes of memory traffic per
    /// pixel instead of 22 with Double sums and per-pixel counts). Every raw pixel counts, so their
    /// count is one number per bin.
    private var rawSum: [UInt32] = []
    private var rawCount = 0
    /// Float exposures (NaN pixels do not count): Double sums and per-pixel counts, allocated on the
    /// first float exposure only.
    private var sum: [Double] = []
    private var count: [UInt16] = []
    private var exposures = 0
    private var size: (width: Int, height: Int)?
    private var lastSequence = -1

    /// A binner; `framesPerBin` ≥ 1 (the rig uses 20–100).
    public init(framesPerBin: Int, exposureIntervalSeconds: Double, firstExposureSeconds: Double = 0) throws {
        guard framesPerBin >= 1, framesPerBin <= 65535 else {
            throw ImagingError.badValue(option: "--bin", value: "\(framesPerBin)", expected: "a whole number of frames from 1 to 65535")
        }
        guard exposureIntervalSeconds > 0, exposureIntervalSeconds.isFinite else {
            throw ImagingError.badValue(option: "--frame-interval", value: "\(exposureIntervalSeconds)", expected: "a positive time in seconds")
        }
        self.framesPerBin = framesPerBin
        self.exposureIntervalSeconds = exposureIntervalSeconds
        self.firstExposureSeconds = firstExposureSeconds
    }

    /// Adds exposure `sequenceNumber` (increasing; gaps are dropped exposures). Returns the bins this
    /// completes, including empty ones (`exposures == 0`, NaN pixels) for bins that lost every exposure.
    /// Out-of-order or repeated sequence numbers are ignored.
    public mutating func add(_ frame: RawFrame, sequenceNumber: Int) -> [TimedFrame] {
        // The rig's hot path (every exposure): a 16-bit pixel is always finite, so the sums need no
        // per-pixel test and the loop vectorises.
        guard let done = prepare(width: frame.width, height: frame.height, sequenceNumber: sequenceNumber) else { return [] }
        rawSum.withUnsafeMutableBufferPointer { s in
            frame.pixels.withUnsafeBufferPointer { px in
                for i in 0..<min(px.count, s.count) { s[i] &+= UInt32(px[i]) }
            }
        }
        rawCount += 1
        return done
    }

    /// Starts exposure `sequenceNumber`: emits the bins it completes; nil when it is to be ignored.
    private mutating func prepare(width: Int, height: Int, sequenceNumber: Int) -> [TimedFrame]? {
        guard sequenceNumber > lastSequence else { return nil }
        if let size, size != (width, height) { return nil }
        lastSequence = sequenceNumber
        var done: [TimedFrame] = []
        let bin = sequenceNumber / framesPerBin
        if size == nil {
            size = (width, height)
            rawSum = [UInt32](repeating: 0, count: width * height)
        }
        if let current = currentBin, bin != current {
            done.append(emit(current))
            for empty in (current + 1)..<bin { done.append(emptyBin(empty)) }
        }
        currentBin = bin
        exposures += 1
        return done
    }

    /// Adds a float exposure; NaN pixels do not count (a partly corrupt frame still contributes).
    public mutating func add(_ frame: BinnedFrame, sequenceNumber: Int) -> [TimedFrame] {
        add(width: frame.width, height: frame.height, sequenceNumber: sequenceNumber) { i in frame.pixels[i] }
    }

    private mutating func add(width: Int, height: Int, sequenceNumber: Int, value: (Int) -> Float) -> [TimedFrame] {
        guard let done = prepare(width: width, height: height, sequenceNumber: sequenceNumber) else { return [] }
        if sum.isEmpty {
            sum = [Double](repeating: 0, count: width * height)
            count = [UInt16](repeating: 0, count: width * height)
        }
        for i in 0..<(width * height) {
            let v = value(i)
            if v.isFinite { sum[i] += Double(v); count[i] += 1 }
        }
        return done
    }

    /// Emits the last, possibly partial, bin.
    public mutating func finish() -> [TimedFrame] {
        guard let current = currentBin else { return [] }
        currentBin = nil
        return [emit(current)]
    }

    private func window(_ bin: Int) -> (Double, Double) {
        let start = firstExposureSeconds + Double(bin * framesPerBin) * exposureIntervalSeconds
        return (start, start + Double(framesPerBin) * exposureIntervalSeconds)
    }

    private mutating func emit(_ bin: Int) -> TimedFrame {
        let (w, h) = size ?? (0, 0)
        var pixels = [Float](repeating: .nan, count: w * h)
        if sum.isEmpty {
            // Raw exposures only: one count for every pixel.
            if rawCount > 0 {
                let n = Double(rawCount)
                rawSum.withUnsafeBufferPointer { s in
                    pixels.withUnsafeMutableBufferPointer { p in
                        for i in 0..<p.count { p[i] = Float(Double(s[i]) / n) }
                    }
                }
            }
        } else {
            for i in pixels.indices {
                let c = Int(count[i]) + rawCount
                if c > 0 { pixels[i] = Float((sum[i] + Double(rawSum[i])) / Double(c)) }
            }
        }
        let (start, end) = window(bin)
        let out = TimedFrame(index: bin, startSeconds: start, endSeconds: end, exposures: exposures,
                             frame: BinnedFrame(width: w, height: h, pixels: pixels))
        rawSum.withUnsafeMutableBufferPointer { s in s.update(repeating: 0) }
        sum.withUnsafeMutableBufferPointer { s in s.update(repeating: 0) }
        count.withUnsafeMutableBufferPointer { c in c.update(repeating: 0) }
        rawCount = 0
        exposures = 0
        return out
    }

    private func emptyBin(_ bin: Int) -> TimedFrame {
        let (w, h) = size ?? (0, 0)
        let (start, end) = window(bin)
        return TimedFrame(index: bin, startSeconds: start, endSeconds: end, exposures: 0,
                          frame: BinnedFrame(width: w, height: h, repeating: .nan))
    }
}
