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
    /// What the camera's transport said about this frame (real drivers; nil from firmware-sim).
    public var metadata: CameraFrameMetadata? = nil

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
    /// A frame arrived but is unusable (incomplete, aborted, wrong size…): the reason names the
    /// transport's buffer status. The run engine counts it like a timeout (a dropped frame), with
    /// this reason in the event.
    case frameDropped(device: String, frameID: UInt64?, reason: String)

    public var description: String {
        switch self {
        case .unavailable(let d, let r): return "camera \"\(d)\": \(r)"
        case .invalidSetting(let d, let s, let r): return "camera \"\(d)\": \(s): \(r)"
        case .timeout(let d, let s): return "camera \"\(d)\": no frame within \(s) s"
        case .notStarted(let d): return "camera \"\(d)\": acquisition not started"
        case .frameDropped(let d, let id, let r):
            return "camera \"\(d)\": frame \(id.map(String.init) ?? "(no id)") dropped: \(r)"
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
    /// How exposures start (default `.hardware`); the engine triggers in software or matches
    /// free-running frames by timestamp accordingly.
    var triggerMode: CameraTriggerMode { get }
    /// Starts one exposure now; only in `.software` mode (default: throws `.invalidSetting`).
    func softwareTrigger() throws
    /// Dropped-frame records since the last call, oldest first (default: none).
    func takeDroppedFrames() -> [CameraDroppedFrame]
    /// Warnings from opening/starting the camera, for the run's events (default: none).
    var warnings: [String] { get }
}

// MARK: - Trigger modes, frame metadata and dropped frames (additions for real cameras)

/// How a camera's exposures are started, so the run engine knows what it must do per exposure.
public enum CameraTriggerMode: String, Sendable, Equatable {
    /// A rising edge on the camera's trigger input (the exposure loop's `trigger` GPIO line).
    case hardware
    /// The loop calls `softwareTrigger()` once per exposure (a camera without a wired trigger, or the
    /// GigE fake on a virtual clock).
    case software
    /// The camera exposes on its own clock; frames are matched to the timeline by timestamp.
    case freeRunning
}

/// The transport's verdict on one buffer (GenICam/Aravis buffer status).
public enum CameraBufferStatus: String, Sendable, Equatable, CaseIterable {
    case success, cleared, timeout, missingPackets, wrongPacketID, sizeMismatch, filling, aborted
    case payloadNotSupported, unknown
    /// A frame id that never arrived at all (a gap in the camera's counter: buffer underrun or a
    /// lost leader packet).
    case neverDelivered
}

/// Per-frame facts from a real camera's transport.
public struct CameraFrameMetadata: Sendable, Equatable {
    /// The counter as the device sent it (16-bit on GigE Vision without extended ids, skipping 0);
    /// `CameraFrame.frameID` is this counter unwrapped to 64 bits.
    public var deviceFrameID: UInt64
    /// The camera's own timestamp, nanoseconds of the camera's clock (0 if it sends none).
    public var cameraTimestampNanoseconds: UInt64
    /// When the host's transport received the frame, on the rig's clock (nanoseconds).
    public var receivedNanoseconds: Int64
    /// Buffer status (always `.success` for a delivered frame; drops are `CameraDroppedFrame`s).
    public var status: CameraBufferStatus
    /// Pixel format the frame was read out in (`Mono16`, `Mono12`, `Mono8`).
    public var pixelFormat: String

    public init(deviceFrameID: UInt64, cameraTimestampNanoseconds: UInt64, receivedNanoseconds: Int64,
                status: CameraBufferStatus, pixelFormat: String) {
        self.deviceFrameID = deviceFrameID
        self.cameraTimestampNanoseconds = cameraTimestampNanoseconds
        self.receivedNanoseconds = receivedNanoseconds
        self.status = status
        self.pixelFormat = pixelFormat
    }
}

/// A frame the camera started but did not deliver usable: never a silent gap in the record.
public struct CameraDroppedFrame: Sendable, Equatable {
    /// Unwrapped frame id, when the transport knew it.
    public var frameID: UInt64?
    public var status: CameraBufferStatus
    /// Human-readable reason (status, sizes, the transport's words).
    public var reason: String
    /// When the drop was noticed, rig clock nanoseconds.
    public var noticedNanoseconds: Int64

    public init(frameID: UInt64?, status: CameraBufferStatus, reason: String, noticedNanoseconds: Int64) {
        self.frameID = frameID
        self.status = status
        self.reason = reason
        self.noticedNanoseconds = noticedNanoseconds
    }
}

/// Defaults so firmware-sim's camera (hardware-triggered by its GPIO twin) needs no change.
extension Camera {
    /// How exposures start; firmware-sim's camera and a wired camera: `.hardware`.
    public var triggerMode: CameraTriggerMode { .hardware }
    /// Starts one exposure now (only in `.software` mode).
    public func softwareTrigger() throws {
        throw CameraError.invalidSetting(device: name, setting: "trigger",
                                         reason: "software trigger not supported in \(triggerMode.rawValue) mode")
    }
    /// Dropped-frame records since the last call (oldest first), for the run's events.
    public func takeDroppedFrames() -> [CameraDroppedFrame] { [] }
    /// Warnings found while opening or starting (usbfs memory, rounding of the ROI…), for the run's
    /// events; empty when all is well.
    public var warnings: [String] { [] }
}
