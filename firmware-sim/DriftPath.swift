import Foundation

/// Stage drift of the sample relative to the camera, as seen on the bench: a linear creep plus a slow
/// random walk. The walk is drawn on a fixed 1 s grid of run time from its own random stream, so the
/// path depends only on the seed — not on when or how often frames are taken.
public final class DriftPath {
    /// Linear drift velocity, µm/s (x right, y down in image coordinates).
    public let velocityMicrometresPerSecond: (x: Double, y: Double)
    /// Random-walk step per grid interval (1 s), µm, per axis.
    public let walkStepMicrometres: Double
    private var rng: SeededRandom
    private var walkX: [Double] = [0]
    private var walkY: [Double] = [0]

    /// - Parameters:
    ///   - nanometresPerMinute: speed of the linear part.
    ///   - directionDegrees: its direction in the image, degrees from +x towards +y (down).
    ///   - walkNanometresPerSqrtMinute: random-walk diffusion: rms displacement per axis after 1 min.
    public init(nanometresPerMinute: Double, directionDegrees: Double, walkNanometresPerSqrtMinute: Double, seed: UInt64) {
        let v = nanometresPerMinute / 1000 / 60
        let a = directionDegrees * Double.pi / 180
        velocityMicrometresPerSecond = (v * cos(a), v * sin(a))
        walkStepMicrometres = walkNanometresPerSqrtMinute / 1000 / 60.0.squareRoot()
        rng = SeededRandom(seed: seed, stream: 3)
        walkX.reserveCapacity(1 << 15)
        walkY.reserveCapacity(1 << 15)
    }

    /// Displacement of the image content at run time `seconds`, µm (x right, y down).
    public func displacementMicrometres(atSeconds seconds: Double) -> (x: Double, y: Double) {
        let t = max(0, seconds)
        let k = Int(t)
        while walkX.count <= k + 1 {
            walkX.append(walkX[walkX.count - 1] + walkStepMicrometres * rng.normal())
            walkY.append(walkY[walkY.count - 1] + walkStepMicrometres * rng.normal())
        }
        let f = t - Double(k)
        let wx = walkX[k] + (walkX[k + 1] - walkX[k]) * f
        let wy = walkY[k] + (walkY[k + 1] - walkY[k]) * f
        return (velocityMicrometresPerSecond.x * t + wx, velocityMicrometresPerSecond.y * t + wy)
    }
}
