import Dataset
import Foundation
import Testing
@testable import Figures

func run(_ tool: String, _ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: out, as: UTF8.self)
}

@Suite(.serialized) struct ReportTests {
    static let dir: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("operando-figures-test-\(getpid())").path
        atexit { try? FileManager.default.removeItem(atPath: ReportTests.dir) }
        return d
    }()

    @Test func syntheticReportRendersEveryPageQuickly() throws {
        let path = Self.dir + "/report.pdf"
        let inputs = ReportInputs.synthetic()
        var lines: [String] = []
        let s = try Report.render(inputs: inputs, to: path, progress: { lines.append($0) })
        print("report render: \(String(format: "%.3f", s.seconds)) s for \(s.pages.count) pages")
        #expect(s.pages.count == 7)
        #expect(s.skipped.isEmpty)
        #expect(lines.count >= 7)
        #expect(s.seconds < 2, "the full report must render within 2 s")
    }

    @Test func pdfOpensWithSevenPagesAndEmbeddedFonts() throws {
        let path = Self.dir + "/report-pdfinfo.pdf"
        try Report.render(inputs: .synthetic(echemIntervalSeconds: 10, frameIntervalSeconds: 120), to: path)
        guard FileManager.default.fileExists(atPath: "/usr/bin/pdfinfo") else { return }  // poppler-utils missing
        let info = try run("/usr/bin/pdfinfo", [path])
        #expect(info.contains("Pages:           7"))
        let fonts = try run("/usr/bin/pdffonts", [path])
        let rows = fonts.split(separator: "\n").dropFirst(2)
        #expect(!rows.isEmpty)
        for r in rows {
            #expect(r.contains("DejaVu"))
            let cols = r.split(separator: " ", omittingEmptySubsequences: true)
            // name type… encoding emb sub uni id gen: "emb" is the 5th column from the end.
            #expect(cols[cols.count - 5] == "yes", "font not embedded: \(r)")
        }
    }

    @Test func pagesWithMissingInputsAreSkippedNotErrors() throws {
        var notes: [String] = []
        let inputs = ReportInputs(datasetName: "params-only", parameters: .nmc87)
        let s = try Report.render(inputs: inputs, to: Self.dir + "/params-only.pdf", note: { notes.append($0) })
        #expect(s.pages == ["7 Parameters"])
        #expect(s.skipped.count == 6)
        #expect(notes.count == 6 && notes.allSatisfy { $0.hasPrefix("report: skipped page") })
    }

    @Test func nothingToDrawIsAnErrorNamingTheDataset() {
        #expect(throws: FigureError.self) {
            try Report.render(inputs: ReportInputs(datasetName: "empty", parameters: nil), to: Self.dir + "/empty.pdf", note: { _ in })
        }
    }

    /// The heterogeneity page marks the SDC drop the analysis found (its summary), and only that.
    @Test func sdcDropArrowIsTheAnalysisTime() throws {
        let t = (0..<200).map { Double($0) * 10 }
        let v = t.map { $0 < 1000 ? 0.002 + $0 * 1e-5 : 0.003 }
        func arrows(_ drop: Double?) throws -> [Double] {
            let inp = ReportInputs(datasetName: "sdc", sdcStd: TimeSeries(timeSeconds: t, values: v), sdcDropTimeSeconds: drop)
            guard case .success(let fig) = Report.heterogeneity(inp), case .plot(let axes) = fig.panels[0].content else {
                Issue.record("no heterogeneity page"); return []
            }
            return axes.items.compactMap { if case let .arrow(x, _, _, _) = $0 { return x } else { return nil } }
        }
        #expect(try arrows(1230) == [1230.0 / 60])   // minutes from the start (no echem: the first sample)
        #expect(try arrows(nil).isEmpty)
    }
}

