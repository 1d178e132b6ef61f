import CGpiod
import Glibc
import Rig

/// A GPIO chip through libgpiod v1 (Debian 12). Opened by name (`gpiochip0`), path (`/dev/gpiochip0`),
/// label or number. Every failure names the chip, the line and the system's reason.
public final class GpiodChip: GPIOChip {
    public let name: String
    private let chip: OpaquePointer
    private var requested: [GpiodLine] = []

    public init(_ nameOrPath: String) throws {
        guard let c = gpiod_chip_open_lookup(nameOrPath) else {
            let reason = errno == ENOENT ? "no GPIO chip with this name or path (errno ENOENT)" : String(cString: strerror(errno))
            throw GPIOError.chipUnavailable(chip: nameOrPath, reason: reason)
        }
        chip = c
        name = nameOrPath
    }

    deinit {
        for l in requested { l.release() }
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

    private func request(_ line: OpaquePointer, label: String, consumer: String, initialHigh: Bool, activeLow: Bool) throws -> DigitalLine {
        let flags = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        if gpiod_line_request_output_flags(line, consumer, flags, initialHigh ? 1 : 0) != 0 {
            if errno == EBUSY {
                let who = gpiod_line_consumer(line).map { String(cString: $0) } ?? "another process"
                throw GPIOError.busy(chip: name, line: label, consumer: who)
            }
            throw GPIOError.io(chip: name, line: label, reason: "request as output failed: \(String(cString: strerror(errno)))")
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
