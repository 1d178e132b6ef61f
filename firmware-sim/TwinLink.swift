import Foundation
import Rig

// Shared machinery of the wire-level twins (SCPITwin, MethodSCRIPTTwin): the server-side byte links
// (a loopback TCP listener, a pseudo-terminal with a symlink), the faults a twin can be told to produce,
// and the mapping from wall time or commanded simulation time onto the simulated rig's virtual clock.

/// A fault a wire twin produces on request.
public enum TwinFault: Sendable, Equatable {
    /// Every reply (and streamed line) is delayed by this much, until `.clear`.
    case slowReplies(milliseconds: Int)
    /// The link is closed when the next command arrives (TCP: the socket; pty: the master side, and
    /// the symlink then points at a fresh pty as a re-enumerated USB device would).
    case dropConnection
    /// The next reply (or streamed line) is replaced by bytes that are not the protocol.
    case garbage
    /// The instrument reports an error: SCPI queues it (`:SYST:ERR?`); MethodSCRIPT emits `!XXXX`.
    case instrumentError(code: Int, message: String)
    /// The cell's contact degrades by `ohms`: constant current runs into its voltage limit.
    case compliance(ohms: Double)
    /// Ends slow replies (faults already produced stay produced).
    case clear
}

/// Faults waiting for the twin's thread, and what is persistent.
struct TwinFaultState {
    var replyDelayMilliseconds = 0
    var dropPending = false
    var garbagePending = false
    var errors: [(code: Int, message: String)] = []
    var complianceOhms: [Double] = []

    mutating func add(_ f: TwinFault) {
        switch f {
        case .slowReplies(let ms): replyDelayMilliseconds = max(0, ms)
        case .dropConnection: dropPending = true
        case .garbage: garbagePending = true
        case .instrumentError(let c, let m): errors.append((c, m))
        case .compliance(let ohms): complianceOhms.append(ohms)
        case .clear: replyDelayMilliseconds = 0
        }
    }
}

/// Bytes a twin sends for `.garbage`: invalid UTF-8 and control characters, then a line end so the
/// driver's line reader hands it over.
let twinGarbageBytes: [UInt8] = [0xFF, 0xFE, 0x00, 0x1B, 0x5B, 0x3F, 0xC3, 0x28, 0x7E, 0x7F, 0x0A]

/// Maps the twin's notion of now onto the simulated rig's virtual clock: either the wall clock
/// (elapsed since the twin started) or simulation time commanded by the driver; never backwards.
final class TwinTime {
    let clock: any Clock
    let originNanoseconds: Int64
    private let wallStartNanoseconds: Int64
    private(set) var commanded: Bool
    private var anchorNanoseconds: Int64 = 0

    init(clock: any Clock, originNanoseconds: Int64, commanded: Bool) {
        self.clock = clock
        self.originNanoseconds = originNanoseconds
        self.commanded = commanded
        wallStartNanoseconds = TwinTime.wallNanoseconds()
        anchorNanoseconds = originNanoseconds
    }

    static func wallNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// In wall mode, brings the virtual clock to the wall's elapsed time.
    func followWall() {
        guard !commanded else { return }
        clock.sleep(untilNanoseconds: originNanoseconds + (TwinTime.wallNanoseconds() - wallStartNanoseconds))
    }

    /// Simulation time commanded by the driver (seconds since the driver connected). The first command
    /// switches a wall-mode twin to commanded time for good.
    func command(seconds: Double) {
        clock.sleep(untilNanoseconds: commandedTarget(seconds: seconds))
    }

    /// The virtual time that commanded `seconds` stands for (switching to commanded time).
    func commandedTarget(seconds: Double) -> Int64 {
        let ns = Int64((seconds * 1e9).rounded())
        // A twin commanded from the start counts from its origin; a wall-mode twin from where it is.
        if !commanded {
            commanded = true
            anchorNanoseconds = clock.monotonicNanoseconds - ns
        }
        return anchorNanoseconds + ns
    }

    /// Virtual nanoseconds at which wall time reaches virtual time `t` (wall mode).
    func wallNanoseconds(forVirtual t: Int64) -> Int64 { wallStartNanoseconds + (t - originNanoseconds) }
}

/// One client link of a twin: non-blocking fd, line reassembly, writes that never raise SIGPIPE.
final class TwinConnection {
    let fd: Int32
    let isSocket: Bool
    /// A pty master: no slave open reads as EIO/hang-up, which means "nobody attached", not "closed".
    let isPtyMaster: Bool
    private var pending: [UInt8] = []
    private(set) var isClosed = false
    private var fdClosed = false

    init(fd: Int32, isSocket: Bool, isPtyMaster: Bool = false) {
        self.fd = fd
        self.isSocket = isSocket
        self.isPtyMaster = isPtyMaster
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Waits up to `milliseconds` for input; returns complete lines (CR dropped). Marks the link
    /// closed on EOF/EIO.
    func readLines(waitMilliseconds milliseconds: Int) -> [String] {
        guard !isClosed else { return [] }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&p, 1, Int32(max(0, milliseconds)))
        if n > 0 {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let got = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
                if got > 0 { pending.append(contentsOf: buffer[0..<got]); if got < buffer.count { break } else { continue } }
                if isPtyMaster && got < 0 && errno == EIO {
                    // No slave open: wait as asked instead of spinning on the hang-up.
                    if milliseconds > 0 { usleep(UInt32(milliseconds) * 1000) }
                    break
                }
                if got == 0 || (errno != EAGAIN && errno != EINTR) { isClosed = true }
                break
            }
        }
        var lines: [String] = []
        while let i = pending.firstIndex(of: 0x0A) {
            var end = i
            if end > 0 && pending[end - 1] == 0x0D { end -= 1 }
            lines.append(String(decoding: pending[0..<end], as: UTF8.self))
            pending.removeSubrange(0...i)
        }
        return lines
    }

    func write(_ bytes: [UInt8]) {
        guard !isClosed else { return }
        var offset = 0
        var spins = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBufferPointer { b -> Int in
                isSocket ? Glibc.send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
                         : Glibc.write(fd, b.baseAddress! + offset, b.count - offset)
            }
            if n > 0 { offset += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) && spins < 200 {
                spins += 1
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 5)
                continue
            }
            // A pty nobody reads drops what does not fit, as a USB device's buffer would.
            if !isPtyMaster { isClosed = true }
            return
        }
    }

    func writeLine(_ s: String) { write(Array((s + "\n").utf8)) }

    func close() {
        isClosed = true
        if !fdClosed { fdClosed = true; Glibc.close(fd) }
    }
}

