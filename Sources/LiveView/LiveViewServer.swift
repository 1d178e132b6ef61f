import Dataset
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Imaging
import Logging
import NIOCore
import Rig

/// The live view: a queued subscriber of the run engine that keeps a bounded history of the run and
/// serves it to browsers — the page (static HTML/JS/CSS in the binary) and a WebSocket that sends the
/// history once, then increments.
///
/// Subscribe it with `engine.subscribe(server)` (queued: its mailbox and thread are its own, so a slow
/// browser never slows acquisition); the same object serves a finished or growing dataset through
/// `DatasetFollower`. Routes: `/` the page, `/live.js`, `/live.css`, `/ws` the WebSocket,
/// `/api/history` and `/api/status` (JSON), `POST /api/stop` (header `X-Operando-Confirm: stop`) the
/// one action, "stop the run safely", which sets the same flag as SIGINT so the supervisor's safe stop
/// runs.
public final class LiveViewServer: RunSubscriber, @unchecked Sendable {
    public let subscriberName = "live view"
    /// The configuration served (token resolved).
    public let configuration: LiveViewConfiguration
    /// The history and its clients.
    public let history: LiveHistory
    /// Rows are sent in batches at most this often (s); frames, events and status go at once.
    public var rowFlushIntervalSeconds = 0.1

    private let lock = NSLock()
    private var pendingEchem: [EchemRecord] = []
    private var pendingMonitor: [MonitorRecord] = []
    private var lastFlush = Date.distantPast
    private var serverTask: Task<Void, Error>?
    private var boundPort: Int?
    /// Set by a stop request (also counted for tests).
    public private(set) var stopRequests = 0
    /// What "stop the run safely" does; nil: the process's SIGINT flag (what `operando run` wants). A
    /// test or an embedding program gives the run's own `RunEngine.requestStop`.
    public var onStop: (@Sendable () -> Void)?

    /// A server for `configuration` (its token must be resolved: see `LiveViewConfiguration.resolved()`).
    public init(configuration: LiveViewConfiguration, history: LiveHistory = LiveHistory()) throws {
        if !configuration.isLoopback && configuration.token == nil {
            throw LiveViewError.badToken("binding \(configuration.host) (not loopback) needs a token")
        }
        self.configuration = configuration
        self.history = history
    }

    // MARK: RunSubscriber

    public func receive(_ message: RunMessage, bus: RunBus) throws {
        switch message {
        case .started(let info, _):
            history.setInfo(info)
        case .echem(let r):
            lock.withLock { pendingEchem.append(r) }
            flushIfDue()
        case .monitor(let r):
            lock.withLock { pendingMonitor.append(r) }
            flushIfDue()
        case .event(let e, let seconds):
            flush()
            history.append(events: [e.record(atSeconds: seconds)])
        case .frame(let f):
            flush()
            history.update(frame: f.frame, record: f.record)
        case .status(let s):
            flush()
            history.update(status: LiveStatus(s))
        case .edges, .timing:
            break
        case .ended(let outcome):
            flush()
            if var s = history.latestStatus { s.run.ledOn = false; s.ledKnown = true; s.live = false; history.update(status: s) }
            history.end(reason: outcome.description)
        }
    }

    private func flushIfDue() {
        let due = lock.withLock { Date().timeIntervalSince(lastFlush) >= rowFlushIntervalSeconds }
        if due { flush() }
    }

    /// Sends the rows waiting for their batch.
    public func flush() {
        let (e, m) = lock.withLock { () -> ([EchemRecord], [MonitorRecord]) in
            defer { pendingEchem.removeAll(keepingCapacity: true); pendingMonitor.removeAll(keepingCapacity: true); lastFlush = Date() }
            return (pendingEchem, pendingMonitor)
        }
        history.append(echem: e)
        history.append(monitor: m)
    }

    // MARK: Serving

    /// The port listened on (after `start()`).
    public var port: Int? { lock.withLock { boundPort } }

