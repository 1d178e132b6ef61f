// libgpiod v2 backend: the same Rig protocols over v2's request model (line settings → line config,
// request config → `gpiod_chip_request_lines` → one line request per line). Functions come from
// `GpiodV2Library` (dlopen; see there why).
import Glibc
import Rig

/// Direction of a v2 line setting.
public enum GpiodV2Direction: Sendable, Equatable { case asIs, input, output }

/// A `gpiod_line_settings` object (owned; freed on deinit). Building and reading one needs no chip.
public final class GpiodV2LineSettings {
    let lib: GpiodV2Library
    let pointer: OpaquePointer

    /// New settings with libgpiod's defaults (as-is direction, no edge detection, monotonic clock).
    public init(library: GpiodV2Library) throws(GPIOError) {
        guard let p = library.line_settings_new() else {
            throw GPIOError.notSupported(chip: "libgpiod v2", operation: "gpiod_line_settings_new", reason: gpiodErrnoReason(errno))
        }
        lib = library
        pointer = p
    }

    /// Takes ownership of a settings object libgpiod returned.
    init(library: GpiodV2Library, owning p: OpaquePointer) {
        lib = library
        pointer = p
    }

    deinit { lib.line_settings_free(pointer) }

    public var direction: GpiodV2Direction {
        switch lib.line_settings_get_direction(pointer) {
        case GpiodV2Library.directionInput: return .input
        case GpiodV2Library.directionOutput: return .output
        default: return .asIs
        }
    }

    public func setDirection(_ d: GpiodV2Direction) throws(GPIOError) {
        let v: Int32 = switch d {
        case .asIs: GpiodV2Library.directionAsIs
        case .input: GpiodV2Library.directionInput
        case .output: GpiodV2Library.directionOutput
        }
        try check(lib.line_settings_set_direction(pointer, v), "set direction")
    }

    /// Edge detection, nil for none.
    public var edgeDetection: EdgeDetection? {
        switch lib.line_settings_get_edge_detection(pointer) {
        case GpiodV2Library.edgeRising: return .rising
        case GpiodV2Library.edgeFalling: return .falling
        case GpiodV2Library.edgeBoth: return .both
        default: return nil
        }
    }

    public func setEdgeDetection(_ e: EdgeDetection?) throws(GPIOError) {
        let v: Int32 = switch e {
        case nil: GpiodV2Library.edgeNone
        case .rising?: GpiodV2Library.edgeRising
        case .falling?: GpiodV2Library.edgeFalling
        case .both?: GpiodV2Library.edgeBoth
        }
        try check(lib.line_settings_set_edge_detection(pointer, v), "set edge detection")
    }

    public var bias: LineBias {
        switch lib.line_settings_get_bias(pointer) {
        case GpiodV2Library.biasDisabled: return .disabled
        case GpiodV2Library.biasPullUp: return .pullUp
        case GpiodV2Library.biasPullDown: return .pullDown
        default: return .asIs
        }
    }

    public func setBias(_ b: LineBias) throws(GPIOError) {
        let v: Int32 = switch b {
        case .asIs: GpiodV2Library.biasAsIs
        case .disabled: GpiodV2Library.biasDisabled
        case .pullUp: GpiodV2Library.biasPullUp
        case .pullDown: GpiodV2Library.biasPullDown
        }
        try check(lib.line_settings_set_bias(pointer, v), "set bias")
    }

    public var activeLow: Bool {
        get { lib.line_settings_get_active_low(pointer) }
        set { lib.line_settings_set_active_low(pointer, newValue) }
    }

    public var debounceMicroseconds: UInt {
        get { lib.line_settings_get_debounce_period_us(pointer) }
        set { lib.line_settings_set_debounce_period_us(pointer, newValue) }
    }

    /// True when edge timestamps come from CLOCK_MONOTONIC (the default, and what the rig needs).
    public var eventClockIsMonotonic: Bool { lib.line_settings_get_event_clock(pointer) == GpiodV2Library.clockMonotonic }

    public func setEventClockMonotonic() throws(GPIOError) {
        try check(lib.line_settings_set_event_clock(pointer, GpiodV2Library.clockMonotonic), "set event clock")
    }

    /// Output value when requested as an output (true = active).
    public var outputActive: Bool { lib.line_settings_get_output_value(pointer) == GpiodV2Library.valueActive }

    public func setOutputActive(_ high: Bool) throws(GPIOError) {
        try check(lib.line_settings_set_output_value(pointer, high ? GpiodV2Library.valueActive : GpiodV2Library.valueInactive), "set output value")
    }

