// The rig's hardware, as small protocols. Each has a real driver (RigDrivers: libgpiod; later Aravis
// and SCPI) and a firmware-sim twin (FirmwareSim) with the same semantics and the same error cases.
// Times are CLOCK_MONOTONIC-style nanoseconds of the rig's `Clock` (`monotonicNanoseconds`).

/// The rig's time source. The real clock is CLOCK_MONOTONIC with `clock_nanosleep(TIMER_ABSTIME)`;
/// firmware-sim's virtual clock jumps from deadline to deadline.
public protocol Clock: AnyObject, Sendable {
    /// Now, in nanoseconds of this clock.
    var monotonicNanoseconds: Int64 { get }
    /// Sleeps until the absolute deadline (returns at once if it has passed). Real-time safe.
    func sleep(untilNanoseconds deadline: Int64)
    /// True when time advances only by `sleep` (firmware-sim's virtual clock).
    var isVirtual: Bool { get }
}

/// Errors of GPIO chips and lines; each names the chip, the line and the system's reason.
public enum GPIOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The chip cannot be opened (e.g. no such device).
    case chipUnavailable(chip: String, reason: String)
    /// No line with this offset or name on the chip.
    case noSuchLine(chip: String, line: String)
    /// The line is already requested by another consumer.
    case busy(chip: String, line: String, consumer: String)
    /// The line was released or never requested as an output.
    case notRequested(chip: String, line: String)
    /// Setting or reading the line failed.
    case io(chip: String, line: String, reason: String)

    public var description: String {
        switch self {
        case .chipUnavailable(let c, let r): return "gpio chip \"\(c)\": \(r)"
        case .noSuchLine(let c, let l): return "gpio chip \"\(c)\": no line \"\(l)\""
        case .busy(let c, let l, let who): return "gpio chip \"\(c)\" line \"\(l)\": busy (requested by \"\(who)\")"
        case .notRequested(let c, let l): return "gpio chip \"\(c)\" line \"\(l)\": not requested as an output"
        case .io(let c, let l, let r): return "gpio chip \"\(c)\" line \"\(l)\": \(r)"
        }
    }
}

/// A GPIO chip (libgpiod v1 semantics): lines are requested as outputs by a consumer, once.
public protocol GPIOChip: AnyObject {
    /// Chip name, e.g. `gpiochip0`.
    var name: String { get }
    /// Requests line `offset` as an output driven to `initialHigh`. Throws `GPIOError.busy` if another
    /// consumer holds it.
    func requestOutput(offset: UInt32, consumer: String, initialHigh: Bool) throws -> DigitalLine
}

/// One requested output line.
public protocol DigitalLine: AnyObject {
    /// The line's role in the rig (`led`, `trigger`) or its chip name.
    var name: String { get }
    /// Drives the line. Real-time path: must not allocate or lock.
    func set(_ high: Bool) throws(GPIOError)
    /// Releases the line (driving it low first). Further `set` calls throw `.notRequested`.
    func release()
}

/// One electrochemical reading.
public struct ElectrochemSample: Sendable, Equatable {
    /// When it was taken, nanoseconds of the rig's clock.
    public var monotonicNanoseconds: Int64
    /// Cell voltage, V (working vs counter/reference).
    public var voltageVolts: Double
    /// Cell current, A, positive on charge (oxidation of the working electrode).
    public var currentAmps: Double
    /// True when the instrument is held at its compliance limit instead of the set point.
    public var inCompliance: Bool

    public init(monotonicNanoseconds: Int64, voltageVolts: Double, currentAmps: Double, inCompliance: Bool = false) {
        self.monotonicNanoseconds = monotonicNanoseconds
        self.voltageVolts = voltageVolts
        self.currentAmps = currentAmps
        self.inCompliance = inCompliance
    }
}

/// What the potentiostat imposes.
public enum PotentiostatMode: Sendable, Equatable {
    /// Constant current (A, positive on charge), limited to the voltage window.
    case constantCurrent(amps: Double, voltageComplianceVolts: ClosedRange<Double>)
    /// Constant voltage (V), limited to a current magnitude (A).
    case constantVoltage(volts: Double, currentComplianceAmps: Double)
    /// Open circuit: no current, voltage measured.
    case openCircuit
}