    /// The page's URL (with the token when there is one). A wildcard bind is shown as this host's name.
    public var url: String {
        let host = configuration.host == "0.0.0.0" || configuration.host == "::" ? Self.hostName() : configuration.host
        let h = host.contains(":") ? "[\(host)]" : host
        return "http://\(h):\(port ?? configuration.port)/" + (configuration.token.map { "?token=\($0)" } ?? "")
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Starts listening; returns once the socket is bound (or throws why not), waiting at most `timeoutSeconds`.
    public func start(timeoutSeconds: Double = 10) throws {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.middlewares.add(LiveAccessMiddleware(token: configuration.token))
        addRoutes(router)
        let started = DispatchSemaphore(value: 0)
        let failure = Mutexed<Error?>(nil)
        var logger = Logger(label: "operando.live")
        logger.logLevel = .critical
        let app = Application(router: router,
                              server: .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: .init(maxFrameSize: 1 << 20))),
                              configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                                   serverName: "operando live view"),
                              onServerRunning: { [weak self] channel in
                                  self?.lock.withLock { self?.boundPort = channel.localAddress?.port }
                                  started.signal()
                              },
                              logger: logger)
        let task = Task {
            do { try await app.run() } catch {
                failure.set(error)
                started.signal()
                throw error
            }
        }
        lock.withLock { serverTask = task }
        if started.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            task.cancel()
            throw LiveViewError.cannotStart(address: "\(configuration.host):\(configuration.port)", reason: "not listening after \(timeoutSeconds) s")
        }
        if let e = failure.get() {
            throw LiveViewError.cannotStart(address: "\(configuration.host):\(configuration.port)", reason: "\(e)")
        }
    }

    /// Closes every page's connection and stops listening (waits at most `timeoutSeconds`).
    public func stop(timeoutSeconds: Double = 5) {
        history.closeAll()
        guard let task = lock.withLock({ serverTask }) else { return }
        lock.withLock { serverTask = nil }
        task.cancel()
        let done = DispatchSemaphore(value: 0)
        Task { _ = await task.result; done.signal() }
        _ = done.wait(timeout: .now() + timeoutSeconds)
    }

    private func addRoutes(_ router: Router<BasicWebSocketRequestContext>) {
        let history = self.history
        let config = configuration
        router.get("/") { request, _ -> Response in
            var r = Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                             body: .init(byteBuffer: ByteBuffer(string: LivePage.html)))
            // Visiting /?token=… once lets the page's later requests (and its WebSocket) carry the token.
            if let t = config.token, request.uri.queryParameters["token"].map(String.init) == t {
                r.setCookie(Cookie(name: LiveViewConfiguration.cookieName, value: t, path: "/", httpOnly: true, sameSite: .strict))
            }
            return r
        }
        router.get("/live.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: LivePage.script)))
        }
        router.get("/live.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: LivePage.style)))
        }
        router.get("/api/history") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: history.snapshot())))
        }
        router.get("/api/frame") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: history.latestFrameMessage() ?? "null")))
        }
        router.get("/api/status") { _, _ -> Response in
            var w = JSONWriter()
            if let s = history.latestStatus { s.write(to: &w) } else { w.null() }
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: w.text)))
        }
        router.post("/api/stop") { [weak self] request, _ -> Response in
            // A custom header: a page on another origin cannot send it without a CORS preflight, which
            // this server never grants, so a cross-site form cannot stop the run.
            guard let confirm = HTTPField.Name("X-Operando-Confirm"), request.headers[confirm] == "stop" else {
                return Self.text(.badRequest, "400: send header X-Operando-Confirm: stop to stop the run safely\n")
            }
            guard config.allowsStop else { return Self.text(.conflict, "409: no run to stop (this view shows a dataset)\n") }
            guard history.endedReason == nil else { return Self.text(.conflict, "409: the run has already ended\n") }
            self?.lock.withLock { self?.stopRequests += 1 }
            // The same safe stop as SIGINT: the run's own stop request when the owner gave one, else
            // the process's SIGINT flag (operando run).
            if let stop = self?.onStop { stop() } else { RunInterrupt.received.store(SIGINT, ordering: .relaxed) }
            return Self.text(.accepted, "202: stopping safely (LED off, cell at open circuit, dataset closed)\n")
        }
        let capacity = config.clientQueueCapacity
        router.ws("/ws") { inbound, outbound, _ in
            let client = LiveClient(capacity: capacity)
            history.add(client)
            defer { history.remove(client) }
            // Inbound frames are not used (the page is read-only over the socket); drain them so pings
            // and the close handshake are handled, and end the writer when the page goes.
            let reader = Task {
                for try await _ in inbound {}
                client.close()
            }
            defer { reader.cancel() }
            for await _ in client.wakeups {
                for m in client.take(history: history) { try await outbound.write(.text(m)) }
            }
            for m in client.take(history: history) { try? await outbound.write(.text(m)) }
        }
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// A value behind a lock (for the few values shared between the caller's thread and the server's tasks).
final class Mutexed<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func get() -> T { lock.withLock { value } }
    func set(_ v: T) { lock.withLock { value = v } }
}
