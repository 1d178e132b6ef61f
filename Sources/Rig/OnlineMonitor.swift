import Dataset
import Imaging

/// The on-line contrast monitor: a subscriber that runs Imaging's `ParticleMonitor` on each recorded
/// frame and publishes the frame's metrics (`MonitorRecord`). The mask and drift fiducial come from the
/// first frame with data; a particle that cannot be found is reported once and the run goes on.
public final class OnlineMonitor: RunSubscriber {
    public let subscriberName = "monitor"
    private let source: String
    private var monitor: ParticleMonitor?
    private var unavailable = false
    /// SDC standard deviations of the first recorded frames: the noise floor the heterogeneity flag
    /// compares against (a front inside the particle raises the SDC spread well above it).
    private var sdcBaseline: [Double] = []
    /// The latest metrics (ΔI/I₀, SDC σ) for the status line.
    public private(set) var latest: MonitorRecord?

    public init(source: String) { self.source = source }

    public func receive(_ message: RunMessage, bus: RunBus) throws {
        guard case .frame(let f) = message, !unavailable else { return }
        if monitor == nil {
            guard f.record.exposures > 0 else { return }
            do { monitor = try ParticleMonitor(reference: f.frame, source: source) } catch {
                unavailable = true
                bus.publish(.event(.monitorUnavailable("\(error)"), seconds: f.record.timeSeconds))
                return
            }
        }
        let m = monitor!.process(f.frame, exposures: f.record.exposures)
        let sdc = m.sdcStandardDeviation
        if sdc.isFinite && sdcBaseline.count < 10 { sdcBaseline.append(sdc) }
        let floor = sdcBaseline.count >= 5 ? sdcBaseline.sorted()[sdcBaseline.count / 2] : .infinity
        let record = MonitorRecord(frame: f.record.frame, timeSeconds: f.record.timeSeconds, intensityChange: m.intensityChange,
                                   sdcStd: sdc, driftXPixels: m.driftXPixels, driftYPixels: m.driftYPixels,
                                   heterogeneous: sdc.isFinite && sdc > 2 * floor)
        latest = record
        bus.publish(.monitor(record))
    }
}
