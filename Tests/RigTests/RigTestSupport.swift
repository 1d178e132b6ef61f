import Electrochemistry
import FirmwareSim
import Foundation
import Imaging
import Rig

/// A firmware-sim rig wired as `operando run` wires it.
func makeSimRig(rigText: String = "", protocolFile: ProtocolFile) throws -> (SimRig, RigHardware) {
    let config = try SimConfiguration.parse(rigFileText: rigText, file: "test-rig.toml")
    let sim = try SimRig(configuration: config, activeMassMilligrams: protocolFile.cell.activeMassMilligrams ?? 1.5,
                         practicalCapacityMilliampHoursPerGram: protocolFile.cell.practicalCapacityMilliampHoursPerGram)
    let led = try sim.chip.requestOutput(offset: SimGPIOChip.ledOffset, consumer: "operando", initialHigh: false)
    let trigger = try sim.chip.requestOutput(offset: SimGPIOChip.triggerOffset, consumer: "operando", initialHigh: false)
    let hw = RigHardware(backend: "firmware-sim (virtual clock)", clock: sim.clock, led: led, trigger: trigger,
                         camera: sim.camera, potentiostat: sim.potentiostat, configuration: ["backend": "sim"])
    return (sim, hw)
}

func temporaryDataset(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "operando-rigtest-\(getpid())-\(name).operando"
    try? FileManager.default.removeItem(atPath: dir)
    return dir
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
