import Foundation
import Testing
@testable import FirmwareSim
@testable import RigDrivers

struct LineTransportTests {
    /// A pty opened as a serial port (raw termios): CR LF and LF both end lines, bytes pass unchanged.
    @Test func aPtyOpensAsASerialPortAndSplitsLines() throws {
        let pty = try TwinPty(linkPath: nil, device: "test")
        defer { pty.close() }
        let link = try LineTransport.open(.serial(path: pty.path, baud: 921600), timeoutMilliseconds: 500)
        defer { link.close() }
        pty.master.write(Array("abc\r\nd\u{1B}f\n".utf8))
        #expect(try link.receiveLine(timeoutMilliseconds: 500) == "abc")
        #expect(try link.receiveLine(timeoutMilliseconds: 500) == "d\u{1B}f")
        try link.send("*IDN?", timeoutMilliseconds: 500)
        var got: [String] = []
        _ = eventually { got += pty.master.readLines(waitMilliseconds: 10); return !got.isEmpty }
        #expect(got == ["*IDN?"])      // raw mode: no echo, no CR added
    }

    @Test func silenceIsATimeoutNamingTheAddressAndTheWait() throws {
        let pty = try TwinPty(linkPath: nil, device: "test")
        defer { pty.close() }
        let link = try LineTransport.open(.serial(path: pty.path, baud: 9600), timeoutMilliseconds: 500)
        defer { link.close() }
        pty.master.write(Array("partial".utf8))
        let start = Date()
        #expect { try link.receiveLine(timeoutMilliseconds: 120, operation: "reply to *IDN?") } throws: {
            $0 as? RigDriverError == .timeout(address: "serial://\(pty.path)?baud=9600", operation: "reply to *IDN?", milliseconds: 120)
        }
        #expect(Date().timeIntervalSince(start) < 1)
    }

    @Test func aLineWithoutEndIsRefusedAtTheLimit() throws {
        let pty = try TwinPty(linkPath: nil, device: "test")
        defer { pty.close() }
        let link = try LineTransport.open(.serial(path: pty.path, baud: 9600), timeoutMilliseconds: 500)
        defer { link.close() }
        link.maximumLineBytes = 64
        pty.master.write([UInt8](repeating: 0x41, count: 200))
        #expect { try link.receiveLine(timeoutMilliseconds: 300) } throws: { "\($0)".contains("more than 64 bytes without a line end") }
    }

    @Test func aClosedPeerIsClosedNotATimeout() throws {
        let peer = try TwinListener(port: 0, device: "test")
        defer { peer.close() }
        let link = try LineTransport.open(.tcp(host: "127.0.0.1", port: peer.port), timeoutMilliseconds: 500)
        defer { link.close() }
        let c = try #require(peer.accept(waitMilliseconds: 500))
        c.close()
        #expect { try link.receiveLine(timeoutMilliseconds: 500) } throws: {
            $0 as? RigDriverError == .closed(address: "tcp://127.0.0.1:\(peer.port)", operation: "read a line")
        }
    }

    @Test func aMissingDeviceNamesThePathAndTheReason() {
        #expect { try LineTransport.open(.serial(path: "/dev/operando-no-such-tty", baud: 9600), timeoutMilliseconds: 100) } throws: {
            "\($0)".contains("/dev/operando-no-such-tty") && "\($0)".contains("No such file")
        }
    }
}
