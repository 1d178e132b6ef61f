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
    /// Double sums: exact for any bin of 16-bit exposures (a Float sum stops being exact past 2²⁴).
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
        sum.withUnsafeMutableBufferPointer { s in
            count.withUnsafeMutableBufferPointer { c in
                frame.pixels.withUnsafeBufferPointer { px in
                    for i in 0..<min(px.count, s.count) { s[i] += Double(px[i]); c[i] &+= 1 }
                }
            }
        }
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
            sum = [Double](repeating: 0, count: width * height)
            count = [UInt16](repeating: 0, count: width * height)
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
        guard let done = prepare(width: frame.width, height: frame.height, sequenceNumber: sequenceNumber) else { return [] }
        for i in 0..<min(frame.pixels.count, sum.count) {
            let v = frame.pixels[i]
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
        for i in pixels.indices where count[i] > 0 { pixels[i] = Float(sum[i] / Double(count[i])) }
        let (start, end) = window(bin)
        let out = TimedFrame(index: bin, startSeconds: start, endSeconds: end, exposures: exposures,
                             frame: BinnedFrame(width: w, height: h, pixels: pixels))
        for i in sum.indices { sum[i] = 0; count[i] = 0 }
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
