import Foundation
import Glibc
import Imaging

/// Creates a dataset directory for one run and appends to it (docs/interfaces.md "Dataset").
///
/// Crash safety: CSV and JSONL rows go straight to the kernel as they come (no user-space buffer);
/// a frame chunk is written to a temporary name, fsynced, renamed into place and the directory fsynced
/// before its rows enter `frames.csv` — and the monitor rows of its frames enter `monitor.csv` only
/// then, so after `kill -9` every file agrees on the last complete chunk. Every failure throws
/// `DatasetError` (the run engine's supervisor turns it into the safe stop); nothing traps.
///
/// Chunks are deflate-compressed by default (lossless; `compression`). With `backgroundChunks` the
/// compression, write, fsync and rename of a chunk run on a thread of their own, so the caller (the
/// run engine's thread, which also samples the potentiostat and fetches camera frames) only queues
/// the frames; the chunk's rows enter `frames.csv` on the caller's next call after the chunk is on
/// disk (the same order as above), and at `close`. At most `backgroundQueueChunks` chunks wait: past
/// that the caller waits for the disk, rather than the memory growing without bound.
public final class RunWriter {
    /// The dataset directory.
    public let directory: String
    /// Recorded frames per TIFF chunk.
    public let framesPerChunk: Int
    /// The chunks' compression.
    public let compression: TIFFStackWriter.Compression
    /// Chunks queued for the background writer before `appendFrame` waits.
    public static let backgroundQueueChunks = 3
    /// Frames whose chunk is on disk and indexed.
    public private(set) var recordedFrames = 0
    private let pixelSizeMicrometres: Double
    private let frameIntervalSeconds: Double
    private let lock: DatasetLock
    private let echem: CSVWriter
    private let framesIndex: CSVWriter
    private let monitor: CSVWriter
    private let edges: CSVWriter
    private let events: AppendFile
    private var pending: [(frame: BinnedFrame, record: FrameRecord)] = []
    private var pendingMonitor: [MonitorRecord] = []
    private var chunkIndex = 0
    private var closed = false
    private let background: ChunkWriterThread?

    /// Creates `directory` — it must not exist, or be an empty directory — takes the dataset's
    /// exclusive lock (a second run into the same place fails), and writes run.json. `compression`:
    /// the frame chunks' (deflate by default); `backgroundChunks`: write chunks on a thread of
    /// their own (see the type's documentation).
    public init(creating directory: String, runInfo: RunInfo, framesPerChunk: Int = 10,
                compression: TIFFStackWriter.Compression = .deflate, backgroundChunks: Bool = false) throws {
        lock = try DatasetLock.create(directory)
        self.directory = directory
        self.framesPerChunk = max(1, framesPerChunk)
        self.compression = compression
        background = backgroundChunks ? ChunkWriterThread(capacity: Self.backgroundQueueChunks) : nil
        pixelSizeMicrometres = runInfo.pixelSizeMicrometres
        frameIntervalSeconds = Double(max(1, runInfo.binning)) / (runInfo.frameRateHz.isFinite && runInfo.frameRateHz > 0 ? runInfo.frameRateHz : 1)
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        if mkdir(path(DatasetFormat.File.framesDirectory), 0o755) != 0 {
            throw DatasetError.cannotWrite(path: path(DatasetFormat.File.framesDirectory), reason: DatasetError.reason())
        }
        try DurableFile.write(Data(try JSONText.encode(runInfo.json, pretty: true).utf8), to: path(DatasetFormat.File.runInfo))
        echem = try CSVWriter(path: path(DatasetFormat.File.echem), columns: EchemRecord.columns)
        framesIndex = try CSVWriter(path: path(DatasetFormat.File.frames), columns: FrameRecord.columns)
        monitor = try CSVWriter(path: path(DatasetFormat.File.monitor), columns: MonitorRecord.columns)
        // Edges come 10–1000 per second: buffered, flushed with each chunk and at close.
        edges = try CSVWriter(path: path(DatasetFormat.File.edges), columns: EdgeRecord.columns, bufferBytes: 1 << 16)
        events = try AppendFile(path: path(DatasetFormat.File.events))
    }

    /// One electrochemical sample, written at once.
    public func append(_ r: EchemRecord) throws { try echem.append(r.fields) }

    /// One event line, written at once.
    public func append(_ e: EventRecord) throws { try events.write(try JSONText.encode(e.json, pretty: false) + "\n") }

    /// One frame's edge times (buffered until the next chunk).
    public func append(_ r: EdgeRecord) throws { try edges.append(r.fields) }

    /// The monitor's row for a frame: written once the frame's chunk is on disk.
    public func append(_ r: MonitorRecord) throws {
        try indexWrittenChunks()
        if r.frame < recordedFrames { try monitor.append(r.fields) } else { pendingMonitor.append(r) }
    }

