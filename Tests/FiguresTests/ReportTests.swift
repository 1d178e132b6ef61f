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

/// The report as a journal's reviewer checks it (issue 16 item 10): consecutive panel letters on every
/// page, captions that describe exactly the panels drawn, units on every axis, scale bars that state
/// their length, images cropped to the particle, and a PDF whose pages are not blank.
@Suite struct ReportReviewTests {
    /// Input sets a report meets: everything; a real dataset's (no model θ maps, no SDC drop found);
    /// no images; a short recording; calibration only; parameters only.
    static func variants() -> [(String, ReportInputs)] {
        let full = ReportInputs.synthetic(echemIntervalSeconds: 20, frameIntervalSeconds: 120)
        var real = full
        real.modelThetaMaps = nil; real.sdcDropTimeSeconds = nil
        var noImages = full
        noImages.contrast = nil; noImages.modelThetaMaps = nil; noImages.intensityChange = nil
        var short = full
        if let c = full.contrast {  // images only for the first 20 minutes: most requested times have no frame
            let keep = c.timesSeconds.indices.filter { c.timesSeconds[$0] <= 600 + 1200 }
            short.contrast = ImageStack(width: c.width, height: c.height, pixelSizeMicrometres: c.pixelSizeMicrometres,
                                        timesSeconds: keep.map { c.timesSeconds[$0] }, frames: keep.map { c.frames[$0] })
        }
        var calOnly = ReportInputs(datasetName: "cal-only")
        calOnly.errorMap = full.errorMap
        return [("full", full), ("real-like", real), ("no-images", noImages), ("short", short), ("cal-only", calOnly),
                ("params-only", ReportInputs(datasetName: "p", parameters: .nmc87))]
    }

    static func axes(_ f: Figure) -> [Axes] { f.panels.compactMap { if case .plot(let a) = $0.content { return a }; return nil } }
    static func montages(_ f: Figure) -> [ImageMontage] { f.panels.compactMap { if case .images(let m) = $0.content { return m }; return nil } }

