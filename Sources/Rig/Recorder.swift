import Foundation
import Glibc
import Imaging

/// Appends to a dataset directory (docs/interfaces.md, Dataset): CSV rows are written straight to the
/// file (no user-space buffer) as they come; a frame chunk is written to a temporary name, fsynced,
/// renamed into place and the directory fsynced before its rows enter frames.csv, so after a crash
/// (even kill -9) the dataset opens as it was at the last complete chunk.
public final class Recorder {
    public let directory: String
    public let pixelSizeMicrometres: Double
    public let framesPerChunk: Int
    private var echem: FileHandle
    private var framesIndex: FileHandle
    private var monitorFile: FileHandle
    private var events: FileHandle
    private var edgesFile: FileHandle
    private var edgesBuffer = ""
    private var pending: [(frame: TimedFrame, step: Int, ledOnFraction: Double, echem: String)] = []
    private var chunkIndex = 0
    public private(set) var recordedFrames = 0
    private let frameIntervalSeconds: Double

    /// Creates `directory` (refusing to overwrite an existing dataset) and writes run.json.
    public init(directory: String, runInfo: [String: Any], pixelSizeMicrometres: Double,
                frameIntervalSeconds: Double, framesPerChunk: Int = 10) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: (directory as NSString).appendingPathComponent("run.json")) {
            throw RigError.dataset(path: directory, problem: "already holds a dataset; choose another --out (nothing was overwritten)")
        }
        do {
            try fm.createDirectory(atPath: (directory as NSString).appendingPathComponent("frames"), withIntermediateDirectories: true)
        } catch {
            throw RigError.dataset(path: directory, problem: "cannot create (\(error.localizedDescription))")
        }
        self.directory = directory
        self.pixelSizeMicrometres = pixelSizeMicrometres
        self.framesPerChunk = max(1, framesPerChunk)
        self.frameIntervalSeconds = frameIntervalSeconds
        func open(_ name: String, header: String?) throws -> FileHandle {
            let path = (directory as NSString).appendingPathComponent(name)
            guard fm.createFile(atPath: path, contents: header.map { Data(($0 + "\n").utf8) }),
                  let h = FileHandle(forWritingAtPath: path) else {
                throw RigError.dataset(path: path, problem: "cannot create the file")
            }
            h.seekToEndOfFile()
            return h
        }
        let json = try JSONSerialization.data(withJSONObject: runInfo, options: [.prettyPrinted, .sortedKeys])
        try Self.writeDurably(json, to: (directory as NSString).appendingPathComponent("run.json"))
        echem = try open("echem.csv", header: "time_s,step,step_kind,voltage_V,current_A,capacity_mAh_per_g")
        framesIndex = try open("frames.csv", header: "frame,chunk,page,t_start_s,t_end_s,exposures,led_on_fraction,step,echem_time_s,voltage_V,current_A")
        monitorFile = try open("monitor.csv", header: "frame,time_s,intensity_change,sdc_std,drift_x_px,drift_y_px,heterogeneous")
        events = try open("events.jsonl", header: nil)
        edgesFile = try open("edges.csv", header: "frame,step,skipped,intended_led_on_us,actual_led_on_us,intended_trigger_us,actual_trigger_us,intended_led_off_us,actual_led_off_us")
    }

    static func writeDurably(_ data: Data, to path: String) throws {
        let tmp = path + ".partial"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw RigError.dataset(path: path, problem: "cannot write")
        }
        fsyncPath(tmp)
        guard rename(tmp, path) == 0 else { throw RigError.dataset(path: path, problem: "cannot rename into place") }
        fsyncPath((path as NSString).deletingLastPathComponent)
    }

    static func fsyncPath(_ path: String) {
        let fd = Glibc.open(path, O_RDONLY)
        if fd >= 0 { fsync(fd); Glibc.close(fd) }
    }

    private func write(_ handle: FileHandle, _ line: String) {
        handle.write(Data((line + "\n").utf8))
    }

    private func g(_ x: Double) -> String { x.isFinite ? String(format: "%.9g", x) : "nan" }

    /// One electrochemistry row.
    public func recordEchem(timeSeconds: Double, step: Int, kind: String, voltageVolts: Double,
                            currentAmps: Double, capacityMilliampHoursPerGram: Double) {
        write(echem, "\(g(timeSeconds)),\(step),\(kind),\(g(voltageVolts)),\(g(currentAmps)),\(g(capacityMilliampHoursPerGram))")
    }

    /// One event line (JSON object with at least `time_s` and `event`).
    public func recordEvent(_ fields: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]),
           let s = String(data: data, encoding: .utf8) {
            write(events, s)
        }
    }

    /// One monitor row.
    public func recordMonitor(frame: Int, timeSeconds: Double, intensityChange: Double, sdcStd: Double,
                              driftX: Double, driftY: Double, heterogeneous: Bool) {
        write(monitorFile, "\(frame),\(g(timeSeconds)),\(g(intensityChange)),\(g(sdcStd)),\(g(driftX)),\(g(driftY)),\(heterogeneous ? 1 : 0)")
    }

    /// One frame's intended and actual edge times (µs from run start); buffered, flushed with each chunk.
    public func recordEdges(_ line: String) {
        edgesBuffer += line
        edgesBuffer += "\n"
        if edgesBuffer.utf8.count > 1 << 16 { flushEdges() }
    }

    private func flushEdges() {
        guard !edgesBuffer.isEmpty else { return }
        edgesFile.write(Data(edgesBuffer.utf8))
        edgesBuffer.removeAll(keepingCapacity: true)
    }

    /// Queues a recorded (binned) frame with the step and the latest electrochemical sample at its
    /// first exposure; a full chunk is written and indexed.
    public func recordFrame(_ frame: TimedFrame, step: Int, ledOnFraction: Double,
                            echemTimeSeconds: Double = .nan, voltageVolts: Double = .nan, currentAmps: Double = .nan) throws {
        pending.append((frame, step, ledOnFraction, "\(g(echemTimeSeconds)),\(g(voltageVolts)),\(g(currentAmps))"))
        if pending.count >= framesPerChunk { try flushChunk() }
    }

    /// Writes the queued frames as one chunk: temp file, fsync, rename, dir fsync, then index rows.
    public func flushChunk() throws {
        flushEdges()
        guard !pending.isEmpty else { return }
        let name = String(format: "%06d.tif", chunkIndex)
        let path = (directory as NSString).appendingPathComponent("frames/" + name)
        let tmp = path + ".partial"
        do {
            let w = try TIFFStackWriter(path: tmp, sampleType: .float32, pixelSizeMicrometres: pixelSizeMicrometres,
                                        frameIntervalSeconds: frameIntervalSeconds)
            for p in pending { try w.append(p.frame.frame) }
            try w.close()
        } catch {
            throw RigError.dataset(path: path, problem: "cannot write the frame chunk (\(error))")
        }
        Self.fsyncPath(tmp)
        guard rename(tmp, path) == 0 else { throw RigError.dataset(path: path, problem: "cannot rename the chunk into place") }
        Self.fsyncPath((path as NSString).deletingLastPathComponent)
        for (page, p) in pending.enumerated() {
            write(framesIndex, "\(p.frame.index),\(chunkIndex),\(page),\(g(p.frame.startSeconds)),\(g(p.frame.endSeconds)),\(p.frame.exposures),\(g(p.ledOnFraction)),\(p.step),\(p.echem)")
            recordedFrames += 1
        }
        pending.removeAll(keepingCapacity: true)
        chunkIndex += 1
    }

    /// Writes timing.json (durably).
    public func writeTiming(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try Self.writeDurably(data, to: (directory as NSString).appendingPathComponent("timing.json"))
    }

    /// Flushes the last chunk and syncs every file.
    public func close() throws {
        try flushChunk()
        flushEdges()
        for h in [echem, framesIndex, monitorFile, events, edgesFile] {
            h.synchronizeFile()
            h.closeFile()
        }
    }
}
