// libgpiod v1 backend (Debian 12 and Raspberry Pi OS bookworm ship 1.6). Compiled when the build's
// pkg-config finds libgpiod 1.x (Package.swift defines GPIOD_V1); on a v2-only system a stub with the
// same API says so, and `GPIOBackend` picks the v2 backend (GpiodV2Chip.swift).
#if GPIOD_V1
import CGpiod
import Glibc
import Rig

/// A GPIO chip through libgpiod v1 (Debian 12). Opened by name (`gpiochip0`), path (`/dev/gpiochip0`),
/// label or number. Every failure names the chip, the line and the system's reason.
public final class GpiodChip: GPIOChip {
    public let name: String
    private let chip: OpaquePointer
    private var requested: [GpiodLine] = []
    private var inputs: [GpiodEdgeInput] = []

    /// The libgpiod v1 library's version (`gpiod_version_string`, e.g. "1.6.3").
    public static var libraryVersion: String { String(cString: gpiod_version_string()) }

    public init(_ nameOrPath: String) throws {
        guard let c = gpiod_chip_open_lookup(nameOrPath) else {
            let code = errno
            let what = code == ENOENT ? "no GPIO chip with this name, path, label or number: " : "cannot open: "
            throw GPIOError.chipUnavailable(chip: nameOrPath, reason: "libgpiod v1: " + what + gpiodErrnoReason(code))
        }
        chip = c
        name = nameOrPath
    }

    deinit {
        for l in requested { l.release() }
        for i in inputs { i.release() }
        gpiod_chip_close(chip)
    }

    /// Requests a line by name (as in the device tree) or offset, as an output.
    public func requestOutput(named lineName: String, consumer: String, initialHigh: Bool, activeLow: Bool = false) throws -> DigitalLine {
        if let offset = UInt32(lineName) {
            return try requestOutput(offset: offset, consumer: consumer, initialHigh: initialHigh, activeLow: activeLow)
        }
        guard let line = gpiod_chip_find_line(chip, lineName) else {
            throw GPIOError.noSuchLine(chip: name, line: lineName)
        }
        return try request(line, label: lineName, consumer: consumer, initialHigh: initialHigh, activeLow: activeLow)
    }

    public func requestOutput(offset: UInt32, consumer: String, initialHigh: Bool) throws -> DigitalLine {
        try requestOutput(offset: offset, consumer: consumer, initialHigh: initialHigh, activeLow: false)
    }

    public func requestOutput(offset: UInt32, consumer: String, initialHigh: Bool, activeLow: Bool) throws -> DigitalLine {
        guard let line = gpiod_chip_get_line(chip, offset) else {
            throw GPIOError.noSuchLine(chip: name, line: "\(offset)")
        }
        return try request(line, label: "\(offset)", consumer: consumer, initialHigh: initialHigh, activeLow: activeLow)
    }

    /// Offset of the line with this device-tree name (`gpiod_chip_find_line`) or decimal offset.
    public func lineOffset(named lineName: String) throws -> UInt32 {
        if let o = UInt32(lineName) { return o }
        guard let line = gpiod_chip_find_line(chip, lineName) else { throw GPIOError.noSuchLine(chip: name, line: lineName) }
        return gpiod_line_offset(line)
    }

    /// Requests line `offset` as an edge-event input (`gpiod_line_request_*_edge_events_flags`).
    /// v1 has no debounce and no kernel queue size: a non-zero setting throws `.notSupported`.
    public func requestEdgeInput(offset: UInt32, consumer: String, settings: EdgeInputSettings) throws -> EdgeInput {
        try settings.validate(chip: name)
        if settings.debounceMicroseconds != 0 || settings.kernelEventBufferSize != 0 {
            throw GPIOError.notSupported(chip: name, operation: "debounce or event buffer size on line \(offset)",
                                         reason: "libgpiod v1 has neither (use the v2 backend, or leave them 0)")
        }
        guard let line = gpiod_chip_get_line(chip, offset) else {
            throw GPIOError.noSuchLine(chip: name, line: "\(offset)")
        }
        var flags: Int32 = settings.activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        switch settings.bias {
        case .asIs: break
        case .disabled: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
        case .pullDown: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
        case .pullUp: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
        }
        let rc: Int32
        switch settings.edge {
        case .rising: rc = gpiod_line_request_rising_edge_events_flags(line, consumer, flags)
        case .falling: rc = gpiod_line_request_falling_edge_events_flags(line, consumer, flags)
        case .both: rc = gpiod_line_request_both_edges_events_flags(line, consumer, flags)
        }
        if rc != 0 {
            let code = errno
            if code == EBUSY {
                let who = gpiod_line_consumer(line).map { String(cString: $0) } ?? "another process"
                throw GPIOError.busy(chip: name, line: "\(offset)", consumer: who)
            }
            throw GPIOError.io(chip: name, line: "\(offset)", reason: "request as \(settings.edge.rawValue)-edge input failed: \(gpiodErrnoReason(code))")
        }
        let input = GpiodEdgeInput(line: line, chip: name, offset: offset, settings: settings)
        inputs.append(input)
        return input
    }

    private func request(_ line: OpaquePointer, label: String, consumer: String, initialHigh: Bool, activeLow: Bool) throws -> DigitalLine {
        let flags = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        if gpiod_line_request_output_flags(line, consumer, flags, initialHigh ? 1 : 0) != 0 {
            let code = errno
            if code == EBUSY {
                let who = gpiod_line_consumer(line).map { String(cString: $0) } ?? "another process"
                throw GPIOError.busy(chip: name, line: label, consumer: who)
            }
            throw GPIOError.io(chip: name, line: label, reason: "request as output failed: \(gpiodErrnoReason(code))")
        }
        let l = GpiodLine(line: line, chip: name, label: label)
        requested.append(l)
        return l
    }
}