    private func check(_ rc: Int32, _ what: String) throws(GPIOError) {
        if rc != 0 {
            throw GPIOError.notSupported(chip: "libgpiod v2", operation: "line settings: \(what)", reason: gpiodErrnoReason(errno))
        }
    }
}

/// A `gpiod_line_config`: settings per offset.
public final class GpiodV2LineConfig {
    let lib: GpiodV2Library
    let pointer: OpaquePointer

    public init(library: GpiodV2Library) throws(GPIOError) {
        guard let p = library.line_config_new() else {
            throw GPIOError.notSupported(chip: "libgpiod v2", operation: "gpiod_line_config_new", reason: gpiodErrnoReason(errno))
        }
        lib = library
        pointer = p
    }

    deinit { lib.line_config_free(pointer) }

    /// Applies `settings` (copied by libgpiod) to `offsets`.
    public func add(offsets: [UInt32], settings: GpiodV2LineSettings) throws(GPIOError) {
        let rc = offsets.withUnsafeBufferPointer { lib.line_config_add_line_settings(pointer, $0.baseAddress, $0.count, settings.pointer) }
        if rc != 0 {
            throw GPIOError.invalidSetting(chip: "libgpiod v2", setting: "line config offsets", value: "\(offsets)",
                                           expected: "distinct offsets (\(gpiodErrnoReason(errno)))")
        }
    }

    /// Offsets that have settings, in the order added.
    public var offsets: [UInt32] {
        let n = lib.line_config_get_num_configured_offsets(pointer)
        var out = [UInt32](repeating: 0, count: n)
        let got = out.withUnsafeMutableBufferPointer { lib.line_config_get_configured_offsets(pointer, $0.baseAddress, n) }
        return Array(out.prefix(got))
    }

    /// A copy of the settings of `offset`, nil if it has none.
    public func settings(offset: UInt32) -> GpiodV2LineSettings? {
        lib.line_config_get_line_settings(pointer, offset).map { GpiodV2LineSettings(library: lib, owning: $0) }
    }
}

/// A `gpiod_request_config`: consumer label and kernel event queue size.
public final class GpiodV2RequestConfig {
    let lib: GpiodV2Library
    let pointer: OpaquePointer

    public init(library: GpiodV2Library) throws(GPIOError) {
        guard let p = library.request_config_new() else {
            throw GPIOError.notSupported(chip: "libgpiod v2", operation: "gpiod_request_config_new", reason: gpiodErrnoReason(errno))
        }
        lib = library
        pointer = p
    }

    deinit { lib.request_config_free(pointer) }

    /// Consumer label shown by `gpioinfo` (the kernel truncates it to 31 bytes).
    public var consumer: String {
        get { lib.request_config_get_consumer(pointer).map { String(cString: $0) } ?? "" }
        set { lib.request_config_set_consumer(pointer, newValue) }
    }

    /// Kernel event queue length (0: the kernel's default).
    public var eventBufferSize: Int {
        get { lib.request_config_get_event_buffer_size(pointer) }
        set { lib.request_config_set_event_buffer_size(pointer, newValue) }
    }
}

/// A GPIO chip through libgpiod v2 (Debian 13, Pi OS trixie; 2.1.3 from bookworm-backports). Opened
/// by path (`/dev/gpiochip0`), name (`gpiochip0`) or number (`0`).
public final class GpiodV2Chip: GPIOChip {
    public let name: String
    /// Device file that was opened.
    public let path: String
    let lib: GpiodV2Library
    private let chip: OpaquePointer
    private var outputs: [GpiodV2Line] = []
    private var inputs: [GpiodV2EdgeInput] = []

    /// The device file for a chip name: paths as given, `gpiochipN` and `N` under /dev.
    public static func devicePath(for nameOrPath: String) -> String {
        if nameOrPath.hasPrefix("/") { return nameOrPath }
        if let n = UInt32(nameOrPath) { return "/dev/gpiochip\(n)" }
        return "/dev/" + nameOrPath
    }

    /// - Throws: `GPIOError.chipUnavailable` naming the chip, the device file and errno; also when the
    ///   v2 library cannot be loaded.
    public init(_ nameOrPath: String, library: GpiodV2Library? = nil) throws {
        let lib: GpiodV2Library
        if let library { lib = library } else {
            do { lib = try GpiodV2Library.load() } catch {
                var reason = "\(error)"
                if case .chipUnavailable(_, let r) = error { reason = r }
                throw GPIOError.chipUnavailable(chip: nameOrPath, reason: "libgpiod v2: " + reason)
            }
        }
        let p = GpiodV2Chip.devicePath(for: nameOrPath)
        guard let c = lib.chip_open(p) else {
            throw GPIOError.chipUnavailable(chip: nameOrPath, reason: "libgpiod v2: cannot open \(p): \(gpiodErrnoReason(errno))")
        }
        self.lib = lib
        chip = c
        name = nameOrPath
        path = p
    }

