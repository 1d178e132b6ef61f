import Foundation
import HTTPTypes
import Hummingbird

/// The live view's errors.
public enum LiveViewError: Error, CustomStringConvertible, Equatable {
    /// `--live` was given an address that is not `HOST:PORT` (or `PORT`).
    case badAddress(String, expected: String)
    /// A token that is too short or has characters a URL or cookie cannot carry.
    case badToken(String)
    /// The server could not bind or start.
    case cannotStart(address: String, reason: String)

    public var description: String {
        switch self {
        case .badAddress(let a, let e): return "live view: address \"\(a)\": expected \(e)"
        case .badToken(let why): return "live view: --live-token: \(why)"
        case .cannotStart(let a, let r): return "live view: cannot serve on \(a): \(r)"
        }
    }
}

/// Where the live view listens and who may use it.
///
/// Bound to loopback (127.0.0.1:8642) by default, where the machine's own users may read the page
/// without a token. Any other address requires a token: given, or generated (and printed once by the
/// command). With a token, every request must carry it (header `Authorization: Bearer T` or
/// `X-Operando-Token: T`, query `?token=T`, or the cookie set by visiting `/?token=T`), or gets 401.
public struct LiveViewConfiguration: Sendable, Equatable {
    /// The default address of `--live`.
    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 8642
    /// The cookie that carries the token after `/?token=…`.
    public static let cookieName = "operando_live_token"

    public var host: String
    /// TCP port, 0…65535 (0: any free port, for tests).
    public var port: Int
    /// Required on non-loopback addresses (see `resolved()`); at least 16 characters of [A-Za-z0-9_-].
    public var token: String?
    /// True when the page may offer "stop the run safely" (a running engine; not a finished dataset).
    public var allowsStop: Bool
    /// Per-client queue length before a slow page is sent the history again instead of a backlog.
    public var clientQueueCapacity = 256

    public init(host: String = LiveViewConfiguration.defaultHost, port: Int = LiveViewConfiguration.defaultPort,
                token: String? = nil, allowsStop: Bool = false) {
        self.host = host
        self.port = port
        self.token = token
        self.allowsStop = allowsStop
    }

    /// Parses `HOST:PORT`, `:PORT`, `PORT` or `HOST` (`[v6]:PORT` for IPv6); empty means the default.
    public static func parse(address: String) throws -> (host: String, port: Int) {
        let expected = "HOST:PORT, e.g. 127.0.0.1:8642 or 0.0.0.0:8642, with a port from 0 to 65535"
        let a = address.trimmingCharacters(in: .whitespaces)
        if a.isEmpty { return (defaultHost, defaultPort) }
        func port(_ s: Substring) throws -> Int {
            guard let p = Int(s), (0...65535).contains(p) else { throw LiveViewError.badAddress(address, expected: expected) }
            return p
        }
        if a.hasPrefix("[") {
            guard let close = a.firstIndex(of: "]") else { throw LiveViewError.badAddress(address, expected: expected) }
            let host = String(a[a.index(after: a.startIndex)..<close])
            let rest = a[a.index(after: close)...]
            if rest.isEmpty { return (host, defaultPort) }
            guard rest.hasPrefix(":") else { throw LiveViewError.badAddress(address, expected: expected) }
            return (host, try port(rest.dropFirst()))
        }
        if a.allSatisfy(\.isNumber) { return (defaultHost, try port(Substring(a))) }
        let parts = a.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return (a, defaultPort)
        case 2: return (parts[0].isEmpty ? defaultHost : String(parts[0]), try port(parts[1]))
        default: throw LiveViewError.badAddress(address, expected: expected)
        }
    }

    /// True for 127.0.0.0/8, ::1 and localhost.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// True when this configuration listens on loopback only.
    public var isLoopback: Bool { Self.isLoopback(host) }

    /// A new random token (128 bits, hex).
    public static func generateToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }

    /// The configuration to serve with: the token checked, and generated when the address is not
    /// loopback and none was given (`generated` tells the caller to print it).
    public func resolved() throws -> (configuration: LiveViewConfiguration, generatedToken: Bool) {
        var c = self
        if let t = token {
            guard t.count >= 16 else { throw LiveViewError.badToken("\(t.count) characters; expected at least 16") }
            guard t.unicodeScalars.allSatisfy({ ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "_" }) else {
                throw LiveViewError.badToken("expected letters, digits, - and _ only")
            }
            return (c, false)
        }
        if isLoopback { return (c, false) }
        c.token = Self.generateToken()
        return (c, true)
    }
}

/// Checks every request against the configuration: the token when there is one; without one (loopback
/// only), a Host header naming loopback, so a web page elsewhere cannot reach the view through DNS
/// rebinding.
struct LiveAccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let token {
            guard let presented = Self.presentedToken(request), Self.constantTimeEqual(presented, token) else {
                return Response(status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                                body: .init(byteBuffer: ByteBuffer(string: "401: this live view needs its token (open the URL operando printed, with ?token=…)\n")))
            }
        } else {
            let host = request.head.authority ?? ""
            let name = host.hasPrefix("[") ? String(host.dropFirst().prefix { $0 != "]" }) : String(host.split(separator: ":").first ?? "")
            guard LiveViewConfiguration.isLoopback(name) else {
                return Response(status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: "403: this live view serves loopback only (Host \(host))\n")))
            }
        }
        return try await next(request, context)
    }

    static func presentedToken(_ request: Request) -> String? {
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") { return String(auth.dropFirst(7)) }
        if let h = HTTPField.Name("X-Operando-Token"), let t = request.headers[h] { return t }
        if let q = request.uri.queryParameters["token"] { return String(q) }
        if let c = request.cookies[LiveViewConfiguration.cookieName] { return c.value }
        return nil
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var d: UInt8 = 0
        for i in x.indices { d |= x[i] ^ y[i] }
        return d == 0
    }
}

extension LiveViewConfiguration {
    /// Command-line arguments with a bare `--live` (no address after it) given the default address, so
    /// `operando run P --live` and `operando run --live P` both serve on 127.0.0.1:8642 while
    /// `--live 0.0.0.0:8642` keeps its address. An argument counts as an address when it has a `:`
    /// or is a port number.
    public static func expandingBareLiveOption(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { out.append(contentsOf: arguments[i...]); break }
            if a == "--live" {
                let next = i + 1 < arguments.count ? arguments[i + 1] : nil
                let isAddress = next.map { !$0.hasPrefix("-") && ($0.contains(":") || (!$0.isEmpty && $0.allSatisfy(\.isNumber))) } ?? false
                if !isAddress { out.append("--live=\(defaultHost):\(defaultPort)"); i += 1; continue }
            }
            out.append(a)
            i += 1
        }
        return out
    }
}
