import Foundation
import Glibc

/// A file written through POSIX calls only, so every failure (ENOSPC, EIO, EPIPE…) is a thrown
/// `DatasetError` instead of a trap inside Foundation's non-throwing `FileHandle` API.
public final class AppendFile {
    /// The file's path, for messages.
    public let path: String
    private var fd: Int32

    /// Creates the file (refusing one that exists) or opens it for appending.
    public init(path: String, create: Bool = true) throws {
        self.path = path
        let flags = create ? (O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC) : (O_WRONLY | O_APPEND | O_CLOEXEC)
        fd = Glibc.open(path, flags, 0o644)
        if fd < 0 {
            let code = errno
            if code == EEXIST { throw DatasetError.exists(path: path, reason: "already exists") }
            throw DatasetError.cannotWrite(path: path, reason: DatasetError.reason(code))
        }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Writes all of `bytes` (retrying short writes and EINTR).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw DatasetError.cannotWrite(path: path, reason: "already closed") }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw DatasetError.cannotWrite(path: path, reason: DatasetError.reason())
            }
            offset += n
        }
    }

    /// Writes `text` as UTF-8.
    public func write(_ text: String) throws {
        var t = text
        try t.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Writes `data`.
    public func write(contentsOf data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Flushes the kernel's buffers to the device.
    public func sync() throws {
        guard fd >= 0 else { return }
        if fsync(fd) != 0 && errno != EINVAL { throw DatasetError.cannotWrite(path: path, reason: "fsync: \(DatasetError.reason())") }
    }

    /// Syncs and closes; further writes throw.
    public func close() throws {
        guard fd >= 0 else { return }
        defer { fd = -1 }
        let synced = fsync(fd) == 0 || errno == EINVAL
        let code = errno
        let closed = Glibc.close(fd) == 0
        if !synced { throw DatasetError.cannotWrite(path: path, reason: "fsync: \(DatasetError.reason(code))") }
        if !closed { throw DatasetError.cannotWrite(path: path, reason: "close: \(DatasetError.reason())") }
    }
}

/// Durable whole-file writes: to `PATH.partial`, fsynced, renamed into place, the directory fsynced.
/// A reader sees the old file or the new one, never half of either.
public enum DurableFile {
    /// Writes `data` at `path` atomically and durably.
    public static func write(_ data: Data, to path: String) throws {
        let tmp = path + ".partial"
        unlink(tmp)
        do {
            let f = try AppendFile(path: tmp)
            try f.write(contentsOf: data)
            try f.close()
        } catch {
            unlink(tmp)
            throw error
        }
        try commit(tmp, to: path)
    }

    /// Renames a finished temporary file into place and syncs the directory.
    public static func commit(_ temporary: String, to path: String) throws {
        syncPath(temporary)
        guard rename(temporary, path) == 0 else {
            let r = DatasetError.reason()
            unlink(temporary)
            throw DatasetError.cannotWrite(path: path, reason: "rename into place: \(r)")
        }
        syncPath((path as NSString).deletingLastPathComponent)
    }

    /// fsync of a file or directory by path (best effort: used after data was already written).
    public static func syncPath(_ path: String) {
        let fd = Glibc.open(path.isEmpty ? "." : path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); Glibc.close(fd) }
    }

    /// The file's contents, refusing directories, FIFOs and files over `limitBytes`.
    public static func read(_ path: String, limitBytes: Int = 1 << 30) throws -> Data {
        var st = stat()
        guard stat(path, &st) == 0 else { throw DatasetError.missingFile(path: path, what: DatasetError.reason()) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw DatasetError.badFile(path: path, line: 0, text: "not a regular file", expected: "a file")
        }
        guard st.st_size <= limitBytes else {
            throw DatasetError.badFile(path: path, line: 0, text: "\(st.st_size) bytes", expected: "at most \(limitBytes) bytes")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError.missingFile(path: path, what: "unreadable")
        }
        return data
    }
}
