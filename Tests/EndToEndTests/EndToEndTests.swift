import Foundation
import Testing

// The whole chain as a user runs it, through the built `operando` binary:
// run (firmware-sim) → analyse → calibrate → report.

@Test func runAnalyseCalibrateReport() throws {
    let bin = try operandoBinary()
    let root = NSTemporaryDirectory() + "operando-e2e-\(getpid())"
    try? FileManager.default.removeItem(atPath: root)
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    let protocolPath = root + "/short.toml"
    try """
    [cell]
    active_mass_mg = 1.5
    [limits]
    voltage_min_V = 2.8
    voltage_max_V = 4.4
    [imaging]
    frame_rate_Hz = 10
    exposure_ms = 2.5
    bin = 30
    [[steps]]
    do = "Rest for 2 minutes"
    [[steps]]
    do = "Charge at 1C for 15 minutes"
    """.write(toFile: protocolPath, atomically: true, encoding: .utf8)
    let dataset = root + "/short.operando"

    let run = try runProcess(bin, ["run", protocolPath, "--out", dataset])
    #expect(run.status == 0, "\(run.err)")
    #expect(run.out.contains("0 lockstep violations"))

    let analyse = try runProcess(bin, ["analyse", dataset])
    #expect(analyse.status == 0, "\(analyse.err)")
    for f in ["drift.csv", "metrics.csv", "contrast.tif", "mask.tif", "profiles.csv"] {
        #expect(FileManager.default.fileExists(atPath: dataset + "/analysis/" + f), "\(f)")
    }

    let calibrate = try runProcess(bin, ["calibrate", dataset])
    #expect(calibrate.status == 0, "\(calibrate.err)")
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dataset + "/calibration/calibration.json"))) as! [String: Any]
    let scale = try #require(json["scale"] as? Double), gain = try #require(json["gain"] as? Double)
    #expect(abs(scale - 3.5) < 0.35, "S = \(scale) (firmware-sim truth 3.5)")
    #expect(abs(gain - 1 / 0.95) < 0.05, "A = \(gain) (truth 1.0526)")

    let pdf = root + "/report.pdf"
    let report = try runProcess(bin, ["report", dataset, "--out", pdf])
    #expect(report.status == 0, "\(report.err)")
    let info = try runProcess("/usr/bin/pdfinfo", [pdf])
    let pages = info.out.split(separator: "\n").first { $0.hasPrefix("Pages:") }.map { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0 } ?? 0
    #expect(pages >= 5, "\(info.out)")

    // A re-analysis that fails leaves the analysis as it was.
    let metricsBefore = try Data(contentsOf: URL(fileURLWithPath: dataset + "/analysis/metrics.csv"))
    let failed = try runProcess(bin, ["analyse", dataset, "--particle-at", "0,0"])
    #expect(failed.status != 0 && failed.err.contains("pixel 0,0"), "\(failed.err)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: dataset + "/analysis/metrics.csv")) == metricsBefore)

    // Bad input: a clear one-line error naming the input, non-zero exit, nothing written.
    let missing = try runProcess(bin, ["analyse", root + "/nope.operando"])
    #expect(missing.status != 0 && missing.err.contains("nope.operando"))
    let badProtocol = root + "/bad.toml"
    try "[[steps]]\ndo = \"Charge at C/3\"\n".write(toFile: badProtocol, atomically: true, encoding: .utf8)
    let bad = try runProcess(bin, ["run", badProtocol, "--out", root + "/bad.operando"])
    #expect(bad.status == 2 && bad.err.contains("bad.toml:2") && bad.err.contains("never ends"))
    #expect(!FileManager.default.fileExists(atPath: root + "/bad.operando"))
    let exists = try runProcess(bin, ["run", protocolPath, "--out", dataset])
    #expect(exists.status != 0 && exists.err.contains("already holds a dataset"))
}

/// Issue 11: `operando report` on a missing or unrelated directory, or a corrupt dataset, exits
/// non-zero with an error naming what is missing, and writes no PDF (it used to exit 0 with a
/// one-page report).
@Test func reportRefusesMissingUnrelatedAndCorruptDatasets() throws {
    let bin = try operandoBinary()
    let root = NSTemporaryDirectory() + "operando-e2e-report-\(getpid())"
    try? FileManager.default.removeItem(atPath: root)
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    let pdf = root + "/r.pdf"
    let missing = try runProcess(bin, ["report", root + "/nope.operando", "--out", pdf])
    #expect(missing.status != 0 && missing.err.contains(root + "/nope.operando") && missing.err.contains("no such dataset directory"),
            "\(missing.err)")
    let unrelated = root + "/photos"
    try FileManager.default.createDirectory(atPath: unrelated, withIntermediateDirectories: true)
    try "x".write(toFile: unrelated + "/a.txt", atomically: true, encoding: .utf8)
    let other = try runProcess(bin, ["report", unrelated, "--out", pdf])
    #expect(other.status != 0 && other.err.contains(unrelated + "/run.json"), "\(other.err)")
    let corrupt = root + "/corrupt.operando"
    try FileManager.default.createDirectory(atPath: corrupt, withIntermediateDirectories: true)
    try "{ \"pixel_size_um\": ".write(toFile: corrupt + "/run.json", atomically: true, encoding: .utf8)
    let bad = try runProcess(bin, ["report", corrupt, "--out", pdf])
    #expect(bad.status != 0 && bad.err.contains(corrupt + "/run.json") && bad.err.contains("JSON"), "\(bad.err)")
    #expect(!FileManager.default.fileExists(atPath: pdf))
}
