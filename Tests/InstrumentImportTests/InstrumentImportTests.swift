import Calibration
import Dataset
import Electrochemistry
import Figures
import FirmwareSim
import Foundation
import InstrumentFiles
@testable import InstrumentImport
import Rig
import Testing

// A followed run on firmware-sim (its instrument offset by 7 s and drifting +40 ppm), imported and
// aligned, checked against the instrument's ground truth; the import's refusals; every fixture.

private let rateHz = 2.0

private func protocolText(_ steps: [String], follow: String = "") -> String {
    var t = """
    [cell]
    active_mass_mg = 1.5
    practical_capacity_mAh_per_g = 210
    [limits]
    voltage_min_V = 2.8
    voltage_max_V = 4.4
    [imaging]
    frame_rate_Hz = \(rateHz)
    exposure_ms = 2.5
    bin = 6
    led_lead_ms = 0.2

    """
    t += follow
    for s in steps { t += "[[steps]]\ndo = \"\(s)\"\n" }
    return t
}

private let simTable = "[sim]\nseed = 7\nnoise = 1.0\ndrift_nm_per_min = 5\n"

private let followRig = """
[gpio]
chip = "gpiochip-sim"
led = "led"
trigger = "trigger"
trigger_input = "trigger-in"
[potentiostat]
backend = "follow"
edge = "rising"
\(simTable)
[sim.instrument]
start_s = 7
drift_ppm = 40
"""

private func options(_ out: String) -> RunOptions {
    var o = RunOptions(outputDirectory: out)
    o.roi = RegionOfInterest(x: 880, y: 500, width: 160, height: 160)   // the particle and the drift fiducial
    return o
}

/// A followed run of `steps`; returns the dataset, the instrument's .mpt and the instrument.
private func followedRun(_ steps: [String], in dir: TemporaryDirectory, name: String = "followed") throws -> (String, String, SimInstrument) {
    let proto = try ProtocolFile.parse(text: protocolText(steps), path: "follow.toml", purpose: .followed)
    let mpt = dir.file(name + ".mpt")
    let (sim, hw) = try SimRig.hardware(rigText: followRig, protocolFile: proto, instrumentRecordPath: mpt)
    let out = dir.file(name + ".operando")
    _ = try RunEngine(protocolFile: proto, hardware: hw, options: options(out)).run()
    let instrument = try #require(sim.instrument)
    try instrument.finish()
    return (out, mpt, instrument)
}

/// A commanded run of `steps` on the same simulated world.
private func commandedRun(_ steps: [String], in dir: TemporaryDirectory) throws -> String {
    let proto = try ProtocolFile.parse(text: protocolText(steps), path: "commanded.toml")
    let (_, hw) = try SimRig.hardware(rigText: simTable, protocolFile: proto)
    let out = dir.file("commanded.operando")
    _ = try RunEngine(protocolFile: proto, hardware: hw, options: options(out)).run()
    return out
}

private func rms(_ x: [Double]) -> Double { (x.reduce(0) { $0 + $1 * $1 } / Double(max(1, x.count))).squareRoot() }

@Suite struct InstrumentImportTests {
    /// The issue's end-to-end check: imported and aligned on the trigger edges, every sample lands within
    /// one frame period of its true rig time (here within a few ms), frames carry the instrument's step
    /// and sample like a commanded run, and the fit finds the 7 s offset and +40 ppm drift.
    @Test func followedRunImportsAndAlignsWithinOneFramePeriod() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let steps = ["Rest for 30 seconds", "Charge at 1C for 90 seconds", "Rest for 30 seconds", "Discharge at 1C for 60 seconds"]
        let (dataset, mpt, instrument) = try followedRun(steps, in: dir)
        let summary = try InstrumentImport.into(dataset: dataset, files: [mpt])
        let a = summary.alignment
        print(String(format: "follow import: offset %.6f s, drift %+.3f ppm, edge residuals RMS %.3f ms max %.3f ms over %d edges; %d rows in %.3f s (%.0f rows/s)",
                     a.offsetSeconds, a.driftPPM, a.residualRMSSeconds * 1e3, a.residualMaxSeconds * 1e3, a.matchedPairs.count,
                     summary.rows, summary.wallSeconds, summary.rowsPerSecond))
        #expect(summary.method == "trigger edges" && a.matchedPairs.count == steps.count)
        #expect(abs(a.driftPPM - 40) < 5, "\(a.driftPPM) ppm")
        #expect(abs(a.offsetSeconds - 6.95) < 0.01, "\(a.offsetSeconds) s")
        #expect(a.residualMaxSeconds < 2e-3)