/// A requested libgpiod v1 output line.
public final class GpiodLine: DigitalLine {
    public let name: String
    private let chip: String
    private var line: OpaquePointer?

    init(line: OpaquePointer, chip: String, label: String) {
        self.line = line
        self.chip = chip
        self.name = label
    }

    public func set(_ high: Bool) throws(GPIOError) {
        guard let line else { throw GPIOError.notRequested(chip: chip, line: name) }
        if gpiod_line_set_value(line, high ? 1 : 0) != 0 {
            throw GPIOError.io(chip: chip, line: name, reason: "set value failed (errno \(errno))")
        }
    }

    public func release() {
        guard let l = line else { return }
        _ = gpiod_line_set_value(l, 0)   // safe level before letting go
        gpiod_line_release(l)
        line = nil
    }

    deinit { release() }
}

/// A libgpiod v1 edge-event input line. v1's events carry a `timespec` and the edge kind only: no
/// sequence numbers (the v1 uAPI has none), so `globalSequence`/`lineSequence` are 0 and lost edges
/// cannot be seen. The timestamp is the kernel's: CLOCK_MONOTONIC since Linux 5.7 (the v1 uAPI
/// stamped CLOCK_REALTIME before), taken in the interrupt handler, not when we read.
public final class GpiodEdgeInput: EdgeInput {
    public let name: String
    public let lineOffset: UInt32
    public let settings: EdgeInputSettings
    private let chip: String
    private var line: OpaquePointer?
    /// Read buffer, allocated once: the reader thread's loop does not allocate.
    private let buffer: UnsafeMutablePointer<gpiod_line_event>
    /// Events per `gpiod_line_event_read_multiple` (libgpiod v1 reads at most 16 at a time).
    private static let batch = 16

    init(line: OpaquePointer, chip: String, offset: UInt32, settings: EdgeInputSettings) {
        self.line = line
        self.chip = chip
        self.lineOffset = offset
        self.name = "\(offset)"
        self.settings = settings
        buffer = .allocate(capacity: Self.batch)
        buffer.initialize(repeating: gpiod_line_event(), count: Self.batch)
    }

    deinit {
        release()
        buffer.deallocate()
    }

    public func waitEdges(timeoutNanoseconds: Int64) throws(GPIOError) -> Int {
        guard let line else { throw GPIOError.notRequested(chip: chip, line: name) }
        let rc: Int32
        if timeoutNanoseconds < 0 {
            rc = gpiod_line_event_wait(line, nil)
        } else {
            var ts = timespec(tv_sec: Int(timeoutNanoseconds / 1_000_000_000), tv_nsec: Int(timeoutNanoseconds % 1_000_000_000))
            rc = gpiod_line_event_wait(line, &ts)
        }
        if rc < 0 {
            let code = errno
            if code == EINTR { return 0 }
            throw GPIOError.io(chip: chip, line: name, reason: "wait for edge events failed: \(gpiodErrnoReason(code))")
        }
        return Int(rc)
    }

    public func readEdges(into events: inout [EdgeEvent]) throws(GPIOError) -> Int {
        guard let line else { throw GPIOError.notRequested(chip: chip, line: name) }
        let want = min(events.count, Self.batch)
        guard want > 0 else { return 0 }
        let n = gpiod_line_event_read_multiple(line, buffer, UInt32(want))
        if n < 0 {
            throw GPIOError.io(chip: chip, line: name, reason: "read edge events failed: \(gpiodErrnoReason(errno))")
        }
        for k in 0..<Int(n) {
            let e = buffer[k]
            events[k] = EdgeEvent(
                monotonicNanoseconds: Int64(e.ts.tv_sec) * 1_000_000_000 + Int64(e.ts.tv_nsec),
                kind: e.event_type == Int32(GPIOD_LINE_EVENT_FALLING_EDGE) ? .falling : .rising,
                lineOffset: lineOffset, globalSequence: 0, lineSequence: 0)
        }
        return Int(n)
    }

    public func release() {
        guard let l = line else { return }
        gpiod_line_release(l)
        line = nil
    }
}
#else
import Rig

/// Stand-in when this build found no libgpiod v1 (a v2-only system): same API, every open throws, so
/// callers compile everywhere; `GPIOBackend.open` picks the v2 backend instead.
public final class GpiodChip: GPIOChip {
    public let name: String
    /// No v1 library in this build.
    public static var libraryVersion: String { "not built" }

    public init(_ nameOrPath: String) throws {
        throw GPIOError.chipUnavailable(chip: nameOrPath, reason: "libgpiod v1 backend not in this build (the build found libgpiod \(GPIOBackend.buildLibgpiodVersion)); use GPIOBackend.open")
    }

    public func requestOutput(named lineName: String, consumer: String, initialHigh: Bool, activeLow: Bool = false) throws -> DigitalLine {
        throw GPIOError.notSupported(chip: name, operation: "output", reason: "libgpiod v1 backend not in this build")
    }

    public func requestOutput(offset: UInt32, consumer: String, initialHigh: Bool) throws -> DigitalLine {
        throw GPIOError.notSupported(chip: name, operation: "output", reason: "libgpiod v1 backend not in this build")
    }
}
#endif
