import Dataset
import Foundation
@testable import LiveView
import Rig
import Testing

// `operando view` on a dataset still being written: the follower picks up new rows and frames as the
// run writes them and stops at run_ended, with everything the dataset holds.
@Suite struct DatasetFollowerTests {
    @Test func followsAGrowingDatasetToItsEnd() async throws {
        let dir = try TestDirectory(); defer { dir.remove() }
        let path = dir.file("grow.operando")
        let engine = try makeEngine(try shortProtocol(minutes: 2), directory: path)
        let run = Task { try await runOnThread(engine) }
        // The follower starts as soon as the dataset exists, while the run goes on.
        let deadline = Date().addingTimeInterval(20)
        while !DatasetReader.isDataset(path) && Date() < deadline { try await Task.sleep(nanoseconds: 5_000_000) }
        let history = LiveHistory()
        let follower = try DatasetFollower(directory: path, history: history)
        follower.pollIntervalSeconds = 0.05
        follower.start()
        defer { follower.stop() }
        let summary = try await run.value
        #expect(summary.outcome == .completed)
        #expect(follower.waitUntilEnded(timeoutSeconds: 20))
        let reader = try DatasetReader(path)
        let counts = history.counts
        #expect(counts.echem == (try reader.echem().count))
        #expect(counts.monitor == (try reader.monitor().count))
        #expect(counts.events == (try reader.events().count))
        #expect(history.latestFrameNumber == (try reader.frames().last?.frame))
        #expect(history.endedReason == "protocol complete")
        #expect(history.latestStatus?.live == false, "a dataset offers no stop action")
    }

    @Test func refusesADirectoryThatIsNotADataset() throws {
        let dir = try TestDirectory(); defer { dir.remove() }
        #expect(throws: DatasetError.self) { try DatasetFollower(directory: dir.path, history: LiveHistory()) }
    }
}
