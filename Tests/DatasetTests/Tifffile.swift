import Foundation
import Testing

/// Runs the system's python3 (/usr/bin/python3, where `make deps` installs python3-tifffile) with
/// `script` and `arguments`; stdout, or the failure with stderr recorded as the test's issue.
func tifffile(_ script: String, _ arguments: [String]) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", script] + arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    do { try process.run() } catch {
        Issue.record("cannot run /usr/bin/python3 (\(error)); `make deps` installs python3 and python3-tifffile")
        return nil
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        Issue.record("python3 failed: \(String(decoding: errors, as: UTF8.self).suffix(800)) (`make deps` installs python3-tifffile)")
        return nil
    }
    return String(decoding: data, as: UTF8.self)
}