    deinit {
        for o in outputs { o.release() }
        for i in inputs { i.release() }
        lib.chip_close(chip)
    }

    /// Number of lines on the chip (`gpiod_chip_info_get_num_lines`), nil if the info cannot be read.
    public var lineCount: Int? {
        guard let info = lib.chip_get_info(chip) else { return nil }
        defer { lib.chip_info_free(info) }
        return lib.chip_info_get_num_lines(info)
    }

    public func lineOffset(named lineName: String) throws -> UInt32 {
        if let o = UInt32(lineName) { return o }
        let o = lib.chip_get_line_offset_from_name(chip, lineName)
        guard o >= 0 else { throw GPIOError.noSuchLine(chip: name, line: lineName) }
        return UInt32(o)
    }

    public func requestOutput(offset: UInt32, consumer: String, initialHigh: Bool) throws -> DigitalLine {
        try requestOutput(offset: offset, consumer: consumer, initialHigh: initialHigh, activeLow: false)
    }

    /// Requests line `offset` as a push-pull output driven to `initialHigh`.
    public func requestOutput(offset: UInt32, consumer: String, initialHigh: Bool, activeLow: Bool) throws -> DigitalLine {
        let settings = try GpiodV2LineSettings(library: lib)
        try settings.setDirection(.output)
        try settings.setOutputActive(initialHigh)
        settings.activeLow = activeLow
        let request = try request(offset: offset, consumer: consumer, settings: settings, eventBufferSize: 0, what: "output")
        let line = GpiodV2Line(lib: lib, request: request, chip: name, offset: offset)
        outputs.append(line)
        return line
    }

    /// Requests a line by device-tree name or offset as an output.
    public func requestOutput(named lineName: String, consumer: String, initialHigh: Bool, activeLow: Bool = false) throws -> DigitalLine {
        try requestOutput(offset: try lineOffset(named: lineName), consumer: consumer, initialHigh: initialHigh, activeLow: activeLow)
    }

    /// Requests line `offset` as an edge-event input, timestamps on CLOCK_MONOTONIC.
    public func requestEdgeInput(offset: UInt32, consumer: String, settings: EdgeInputSettings) throws -> EdgeInput {
        try settings.validate(chip: name)
        let s = try GpiodV2Chip.lineSettings(library: lib, for: settings)
        let request = try request(offset: offset, consumer: consumer, settings: s, eventBufferSize: settings.kernelEventBufferSize, what: "\(settings.edge.rawValue)-edge input")
        let input = try GpiodV2EdgeInput(lib: lib, request: request, chip: name, offset: offset, settings: settings)
        inputs.append(input)
        return input
    }

    /// The v2 line settings an edge input is requested with (input, edge detection, bias, active-low,
    /// debounce, CLOCK_MONOTONIC event clock). Public so tests can read them back without a chip.
    public static func lineSettings(library lib: GpiodV2Library, for settings: EdgeInputSettings) throws(GPIOError) -> GpiodV2LineSettings {
        let s = try GpiodV2LineSettings(library: lib)
        try s.setDirection(.input)
        try s.setEdgeDetection(settings.edge)
        try s.setBias(settings.bias)
        s.activeLow = settings.activeLow
        s.debounceMicroseconds = UInt(settings.debounceMicroseconds)
        try s.setEventClockMonotonic()
        return s
    }

    private func request(offset: UInt32, consumer: String, settings: GpiodV2LineSettings, eventBufferSize: Int, what: String) throws -> OpaquePointer {
        let lineConfig = try GpiodV2LineConfig(library: lib)
        try lineConfig.add(offsets: [offset], settings: settings)
        let requestConfig = try GpiodV2RequestConfig(library: lib)
        requestConfig.consumer = consumer
        requestConfig.eventBufferSize = eventBufferSize
        guard let r = lib.chip_request_lines(chip, requestConfig.pointer, lineConfig.pointer) else {
            let code = errno
            if code == EBUSY {
                var who = "another process"
                if let info = lib.chip_get_line_info(chip, offset) {
                    if let c = lib.line_info_get_consumer(info) { who = String(cString: c) }
                    lib.line_info_free(info)
                }
                throw GPIOError.busy(chip: name, line: "\(offset)", consumer: who)
            }
            if code == EINVAL, let lines = lineCount, Int(offset) >= lines {
                throw GPIOError.noSuchLine(chip: name, line: "\(offset)")
            }
            throw GPIOError.io(chip: name, line: "\(offset)", reason: "request as \(what) failed: \(gpiodErrnoReason(code))")
        }
        return r
    }
}