    /// Queues a recorded frame (its `chunk` and `page` are assigned here); a full chunk is written
    /// (or, with background chunks, queued for writing).
    public func appendFrame(_ frame: BinnedFrame, record: FrameRecord) throws {
        try indexWrittenChunks()
        pending.append((frame, record))
        if pending.count >= framesPerChunk { try flushChunk() }
    }

    /// Frames queued for the next chunk.
    public var pendingFrames: Int { pending.count }

    /// Writes the queued frames as one chunk: temporary file, fsync, rename, directory fsync, then the
    /// index rows and their monitor rows. On failure the queue is dropped (it is not retried: the
    /// failure ends the run) and no `.partial` file is left. With background chunks the chunk is
    /// queued and its rows follow once it is on disk; a failure of an earlier chunk is thrown here.
    public func flushChunk() throws {
        try edges.flush()
        try indexWrittenChunks()
        guard !pending.isEmpty else { return }
        let job = ChunkJob(index: chunkIndex, path: (directory as NSString).appendingPathComponent(DatasetFormat.File.chunk(chunkIndex)),
                           frames: pending.map(\.frame), records: pending.map(\.record), compression: compression,
                           pixelSizeMicrometres: pixelSizeMicrometres, frameIntervalSeconds: frameIntervalSeconds)
        pending.removeAll(keepingCapacity: true)
        chunkIndex += 1
        if let background {
            background.enqueue(job)
            try indexWrittenChunks()
            return
        }
        do { try job.write() } catch {
            pendingMonitor.removeAll()
            throw error
        }
        try index(job)
    }

    /// Appends the index rows of a chunk that is on disk, then the monitor rows now due.
    private func index(_ job: ChunkJob) throws {
        for (page, record) in job.records.enumerated() {
            var r = record
            r.chunk = job.index
            r.page = page
            try framesIndex.append(r.fields)
            recordedFrames += 1
        }
        let ready = pendingMonitor.filter { $0.frame < recordedFrames }
        pendingMonitor.removeAll { $0.frame < recordedFrames }
        for m in ready { try monitor.append(m.fields) }
    }

    /// Indexes the chunks the background writer finished (in order); throws its first failure.
    private func indexWrittenChunks(waitForAll: Bool = false) throws {
        guard let background else { return }
        let (done, failure) = background.take(waitForAll: waitForAll)
        for job in done { try index(job) }
        if let failure {
            pendingMonitor.removeAll()
            throw failure
        }
    }

    /// Chunks queued for the background writer and not yet indexed.
    public var chunksInFlight: Int { background?.inFlight ?? 0 }

    /// Writes timing.json (durably, replacing an earlier one).
    public func writeTiming(_ report: JSONValue) throws {
        try DurableFile.write(Data(try JSONText.encode(report, pretty: true).utf8),
                              to: (directory as NSString).appendingPathComponent(DatasetFormat.File.timing))
    }

    /// Flushes the last chunk, syncs and closes every file, and releases the lock. Every file is closed
    /// even when one fails; the first failure is thrown.
    public func close() throws {
        guard !closed else { return }
        closed = true
        var first: Error? = nil
        do { try flushChunk() } catch { first = first ?? error }
        do { try indexWrittenChunks(waitForAll: true) } catch { first = first ?? error }
        background?.stop()
        for w in [echem, framesIndex, monitor, edges] {
            do { try w.close() } catch { first = first ?? error }
        }
        do { try events.close() } catch { first = first ?? error }
        lock.release()
        if let first { throw first }
    }

    /// Drops frames still queued (after a failed chunk) so `close` does not try them again.
    public func discardPending() {
        pending.removeAll()
        pendingMonitor.removeAll()
        background?.cancelQueued()
    }

    deinit { background?.stop() }
}

/// One chunk to write: its frames and index rows, and how to write it.
struct ChunkJob: @unchecked Sendable {
    let index: Int
    let path: String
    let frames: [BinnedFrame]
    let records: [FrameRecord]
    let compression: TIFFStackWriter.Compression
    let pixelSizeMicrometres: Double
    let frameIntervalSeconds: Double

    /// Temporary file, every page, close, then fsync + rename + directory fsync; no `.partial` file
    /// is left on failure.
    func write() throws {
        let tmp = path + ".partial"
        do {
            let w = try TIFFStackWriter(path: tmp, sampleType: .float32, pixelSizeMicrometres: pixelSizeMicrometres,
                                        frameIntervalSeconds: frameIntervalSeconds, compression: compression)
            for f in frames { try w.append(f) }
            try w.close()
        } catch {
            unlink(tmp)
            throw DatasetError.cannotWrite(path: path, reason: "frame chunk: \(error)")
        }
        do { try DurableFile.commit(tmp, to: path) } catch {
            unlink(tmp)
            throw error
        }
    }
}

