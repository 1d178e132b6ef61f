import Foundation
import Testing

/// Where the test fixtures are: the small ones are copied beside the tests; the two large `.mpt`
/// exports are read from the shared fixtures folder next to the worktree.
enum Fixtures {
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let local = testsFolder.appendingPathComponent("Fixtures")
    /// `../shared/fixtures` from the repository root.
    static let shared = testsFolder.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/fixtures")

    /// The path of `folder/name`, from the copy here or the shared folder; records an issue (so the
    /// test fails, never passes silently) when neither has it.
    static func path(_ folder: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        for base in [local, shared] {
            let p = base.appendingPathComponent(folder).appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        Issue.record("fixture \(folder)/\(name) is in neither \(local.path) nor \(shared.path)", sourceLocation: sourceLocation)
        return nil
    }

    /// Stems of the EC-Lab `.mpr` fixtures (each has a `.mpt` export beside it).
    static let ecLabStems = [
        "ca.issue_149", "coc.issue_185", "cov.issue_185", "cp.issue_149", "gcpl.issue_149", "gcpl.issue_211",
        "gcpl.issue_226.CxN", "gcpl.pr_182.1", "mb.issue_149", "mb.issue_223", "mb.issue_95", "ocv.issue_149", "ocv",
    ]
    static let gamryFiles = [
        "chronoa_data.dta", "chronoa_de_data.dta", "cv_data.dta", "cv_data_incompleteheader.dta",
        "eispot_data_curveaborted.dta", "ocp_data.dta", "ocvcurve_data.dta",
    ]
    static let utc = TimeZone(identifier: "UTC")!
}

/// A temporary folder removed by `remove()`; tests call it in `defer`.
struct TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The raw text fields of an `.mpt` export, to compare against at the precision EC-Lab printed.
struct RawMPT {
    var names: [String]
    var rows: [[String]]

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let text = String(data.map { Character(Unicode.Scalar($0)) })   // Latin-1
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        let n = Int(lines[1].split(separator: ":")[1].trimmingCharacters(in: .whitespaces))!
        var names = lines[n - 1].components(separatedBy: "\t")
        while names.last == "" { names.removeLast() }
        self.names = names
        rows = lines[n...].filter { !$0.isEmpty }.map { line in
            var f = line.components(separatedBy: "\t")
            while f.count > names.count, f.last == "" { f.removeLast() }
            return f
        }
    }

    /// Half a unit in the last printed digit of `token` ("3,4228721E+000" → 5e-8; "39" → 0.5e0 · 0).
    static func halfUnit(_ token: String) -> Double {
        let t = token.replacingOccurrences(of: ",", with: ".")
        let parts = t.uppercased().split(separator: "E")
        let exponent = parts.count > 1 ? Int(parts[1])! : 0
        let mantissa = parts[0]
        guard let dot = mantissa.firstIndex(of: ".") else { return 0 }
        let decimals = mantissa.distance(from: dot, to: mantissa.endIndex) - 1
        return 0.5 * pow(10, Double(exponent - decimals))
    }
}