/// A requested libgpiod v2 output line (a one-line request).
public final class GpiodV2Line: DigitalLine {
    public let name: String
    private let lib: GpiodV2Library
    private let chip: String
    private let offset: UInt32
    private var request: OpaquePointer?

    init(lib: GpiodV2Library, request: OpaquePointer, chip: String, offset: UInt32) {
        self.lib = lib
        self.request = request
        self.chip = chip
        self.offset = offset
        name = "\(offset)"
    }

    /// One ioctl through a function pointer: no allocation, no lock.
    public func set(_ high: Bool) throws(GPIOError) {
        guard let request else { throw GPIOError.notRequested(chip: chip, line: name) }
        if lib.line_request_set_value(request, offset, high ? GpiodV2Library.valueActive : GpiodV2Library.valueInactive) != 0 {
            throw GPIOError.io(chip: chip, line: name, reason: "set value failed (errno \(errno))")
        }
    }

    public func release() {
        guard let r = request else { return }
        _ = lib.line_request_set_value(r, offset, GpiodV2Library.valueInactive)   // safe level first
        lib.line_request_release(r)
        request = nil
    }

    deinit { release() }
}

/// A libgpiod v2 edge-event input line. Events carry the kernel's CLOCK_MONOTONIC timestamp in ns and
/// two sequence numbers (request-wide and per line), so a gap shows edges the kernel had to drop.
public final class GpiodV2EdgeInput: EdgeInput {
    public let name: String
    public let lineOffset: UInt32
    public let settings: EdgeInputSettings
    private let lib: GpiodV2Library
    private let chip: String
    private var request: OpaquePointer?
    /// `gpiod_edge_event_buffer`, allocated once: reading into it does not allocate.
    private let buffer: OpaquePointer
    private let capacity: Int

    init(lib: GpiodV2Library, request: OpaquePointer, chip: String, offset: UInt32, settings: EdgeInputSettings) throws(GPIOError) {
        // Match the kernel queue (default 16 per line): a bigger user buffer gains nothing.
        let cap = settings.kernelEventBufferSize > 0 ? min(settings.kernelEventBufferSize, 1024) : 16
        guard let b = lib.edge_event_buffer_new(cap) else {
            lib.line_request_release(request)
            throw GPIOError.io(chip: chip, line: "\(offset)", reason: "gpiod_edge_event_buffer_new failed: \(gpiodErrnoReason(errno))")
        }
        self.lib = lib
        self.request = request
        self.chip = chip
        self.lineOffset = offset
        self.settings = settings
        name = "\(offset)"
        buffer = b
        capacity = lib.edge_event_buffer_get_capacity(b)
    }

    deinit {
        release()
        lib.edge_event_buffer_free(buffer)
    }

    public func waitEdges(timeoutNanoseconds: Int64) throws(GPIOError) -> Int {
        guard let request else { throw GPIOError.notRequested(chip: chip, line: name) }
        let rc = lib.line_request_wait_edge_events(request, timeoutNanoseconds)
        if rc < 0 {
            let code = errno
            if code == EINTR { return 0 }
            throw GPIOError.io(chip: chip, line: name, reason: "wait for edge events failed: \(gpiodErrnoReason(code))")
        }
        return Int(rc)
    }

    public func readEdges(into events: inout [EdgeEvent]) throws(GPIOError) -> Int {
        guard let request else { throw GPIOError.notRequested(chip: chip, line: name) }
        let want = min(events.count, capacity)
        guard want > 0 else { return 0 }
        let n = lib.line_request_read_edge_events(request, buffer, want)
        if n < 0 {
            throw GPIOError.io(chip: chip, line: name, reason: "read edge events failed: \(gpiodErrnoReason(errno))")
        }
        for k in 0..<Int(n) {
            let e = lib.edge_event_buffer_get_event(buffer, UInt(k))
            events[k] = EdgeEvent(
                monotonicNanoseconds: Int64(bitPattern: lib.edge_event_get_timestamp_ns(e)),
                kind: lib.edge_event_get_event_type(e) == GpiodV2Library.eventFalling ? .falling : .rising,
                lineOffset: lib.edge_event_get_line_offset(e),
                globalSequence: UInt64(lib.edge_event_get_global_seqno(e)),
                lineSequence: UInt64(lib.edge_event_get_line_seqno(e)))
        }
        return Int(n)
    }

    public func release() {
        guard let r = request else { return }
        lib.line_request_release(r)
        request = nil
    }
}