        // Ground truth: the instrument's samples at their real rig times (run time 0 from triggers.csv).
        let data = try DatasetReader(dataset)
        let trig = try #require(try data.triggers().first)
        let t0 = Double(trig.monotonicNanoseconds) * 1e-9 - trig.timeSeconds
        let truth = instrument.samples.map { Double(instrument.rigNanoseconds(instrumentSeconds: $0.timeSeconds)) * 1e-9 - t0 }
        let echem = try data.echem()
        #expect(echem.count == instrument.samples.count)
        let errors = zip(echem, truth).map { $0.timeSeconds - $1 }
        print(String(format: "follow import: sample alignment vs truth RMS %.3f ms, max %.3f ms (frame period %.0f ms)",
                     rms(errors) * 1e3, (errors.map(abs).max() ?? .nan) * 1e3, 1e3 / rateHz))
        #expect(errors.allSatisfy { abs($0) < 1 / rateHz })
        #expect(errors.allSatisfy { abs($0) < 3e-3 })
        // Sign convention and kinds: charge positive, discharge negative, rests at rest.
        #expect(echem.contains { $0.stepKind == "charge" && $0.currentAmps > 0 })
        #expect(echem.contains { $0.stepKind == "discharge" && $0.currentAmps < 0 })
        #expect(Set(echem.map(\.step)) == [0, 1, 2, 3])

        // Frames: the latest sample at the first exposure, like a commanded run.
        let frames = try data.frames()
        let sampled = frames.filter { $0.step >= 0 }
        #expect(sampled.count >= frames.count - 4 && summary.framesWithSample == sampled.count)
        for f in sampled {
            let lag = f.startSeconds - f.echemTimeSeconds
            #expect(lag >= 0 && lag < 1 + 1 / rateHz, "frame \(f.frame): sample \(lag) s before its first exposure")
            let k = try #require(echem.firstIndex { $0.timeSeconds == f.echemTimeSeconds })
            #expect(abs(truth[k] - f.echemTimeSeconds) < 1 / rateHz)
            #expect(f.step == echem[k].step && f.voltageVolts == echem[k].voltageVolts)
        }
        #expect(frames.filter { $0.startSeconds < 6.9 }.allSatisfy { $0.step == -1 && $0.voltageVolts.isNaN })

