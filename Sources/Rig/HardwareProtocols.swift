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
    /// `sleep(untilNanoseconds:)`, then now: the wake-up time read as soon as the sleep returns.
    func sleepReadingWake(untilNanoseconds deadline: Int64) -> Int64
}

extension Clock {
    /// Sleeps, then reads the clock.
    public func sleepReadingWake(untilNanoseconds deadline: Int64) -> Int64 {
        sleep(untilNanoseconds: deadline)
        return monotonicNanoseconds
    }
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
    /// This chip's driver (or the libgpiod it was built against) cannot do the operation.
    case notSupported(chip: String, operation: String, reason: String)
    /// A setting is outside its documented range.
    case invalidSetting(chip: String, setting: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .chipUnavailable(let c, let r): return "gpio chip \"\(c)\": \(r)"
        case .noSuchLine(let c, let l): return "gpio chip \"\(c)\": no line \"\(l)\""
        case .busy(let c, let l, let who): return "gpio chip \"\(c)\" line \"\(l)\": busy (requested by \"\(who)\")"
        case .notRequested(let c, let l): return "gpio chip \"\(c)\" line \"\(l)\": not requested as an output"
        case .io(let c, let l, let r): return "gpio chip \"\(c)\" line \"\(l)\": \(r)"
        case .notSupported(let c, let op, let r): return "gpio chip \"\(c)\": \(op) is not supported: \(r)"
        case .invalidSetting(let c, let s, let v, let e): return "gpio chip \"\(c)\": \(s) = \(v) is invalid; expected \(e)"
        }
    }
}

/// A GPIO chip (libgpiod semantics): lines are requested as outputs or edge-event inputs by a consumer, once.
public protocol GPIOChip: AnyObject {
    /// Chip name, e.g. `gpiochip0`.
    var name: String { get }
    /// Requests line `offset` as an output driven to `initialHigh`. Throws `GPIOError.busy` if another
    /// consumer holds it.
    func requestOutput(offset: UInt32, consumer: String, initialHigh: Bool) throws -> DigitalLine
    /// Requests line `offset` as an edge-event input (follow mode's trigger input). Chips without edge
    /// inputs throw `GPIOError.notSupported` (default implementation).
    func requestEdgeInput(offset: UInt32, consumer: String, settings: EdgeInputSettings) throws -> EdgeInput
    /// Offset of the line called `lineName` (device-tree name such as `GPIO17`) or given as a decimal
    /// offset. Throws `GPIOError.noSuchLine`.
    func lineOffset(named lineName: String) throws -> UInt32
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

// MARK: Edge-event inputs (follow mode: the instrument's trigger-out into a GPIO input)

/// Which transitions of an input line the kernel reports as edge events.
public enum EdgeDetection: String, Sendable, Equatable, CaseIterable {
    /// Low → high only (a TTL trigger-out's leading edge).
    case rising
    /// High → low only (active-low trigger outputs).
    case falling
    /// Both transitions (pulse widths, or an instrument that toggles its line).
    case both
}

/// The transition an edge event reports.
public enum EdgeKind: UInt8, Sendable, Equatable {
    case rising = 1
    case falling = 2
}

/// Internal bias of an input line. A trigger input wants a defined level when the instrument's cable
/// is unplugged: an external pull-down (docs/hardware-gpio.md) or `.pullDown` where the SoC has one.
public enum LineBias: String, Sendable, Equatable, CaseIterable {
    /// Leave the bias as the board configured it.
    case asIs = "as-is"
    /// No internal pull resistor.
    case disabled
    case pullDown = "pull-down"
    case pullUp = "pull-up"
}

/// How an edge-event input line is requested.
public struct EdgeInputSettings: Sendable, Equatable {
    /// Transitions to report.
    public var edge: EdgeDetection
    /// Internal bias (libgpiod v1 ≥ 1.5 and v2 both set it; the kernel needs ≥ 5.5).
    public var bias: LineBias
    /// Active-low: the kernel inverts the level, so a falling wire edge is reported as rising.
    public var activeLow: Bool
    /// Kernel debounce period, µs (0: off; libgpiod v2 only, 0…1_000_000).
    public var debounceMicroseconds: UInt32
    /// Kernel event queue length for the request (0: the kernel's default of 16 per line; v2 only,
    /// 0…4096). Edges beyond it are dropped oldest-first; v2's sequence numbers show the gap.
    public var kernelEventBufferSize: Int