/// The background chunk writer: one thread taking jobs in order from a bounded queue. After a failure
/// it writes nothing more (the run is ending; frames are never retried).
final class ChunkWriterThread: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var queue: [ChunkJob] = []
    private var writing = false
    private var done: [ChunkJob] = []
    private var failure: Error?
    private var failureReported = false
    private var stopping = false
    private var thread: Thread?

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        let t = Thread { [self] in loop() }
        t.name = "operando chunk writer"
        thread = t
        t.start()
    }

    /// Jobs queued or being written, plus written ones not yet taken.
    var inFlight: Int { condition.lock(); defer { condition.unlock() }; return queue.count + (writing ? 1 : 0) + done.count }

    /// Queues a job; waits while `capacity` jobs are already waiting (the disk is the limit).
    func enqueue(_ job: ChunkJob) {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= capacity && failure == nil && !stopping { condition.wait() }
        guard failure == nil, !stopping else { return }
        queue.append(job)
        condition.broadcast()
    }

    /// The jobs written since the last call (in order), and the failure (reported once). With
    /// `waitForAll`, first waits until nothing is queued or being written.
    func take(waitForAll: Bool) -> (done: [ChunkJob], failure: Error?) {
        condition.lock()
        defer { condition.unlock() }
        if waitForAll { while (!queue.isEmpty || writing) && failure == nil { condition.wait() } }
        let out = done
        done.removeAll()
        var f: Error? = nil
        if let failure, !failureReported { f = failure; failureReported = true }
        return (out, f)
    }

    /// Drops the jobs not yet started.
    func cancelQueued() {
        condition.lock()
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// Lets the thread finish the job it is writing, then end (queued jobs are dropped).
    func stop() {
        condition.lock()
        stopping = true
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if stopping && queue.isEmpty { condition.unlock(); return }
            let job = queue.removeFirst()
            writing = true
            condition.broadcast()
            condition.unlock()
            var error: Error? = nil
            do { try job.write() } catch let e { error = e }
            condition.lock()
            writing = false
            if let error {
                failure = error
                queue.removeAll()
            } else {
                done.append(job)
            }
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// The exclusive claim of one writer on a dataset directory: `.operando-lock`, created with O_EXCL
/// and held with `flock` for the writer's lifetime (a reader can tell a run is live).
final class DatasetLock {
    let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) { self.path = path; self.fd = fd }

    /// Creates `directory` (or takes an existing empty one) and its lock file.
    static func create(_ directory: String) throws -> DatasetLock {
        guard !directory.isEmpty else {
            throw DatasetError.exists(path: "\"\"", reason: "an empty path is not a dataset directory; give a name")
        }
        let fm = FileManager.default
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty && !fm.fileExists(atPath: parent) {
            do { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
                throw DatasetError.cannotWrite(path: parent, reason: "cannot create the parent directory")
            }
        }
        if mkdir(directory, 0o755) != 0 {
            let code = errno
            guard code == EEXIST else { throw DatasetError.cannotWrite(path: directory, reason: DatasetError.reason(code)) }
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw DatasetError.exists(path: directory, reason: "exists and is not a directory")
            }
            let entries = (try? fm.contentsOfDirectory(atPath: directory)) ?? ["?"]
            if !entries.isEmpty {
                let what = entries.contains(DatasetFormat.File.runInfo) ? "already holds a dataset" : "exists and is not empty (\(entries.count) entries)"
                throw DatasetError.exists(path: directory, reason: "\(what); choose another --out")
            }
        }
        let path = (directory as NSString).appendingPathComponent(DatasetFormat.File.lock)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            let code = errno
            if code == EEXIST { throw DatasetError.exists(path: directory, reason: "another run is writing here") }
            throw DatasetError.cannotWrite(path: path, reason: DatasetError.reason(code))
        }
        _ = flock(fd, LOCK_EX | LOCK_NB)
        let pid = "\(getpid())\n"
        _ = pid.withCString { Glibc.write(fd, $0, strlen($0)) }
        return DatasetLock(path: path, fd: fd)
    }

    /// Releases the flock (the file stays: the directory is a finished dataset, never reused).
    func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        Glibc.close(fd)
        fd = -1
    }

    deinit { release() }

    /// True when a live writer holds the lock of `directory`.
    static func isHeld(_ directory: String) -> Bool {
        let fd = open((directory as NSString).appendingPathComponent(DatasetFormat.File.lock), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) != 0 { return errno == EWOULDBLOCK }
        flock(fd, LOCK_UN)
        return false
    }
}
