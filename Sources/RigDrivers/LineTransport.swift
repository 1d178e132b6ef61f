import Glibc

// Line-terminated byte links to instruments: a TCP socket (SCPI over LAN, port 5025) or a serial port
// (USB CDC/FTDI, or a pseudo-terminal's slave side, which behaves the same). Every wait is a poll(2)
// with a deadline, so a silent instrument becomes a timeout error, never a hang; writes use POSIX
// write/send (MSG_NOSIGNAL), so a peer that went away is an error, never SIGPIPE.

/// Errors of the driver layer: addresses, configuration values and the byte links. Each names the
/// address or key, the operation and the system's reason.
public enum RigDriverError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An instrument address that cannot be used.
    case badAddress(address: String, problem: String)
    /// A configuration value out of its documented range.
    case badConfiguration(key: String, value: String, expected: String)
    /// A system call on the link failed.
    case transport(address: String, operation: String, reason: String)
    /// Nothing (or no complete line) arrived within the timeout.
    case timeout(address: String, operation: String, milliseconds: Int)
    /// The peer closed the link.
    case closed(address: String, operation: String)

    public var description: String {
        switch self {
        case .badAddress(let a, let p): return "instrument address \"\(a)\": \(p)"
        case .badConfiguration(let k, let v, let e): return "potentiostat \(k) = \(v): expected \(e)"
        case .transport(let a, let o, let r): return "\(a): \(o) failed: \(r)"
        case .timeout(let a, let o, let ms): return "\(a): \(o): nothing within \(ms) ms"
        case .closed(let a, let o): return "\(a): \(o): connection closed by the instrument"
        }
    }
}

/// Where an instrument is: `tcp://HOST:PORT` or `serial:///dev/ttyUSB0?baud=115200`.
public enum TransportAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case serial(path: String, baud: Int)

    /// Baud rates the serial transport can set (termios constants exist for these).
    public static let baudRates = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600]

    /// Parses an address.
    /// - Parameter defaultBaud: used when a serial address has no `?baud=`.
    /// - Throws: `RigDriverError.badAddress` naming what is wrong and what is expected.
    public static func parse(_ text: String, defaultBaud: Int = 115200) throws(RigDriverError) -> TransportAddress {
        func bad(_ p: String) -> RigDriverError { .badAddress(address: text, problem: p) }
        if text.hasPrefix("tcp://") {
            let rest = String(text.dropFirst(6))
            guard let colon = rest.lastIndex(of: ":") else {
                throw bad("expected tcp://HOST:PORT (e.g. tcp://192.168.0.20:5025)")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let portText = String(rest[rest.index(after: colon)...])
            guard !host.isEmpty, !host.contains("/") else { throw bad("missing host; expected tcp://HOST:PORT") }
            guard let port = UInt16(portText), port > 0 else {
                throw bad("port \"\(portText)\" is not a number 1…65535")
            }
            return .tcp(host: host, port: port)
        }
        if text.hasPrefix("serial://") {
            let rest = String(text.dropFirst(9))
            let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(parts[0])
            guard path.hasPrefix("/") else {
                throw bad("expected an absolute device path, serial:///dev/ttyACM0?baud=230400")
            }
            var baud = defaultBaud
            if parts.count == 2 {
                for item in parts[1].split(separator: "&") {
                    let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
                    guard kv.count == 2, kv[0] == "baud" else {
                        throw bad("unknown option \"\(item)\"; expected ?baud=N")
                    }
                    guard let b = Int(kv[1]), baudRates.contains(b) else {
                        throw bad("baud \"\(kv[1])\" is not one of " + baudRates.map(String.init).joined(separator: ", "))
                    }
                    baud = b
                }
            }
            return .serial(path: path, baud: baud)
        }
        throw bad("expected tcp://HOST:PORT or serial:///dev/PATH?baud=N")
    }

    public var description: String {
        switch self {
        case .tcp(let h, let p): return h.contains(":") ? "tcp://[\(h)]:\(p)" : "tcp://\(h):\(p)"
        case .serial(let path, let b): return "serial://\(path)?baud=\(b)"
        }
    }
}

