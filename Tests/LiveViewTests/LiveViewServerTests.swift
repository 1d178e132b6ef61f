import Dataset
import Foundation
import Glibc
@testable import LiveView
import Rig
import Testing

// The live view's server: its routes, the WebSocket's history-then-increments after a simulated run,
// the token off loopback, and the one action (stop the run safely). Serialized: the stop test sets
// the process-wide SIGINT flag.
@Suite(.serialized) struct LiveViewServerTests {
    @Test func routesServeThePageItsScriptAndTheHistory() throws {
        let server = try LiveViewServer(configuration: LiveViewConfiguration(host: "127.0.0.1", port: 0))
        try server.start()
        defer { server.stop() }
        let port = try #require(server.port)
        #expect(port > 0)
        let page = try http(port: port, path: "/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.body.contains("<canvas id=\"contrast\""))
        #expect(!page.body.contains("//cdn") && !page.body.contains("https://"), "the page loads nothing from elsewhere")
        let js = try http(port: port, path: "/live.js")
        #expect(js.status == 200 && js.body.contains("new WebSocket"))
        #expect(try http(port: port, path: "/live.css").status == 200)
        let history = try http(port: port, path: "/api/history")
        #expect(history.status == 200)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(history.body.utf8)) as? [String: Any])
        #expect(o["type"] as? String == "history")
        #expect(try http(port: port, path: "/api/status").body == "null")
        #expect(try http(port: port, path: "/api/frame").body == "null", "no frame yet")
        #expect(try http(port: port, path: "/nothing-here").status == 404)
        // The one action needs its confirmation header, and a running engine.
        #expect(try http("POST", port: port, path: "/api/stop").status == 400)
        #expect(try http("POST", port: port, path: "/api/stop", headers: ["X-Operando-Confirm": "stop"]).status == 409)
        #expect(try http("GET", port: port, path: "/api/stop").status != 202)
        // Loopback without a token: a Host that is not loopback (DNS rebinding) is refused.
        #expect(try http(port: port, path: "/", host: "attacker.example:\(port)").status == 403)
        #expect(try http(port: port, path: "/", host: "localhost:\(port)").status == 200)
        #expect(RunInterrupt.received.load(ordering: .relaxed) == 0)
    }

    @Test func addressesParseAndNonLoopbackNeedsAToken() throws {
        #expect(try LiveViewConfiguration.parse(address: "") == ("127.0.0.1", 8642))
        #expect(try LiveViewConfiguration.parse(address: "0.0.0.0:9000") == ("0.0.0.0", 9000))
        #expect(try LiveViewConfiguration.parse(address: ":9001") == ("127.0.0.1", 9001))
        #expect(try LiveViewConfiguration.parse(address: "9002") == ("127.0.0.1", 9002))
        #expect(try LiveViewConfiguration.parse(address: "[::1]:9003") == ("::1", 9003))
        #expect(throws: LiveViewError.self) { try LiveViewConfiguration.parse(address: "host:99999") }
        #expect(throws: LiveViewError.self) { try LiveViewConfiguration.parse(address: "a:b:c") }
        let (loop, generatedOnLoopback) = try LiveViewConfiguration(host: "127.0.0.1", port: 0).resolved()
        #expect(loop.token == nil && !generatedOnLoopback)
        let (open, generated) = try LiveViewConfiguration(host: "0.0.0.0", port: 0).resolved()
        #expect(generated && (open.token?.count ?? 0) == 32)
        #expect(throws: LiveViewError.self) { try LiveViewConfiguration(host: "0.0.0.0", port: 0, token: "short").resolved() }
        #expect(throws: LiveViewError.self) { try LiveViewServer(configuration: LiveViewConfiguration(host: "0.0.0.0", port: 0)) }
        #expect(LiveViewConfiguration.expandingBareLiveOption(["run", "p.toml", "--live"]) == ["run", "p.toml", "--live=127.0.0.1:8642"])
        #expect(LiveViewConfiguration.expandingBareLiveOption(["run", "--live", "p.toml"]) == ["run", "--live=127.0.0.1:8642", "p.toml"])
        #expect(LiveViewConfiguration.expandingBareLiveOption(["run", "--live", "0.0.0.0:8642", "p.toml"]) == ["run", "--live", "0.0.0.0:8642", "p.toml"])
    }

    @Test func everyRequestWithoutTheTokenGets401OffLoopback() async throws {
        let token = "test-token-0123456789abcdef"
        let server = try LiveViewServer(configuration: LiveViewConfiguration(host: "0.0.0.0", port: 0, token: token, allowsStop: true))
        try server.start()
        defer { server.stop() }
        let port = try #require(server.port)
        for path in ["/", "/live.js", "/api/history", "/api/frame", "/api/status", "/ws", "/nothing"] {
            #expect(try http(port: port, path: path).status == 401, "\(path) without a token")
        }
        #expect(try http("POST", port: port, path: "/api/stop", headers: ["X-Operando-Confirm": "stop"]).status == 401)
        #expect(try http(port: port, path: "/?token=wrong-token-0123456789abcd").status == 401)
        let upgrade = ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="]
        // Hummingbird answers every refused WebSocket upgrade with 400: refused, never upgraded (101).
        let refused = try http(port: port, path: "/ws", headers: upgrade)
        #expect(refused.status == 400 || refused.status == 401)
        #expect(!refused.body.contains("history"))
        // The token as a query parameter sets the cookie; the cookie, a bearer header or the custom header then do.
        let first = try http(port: port, path: "/?token=\(token)")
        #expect(first.status == 200)
        let cookie = try #require(first.headers["set-cookie"])
        #expect(cookie.contains("\(LiveViewConfiguration.cookieName)=\(token)") && cookie.contains("HttpOnly"))
        #expect(try http(port: port, path: "/api/history", headers: ["Cookie": "\(LiveViewConfiguration.cookieName)=\(token)"]).status == 200)
        #expect(try http(port: port, path: "/api/history", headers: ["Authorization": "Bearer \(token)"]).status == 200)
        #expect(try http(port: port, path: "/api/history", headers: ["X-Operando-Token": token]).status == 200)
        // The WebSocket with the token in its query.
        let client = CollectingClient()
        client.connect(port: port, query: "?token=\(token)") { ($0["type"] as? String) == "history" }
        #expect(await client.wait(timeoutSeconds: 10) { $0.contains { ($0["type"] as? String) == "history" } })
        await client.finish()
        #expect(server.url.hasSuffix("/?token=\(token)"))
    }

    @Test func webSocketSendsHistoryThenIncrementsInOrder() async throws {
        let dir = try TestDirectory(); defer { dir.remove() }
        let proto = try shortProtocol(minutes: 2)
        let engine = try makeEngine(proto, directory: dir.file("ws.operando"))
        let server = try LiveViewServer(configuration: LiveViewConfiguration(host: "127.0.0.1", port: 0, allowsStop: true))
        try server.start()
        defer { server.stop() }
        let port = try #require(server.port)
        engine.subscribe(server)
        let early = CollectingClient()
        early.connect(port: port) { ($0["type"] as? String) == "ended" }
        #expect(await early.wait(timeoutSeconds: 10) { !$0.isEmpty })
        let summary = try await runOnThread(engine)
        #expect(summary.outcome == .completed)
        #expect(await early.wait(timeoutSeconds: 15) { $0.contains { ($0["type"] as? String) == "ended" } })
        await early.finish()

        let messages = early.all
        #expect(messages.first?["type"] as? String == "history", "history first")
        #expect(messages.last?["type"] as? String == "ended", "ended last")
        // Ordered increments (rows, events, the end) arrive in sequence order; frames and status may be coalesced.
        let ordered = messages.filter { !["history", "frame", "status"].contains($0["type"] as? String ?? "") }.compactMap { $0["seq"] as? Int }
        #expect(ordered == ordered.sorted(), "increments arrive in order")
        let types = Set(messages.compactMap { $0["type"] as? String })
        #expect(types.isSuperset(of: ["history", "info", "echem", "monitor", "events", "frame", "status", "ended"]))
        // History + increments rebuild exactly what the dataset holds.
        var page = PageModel()
        for m in messages { page.apply(m) }
        let reader = try DatasetReader(dir.file("ws.operando"))
        #expect(page.echemTimes.count == (try reader.echem().count))
        #expect(page.monitorFrames == (try reader.monitor().map(\.frame)))
        #expect(page.events == (try reader.events().map(\.event)))
        #expect(page.events.first == "run_started" && page.events.last == "run_ended")
        #expect(page.lastFrame == (try reader.frames().last?.frame))
        #expect(page.ended == "protocol complete")
        // A frame message carries both images at the ROI's size.
        let frame = try #require(messages.last { ($0["type"] as? String) == "frame" })
        #expect(frame["width"] as? Int == 96 && frame["height"] as? Int == 96)
        let contrast = try #require(frame["contrast"] as? [String: Any])
        let raw = try #require(frame["raw"] as? [String: Any])
        #expect(Data(base64Encoded: contrast["b64"] as? String ?? "")?.count == 96 * 96)
        #expect(Data(base64Encoded: raw["b64"] as? String ?? "")?.count == 96 * 96)
        #expect((contrast["scale"] as? Double ?? 0) > 0)

        // A page that connects after the run gets everything as one history, then the latest frame.
        let late = CollectingClient()
        late.connect(port: port) { ($0["type"] as? String) == "frame" }
        #expect(await late.wait(timeoutSeconds: 10) { $0.count >= 2 })
        await late.finish()
        var latePage = PageModel()
        for m in late.all { latePage.apply(m) }
        #expect(late.all.first?["type"] as? String == "history")
        #expect(latePage.echemTimes.count == page.echemTimes.count)
        #expect(latePage.monitorFrames == page.monitorFrames)
        #expect(latePage.lastFrame == page.lastFrame)
        #expect(latePage.ended == "protocol complete")
    }

    @Test func aSlowClientGetsTheLatestStateNotABacklog() throws {
        let history = LiveHistory()
        let client = LiveClientProbe(history: history, capacity: 16)
        for k in 0..<10 { history.update(status: LiveStatus(run: RunStatus(runSeconds: Double(k)))) }
        // Ten status updates waiting: only the latest is sent.
        let statuses = client.take().filter { $0.contains("\"type\":\"status\"") }
        #expect(statuses.count == 1 && statuses[0].contains("\"t\":9"))
        for k in 0..<100 { history.append(events: [EventRecord(timeSeconds: Double(k), event: "warning", fields: ["message": .string("w\(k)")])]) }
        // 100 events behind a queue of 16: a fresh history instead of the backlog.
        let batch = client.take()
        #expect(batch.first?.contains("\"type\":\"history\"") == true)
        #expect(batch.count < 20)
        #expect(batch.first?.contains("w99") == true)
    }

    @Test func stopActionEndsTheRunSafely() async throws {
        let dir = try TestDirectory(); defer { dir.remove() }
        let proto = try shortProtocol(minutes: 600)
        let engine = try makeEngine(proto, directory: dir.file("stop.operando"))
        let server = try LiveViewServer(configuration: LiveViewConfiguration(host: "127.0.0.1", port: 0, allowsStop: true))
        try server.start()
        defer { server.stop() }
        let port = try #require(server.port)
        engine.subscribe(server)
        // This run's own stop, not the process's SIGINT flag: other suites run engines in parallel.
        server.onStop = { [engine] in engine.requestStop() }
        let run = Task { try await runOnThread(engine) }
        let deadline = Date().addingTimeInterval(30)
        while server.history.latestFrameNumber == nil && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        #expect(server.history.latestFrameNumber != nil)
        let reply = try http("POST", port: port, path: "/api/stop", headers: ["X-Operando-Confirm": "stop"])
        #expect(reply.status == 202)
        let summary = try await run.value
        #expect(RunInterrupt.received.load(ordering: .relaxed) == 0)
        #expect(summary.outcome == .interrupted(signal: SIGINT))
        #expect(summary.runSeconds < 600 * 60)
        let events = try DatasetReader(dir.file("stop.operando")).events().map(\.event)
        #expect(events.contains("interrupted") && events.contains("led_off") && events.contains("output_off"))
        #expect(events.last == "run_ended")
        #expect(server.history.endedReason != nil)
        // After the end the action is refused.
        #expect(try http("POST", port: port, path: "/api/stop", headers: ["X-Operando-Confirm": "stop"]).status == 409)
        #expect(server.stopRequests == 1)
    }
}