/// A TCP listener on 127.0.0.1 (loopback only).
final class TwinListener {
    let fd: Int32
    let port: UInt16

    init(port: UInt16, device: String) throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw PotentiostatError.disconnected(device: device, reason: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(s, 4) == 0 else {
            let r = String(cString: strerror(errno))
            Glibc.close(s)
            throw PotentiostatError.rejected(device: device, command: "listen on 127.0.0.1:\(port)", reason: r)
        }
        var actual = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
        }
        _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK)
        fd = s
        self.port = UInt16(bigEndian: actual.sin_port)
    }

    /// A client if one connects within `milliseconds`.
    func accept(waitMilliseconds milliseconds: Int) -> TwinConnection? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(milliseconds)) > 0 else { return nil }
        let c = Glibc.accept(fd, nil, nil)
        guard c >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return TwinConnection(fd: c, isSocket: true)
    }

    func close() { Glibc.close(fd) }
}

/// A pseudo-terminal whose slave side is what a USB CDC device node is to the driver, published as a
/// symlink.
final class TwinPty {
    // <asm-generic/ioctls.h> (x86-64 and arm64): TIOCSPTLCK = _IOW('T', 0x31, int),
    // TIOCGPTN = _IOR('T', 0x30, unsigned int); function-like macros are not imported into Swift.
    static let setLock: UInt = 0x4004_5431
    static let getNumber: UInt = 0x8004_5430
    let master: TwinConnection
    let slavePath: String
    let linkPath: String?

    init(linkPath: String?, device: String) throws {
        // posix_openpt/grantpt/unlockpt/ptsname are what this does on Linux (Glibc's Swift module
        // hides them behind _XOPEN_SOURCE): open the multiplexer, unlock the slave, ask its number.
        let m = Glibc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard m >= 0, ioctl(m, TwinPty.setLock, &unlock) == 0, ioctl(m, TwinPty.getNumber, &number) == 0 else {
            let r = String(cString: strerror(errno))
            if m >= 0 { Glibc.close(m) }
            throw PotentiostatError.disconnected(device: device, reason: "opening a pseudo-terminal (/dev/ptmx): \(r)")
        }
        slavePath = "/dev/pts/\(number)"
        let s = Glibc.open(slavePath, O_RDWR | O_NOCTTY | O_NONBLOCK)
        guard s >= 0 else {
            Glibc.close(m)
            throw PotentiostatError.disconnected(device: device, reason: "open \(slavePath): \(String(cString: strerror(errno)))")
        }
        // Raw from the start (no echo of what the twin writes, no CR/LF mapping); the setting stays
        // with the pty after this descriptor is closed. Not holding the slave open means a driver that
        // goes away leaves no reader behind to steal or block the stream.
        var t = termios()
        tcgetattr(s, &t)
        cfmakeraw(&t)
        tcsetattr(s, TCSANOW, &t)
        Glibc.close(s)
        master = TwinConnection(fd: m, isSocket: false, isPtyMaster: true)
        self.linkPath = linkPath
        if let linkPath {
            var st = stat()
            if lstat(linkPath, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFLNK else {
                    close()
                    throw PotentiostatError.rejected(device: device, command: "publish the pty at \(linkPath)",
                                                     reason: "the path exists and is not a symlink; refusing to replace it")
                }
                unlink(linkPath)
            }
            guard symlink(slavePath, linkPath) == 0 else {
                let r = String(cString: strerror(errno))
                close()
                throw PotentiostatError.rejected(device: device, command: "symlink \(linkPath) → \(slavePath)", reason: r)
            }
        }
    }

    /// The path a driver opens: the symlink if one was asked for, else the slave device.
    var path: String { linkPath ?? slavePath }

    func close() {
        master.close()
        if let linkPath {
            var buf = [Int8](repeating: 0, count: 4096)
            let n = readlink(linkPath, &buf, buf.count - 1)
            if n > 0, String(cString: Array(buf[0..<n]) + [0]) == slavePath { unlink(linkPath) }
        }
    }
}

/// A thread running a twin's loop until told to stop.
final class TwinThread: @unchecked Sendable {
    private let lock = NSLock()
    private var stopFlag = false
    private let done = DispatchSemaphore(value: 0)
    private var started = false

    var stopRequested: Bool { lock.lock(); defer { lock.unlock() }; return stopFlag }

    func start(name: String, _ body: @escaping @Sendable () -> Void) {
        started = true
        let t = Thread { [done] in body(); done.signal() }
        t.name = name
        t.start()
    }

    func stop() {
        lock.lock(); stopFlag = true; lock.unlock()
        if started { done.wait(); started = false }
    }
}