/// Errors a potentiostat driver raises.
public enum PotentiostatError: Error, Sendable, Equatable, CustomStringConvertible {
    case disconnected(device: String, reason: String)
    case commandTimeout(device: String, command: String, seconds: Double)
    case rejected(device: String, command: String, reason: String)

    public var description: String {
        switch self {
        case .disconnected(let d, let r): return "potentiostat \"\(d)\": disconnected (\(r))"
        case .commandTimeout(let d, let c, let s): return "potentiostat \"\(d)\": no answer to \"\(c)\" within \(s) s"
        case .rejected(let d, let c, let r): return "potentiostat \"\(d)\": rejected \"\(c)\": \(r)"
        }
    }
}

/// A potentiostat/galvanostat channel.
public protocol Potentiostat: AnyObject {
    /// Device name for messages.
    var name: String { get }
    /// Sets the control mode, effective now.
    func apply(_ mode: PotentiostatMode) throws
    /// Measures now.
    func read() throws -> ElectrochemSample
    /// Puts the instrument in its safe, no-current state at the end of a run or after a fault (a
    /// source-measure unit opens its output relay; a MethodSCRIPT device aborts its script, cell off).
    func safeOff() throws
}

extension Potentiostat {
    /// Default: open circuit (what the simulator and simple instruments need).
    public func safeOff() throws { try apply(.openCircuit) }
}

/// A camera frame as read out: 16-bit words (12-bit ADC on the real cameras), row-major.
public struct CameraFrame: Sendable {
    /// Camera's frame counter (may wrap).
    public var frameID: UInt64
    public var width: Int
    public var height: Int
    public var pixels: [UInt16]
    /// Exposure window on the rig's clock, nanoseconds.
    public var exposureStartNanoseconds: Int64
    public var exposureEndNanoseconds: Int64

    public init(frameID: UInt64, width: Int, height: Int, pixels: [UInt16],
                exposureStartNanoseconds: Int64, exposureEndNanoseconds: Int64) {
        self.frameID = frameID
        self.width = width
        self.height = height
        self.pixels = pixels
        self.exposureStartNanoseconds = exposureStartNanoseconds
        self.exposureEndNanoseconds = exposureEndNanoseconds
    }
}

/// Region of interest on the sensor, pixels.
public struct RegionOfInterest: Sendable, Equatable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) { self.x = x; self.y = y; self.width = width; self.height = height }
}

/// Errors a camera driver raises.
public enum CameraError: Error, Sendable, Equatable, CustomStringConvertible {
    case unavailable(device: String, reason: String)
    case invalidSetting(device: String, setting: String, reason: String)
    /// No frame arrived within the timeout after a trigger.
    case timeout(device: String, seconds: Double)
    case notStarted(device: String)

    public var description: String {
        switch self {
        case .unavailable(let d, let r): return "camera \"\(d)\": \(r)"
        case .invalidSetting(let d, let s, let r): return "camera \"\(d)\": \(s): \(r)"
        case .timeout(let d, let s): return "camera \"\(d)\": no frame within \(s) s"
        case .notStarted(let d): return "camera \"\(d)\": acquisition not started"
        }
    }
}

/// A camera in hardware-trigger mode: each rising edge on its trigger input starts one exposure of the
/// configured length (the camera, not the loop, times the exposure).
public protocol Camera: AnyObject {
    var name: String { get }
    /// Full sensor size, pixels.
    var sensorWidth: Int { get }
    var sensorHeight: Int { get }
    /// Pixel size in the sample plane, µm.
    var pixelSizeMicrometres: Double { get }
    /// Offset the sensor adds to every pixel (counts); subtracted before contrast is formed, since
    /// I/I0 − 1 is biased by any constant offset.
    var blackLevelCounts: Double { get }
    /// Sets the ROI and the exposure time; only while stopped.
    func configure(roi: RegionOfInterest, exposureSeconds: Double) throws
    /// Arms the camera for hardware triggers.
    func start() throws
    /// The next frame read out, waiting up to `timeoutSeconds` (of the rig's clock).
    func nextFrame(timeoutSeconds: Double) throws -> CameraFrame
    /// Disarms the camera.
    func stop()
}
