import Foundation

// How the end-to-end tests run the built `operando` binary: one locator, one runner.

/// The built `operando` executable (SwiftPM puts it beside the test bundle, or one level up).
func operandoBinary() throws -> String {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [dir, dir.deletingLastPathComponent()] {
        let p = candidate.appendingPathComponent("operando").path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: dir.path + "/operando"])
}

/// Reads a pipe to its end on its own thread, so a child that fills one pipe never blocks on it
/// while the test waits on the other.
private final class PipeDrain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }
    /// Waits for end of file; the text read.
    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Runs `executable` with `args` (and `environment` entries added to this process's), waits, and
/// returns its exit status and what it printed on stdout and stderr.
@discardableResult
func runProcess(_ executable: String, _ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    if !environment.isEmpty {
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = PipeDrain(out), e = PipeDrain(err)
    let (outText, errText) = (o.text(), e.text())
    p.waitUntilExit()
    return (p.terminationStatus, outText, errText)
}

/// Runs the built `operando` with `args`.
@discardableResult
func runOperando(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
    try runProcess(try operandoBinary(), args, environment: environment)
}

/// Runs `body` with a fresh folder under the temporary directory and removes it afterwards.
func withTemporaryFolder<T>(_ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}