        // What is stored: instrument.csv with the original columns and rig time; run.json's instrument.
        let table = try #require(try data.instrumentTable())
        #expect(table.rowCount == echem.count)
        for c in ECLabTextWriter.gcplColumns + ["file", "instrument_time_s", "rig_time_s"] { #expect(table.columns.contains(c), "\(c)") }
        let info = try #require(data.runInfo.extra["instrument"])
        #expect(info["alignment"]?["method"] == .string("trigger edges"))
        #expect(info["alignment"]?["pairs"]?.array?.count == steps.count)
        #expect(info["technique"]?.string?.contains("Galvanostatic") == true)
        #expect(data.runInfo.extra["follow"] != nil && data.runInfo.pixelSizeMicrometres > 0)

        // A second import is refused, naming the first.
        #expect { try InstrumentImport.into(dataset: dataset, files: [mpt]) } throws: {
            "\($0)".contains("already has electrochemistry") && "\($0)".contains(mpt)
        }
    }

    /// The calibration of a followed and imported run matches that of a commanded run of the same
    /// protocol on the same simulated world (S within a few %).
    @Test func followedCalibrationMatchesCommanded() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let steps = ["Rest for 1 minute", "Charge at 2C for 9 minutes"]
        let (dataset, mpt, _) = try followedRun(steps, in: dir)
        _ = try InstrumentImport.into(dataset: dataset, files: [mpt])
        let commanded = try commandedRun(steps, in: dir)
        var o = CalibrationOptions()
        o.scaleGridPoints = 9
        let followed = try CalibrationRun.run(dataset: dataset, options: o)
        let reference = try CalibrationRun.run(dataset: commanded, options: o)
        print(String(format: "follow calibration: followed S = %.3f A = %.3f, commanded S = %.3f A = %.3f (%+.2f %%)",
                     followed.centre.scale, followed.centre.gain, reference.centre.scale, reference.centre.gain,
                     100 * (followed.centre.scale / reference.centre.scale - 1)))
        #expect(abs(followed.centre.scale / reference.centre.scale - 1) < 0.05)
        #expect(abs(followed.centre.gain / reference.centre.gain - 1) < 0.05)
        // report works on the result unchanged: the echem and calibration pages are drawn.
        let report = try Figures.Report.render(datasetDirectory: dataset, to: dir.file("followed.pdf"), progress: { _ in }, note: { _ in })
        #expect(report.pages.count >= 5, "\(report.pages)")
    }

    /// Refusals: a commanded dataset (operando's own echem.csv), no trigger edges without --offset
    /// (then --offset works), a file that is not an instrument's.
    @Test func refusesWhatItCannotImport() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let mpt = dir.file("tiny.mpt")
        let header = ECLabGCPLHeader(acquisitionStart: Date(timeIntervalSince1970: 1_796_112_000))
        var rows: [ECLabGCPLSample] = []
        for k in 0..<20 {
            let t = Double(k)
            let q: Double = 0.3 * t / 3600
            let dq: Double = k == 0 ? 0 : 0.3 / 3600
            rows.append(ECLabGCPLSample(mode: 1, oxRed: 1, controlChanges: k == 0 ? 1 : 0, nsChanges: 0, ns: 0, timeSeconds: t,
                                        controlVoltsOrMilliamps: 0.3, eweVolts: 3.7 + 0.001 * t, currentMilliamps: 0.3,
                                        dqMilliampHours: dq, qMinusQ0MilliampHours: q, qChargeDischargeMilliampHours: q,
                                        halfCycle: 0, cycleNumber: 0))
        }
        try ECLabTextWriter.writeGCPL(path: mpt, header: header, samples: rows)
        func dataset(_ name: String, follow: Bool, echem: Bool) throws -> String {
            var info = RunInfo(softwareVersion: "test", protocolPath: "p.toml", protocolText: "", rig: .null, backend: "test",
                               startTimeUTC: "", pixelSizeMicrometres: 0.0347, roi: (0, 0, 16, 16), binning: 1, frameRateHz: 2,
                               exposureMilliseconds: 2.5, ledLeadMilliseconds: 0.2, ledWavelengthNanometres: 740,
                               blackLevelSubtractedCounts: 0, activeMassMilligrams: 1.5, practicalCapacityMilliampHoursPerGram: 210)
            if follow { info.extra["follow"] = .object([:]) }
            let w = try RunWriter(creating: dir.file(name), runInfo: info)
            if echem { try w.append(EchemRecord(timeSeconds: 0, step: 0, stepKind: "charge", voltageVolts: 3.7, currentAmps: 1e-4, capacityMilliampHoursPerGram: 0)) }
            try w.close()
            return dir.file(name)
        }
        let commanded = try dataset("c.operando", follow: false, echem: true)
        #expect { try InstrumentImport.into(dataset: commanded, files: [mpt]) } throws: {
            "\($0)".contains(commanded) && "\($0)".contains("already has electrochemistry") && "\($0)".contains("1 samples")
        }
        let followed = try dataset("f.operando", follow: true, echem: false)
        #expect { try InstrumentImport.into(dataset: followed, files: [mpt]) } throws: {
            "\($0)".contains("triggers.csv") && "\($0)".contains("--offset")
        }
        let s = try InstrumentImport.into(dataset: followed, files: [mpt], options: ImportOptions(offsetSeconds: 12.5))
        #expect(s.method == "offset" && s.rows == 20)
        let echem = try DatasetReader(followed).echem()
        #expect(echem.first?.timeSeconds == 12.5 && echem.last?.timeSeconds == 31.5 && echem.allSatisfy { $0.stepKind == "charge" })
        #expect(abs((echem.last?.capacityMilliampHoursPerGram ?? 0) - 0.3 * 19 / 3600 / 1.5e-3) < 1e-6)
        // Not an instrument file: the message names the file and what is read.
        let notes = dir.file("notes.txt")
        try "hello".write(toFile: notes, atomically: true, encoding: .utf8)
        let other = try dataset("g.operando", follow: true, echem: false)
        #expect { try InstrumentImport.into(dataset: other, files: [notes], options: ImportOptions(offsetSeconds: 0)) } throws: {
            "\($0)".contains("notes.txt") && "\($0)".contains("EC-Lab")
        }
        #expect { try InstrumentImport.into(dataset: dir.file("absent.operando"), files: [mpt]) } throws: { "\($0)".contains("absent.operando") }
        // Nothing was half-written into the refused datasets.
        #expect(!FileManager.default.fileExists(atPath: commanded + "/instrument.csv"))
        #expect(!FileManager.default.fileExists(atPath: other + "/instrument.csv"))
    }

    /// Every fixture imports into a new dataset (`--out`), or fails with a message naming the file and
    /// the cause.
    @Test(arguments: FixtureFiles.all)
    func everyFixtureImportsOrNamesTheCause(fixture: String) throws {
        guard let path = FixtureFiles.path(fixture) else { return }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let out = dir.file("fixture.operando")
        let name = (fixture as NSString).lastPathComponent
        let expected = FixtureFiles.expectedFailures[name]
        do {
            let s = try InstrumentImport.create(out: out, files: [path])
            #expect(expected == nil, "\(fixture) imported but should fail with \(expected ?? [])")
            let data = try DatasetReader(out)
            let echem = try data.echem()
            #expect(echem.count == s.rows && echem.count > 0)
            #expect(try data.instrumentTable()?.rowCount == s.rows)
            #expect(data.runInfo.extra["instrument"]?["files"]?.array?.count == 1)
        } catch {
            let m = "\(error)"
            #expect(expected != nil, "\(fixture): \(m)")
            #expect(m.contains(name), "\(m)")
            for cause in expected ?? [] { #expect(m.contains(cause), "\(m)") }
        }
    }

    /// The half-cycle capacities of an imported EC-Lab GCPL record (5 cycles, 0.790 mg of active
    /// material: the text export's header states it, the binary file does not) agree per cycle with EC-Lab's own `Q charge/mA.h` and
    /// `Q discharge/mA.h`, which EC-Lab wrote only into its text export of the same run
    /// (gcpl.issue_211.mpt; the maxima per `cycle number` are below, in mAh).
    @Test func importedHalfCycleCapacitiesMatchECLabsOwnColumns() throws {
        let path = try #require(FixtureFiles.path("eclab/gcpl.issue_211.mpr"))
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let out = dir.file("gcpl.operando")
        var options = ImportOptions()
        options.activeMassMilligrams = 0.790
        try InstrumentImport.create(out: out, files: [path], options: options)
        let data = try DatasetReader(out)
        let massMilligrams = try #require(data.runInfo.activeMassMilligrams)
        #expect(massMilligrams == 0.790)
        // A mass outside its physical range is refused before anything is written.
        var bad = ImportOptions()
        bad.activeMassMilligrams = 0
        #expect(throws: ImportError.self) { try InstrumentImport.create(out: dir.file("bad.operando"), files: [path], options: bad) }
        #expect(!FileManager.default.fileExists(atPath: dir.file("bad.operando")))
        let ecLab: [(charge: Double, discharge: Double)] = [(0.05751, 0.05339), (0.05383, 0.05386), (0.05397, 0.05396),
                                                            (0.05405, 0.05404), (0.05412, 0.05408)]
        var ours: [Int: (charge: Double, discharge: Double)] = [:]
        for r in try data.echem() {
            let m = ours[r.cycle] ?? (0, 0)
            ours[r.cycle] = (max(m.charge, r.chargeCapacityMilliampHoursPerGram * massMilligrams * 1e-3),
                             max(m.discharge, r.dischargeCapacityMilliampHoursPerGram * massMilligrams * 1e-3))
        }
        #expect(ours.keys.sorted() == Array(0..<ecLab.count))
        for (c, t) in ecLab.enumerated() {
            let o = try #require(ours[c])
            #expect(abs(o.charge - t.charge) <= 0.005 * t.charge, "cycle \(c): charge \(o.charge) mAh vs EC-Lab \(t.charge)")
            #expect(abs(o.discharge - t.discharge) <= 0.005 * t.discharge, "cycle \(c): discharge \(o.discharge) mAh vs EC-Lab \(t.discharge)")
        }
    }

    /// Import speed of the whole import (read, map, write) on the largest fixtures, printed as rows/s.
    @Test func importSpeed() throws {
        for name in ["eclab/gcpl.issue_211.mpr", "eclab/gcpl.issue_211.mpt"] {
            guard let path = FixtureFiles.path(name) else { return }
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let s = try InstrumentImport.create(out: dir.file("speed.operando"), files: [path])
            print("import speed \(name) --out: \(s.rows) rows in \(String(format: "%.3f", s.wallSeconds)) s wall = \(Int(s.rowsPerSecond)) rows/s")
            #expect(s.rows > 1000 && s.rowsPerSecond > 1000)
        }
    }
}

/// The shared fixtures (/work/shared/fixtures, or the copies beside InstrumentFilesTests).
enum FixtureFiles {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let bases = [tests.appendingPathComponent("InstrumentFilesTests/Fixtures"),
                        tests.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures")]
    static let expectedFailures: [String: [String]] = [
        "mb.issue_223.mpr": ["column id 368", "half cycle"],
        "cv_data_incompleteheader.dta": ["no time"],
    ]
    static let all: [String] = {
        var out: [String] = []
        for base in bases.reversed() {
            for folder in ["eclab", "gamry"] {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: base.appendingPathComponent(folder).path)) ?? []
                for n in names.sorted() where !n.hasPrefix(".") && !n.hasSuffix(".md") { out.append(folder + "/" + n) }
            }
            if !out.isEmpty { break }
        }
        return out.isEmpty ? ["eclab/missing-fixtures"] : out
    }()

    static func path(_ fixture: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> String? {
        for base in bases {
            let p = base.appendingPathComponent(fixture).path
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        Issue.record("fixture \(fixture) not found under \(bases.map(\.path))", sourceLocation: sourceLocation)
        return nil
    }
}