    @Test func panelLettersAreConsecutiveOnEveryPage() {
        for (variant, inputs) in Self.variants() {
            for (name, f) in Report.figures(inputs: inputs).figures {
                let expected = f.panels.count == 1 ? [] : (0..<f.panels.count).map { Figure.panelLetter($0) }
                #expect(f.panelLetters == expected, "\(variant) page \(name): letters \(f.panelLetters)")
                if f.panels.count > 1 { #expect(f.panels.allSatisfy { !$0.letter.isEmpty }, "\(variant) page \(name): a panel without a letter") }
            }
        }
    }

    @Test func captionsDescribeExactlyThePanelsDrawn() {
        for (variant, inputs) in Self.variants() {
            for (name, f) in Report.figures(inputs: inputs).figures {
                let letters = Set(f.panelLetters)
                let refs = f.captionPanelReferences
                #expect(Set(refs).isSubset(of: letters), "\(variant) page \(name): caption names \(Set(refs).subtracting(letters).sorted()), not drawn")
                for l in letters { #expect(f.title.contains("(\(l)) "), "\(variant) page \(name): panel \(l) not described") }
                #expect(!f.title.contains("{"), "\(variant) page \(name): unresolved reference in '\(f.title)'")
                #expect(f.panels.allSatisfy { !$0.caption.isEmpty }, "\(variant) page \(name): a panel without a caption")
                // Images: the caption's count and times are the tiles drawn.
                for m in Self.montages(f) {
                    if let bar = m.scaleBar { #expect(f.title.contains("scale bar \(bar.label)"), "\(variant) page \(name): scale bar not in caption") }
                    for t in m.tiles where !t.label.isEmpty {
                        let time = t.label.split(separator: " ").filter { Double($0) != nil }.first.map(String.init) ?? t.label
                        #expect(f.title.contains(time), "\(variant) page \(name): tile '\(t.label)' not in the caption")
                    }
                }
            }
        }
        // The cases issue 16 found: θ maps promised but not drawn, six images named for five drawn.
        let real = Report.figures(inputs: Self.variants()[1].1).figures
        let p3 = real.first { $0.name.hasPrefix("3") }?.figure
        #expect(p3?.title.contains("1 − θ at") == false)
        #expect(p3?.panelLetters == ["A", "B", "C", "D"])
        let short = Report.figures(inputs: Self.variants()[3].1).figures
        if let p4 = short.first(where: { $0.name.hasPrefix("4") })?.figure {
            let tiles = Self.montages(p4).first?.tiles.count ?? 0
            #expect(tiles == 0 || p4.title.contains("at the \(tiles) times"))
        }
        let p2 = short.first { $0.name.hasPrefix("2") }?.figure
        let p2Tiles = p2.flatMap { Self.montages($0).first?.tiles.map(\.label) } ?? []
        #expect(p2Tiles.count == 2, "only the 5 and 15 min images fall within the 20 min recorded: \(p2Tiles)")
        #expect(p2?.title.contains("25 min") == false && p2?.title.contains("35 min") == false)
    }

    @Test func everyAxisAndColorbarStatesItsUnit() {
        // Quantities that have no unit (occupancy, fitted scale and gain) are named as such.
        let dimensionless: Set<String> = ["1 − θ", "1 − θ (model)", "Lithium occupancy θ", "Scale S", "Optical gain A"]
        for (variant, inputs) in Self.variants() {
            for (name, f) in Report.figures(inputs: inputs).figures {
                for a in Self.axes(f) {
                    for axis in [a.x, a.y] + (a.secondY.map { [$0] } ?? []) where axis.showsLabels {
                        #expect(dimensionless.contains(axis.label) || (axis.label.contains("(") && axis.label.hasSuffix(")")),
                                "\(variant) page \(name): axis '\(axis.label)' has no unit")
                    }
                }
                for m in Self.montages(f) {
                    let l = m.colorbarLabel ?? ""
                    #expect(dimensionless.contains(l) || l.hasSuffix("(%)"), "\(variant) page \(name): colorbar '\(l)' has no unit")
                }
                #expect(!f.title.contains("Voltage (V)"))
            }
        }
    }

    /// Contrast is a fraction in the files and per cent on the page.
    @Test func contrastIsShownInPerCent() throws {
        let c = try #require(Self.variants()[0].1.contrast)
        let chosen = try #require(Report.contrastMontage(c, times: [3000], label: { _, _ in "" }, columns: 1))
        let frame = try #require(c.nearestFrame(to: chosen.frameTimes[0]))
        let source = c.frames[frame].filter(\.isFinite).map(Double.init).reduce(0, +)
        let shown = chosen.montage.tiles[0].pixels.filter(\.isFinite).map(Double.init).reduce(0, +)
        #expect(abs(shown - 100 * source) <= 1e-3 * abs(100 * source))
        #expect(chosen.montage.colorbarLabel == "Total contrast (%)")
    }

    /// A full-frame stack (the particle in a 256 × 256 frame) and the analysis' cropped stack (the
    /// synthetic frames hold little more than the particle) both give tiles holding the whole particle;
    /// the full frame's are much smaller than the frame.
    @Test func imageTilesAreCroppedToTheParticle() throws {
        let cropped = try #require(Self.variants()[0].1.contrast)
        let side = 256, ox = 70, oy = 101  // where the cropped frame sits in the full one
        var full = cropped
        full.width = side; full.height = side
        full.frames = cropped.frames.map { f in
            var big = [Float](repeating: .nan, count: side * side)
            for y in 0..<cropped.height { for x in 0..<cropped.width { big[(y + oy) * side + x + ox] = f[y * cropped.width + x] } }
            return big
        }
        let mask = cropped.frames[0].filter(\.isFinite).count
        for (name, stack) in [("full frame", full), ("cropped", cropped)] {
            var inputs = Self.variants()[0].1
            inputs.contrast = stack
            var seen = 0
            for (page, f) in Report.figures(inputs: inputs).figures {
                for m in Self.montages(f) where m.colorbarLabel == "Total contrast (%)" {
                    seen += 1
                    for t in m.tiles {
                        #expect(t.width <= stack.width && t.height <= stack.height, "\(name) page \(page)")
                        #expect(t.pixels.filter(\.isFinite).count == mask, "\(name) page \(page): the crop cut into the particle")
                        if stack.width == side { #expect(t.width * t.height < side * side / 4, "\(name) page \(page): mostly background, \(t.width)×\(t.height)") }
                    }
                }
            }
            #expect(seen == 2)  // pages 2 and 4
        }
    }

    /// Every scale bar the report draws carries the label of the length it is drawn at.
    @Test func everyScaleBarInTheReportHasItsLengthLabel() throws {
        for (variant, inputs) in Self.variants() {
            for (name, f) in Report.figures(inputs: inputs).figures {
                let r = try FigureRenderer.rasterise(f, dotsPerInch: 20)
                #expect(r.page.scaleBars.count == Self.montages(f).count, "\(variant) page \(name): a montage without a scale bar")
                for b in r.page.scaleBars {
                    #expect(b.scaleBar.label == ScaleBar.label(micrometres: b.bar.width / b.pointsPerMicrometre))
                    #expect(b.tile.contains(b.labelBox))
                }
            }
        }
    }

    /// The PDF as a reader gets it: pdfinfo counts the pages, pdftoppm renders each, and none is blank.
    @Test func renderedPdfHasEveryPageAndNoneIsBlank() throws {
        let tools = ["/usr/bin/pdfinfo", "/usr/bin/pdftoppm"]
        try #require(tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }, "poppler-utils (pdfinfo, pdftoppm) missing")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pdf = dir + "/report.pdf"
        let s = try Report.render(inputs: .synthetic(echemIntervalSeconds: 10, frameIntervalSeconds: 120), to: pdf, note: { _ in })
        let info = try run("/usr/bin/pdfinfo", [pdf])
        let pages = info.split(separator: "\n").first { $0.hasPrefix("Pages:") }.flatMap { Int($0.split(separator: " ").last ?? "") }
        #expect(pages == s.pages.count && pages == 7, "pdfinfo: \(info)")
        _ = try run("/usr/bin/pdftoppm", ["-r", "40", pdf, dir + "/page"])
        let images = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".ppm") }.sorted()
        #expect(images.count == 7)
        for file in images {
            let (w, h, rgb) = try readPPM(dir + "/" + file)
            var nonWhite = 0
            var colours = Set<UInt32>()
            for i in 0..<(w * h) {
                let r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2]
                if r < 240 || g < 240 || b < 240 { nonWhite += 1 }
                if colours.count < 64 { colours.insert(UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)) }
            }
            #expect(Double(nonWhite) / Double(w * h) > 0.02, "\(file): \(nonWhite) of \(w * h) pixels not white — blank page")
            #expect(colours.count > 8, "\(file): \(colours.count) colours — uniform page")
        }
    }
}

/// Reads a binary PPM (P6, maxval 255) as pdftoppm writes it.
func readPPM(_ path: String) throws -> (Int, Int, [UInt8]) {
    let d = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var fields: [String] = []
    var i = 0
    while fields.count < 4 && i < d.count {
        while i < d.count && (d[i] == 0x20 || d[i] == 0x0a || d[i] == 0x0d || d[i] == 0x09) { i += 1 }
        if i < d.count && d[i] == UInt8(ascii: "#") { while i < d.count && d[i] != 0x0a { i += 1 }; continue }
        var tok = ""
        while i < d.count && !(d[i] == 0x20 || d[i] == 0x0a || d[i] == 0x0d || d[i] == 0x09) { tok.append(Character(UnicodeScalar(d[i]))); i += 1 }
        fields.append(tok)
    }
    i += 1  // the single whitespace byte after maxval
    guard fields.count == 4, fields[0] == "P6", let w = Int(fields[1]), let h = Int(fields[2]), fields[3] == "255", d.count - i >= w * h * 3 else {
        throw FigureError.invalidData(input: path, reason: "not a P6 PPM with maxval 255 (header \(fields))")
    }
    return (w, h, Array(d[i..<(i + w * h * 3)]))
}
