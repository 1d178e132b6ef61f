import Electrochemistry
import FirmwareSim
import Foundation
import Imaging
import Rig

/// A firmware-sim rig wired as `operando run` wires it.
func makeSimRig(rigText: String = "", protocolFile: ProtocolFile) throws -> (SimRig, RigHardware) {
    try SimRig.hardware(rigText: rigText, rigFile: "test-rig.toml", protocolFile: protocolFile)
}

/// A folder under the system's temporary directory for one test; `remove()` it in a `defer`.
struct TestDirectory {
    let path: String
    init(_ label: String = #function) throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "operando-rigtest-" + label.filter { $0.isLetter || $0.isNumber } + "-" + UUID().uuidString)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The built `operando` next to the test bundle.
func operandoBinary() throws -> String {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [dir, dir.deletingLastPathComponent()] {
        let p = candidate.appendingPathComponent("operando").path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    throw RigError.configuration(file: dir.path, problem: "operando binary not built next to the tests")
}

/// A protocol with a small header and the given steps.
func protocolText(rate: Double = 10, bin: Int = 30, exposure: Double = 2.5, limits: String = "", steps: [String]) -> String {
    var t = """
    [cell]
    active_mass_mg = 1.5
    practical_capacity_mAh_per_g = 210
    [limits]
    \(limits)
    [imaging]
    frame_rate_Hz = \(rate)
    exposure_ms = \(exposure)
    bin = \(bin)
    led_lead_ms = 0.2

    """
    for s in steps { t += "[[steps]]\ndo = \"\(s)\"\n" }
    return t
}

/// CSV rows as dictionaries.
func readCSV(_ path: String) throws -> [[String: String]] {
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    guard let header = lines.first?.split(separator: ",").map(String.init) else { return [] }
    return lines.dropFirst().map { line in
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var row: [String: String] = [:]
        for (k, v) in zip(header, f) { row[k] = v }
        return row
    }
}

func readEvents(_ dir: String) throws -> [[String: Any]] {
    try String(contentsOfFile: dir + "/events.jsonl", encoding: .utf8).split(separator: "\n").map {
        try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
}

/// Checks a dataset opens as interfaces.md defines: every indexed chunk exists, holds the indexed pages,
/// and reads back; returns the number of indexed frames.
@discardableResult
func verifyDataset(_ dir: String) throws -> Int {
    let rows = try readCSV(dir + "/frames.csv")
    var pagesPerChunk: [Int: Int] = [:]
    for r in rows { pagesPerChunk[Int(r["chunk"]!)!, default: 0] += 1 }
    for (chunk, pages) in pagesPerChunk {
        let reader = try TIFFStackReader(path: dir + String(format: "/frames/%06d.tif", chunk))
        precondition(reader.info.frameCount == pages, "chunk \(chunk): \(reader.info.frameCount) pages, index says \(pages)")
        _ = try reader.readFrame(pages - 1)
    }
    _ = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run.json")))
    return rows.count
}
