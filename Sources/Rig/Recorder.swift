import Dataset
import Foundation
import Imaging

/// The run's recorder: a subscriber that writes every message to the dataset through `Dataset`'s
/// `RunWriter`. Its first failure (disk full, EIO, a rename refused) is thrown, so the supervisor
/// stops the run safely; after that it keeps trying the small writes (events, samples) so the safe
/// state still reaches the disk when it can, and never retries frames (no growing queue).
public final class Recorder: RunSubscriber {
    public let subscriberName = "recorder"
    /// The writer (nil until the run starts).
    public private(set) var writer: RunWriter
    /// The first write failure, if any.
    public private(set) var failure: Error?
    /// Frames whose chunk is on disk.
    public var recordedFrames: Int { writer.recordedFrames }

    /// Creates the dataset directory (see `RunWriter.init(creating:runInfo:framesPerChunk:compression:backgroundChunks:)`).
    /// Chunks are compressed with `compression` (the rig file's `[recording] compression`) on the
    /// writer's own thread: compressing a chunk takes 0.1–2 s of CPU (README "Disk use"), which must
    /// not delay the engine thread's potentiostat samples and camera fetches.
    public init(directory: String, runInfo: RunInfo, framesPerChunk: Int,
                compression: TIFFStackWriter.Compression = .deflate) throws {
        writer = try RunWriter(creating: directory, runInfo: runInfo, framesPerChunk: framesPerChunk,
                               compression: compression, backgroundChunks: true)
    }

    public func receive(_ message: RunMessage, bus: RunBus) throws {
        do {
            switch message {
            case .started, .status: return
            case .event(let e, let t): try writer.append(e.record(atSeconds: t))
            case .echem(let r): try writer.append(r)
            case .edges(let r): try writer.append(r)
            case .monitor(let r): try writer.append(r)
            case .frame(let f):
                if failure != nil { return }   // frames are not retried after a failure
                try writer.appendFrame(f.frame, record: f.record)
            case .timing(let t): try writer.writeTiming(t)
            case .ended: try writer.close()
            }
        } catch {
            if case .frame = message { writer.discardPending() }
            guard failure == nil else { return }   // already reported: best effort from here on
            failure = error
            throw error
        }
    }
}