/// A line-terminated link (LF; a CR before it is dropped) over a TCP socket or a serial port.
/// Not thread-safe: one driver owns it.
public final class LineTransport {
    /// The address as given, for messages.
    public let address: String
    private var fd: Int32
    private let isSocket: Bool
    private var pending: [UInt8] = []
    /// Longest line accepted, bytes: a device streaming garbage without newlines is an error, not a
    /// growing buffer.
    public var maximumLineBytes = 65536

    private init(address: String, fd: Int32, isSocket: Bool) {
        self.address = address
        self.fd = fd
        self.isSocket = isSocket
    }

    deinit { close() }

    /// Opens the link: connects (TCP, with the timeout) or opens the port in raw mode (serial).
    public static func open(_ address: TransportAddress, timeoutMilliseconds: Int) throws(RigDriverError) -> LineTransport {
        switch address {
        case .tcp(let host, let port): return try connectTCP(host: host, port: port, timeoutMilliseconds: timeoutMilliseconds)
        case .serial(let path, let baud): return try openSerial(path: path, baud: baud)
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) + " (errno \(errno))" }

    private static func connectTCP(host: String, port: UInt16, timeoutMilliseconds: Int) throws(RigDriverError) -> LineTransport {
        let name = TransportAddress.tcp(host: host, port: port).description
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw .badAddress(address: name, problem: "cannot resolve host \"\(host)\": \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let ai = info {
            info = ai.pointee.ai_next
            let s = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if s < 0 { lastError = errnoText(); continue }
            _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK)
            if connect(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
                lastError = errnoText(); Glibc.close(s); continue
            }
            var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
            let n = poll(&p, 1, Int32(timeoutMilliseconds))
            if n == 0 {
                Glibc.close(s)
                throw .timeout(address: name, operation: "connect", milliseconds: timeoutMilliseconds)
            }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &len)
            if n < 0 || soError != 0 {
                lastError = n < 0 ? errnoText() : String(cString: strerror(soError)) + " (errno \(soError))"
                Glibc.close(s); continue
            }
            // Commands are small and answered one by one: Nagle would add up to 40 ms per round trip.
            var one: Int32 = 1
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return LineTransport(address: name, fd: s, isSocket: true)
        }
        throw .transport(address: name, operation: "connect", reason: lastError)
    }

    static func speed(forBaud baud: Int) -> speed_t? {
        switch baud {
        case 9600: return speed_t(B9600)
        case 19200: return speed_t(B19200)
        case 38400: return speed_t(B38400)
        case 57600: return speed_t(B57600)
        case 115200: return speed_t(B115200)
        case 230400: return speed_t(B230400)
        case 460800: return speed_t(B460800)
        case 921600: return speed_t(B921600)
        default: return nil
        }
    }

    private static func openSerial(path: String, baud: Int) throws(RigDriverError) -> LineTransport {
        let name = TransportAddress.serial(path: path, baud: baud).description
        let fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .transport(address: name, operation: "open \(path)", reason: errnoText()) }
        var t = termios()
        guard tcgetattr(fd, &t) == 0 else {
            let r = errnoText(); Glibc.close(fd)
            throw .transport(address: name, operation: "tcgetattr (is \(path) a serial port?)", reason: r)
        }
        // Raw: no echo, no line editing, no CR/LF translation, 8N1, receiver on, modem lines ignored.
        cfmakeraw(&t)
        t.c_cflag |= tcflag_t(CLOCAL | CREAD)
        guard let s = speed(forBaud: baud) else {
            Glibc.close(fd)
            throw .badAddress(address: name, problem: "baud \(baud) not supported")
        }
        cfsetispeed(&t, s)
        cfsetospeed(&t, s)
        guard tcsetattr(fd, TCSANOW, &t) == 0 else {
            let r = errnoText(); Glibc.close(fd)
            throw .transport(address: name, operation: "tcsetattr raw \(baud) baud", reason: r)
        }
        tcflush(fd, TCIOFLUSH)
        return LineTransport(address: name, fd: fd, isSocket: false)
    }

    /// Sends `line` plus LF, waiting up to the timeout for the link to take it.
    public func send(_ line: String, timeoutMilliseconds: Int) throws(RigDriverError) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        try sendBytes(bytes, timeoutMilliseconds: timeoutMilliseconds, operation: "send \"\(line)\"")
    }

    /// Sends raw bytes (no terminator added).
    public func sendBytes(_ bytes: [UInt8], timeoutMilliseconds: Int, operation: String) throws(RigDriverError) {
        guard fd >= 0 else { throw .closed(address: address, operation: operation) }
        let deadline = Self.nowMilliseconds() + Int64(timeoutMilliseconds)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBufferPointer { buf -> Int in
                let p = buf.baseAddress! + offset
                return isSocket ? Glibc.send(fd, p, buf.count - offset, Int32(MSG_NOSIGNAL)) : Glibc.write(fd, p, buf.count - offset)
            }
            if n > 0 { offset += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                let left = deadline - Self.nowMilliseconds()
                if left <= 0 { throw .timeout(address: address, operation: operation, milliseconds: timeoutMilliseconds) }
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, Int32(left))
                continue
            }
            if errno == EPIPE || errno == ECONNRESET || errno == EIO { throw .closed(address: address, operation: operation) }
            throw .transport(address: address, operation: operation, reason: Self.errnoText())
        }
    }

    /// The next line (terminator removed), waiting up to the timeout.
    /// - Throws: `.timeout` when no full line arrived, `.closed` when the peer went away.
    public func receiveLine(timeoutMilliseconds: Int, operation: String = "read a line") throws(RigDriverError) -> String {
        let deadline = Self.nowMilliseconds() + Int64(timeoutMilliseconds)
        while true {
            if let line = takeLine() { return line }
            if pending.count > maximumLineBytes {
                pending.removeAll()
                throw .transport(address: address, operation: operation, reason: "more than \(maximumLineBytes) bytes without a line end")
            }
            let left = deadline - Self.nowMilliseconds()
            if left <= 0 { throw .timeout(address: address, operation: operation, milliseconds: timeoutMilliseconds) }
            try fill(waitMilliseconds: Int(left), operation: operation)
        }
    }

    /// Lines already received or arriving without waiting (non-blocking), oldest first.
    public func receiveAvailableLines(operation: String = "read") throws(RigDriverError) -> [String] {
        try fill(waitMilliseconds: 0, operation: operation)
        var lines: [String] = []
        while let l = takeLine() { lines.append(l) }
        return lines
    }

    /// Drops everything received so far (e.g. stale replies after a timeout).
    public func discardInput() {
        while (try? fill(waitMilliseconds: 0, operation: "discard")) != nil, !pending.isEmpty {
            pending.removeAll(keepingCapacity: true)
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Closes the link (idempotent).
    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    /// True until `close()`.
    public var isOpen: Bool { fd >= 0 }

    private func takeLine() -> String? {
        guard let i = pending.firstIndex(of: 0x0A) else { return nil }
        var end = i
        if end > 0 && pending[end - 1] == 0x0D { end -= 1 }
        let line = String(decoding: pending[0..<end], as: UTF8.self)
        pending.removeSubrange(0...i)
        return line
    }

    /// Waits up to `waitMilliseconds` for input and appends what is there.
    private func fill(waitMilliseconds: Int, operation: String) throws(RigDriverError) {
        guard fd >= 0 else { throw .closed(address: address, operation: operation) }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&p, 1, Int32(max(0, waitMilliseconds)))
        if n < 0 {
            if errno == EINTR { return }
            throw .transport(address: address, operation: operation, reason: Self.errnoText())
        }
        if n == 0 { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if got > 0 {
                pending.append(contentsOf: buffer[0..<got])
                if got < buffer.count { return }
                continue
            }
            if got == 0 { throw .closed(address: address, operation: operation) }
            if errno == EAGAIN || errno == EINTR { return }
            // A pty whose master closed, or a USB adapter unplugged, reads EIO.
            if errno == EIO || errno == ECONNRESET { throw .closed(address: address, operation: operation) }
            throw .transport(address: address, operation: operation, reason: Self.errnoText())
        }
    }

    static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