    public init(edge: EdgeDetection = .rising, bias: LineBias = .asIs, activeLow: Bool = false,
                debounceMicroseconds: UInt32 = 0, kernelEventBufferSize: Int = 0) {
        self.edge = edge
        self.bias = bias
        self.activeLow = activeLow
        self.debounceMicroseconds = debounceMicroseconds
        self.kernelEventBufferSize = kernelEventBufferSize
    }

    /// Checks the documented ranges; `chip` names the chip in the error.
    public func validate(chip: String) throws(GPIOError) {
        if debounceMicroseconds > 1_000_000 {
            throw .invalidSetting(chip: chip, setting: "debounce_us", value: "\(debounceMicroseconds)", expected: "0…1000000 µs")
        }
        if kernelEventBufferSize < 0 || kernelEventBufferSize > 4096 {
            throw .invalidSetting(chip: chip, setting: "event_buffer_size", value: "\(kernelEventBufferSize)", expected: "0 (kernel default) … 4096 events")
        }
    }
}

/// One edge on an input line, as the kernel stamped it. A plain value (no references), so a reader
/// can fill a preallocated array of them without allocating.
public struct EdgeEvent: Sendable, Equatable {
    /// When the edge happened, ns. From the kernel's interrupt handler: CLOCK_MONOTONIC (kernels ≥ 5.7;
    /// older v1-uAPI kernels stamped CLOCK_REALTIME), the same timebase as the rig's real `Clock`.
    /// firmware-sim stamps it on the rig's clock (virtual or wall).
    public var monotonicNanoseconds: Int64
    /// Rising or falling (after active-low inversion).
    public var kind: EdgeKind
    /// Line offset on the chip.
    public var lineOffset: UInt32
    /// Sequence number among all lines of the request, from 1 (libgpiod v2 and firmware-sim; 0 where the
    /// API gives none: libgpiod v1). A gap means the kernel dropped edges (its queue overflowed).
    public var globalSequence: UInt64
    /// Sequence number on this line, from 1 (0 where the API gives none).
    public var lineSequence: UInt64

    public init(monotonicNanoseconds: Int64 = 0, kind: EdgeKind = .rising, lineOffset: UInt32 = 0,
                globalSequence: UInt64 = 0, lineSequence: UInt64 = 0) {
        self.monotonicNanoseconds = monotonicNanoseconds
        self.kind = kind
        self.lineOffset = lineOffset
        self.globalSequence = globalSequence
        self.lineSequence = lineSequence
    }
}

/// One requested edge-event input line. Meant for one reader thread that blocks in `waitEdges` and then
/// drains with `readEdges` into a buffer it allocated once (see `EdgeRecorder`). Not for concurrent use
/// from several threads; `release()` only after the reader has stopped.
public protocol EdgeInput: AnyObject {
    /// The line's role in the rig (`instrument-trigger`) or its offset.
    var name: String { get }
    /// Offset on the chip.
    var lineOffset: UInt32 { get }
    /// How the line was requested.
    var settings: EdgeInputSettings { get }
    /// Blocks until an edge is pending or `timeoutNanoseconds` passed (0: poll; negative: forever).
    /// Returns 0 on timeout, else a positive lower bound on the pending edges (libgpiod says only 1).
    func waitEdges(timeoutNanoseconds: Int64) throws(GPIOError) -> Int
    /// Moves pending edges, oldest first, into `events[0..<n]` and returns n (at most `events.count`;
    /// the rest of the array is left as it was). Call it after `waitEdges` returned > 0: the kernel
    /// backends block while nothing is pending. Writes into the existing elements: no allocation.
    func readEdges(into events: inout [EdgeEvent]) throws(GPIOError) -> Int
    /// Gives the line back. Further waits and reads throw `.notRequested`.
    func release()
}

extension GPIOChip {
    /// Default for chips without edge inputs: throws `GPIOError.notSupported`.
    public func requestEdgeInput(offset: UInt32, consumer: String, settings: EdgeInputSettings) throws -> EdgeInput {
        throw GPIOError.notSupported(chip: name, operation: "edge-event input on line \(offset)",
                                     reason: "this chip's driver has no edge-event inputs")
    }

    /// Requests line `offset` as an edge-event input reporting `edge` transitions (other settings default).
    public func requestEdgeInput(offset: UInt32, consumer: String, edge: EdgeDetection) throws -> EdgeInput {
        try requestEdgeInput(offset: offset, consumer: consumer, settings: EdgeInputSettings(edge: edge))
    }

    /// Default line lookup: only decimal offsets ("17"); drivers override it to find names.
    public func lineOffset(named lineName: String) throws -> UInt32 {
        if let o = UInt32(lineName) { return o }
        throw GPIOError.noSuchLine(chip: name, line: lineName)
    }
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
