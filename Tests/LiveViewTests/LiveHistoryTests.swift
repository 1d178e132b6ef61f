import Dataset
import Foundation
import Imaging
import Rig
@testable import LiveView
import Testing

// The history's bounds and its messages' JSON.
@Suite struct LiveHistoryTests {
    @Test func historyStaysBoundedAndKeepsTheNewestRowsWhole() throws {
        let history = LiveHistory(maxEchemRows: 100, maxMonitorRows: 100, maxEvents: 10)
        for k in 0..<1000 {
            history.append(echem: [EchemRecord(timeSeconds: Double(k), step: 0, stepKind: "charge", voltageVolts: 3.7,
                                               currentAmps: 1e-4, capacityMilliampHoursPerGram: 0)])
            history.append(events: [EventRecord(timeSeconds: Double(k), event: "warning", fields: ["message": .string("\(k)")])])
        }
        let counts = history.counts
        #expect(counts.echem <= 100 && counts.echem >= 50)
        #expect(counts.events == 10)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(history.snapshot().utf8)) as? [String: Any])
        let t = try #require((o["echem"] as? [String: Any])?["t"] as? [Double])
        #expect(t.last == 999 && t == t.sorted(), "thinning keeps order and the newest row")
        #expect((o["events"] as? [[String: Any]])?.last?["text"] as? String == "warning: message=999")
    }

    @Test func messagesAreValidJSONWithoutNaN() throws {
        let history = LiveHistory()
        history.update(status: LiveStatus(run: RunStatus(stepText: "Charge \"fast\" <now>\n", voltageVolts: .nan)))
        let text = history.snapshot()
        #expect(!text.contains("nan") && !text.contains("<"))
        let o = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let status = try #require(o["status"] as? [String: Any])
        #expect(status["V"] is NSNull)
        #expect(status["stepText"] as? String == "Charge \"fast\" <now>\n")
    }

    @Test func contrastIsCentredAtZeroAgainstTheFirstFrameWithData() throws {
        let history = LiveHistory()
        let client = LiveClientProbe(history: history, capacity: 64)
        var spot = [Float](repeating: 10, count: 32 * 32)
        for y in 8..<24 { for x in 8..<24 { spot[y * 32 + x] = 1000 } }
        let empty = BinnedFrame(width: 32, height: 32, pixels: [Float](repeating: .nan, count: 32 * 32))
        func record(_ k: Int, exposures: Int = 10) -> FrameRecord {
            FrameRecord(frame: k, chunk: 0, page: k, startSeconds: Double(k), endSeconds: Double(k) + 1, exposures: exposures, ledOnFraction: 1, step: 0)
        }
        history.update(frame: empty, record: record(0, exposures: 0))      // no data: not the reference
        history.update(frame: BinnedFrame(width: 32, height: 32, pixels: spot), record: record(1))
        let brighter = spot.map { $0 * 1.02 }
        history.update(frame: BinnedFrame(width: 32, height: 32, pixels: brighter), record: record(2))
        let frames = client.take().filter { $0.contains("\"type\":\"frame\"") }
        #expect(frames.count == 1, "unsent frames are replaced by the latest")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(frames[0].utf8)) as? [String: Any])
        let contrast = try #require(o["contrast"] as? [String: Any])
        #expect(abs((contrast["mean"] as? Double ?? 0) - 0.02) < 1e-4)
        let codes = try #require(Data(base64Encoded: contrast["b64"] as? String ?? ""))
        // +2 % everywhere on the particle, the scale is 2 %: the top of the map; 0 (no value) outside.
        #expect(codes[16 * 32 + 16] == 255)
        #expect(codes[0] == 0)
    }
}