@Suite struct ReportFromDatasetTests {
    /// Writes demo-sized CSVs (8.3 h of 1 s electrochemistry, a metrics row every 3 s) and times
    /// loading plus rendering, the path `operando report DATASET` takes.
    @Test func demoSizedDatasetLoadsAndRendersWithinTwoSeconds() throws {
        let syn = ReportInputs.synthetic(echemIntervalSeconds: 1, frameIntervalSeconds: 60)
        let e = try #require(syn.echem)
        let ds = try TestDataset(echem: e.timeSeconds.indices.map {
            echem(e.timeSeconds[$0], e.step[$0], e.stepKind[$0], e.voltageVolts[$0], e.currentAmps[$0])
        })
        defer { ds.remove() }
        let dir = ds.path
        let ic = try #require(syn.intensityChange), sd = try #require(syn.sdcStd)
        try ds.writeAnalysis(metrics: (0..<(ic.timeSeconds.count * 20)).map { k in  // 3 s frames: interpolate the per-minute series
            let t = Double(k) * 3
            return MetricsRecord(frame: k, timeSeconds: t, intensityChange: Report.interpolate(ic.timeSeconds, ic.values, at: t),
                                 sdcStd: Report.interpolate(sd.timeSeconds, sd.values, at: t), contrastCentre: 0)
        }, sdcDropTimeSeconds: syn.sdcDropTimeSeconds)
        let m = try #require(syn.errorMap)
        var rows: [ErrorMapRecord] = []
        for (gi, g) in m.gains.enumerated() { for (si, sc) in m.scales.enumerated() { rows.append(ErrorMapRecord(scale: sc, gain: g, rmse: m.rmse[gi * m.scales.count + si])) } }
        try ds.writeCalibration(scale: 3.5, gain: 1.0526, rmse: 0.004, theta0: 0.95, errorMap: rows)
        let frames = syn.contrast
        let t0 = Date()
        let inputs = try ReportInputs.load(datasetDirectory: dir, frameSource: ClosureFrameSource { _ in frames })
        let s = try Report.render(inputs: inputs, to: dir + "/report.pdf", note: { _ in })
        let dt = Date().timeIntervalSince(t0)
        print("demo-sized dataset: load + render \(String(format: "%.3f", dt)) s, \(s.pages.count) pages, skipped \(s.skipped.map(\.page))")
        #expect(s.pages.count == 6)  // no model outputs written: page 3 needs two of its inputs, has one
        #expect(dt < 2)
        let previews = try Report.renderPreviews(inputs: inputs, directory: dir + "/previews", dotsPerInch: 40)
        #expect(previews.count == s.pages.count)
    }
}

@Suite struct ReportVariantTests {
    /// Partial inputs give shorter reports, not errors; the PDFs are kept for a look by eye.
    @Test func reportsFromPartialInputs() throws {
        var noImages = ReportInputs.synthetic(echemIntervalSeconds: 10, frameIntervalSeconds: 120)
        noImages.contrast = nil; noImages.modelThetaMaps = nil; noImages.intensityChange = nil
        let s1 = try Report.render(inputs: noImages, to: ReportTests.dir + "/variant-no-images.pdf", note: { _ in })
        #expect(s1.pages.count == 7)
        var calOnly = ReportInputs(datasetName: "cal-only")
        calOnly.errorMap = ReportInputs.synthetic(echemIntervalSeconds: 60, frameIntervalSeconds: 600).errorMap
        let s2 = try Report.render(inputs: calOnly, to: ReportTests.dir + "/variant-cal-only.pdf", note: { _ in })
        #expect(s2.pages == ["6 Calibration"])
    }
}

@Suite struct MalformedInputTests {
    /// In-memory inputs built by hand can be inconsistent; the report must draw what it can, not trap.
    @Test func inconsistentArraysDoNotCrash() throws {
        var inp = ReportInputs.synthetic(echemIntervalSeconds: 30, frameIntervalSeconds: 600)
        inp.echem?.stepKind = ["charge"]                     // shorter than the time column
        inp.echem?.currentAmps.removeLast(5)
        inp.contrast?.frames.removeLast(3)                    // fewer frames than times
        inp.modelThetaMaps?.timesSeconds = [0]
        inp.sdcStd = TimeSeries(timeSeconds: [0, 1, 2], values: [1, .nan, 3])
        inp.errorMap = ErrorMap(rows: [(.nan, 1, 1), (1, 1, 1), (2, 1, .nan), (1, 2, 3), (2, 2, 4)])
        var fig = Figure(heightMillimetres: 50)
        fig.rowHeights = []
        fig.panels = [Panel(cell: GridCell(row: 5, column: 7), content: .images(ImageMontage(
            tiles: [ImageTile(width: 3, height: 3, pixels: [1, 2])], norm: ColourNorm(lower: 0, upper: 1),
            colormap: .viridis, pixelSizeMicrometres: 0.1)))]
        _ = try FigureRenderer.rasterise(fig, dotsPerInch: 20)
        let s = try Report.render(inputs: inp, to: ReportTests.dir + "/malformed.pdf", note: { _ in })
        #expect(!s.pages.isEmpty)
    }
}

@Suite struct ReportEntryPointTests {
    @Test func defaultOutputIsReportsSlashDatasetName() {
        #expect(Report.defaultOutputPath(datasetDirectory: "runs/demo.operando/") == "reports/demo.pdf")
        #expect(Report.defaultOutputPath(datasetDirectory: "/data/cycle3") == "reports/cycle3.pdf")
    }

    @Test func datasetWithOnlyEchemGivesTheEchemPages() throws {
        let ds = try TestDataset(echem: (0..<600).map { k in
            let t = Double(k) * 30
            let kind = t < 300 ? "rest" : (t < 9000 ? "charge" : (t < 15000 ? "discharge" : "hold"))
            let i = kind == "charge" ? 1e-4 : (kind == "rest" ? 0 : -1e-4)
            return echem(t, 0, kind, 3.5 + t / 30000, i)
        })
        defer { ds.remove() }
        let dir = ds.path
        var notes: [String] = []
        let s = try Report.render(datasetDirectory: dir, to: dir + "/r.pdf", note: { notes.append($0) })
        #expect(s.pages == ["1 Overview", "2 Beginning of charge", "4 End of discharge", "7 Parameters"])
        #expect(notes.count == 3)
    }
}
