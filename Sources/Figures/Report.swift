import Dataset
import Foundation
import ParticleModel

/// What `Report.render` produced.
public struct ReportSummary: Sendable {
    /// The PDF written.
    public var path: String
    /// Titles of the pages written, in order.
    public var pages: [String]
    /// Pages left out, with the missing input.
    public var skipped: [(page: String, reason: String)]
    /// Wall time of building and rendering, seconds.
    public var seconds: Double
}

/// The figure report: one PDF page per figure, each with a caption-like title (issue 6).
public enum Report {
    /// Renders the report for `inputs` to `pdfPath`. Pages whose inputs are missing are skipped with
    /// a note (sent to `note`, by default standard error) rather than an error. `progress` gets one
    /// line per page. Throws `FigureError` if nothing can be drawn or the PDF cannot be written.
    @discardableResult
    public static func render(inputs: ReportInputs, to pdfPath: String,
                              progress: (String) -> Void = { _ in },
                              note: (String) -> Void = { line in try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8)) }) throws -> ReportSummary {
        let start = Date()
        let (figs, skipped) = figures(inputs: inputs, progress: progress)
        for s in skipped { note("report: skipped page '\(s.page)': \(s.reason)") }
        guard !figs.isEmpty else {
            throw FigureError.invalidData(input: inputs.datasetName, reason: "no report page has its inputs (need at least \(DatasetFormat.File.echem) or a parameter set)")
        }
        let dir = (pdfPath as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        progress("writing \(pdfPath)")
        try FigureRenderer.writePDF(figs.map(\.figure), to: pdfPath, title: "operando report: \(inputs.datasetName)")
        return ReportSummary(path: pdfPath, pages: figs.map(\.name), skipped: skipped, seconds: Date().timeIntervalSince(start))
    }

    /// `operando report DATASET [--out PATH]` in one call: loads the dataset's inputs through `Dataset`
    /// (contrast frames from `frameSource` when given, else from the analysis' contrast stack) and
    /// renders them to `pdfPath`, or to `defaultOutputPath(datasetDirectory:)` when `nil`. A missing
    /// directory, one that is not a dataset, or a malformed file throws `FigureError.dataset`.
    @discardableResult
    public static func render(datasetDirectory: String, to pdfPath: String? = nil, frameSource: ContrastFrameSource? = nil,
                              progress: (String) -> Void = { _ in },
                              note: (String) -> Void = { line in try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8)) }) throws -> ReportSummary {
        progress("reading \(datasetDirectory)")
        let inputs = try ReportInputs.load(datasetDirectory: datasetDirectory, frameSource: frameSource)
        return try render(inputs: inputs, to: pdfPath ?? defaultOutputPath(datasetDirectory: datasetDirectory),
                          progress: progress, note: note)
    }

    /// `reports/NAME.pdf`, NAME being the dataset directory's name without `.operando`.
    public static func defaultOutputPath(datasetDirectory: String) -> String {
        var name = ((datasetDirectory as NSString).standardizingPath as NSString).lastPathComponent
        if name.hasSuffix(".operando") { name = String(name.dropLast(".operando".count)) }
        return "reports/\(name.isEmpty ? "report" : name).pdf"
    }

    /// Writes one PNG preview per report page (`NN-name.png` in `directory`) through cairo's image
    /// surface; returns the paths written.
    @discardableResult
    public static func renderPreviews(inputs: ReportInputs, directory: String, dotsPerInch: Double = 80) throws -> [String] {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var paths: [String] = []
        for (name, fig) in figures(inputs: inputs).figures {
            let file = name.lowercased().replacingOccurrences(of: " ", with: "-")
            let path = (directory as NSString).appendingPathComponent("page-\(file).png")
            _ = try FigureRenderer.rasterise(fig, dotsPerInch: dotsPerInch, pngPath: path)
            paths.append(path)
        }
        return paths
    }

    /// Benchmark entry point: renders the full report for demo-sized synthetic inputs
    /// (`ReportInputs.synthetic()`: 8.3 h of 1 s electrochemistry, a contrast frame a minute) to
    /// `pdfPath` and returns the render wall time in seconds (input generation not included).
    public static func benchmarkSeconds(pdfPath: String) throws -> Double {
        let inputs = ReportInputs.synthetic()
        let start = Date()
        try render(inputs: inputs, to: pdfPath, note: { _ in })
        return Date().timeIntervalSince(start)
    }

    /// Builds the report's figures (no drawing): each page's name and figure, and the skipped pages.
    public static func figures(inputs: ReportInputs, progress: (String) -> Void = { _ in })
        -> (figures: [(name: String, figure: Figure)], skipped: [(page: String, reason: String)]) {
        var out: [(String, Figure)] = []
        var skipped: [(String, String)] = []
        let builders: [(String, (ReportInputs) -> Result<Figure, Missing>)] = [
            ("1 Overview", overview), ("2 Beginning of charge", beginningOfCharge),
            ("3 Model vs experiment", modelVsExperiment), ("4 End of discharge", endOfDischarge),
            ("5 Heterogeneity", heterogeneity), ("6 Calibration", calibrationPage), ("7 Parameters", parametersPage),
        ]
        for (name, build) in builders {
            progress("page \(name)")
            switch build(inputs) {
            case .success(let f): out.append((name, f))
            case .failure(let m): skipped.append((name, m.reason))
            }
        }
        return (out, skipped)
    }

    struct Missing: Error { var reason: String }

    // MARK: - Shared pieces

    /// A time axis unit chosen from the span: minutes up to 3 h, hours beyond.
    struct TimeUnit {
        var seconds: Double
        var name: String
        init(spanSeconds: Double) {
            if spanSeconds > 3 * 3600 { seconds = 3600; name = "h" } else { seconds = 60; name = "min" }
        }
    }

    /// Current in µA or mA, whichever keeps the numbers readable.
    static func currentScale(_ amps: [Double]) -> (factor: Double, unit: String) {
        let m = amps.filter(\.isFinite).map(abs).max() ?? 0
        return m < 1e-3 ? (1e6, "µA") : (1e3, "mA")
    }

    static func isHold(_ kind: String) -> Bool {
        let k = kind.lowercased()
        return k.contains("hold") || k == "cv"
    }

    /// Contiguous time ranges of CV-hold rows.
    static func holdSpans(_ e: EchemSeries) -> [(Double, Double)] {
        var spans: [(Double, Double)] = []
        var start: Double?
        for i in e.timeSeconds.indices {
            if isHold(e.kind(i)) { if start == nil { start = e.timeSeconds[i] } } else if let s = start {
                spans.append((s, e.timeSeconds[i - 1])); start = nil
            }
        }
        if let s = start, let last = e.timeSeconds.last { spans.append((s, last)) }
        return spans
    }

    /// Start of the first charge: the first "charge" row, else the first positive current.
    static func chargeStart(_ e: EchemSeries) -> Double? {
        if let i = e.timeSeconds.indices.first(where: { e.kind($0).lowercased() == "charge" }) { return e.timeSeconds[i] }
        let m = e.currentAmps.filter(\.isFinite).map(abs).max() ?? 0
        if let i = e.currentAmps.firstIndex(where: { $0 > 0.05 * m && m > 0 }), i < e.timeSeconds.count { return e.timeSeconds[i] }
        return nil
    }

    static func interpolate(_ t: [Double], _ v: [Double], at x: Double) -> Double {
        guard let first = t.first, let last = t.last, t.count == v.count, !t.isEmpty else { return .nan }
        if x <= first { return v[0] }
        if x >= last { return v[v.count - 1] }
        var lo = 0, hi = t.count - 1
        while hi - lo > 1 { let m = (lo + hi) / 2; if t[m] <= x { lo = m } else { hi = m } }
        let f = (x - t[lo]) / max(t[hi] - t[lo], 1e-12)
        return v[lo] + f * (v[hi] - v[lo])
    }

    /// Keeps rows with `from ≤ t ≤ to`, shifting time by `origin` and dividing by `unit`.
    static func window(_ t: [Double], _ vs: [[Double]], from: Double, to: Double, origin: Double, unit: Double) -> ([Double], [[Double]]) {
        var ot: [Double] = []
        var ov = vs.map { _ in [Double]() }
        for i in t.indices where t[i] >= from && t[i] <= to {
            ot.append((t[i] - origin) / unit)
            for k in vs.indices { ov[k].append(i < vs[k].count ? vs[k][i] : .nan) }
        }
        return (ot, ov)
    }

    /// Contrast and intensity change are fractions in the files and per cent on the page.
    static let percent = 100.0

    /// What `echemAxes` built: the potential/current axes, the intensity axes (when there is an
    /// intensity series), the current's unit and whether a CV hold is shaded.
    struct EchemPanels {
        var top: Axes
        var bottom: Axes?
        var currentUnit: String
        var showsHold: Bool
    }

    /// The potential/current axes (top) and intensity axes (bottom) of seed Fig. 1E/2A/4A. Times are
    /// shown from `origin` in `unit`; markers (on the intensity axes) at `markerTimes`.
    static func echemAxes(_ e: EchemSeries, intensity: TimeSeries?, from: Double, to: Double, origin: Double,
                          unit: TimeUnit, timeLabel: String, markerTimes: [Double], markerLabels: [String]) -> EchemPanels {
        let (t, v) = window(e.timeSeconds, [e.voltageVolts, e.currentAmps], from: from, to: to, origin: origin, unit: unit.seconds)
        let (cf, cu) = currentScale(v[1])
        let xLimits = (lower: (from - origin) / unit.seconds, upper: (to - origin) / unit.seconds)
        var spans: [PlotItem] = []
        for (a, b) in holdSpans(e) where b > from && a < to {
            spans.append(.span(from: (max(a, from) - origin) / unit.seconds, to: (min(b, to) - origin) / unit.seconds,
                               colour: Colour(hex: 0xe8e8e8), label: ""))
        }
        let xLabel = "\(timeLabel) (\(unit.name))"
        var top = Axes(x: Axis(label: xLabel, limits: xLimits, showsLabels: intensity == nil),
                       y: Axis(label: "Potential (V vs Li/Li⁺)", targetTickCount: 4),
                       secondY: Axis(label: "Current (\(cu))", colour: .blue, targetTickCount: 4),
                       items: spans + [.line(LineSeries(x: t, y: v[0], colour: .black, lineWidthPoints: 1, label: "Potential"))],
                       secondItems: [.line(LineSeries(x: t, y: v[1].map { $0 * cf }, colour: .blue, lineWidthPoints: 1, label: "Current"))])
        if !spans.isEmpty, case .span(let a, let b, let c, _) = spans[spans.count - 1] {
            top.items[spans.count - 1] = .span(from: a, to: b, colour: c, label: "CV hold")
        }
        guard let inten = intensity else { return EchemPanels(top: top, bottom: nil, currentUnit: cu, showsHold: !spans.isEmpty) }
        let (ti, vi) = window(inten.timeSeconds, [inten.values], from: from, to: to, origin: origin, unit: unit.seconds)
        var items = spans
        items.append(.horizontalLine(y: 0, colour: .grey, style: .dashed))
        items.append(.line(LineSeries(x: ti, y: vi[0].map { $0 * percent }, colour: .black, lineWidthPoints: 1)))
        if !markerTimes.isEmpty {
            let mx = markerTimes.map { ($0 - origin) / unit.seconds }
            let my = markerTimes.map { interpolate(inten.timeSeconds, inten.values, at: $0) * percent }
            items.append(.markers(MarkerSet(x: mx, y: my, labels: markerLabels, shape: .circle, colour: .black, sizePoints: 4.5)))
        }
        let bottom = Axes(x: Axis(label: xLabel, limits: xLimits), y: Axis(label: "ΔI/I₀ (%)", targetTickCount: 4), items: items)
        return EchemPanels(top: top, bottom: bottom, currentUnit: cu, showsHold: !spans.isEmpty)
    }

    /// Exact finite range of `x` (time axes end where the data end), `nil` when empty.
    static func dataLimits(_ x: [Double]) -> (lower: Double, upper: Double)? {
        let f = x.filter(\.isFinite)
        guard let a = f.min(), let b = f.max(), b > a else { return nil }
        return (a, b)
    }

    static func formatMinutes(_ s: Double) -> String {
        let m = s / 60
        return abs(m - m.rounded()) < 0.05 ? "\(Int(m.rounded())) min" : String(format: "%.1f min", m)
    }

    /// An image's time to the nearest minute: frames fall a few seconds off the minute ("4.9 min"
    /// for the 5 min image reads as a different time than asked for, and adds nothing at this scale).
    static func wholeMinutes(_ s: Double) -> String { "\(Int((s / 60).rounded())) min" }

    /// "a", "a and b", "a, b and c".
    static func list(_ items: [String]) -> String {
        switch items.count {
        case 0: return ""
        case 1: return items[0]
        default: return items.dropLast().joined(separator: ", ") + " and " + items[items.count - 1]
        }
    }

    /// End of the first charge after `tc`: the first row after it whose step is not a charge.
    static func firstChargeEnd(_ e: EchemSeries, after tc: Double) -> Double? {
        guard let i0 = e.timeSeconds.firstIndex(where: { $0 >= tc }) else { return nil }
        return e.timeSeconds[i0...].indices.first(where: { e.kind($0).lowercased() != "charge" && !e.kind($0).isEmpty }).map { e.timeSeconds[$0] }
    }

    /// The contrast images chosen for a page: the montage, which requested times have a tile and the
    /// times of the frames shown.
    struct ChosenImages {
        var montage: ImageMontage
        var drawn: [Int]
        var frameTimes: [Double]
    }

    /// A montage of the contrast frames nearest to `times` (absolute seconds), in %, cropped to the
    /// particle, with a shared centred scale. A requested time with no frame within two frame
    /// intervals (at least a minute), or whose frame is already shown, gets no tile: a tile is never
    /// labelled with a time it does not show. `label(k, frameTime)` labels the tile of request `k`.
    static func contrastMontage(_ stack: ImageStack, times: [Double], label: (Int, Double) -> String, columns: Int) -> ChosenImages? {
        let steps = zip(stack.timesSeconds.dropFirst(), stack.timesSeconds).map { $0 - $1 }.sorted()
        let tolerance = max(60, 2 * (steps.isEmpty ? 0 : steps[steps.count / 2]))
        var tiles: [ImageTile] = []
        var all: [Float] = []
        var drawn: [Int] = [], frameTimes: [Double] = [], used: Set<Int> = []
        for (k, t) in times.enumerated() {
            guard let i = stack.nearestFrame(to: t), i < stack.frames.count, !used.contains(i),
                  stack.frames[i].count == stack.width * stack.height, abs(stack.timesSeconds[i] - t) <= tolerance else { continue }
            used.insert(i)
            let pct = stack.frames[i].map { $0 * Float(percent) }
            tiles.append(ImageTile(width: stack.width, height: stack.height, pixels: pct, label: label(k, stack.timesSeconds[i])))
            all.append(contentsOf: pct)
            drawn.append(k); frameTimes.append(stack.timesSeconds[i])
        }
        guard !tiles.isEmpty else { return nil }
        let m = ImageMontage(tiles: tiles, columns: columns, norm: .centred(covering: all, at: 0, percentile: 0.995),
                             colormap: .blueWhiteRed, colorbarLabel: "Total contrast (%)",
                             pixelSizeMicrometres: stack.pixelSizeMicrometres, scaleBarMicrometres: 1).croppedToParticle()
        return ChosenImages(montage: m, drawn: drawn, frameTimes: frameTimes)
    }

    /// The shared end of an image caption: crop, colours and the scale bar's length as drawn.
    static func imageCaptionTail(_ m: ImageMontage, diverging: Bool) -> String {
        let bar = m.scaleBar.map { "; scale bar \($0.label)" } ?? ""
        let colours = diverging ? "colour scale centred at zero (white), red brighter, blue darker" : "one colour scale for all"
        return "Cropped to the particle and a margin; \(colours); pixels outside the particle grey\(bar)."
    }

    // MARK: - Pages

    static func overview(_ inp: ReportInputs) -> Result<Figure, Missing> {
        guard let e = inp.echem, let t0 = e.timeSeconds.first, let t1 = e.timeSeconds.last, t1 > t0 else {
            return .failure(Missing(reason: "no electrochemistry (\(DatasetFormat.File.echem))"))
        }
        let unit = TimeUnit(spanSeconds: t1 - t0)
        let ep = echemAxes(e, intensity: inp.intensityChange, from: t0, to: t1, origin: t0, unit: unit, timeLabel: "Time",
                           markerTimes: [], markerLabels: [])
        var panels = [Panel(cell: GridCell(row: 0, column: 0), content: .plot(ep.top), id: "echem",
                            caption: "Potential (black, left axis, V vs Li/Li⁺) and current (blue, right axis, \(ep.currentUnit), positive on charge) against time from the start of the dataset (\(unit.name))"
                                + (ep.showsHold ? "; the CV hold is shaded." : "."))]
        if let b = ep.bottom {
            panels.append(Panel(cell: GridCell(row: 1, column: 0), content: .plot(b), id: "intensity",
                                caption: "Normalised intensity change ΔI/I₀ of the whole particle, in %, on the same time axis."))
        }
        return .success(Figure.lettered(heightMillimetres: ep.bottom == nil ? 70 : 110, heading: "Figure 1 | Overview.",
                                        panels: panels, closing: "Dataset \(inp.datasetName).", rows: panels.count, columns: 1))
    }

    static func beginningOfCharge(_ inp: ReportInputs) -> Result<Figure, Missing> {
        guard let e = inp.echem, let tc = chargeStart(e) else { return .failure(Missing(reason: "no charge step in \(DatasetFormat.File.echem)")) }
        let times = (inp.beginningOfChargeTimesSeconds.isEmpty ? [5, 15, 25, 35].map { $0 * 60.0 } : inp.beginningOfChargeTimesSeconds)
        let chosen = inp.contrast.flatMap { contrastMontage($0, times: times.map { tc + $0 }, label: { _, ft in wholeMinutes(ft - tc) }, columns: 2) }
        let unit = TimeUnit(spanSeconds: 3600)
        let ep = echemAxes(e, intensity: inp.intensityChange, from: tc, to: tc + 3600, origin: tc, unit: unit,
                           timeLabel: "Time from start of charge", markerTimes: chosen?.frameTimes ?? [], markerLabels: [])
        let stacked = ep.bottom != nil
        var panels = [Panel(cell: GridCell(row: 0, column: 0, rowSpan: stacked ? 1 : 2), content: .plot(ep.top), id: "echem",
                            caption: "Potential (black, V vs Li/Li⁺) and current (blue, \(ep.currentUnit)) during the first hour of charge, against time from the start of charge (min).")]
        if let b = ep.bottom {
            panels.append(Panel(cell: GridCell(row: 1, column: 0), content: .plot(b), id: "intensity",
                                caption: "Normalised intensity change ΔI/I₀ (%) over the same hour" + (chosen == nil ? "." : "; black circles mark the images in {images}.")))
        }
        if let c = chosen {
            let shown = c.frameTimes.map { wholeMinutes($0 - tc) }
            panels.append(Panel(cell: GridCell(row: 0, column: 1, rowSpan: 2), content: .images(c.montage), id: "images",
                                caption: "Total contrast I/I₀ − 1 (%) at \(list(shown)) from the start of charge (above each image). "
                                    + imageCaptionTail(c.montage, diverging: true)))
        }
        return .success(Figure.lettered(heightMillimetres: !stacked && chosen == nil ? 70 : 95, heading: "Figure 2 | Beginning of charge.",
                                        panels: panels, closing: "Dataset \(inp.datasetName).", rows: 2, columns: chosen == nil ? 1 : 2))
    }

    static func endOfDischarge(_ inp: ReportInputs) -> Result<Figure, Missing> {
        guard let e = inp.echem, let t0 = e.timeSeconds.first, let t1 = e.timeSeconds.last, t1 > t0 else {
            return .failure(Missing(reason: "no electrochemistry (\(DatasetFormat.File.echem))"))
        }
        let holds = holdSpans(e)
        guard let hold = holds.last else { return .failure(Missing(reason: "no CV hold step in \(DatasetFormat.File.echem)")) }
        var times = inp.endOfDischargeTimesSeconds
        var meaning: [String] = []
        if times.isEmpty {
            // Mid discharge, end of the CC discharge, through the hold, and the last frame (if after the hold).
            let dStart = e.timeSeconds.indices.last(where: { e.timeSeconds[$0] < hold.0 && e.kind($0).lowercased() != "discharge" })
                .map { e.timeSeconds[$0] } ?? t0
            let len = hold.1 - hold.0
            times = [(dStart + hold.0) / 2, hold.0, hold.0 + len / 3, hold.0 + 2 * len / 3, hold.1]
            meaning = ["mid CC discharge", "end of CC discharge", "a third into the CV hold", "two thirds into the CV hold", "end of the CV hold"]
            if let last = inp.contrast?.timesSeconds.last, last > hold.1 + 60 { times.append(last); meaning.append("last image") }
        }
        // Letters a, b, c… go to the tiles drawn, in order, so a missing frame leaves no gap; tile
        // times are in the time axis' unit.
        let unit = TimeUnit(spanSeconds: t1 - t0)
        func when(_ t: Double) -> String {
            unit.name == "h" ? String(format: "%.1f h", (t - t0) / 3600) : wholeMinutes(t - t0)
        }
        var tileLetter: [Int: String] = [:]
        let chosen = inp.contrast.flatMap { stack -> ChosenImages? in
            guard var c = contrastMontage(stack, times: times, label: { _, _ in "" }, columns: 3) else { return nil }
            for (n, k) in c.drawn.enumerated() {
                let letter = String("abcdefghijklmnopqrstuvwxyz".map { $0 }[min(n, 25)])
                tileLetter[k] = letter
                c.montage.tiles[n].label = "\(letter)  \(when(c.frameTimes[n]))"
            }
            return c
        }
        let ep = echemAxes(e, intensity: inp.intensityChange, from: t0, to: t1, origin: t0, unit: unit, timeLabel: "Time",
                           markerTimes: chosen?.frameTimes ?? [], markerLabels: chosen?.drawn.compactMap { tileLetter[$0] } ?? [])
        let stacked = ep.bottom != nil
        var panels = [Panel(cell: GridCell(row: 0, column: 0, rowSpan: stacked ? 1 : 2), content: .plot(ep.top), id: "echem",
                            caption: "Potential (black, V vs Li/Li⁺) and current (blue, \(ep.currentUnit)) through the cycle, against time from the start of the dataset (\(unit.name)); the CV hold is shaded.")]
        if let b = ep.bottom {
            let letters = chosen?.drawn.compactMap { tileLetter[$0] } ?? []
            panels.append(Panel(cell: GridCell(row: 1, column: 0), content: .plot(b), id: "intensity",
                                caption: "Normalised intensity change ΔI/I₀ (%) on the same time axis"
                                    + (letters.isEmpty ? "." : "; black circles \(letters.first!)–\(letters.last!) mark the images in {images}.")))
        }
        if let c = chosen {
            let described = c.drawn.enumerated().compactMap { n, k -> String? in
                guard let l = tileLetter[k] else { return nil }
                return k < meaning.count ? "\(l), \(when(c.frameTimes[n])), \(meaning[k])" : "\(l), \(when(c.frameTimes[n]))"
            }
            panels.append(Panel(cell: GridCell(row: 0, column: 1, rowSpan: 2), content: .images(c.montage), id: "images",
                                caption: "Total contrast I/I₀ − 1 (%) at the \(c.drawn.count) times labelled above the images (from the start of the dataset): "
                                    + described.joined(separator: "; ") + ". " + imageCaptionTail(c.montage, diverging: true)))
        }
        return .success(Figure.lettered(heightMillimetres: !stacked && chosen == nil ? 70 : 100, heading: "Figure 4 | End of discharge.",
                                        panels: panels, closing: "Dataset \(inp.datasetName).", rows: 2, columns: chosen == nil ? 1 : 2))
    }

    /// Colours for a time series of curves (viridis, dark to light as time runs).
    static func curveColours(_ n: Int) -> [Colour] {
        (0..<n).map { Colormap.viridis.colour(at: n > 1 ? 0.85 * Double($0) / Double(n - 1) : 0.3) }
    }

    /// Up to `count` items spread evenly over `items`, first and last included.
    static func spread<T>(_ items: [T], count: Int) -> [T] {
        items.count <= count ? items : (0..<count).map { items[$0 * (items.count - 1) / (count - 1)] }
    }

    /// Page 3 (seed Fig. 3B–F). Model times are dataset times (calibrate runs the model from the
    /// dataset's first sample); the page shows them from the start of charge.
    static func modelVsExperiment(_ inp: ReportInputs) -> Result<Figure, Missing> {
        let gain = inp.calibration?.gain ?? 1
        let theta0 = inp.calibration.map { $0.theta0.isFinite ? $0.theta0 : (inp.parameters?.theta0Delithiation ?? 0.95) }
            ?? inp.parameters?.theta0Delithiation ?? 0.95
        let tc = inp.echem.flatMap(chargeStart) ?? 0
        let chargeEnd = inp.echem.flatMap { firstChargeEnd($0, after: tc) } ?? .infinity
        var drawn: [(id: String, content: PanelContent, caption: String)] = []
        if let p = inp.parameters {
            let table = p.log10DiffusivityTable
            let xs = stride(from: 0.0, through: 1.0, by: 0.005).map { $0 }
            let d = xs.map { pow(10, table.evaluate($0).value) / p.scale }
            let ax = Axes(x: Axis(label: "1 − θ", limits: (0, 1)), y: Axis(label: "Effective D (cm² s⁻¹)", scale: .log10),
                          items: [.line(LineSeries(x: xs, y: d, colour: .black, lineWidthPoints: 1.2))],
                          title: String(format: "S = %.2f", p.scale))
            drawn.append(("diffusivity", .plot(ax), String(format: "Effective lithium diffusivity D/S (cm² s⁻¹, log scale) against the degree of delithiation 1 − θ, with S = %.2f ", p.scale)
                            + (inp.calibration == nil ? "(the parameter set's scale)." : "(the calibrated scale).")))
        }
        if let maps = inp.modelThetaMaps, !maps.frames.isEmpty, maps.frames.count == maps.timesSeconds.count {
            let pick = spread(Array(maps.frames.indices), count: 4)
            let tiles = pick.compactMap { i -> ImageTile? in
                guard maps.frames[i].count == maps.width * maps.height else { return nil }
                return ImageTile(width: maps.width, height: maps.height, pixels: maps.frames[i].map { $0.isNaN ? $0 : 1 - $0 },
                                 label: wholeMinutes(maps.timesSeconds[i] - tc))
            }
            if !tiles.isEmpty {
                let top = tiles.flatMap(\.pixels).filter(\.isFinite).max().map(Double.init) ?? 1
                let upper = TickLocator.niceLimits(0, max(top, 1e-6), targetCount: 4).1
                let m = ImageMontage(tiles: tiles, columns: 4, norm: ColourNorm(lower: 0, upper: upper), colormap: .viridis,
                                     colorbarLabel: "1 − θ", pixelSizeMicrometres: maps.pixelSizeMicrometres).croppedToParticle()
                drawn.append(("maps", .images(m), "Model degree of delithiation 1 − θ at \(list(tiles.map(\.label))) from the start of charge (above each map). "
                                + imageCaptionTail(m, diverging: false)))
            }
        }
        if let mp = inp.modelProfiles, !mp.curves.isEmpty {
            let during = mp.curves.filter { $0.timeSeconds >= tc && $0.timeSeconds <= chargeEnd }
            let curves = spread(during.count >= 2 ? during : mp.curves, count: 6)
            let cols = curveColours(curves.count)
            // Model and measured profiles on one position range, so the two panels compare by eye.
            let nearestMeasured = curves.map { inp.measuredProfiles?.nearest(to: $0.timeSeconds) }
            let positionLimits = dataLimits(curves.flatMap(\.positionMicrometres) + nearestMeasured.flatMap { $0?.positionMicrometres ?? [] })
            var items: [PlotItem] = [.verticalLine(x: 0, colour: .grey, style: .dashed)]
            for (k, c) in curves.enumerated() {
                items.append(.line(LineSeries(x: c.positionMicrometres, y: c.values.map { 1 - $0 }, colour: cols[k], lineWidthPoints: 1,
                                              label: formatMinutes(c.timeSeconds - tc))))
            }
            drawn.append(("modelProfiles", .plot(Axes(x: Axis(label: "Position (µm)", limits: positionLimits), y: Axis(label: "1 − θ (model)"), items: items, legend: .above)),
                          "Model 1 − θ along the horizontal line through the centroid (position in µm from the centroid, which the dashed line marks) at the times in the legend (min from the start of charge)."))
            if inp.measuredProfiles?.curves.isEmpty == false {
                var eItems: [PlotItem] = [.verticalLine(x: 0, colour: .grey, style: .dashed)]
                for (k, c) in curves.enumerated() {
                    guard let m = nearestMeasured[k] else { continue }
                    eItems.append(.line(LineSeries(x: m.positionMicrometres, y: m.values.map { $0 * percent }, colour: cols[k], lineWidthPoints: 1,
                                                   label: formatMinutes(c.timeSeconds - tc))))
                    eItems.append(.line(LineSeries(x: c.positionMicrometres, y: c.values.map { gain * (theta0 - $0) * percent }, colour: cols[k],
                                                   lineWidthPoints: 0.8, style: .dashed)))
                }
                eItems.append(.line(LineSeries(x: [], y: [], colour: .black, lineWidthPoints: 0.8, style: .dashed, label: "model")))
                drawn.append(("measuredProfiles", .plot(Axes(x: Axis(label: "Position (µm)", limits: positionLimits), y: Axis(label: "Total contrast (%)"), items: eItems, legend: .above)),
                              String(format: "Measured total contrast I/I₀ − 1 (%%) along the same line at the same times (solid); model prediction A·(θ₀ − θ) dashed, A = %.3f, θ₀ = %.2f.", gain, theta0)))
            }
        }
        if let ct = centreSeries(inp, gain: gain, theta0: theta0) {
            let x = ct.timeSeconds.map { ($0 - tc) / 60 }
            let ax = Axes(x: Axis(label: "Time from start of charge (min)", limits: dataLimits(x)), y: Axis(label: "Centre contrast (%)"),
                          items: [.line(LineSeries(x: x, y: ct.measured.map { $0 * percent }, colour: .black, lineWidthPoints: 0, marker: .openCircle,
                                                   markerSizePoints: 2.5, label: "measured")),
                                  .line(LineSeries(x: x, y: ct.model.map { $0 * percent }, colour: .red, lineWidthPoints: 1.2, label: "model"))],
                          legend: .best)
            drawn.append(("centre", .plot(ax), "Total contrast (%) at the particle centre, measured (open circles) and model A·(θ₀ − θ) (red line), against time from the start of charge (min)."))
        }
        guard drawn.count >= 2 else { return .failure(Missing(reason: "needs at least two of: parameter set, model profiles, centre traces")) }
        var panels: [Panel] = []
        var rows = 2, columns = 3
        var height = 120.0
        if drawn.contains(where: { if case .images = $0.content { return true }; return false }) {
            // Row 0: the diffusivity (if present) and the map montage across the rest; row 1: the plots.
            var cellIndex = 0
            for d in drawn {
                if case .images = d.content {
                    panels.append(Panel(cell: GridCell(row: 0, column: cellIndex == 0 ? 0 : 1, columnSpan: cellIndex == 0 ? 3 : 2),
                                        content: d.content, id: d.id, caption: d.caption))
                    cellIndex = 3
                    continue
                }
                panels.append(Panel(cell: GridCell(row: cellIndex / 3, column: cellIndex % 3), content: d.content, id: d.id, caption: d.caption))
                cellIndex += 1
            }
            rows = max(1, (cellIndex + 2) / 3)
        } else {
            // Plots only: 2 → 1×2, 3 → 1×3, 4 → 2×2.
            columns = drawn.count == 4 ? 2 : min(drawn.count, 3)
            rows = (drawn.count + columns - 1) / columns
            height = rows == 1 ? 68 : 120
            for (k, d) in drawn.enumerated() {
                panels.append(Panel(cell: GridCell(row: k / columns, column: k % columns), content: d.content, id: d.id, caption: d.caption))
            }
        }
        return .success(Figure.lettered(heightMillimetres: height, heading: "Figure 3 | Model vs experiment.", panels: panels,
                                        closing: "Dataset \(inp.datasetName).", rows: rows, columns: columns))
    }

    /// Centre contrast measured and modelled: the calibration's centre fit, else the analysis' centre
    /// trace against the model trace (both in dataset time).
    static func centreSeries(_ inp: ReportInputs, gain: Double, theta0: Double) -> CentreTrace? {
        if let c = inp.centreTrace, !c.timeSeconds.isEmpty { return c }
        guard let m = inp.measuredCentre, let tr = inp.modelTrace, let first = tr.timeSeconds.first, let last = tr.timeSeconds.last else { return nil }
        let model = m.timeSeconds.map { t -> Double in
            guard t >= first, t <= last else { return .nan }
            return gain * (theta0 - interpolate(tr.timeSeconds, tr.thetaCentre, at: t))
        }
        return CentreTrace(timeSeconds: m.timeSeconds, measured: m.values, model: model)
    }

    static func heterogeneity(_ inp: ReportInputs) -> Result<Figure, Missing> {
        guard let s = inp.sdcStd, s.values.contains(where: \.isFinite) else { return .failure(Missing(reason: "no SDC std (\(DatasetFormat.File.analysisDirectory)/\(DatasetFormat.AnalysisFile.metrics) sdc_std)")) }
        let tc = inp.echem.flatMap(chargeStart) ?? (s.timeSeconds.first ?? 0)
        // The first charge only (seed Fig. S12E–H), when the step kinds say where it ends.
        let tEnd = inp.echem.flatMap { firstChargeEnd($0, after: tc) } ?? (s.timeSeconds.last ?? 0)
        let unit = TimeUnit(spanSeconds: tEnd - tc)
        let keep = s.timeSeconds.indices.filter { s.timeSeconds[$0] >= tc && s.timeSeconds[$0] <= tEnd && $0 < s.values.count }
        guard keep.count >= 2 else { return .failure(Missing(reason: "no SDC std values during the charge")) }
        let x = keep.map { (s.timeSeconds[$0] - tc) / unit.seconds }
        var items: [PlotItem] = [.line(LineSeries(x: x, y: keep.map { s.values[$0] * percent }, colour: .black, lineWidthPoints: 0.9))]
        var arrowSentence = "; the analysis found no sharp drop, so none is marked."
        if let drop = inp.sdcDropTimeSeconds, drop >= tc, drop <= tEnd {
            let y = interpolate(s.timeSeconds, s.values, at: drop) * percent
            items.append(.arrow(x: (drop - tc) / unit.seconds, y: y, colour: .red, label: "drop at \(formatMinutes(drop - tc))"))
            arrowSentence = "; the red arrow marks the drop the analysis found, \(formatMinutes(drop - tc)) into the charge, when the delithiation front reaches the centre."
        } else if let drop = inp.sdcDropTimeSeconds {
            arrowSentence = "; the drop the analysis found (\(formatMinutes(drop - tc)) from the start of charge) lies outside the first charge and is not marked."
        }
        let panel = Panel(cell: GridCell(row: 0, column: 0),
                          content: .plot(Axes(x: Axis(label: "Time from start of charge (\(unit.name))", limits: dataLimits(x)),
                                              y: Axis(label: "SDC standard deviation (%)"), items: items)),
                          id: "sdc",
                          caption: "Standard deviation over the particle of the sequential differential contrast (the change in total contrast over a fixed lag, in %) during the first charge, against time from the start of charge (\(unit.name)), as in seed Fig. S12E–H"
                            + arrowSentence)
        return .success(Figure.lettered(widthMillimetres: FigureWidth.singleColumnMillimetres, heightMillimetres: 80,
                                        heading: "Figure 5 | Heterogeneity.", panels: [panel], closing: "Dataset \(inp.datasetName).",
                                        rows: 1, columns: 1))
    }

    static func calibrationPage(_ inp: ReportInputs) -> Result<Figure, Missing> {
        var drawn: [(id: String, axes: Axes, caption: String)] = []
        if let m = inp.errorMap, m.scales.count >= 2, m.gains.count >= 2 {
            let best = m.best
            let pct = m.rmse.map { $0 * percent }
            let cs = ContourSet(x: m.scales, y: m.gains, values: pct, levels: contourLevels(pct),
                                minimum: best.map { ($0.scale, $0.gain, String(format: "min (%.2f, %.3f)", $0.scale, $0.gain)) })
            drawn.append(("errorMap", Axes(x: Axis(label: "Scale S", limits: (m.scales[0], m.scales[m.scales.count - 1])),
                                           y: Axis(label: "Optical gain A", limits: (m.gains[0], m.gains[m.gains.count - 1])),
                                           items: [.contour(cs)], title: "e(S, A) (%)"),
                          "Root-mean-square error e(S, A) between measured and predicted centre contrast, in % (labelled contours), over the scale S and the optical gain A (both dimensionless)"
                            + (best.map { String(format: "; the red star marks the minimum, S = %.2f, A = %.3f.", $0.scale, $0.gain) } ?? ".")))
        }
        let gain = inp.calibration?.gain ?? 1
        let theta0 = inp.calibration?.theta0 ?? inp.parameters?.theta0Delithiation ?? 0.95
        if let ct = centreSeries(inp, gain: gain, theta0: theta0.isFinite ? theta0 : 0.95) {
            let tc = inp.echem.flatMap(chargeStart) ?? 0
            let x = ct.timeSeconds.map { ($0 - tc) / 60 }
            drawn.append(("centreFit", Axes(x: Axis(label: "Time from start of charge (min)", limits: dataLimits(x)), y: Axis(label: "Centre contrast (%)"),
                                            items: [.line(LineSeries(x: x, y: ct.measured.map { $0 * percent }, colour: .black, lineWidthPoints: 0, marker: .openCircle,
                                                                     markerSizePoints: 2.5, label: "measured")),
                                                    .line(LineSeries(x: x, y: ct.model.map { $0 * percent }, colour: .red, lineWidthPoints: 1.2, label: "model (best S, A)"))],
                                            legend: .best),
                          "Total contrast (%) at the particle centre, measured (open circles) and predicted with the best S and A (red line), against time from the start of charge (min)."))
        }
        guard !drawn.isEmpty else { return .failure(Missing(reason: "no calibration outputs (\(DatasetFormat.File.calibrationDirectory)/\(DatasetFormat.CalibrationFile.errorMap), \(DatasetFormat.CalibrationFile.centreFit))")) }
        let panels = drawn.enumerated().map { k, d in Panel(cell: GridCell(row: 0, column: k), content: .plot(d.axes), id: d.id, caption: d.caption) }
        return .success(Figure.lettered(widthMillimetres: panels.count == 1 ? FigureWidth.singleColumnMillimetres : FigureWidth.doubleColumnMillimetres,
                                        heightMillimetres: panels.count == 1 ? 90 : 80, heading: "Figure 6 | Calibration.", panels: panels,
                                        closing: "Dataset \(inp.datasetName).", rows: 1, columns: panels.count))
    }

    /// Contour levels for an error map: quantile-like spacing so the valley near the minimum shows.
    static func contourLevels(_ v: [Double]) -> [Double] {
        let f = v.filter(\.isFinite).sorted()
        guard let lo = f.first, let hi = f.last, hi > lo else { return [] }
        var levels: [Double] = []
        for q in [0.03, 0.08, 0.15, 0.25, 0.4, 0.6, 0.8] {
            let raw = f[min(f.count - 1, Int(Double(f.count - 1) * q))]
            let step = TickLocator.niceStep(span: hi - lo, targetCount: 40)
            let r = (raw / step).rounded() * step
            if r > lo, r < hi, !levels.contains(where: { abs($0 - r) < step / 2 }) { levels.append(r) }
        }
        return levels.sorted()
    }

    static func parametersPage(_ inp: ReportInputs) -> Result<Figure, Missing> {
        guard let p = inp.parameters else { return .failure(Missing(reason: "no parameter set")) }
        let ocv = p.ocvTable
        let th = stride(from: p.ocvTheta.first ?? 0.1, through: p.ocvTheta.last ?? 1, by: 0.002).map { $0 }
        let a = Axes(x: Axis(label: "Lithium occupancy θ", limits: (0, 1)), y: Axis(label: "OCV (V vs Li/Li⁺)"),
                     items: [.line(LineSeries(x: th, y: th.map { ocv.evaluate($0).value }, colour: .black, lineWidthPoints: 1, label: "PCHIP")),
                             .line(LineSeries(x: p.ocvTheta, y: p.ocvVolts, colour: .red, lineWidthPoints: 0, marker: .circle, markerSizePoints: 3, label: "table"))],
                     legend: .best)
        let dt = p.log10DiffusivityTable
        let xs = stride(from: 0.0, through: 1.0, by: 0.004).map { $0 }
        let b = Axes(x: Axis(label: "Lithium occupancy θ", limits: (0, 1)), y: Axis(label: "Li diffusivity (cm² s⁻¹)", scale: .log10),
                     items: [.line(LineSeries(x: xs.map { 1 - $0 }, y: xs.map { pow(10, dt.evaluate($0).value) }, colour: .black, lineWidthPoints: 1, label: "PCHIP")),
                             .line(LineSeries(x: p.diffusivityX.map { 1 - $0 }, y: p.diffusivityCm2PerS, colour: .red, lineWidthPoints: 0, marker: .circle, markerSizePoints: 3, label: "table"))],
                     legend: .best)
        let panels = [Panel(cell: GridCell(row: 0, column: 0), content: .plot(a), id: "ocv",
                            caption: "Open-circuit voltage (V vs Li/Li⁺) against lithium occupancy θ."),
                      Panel(cell: GridCell(row: 0, column: 1), content: .plot(b), id: "diffusivity",
                            caption: "Lithium diffusivity (cm² s⁻¹, log scale) against θ.")]
        return .success(Figure.lettered(heightMillimetres: 72, heading: "Figure 7 | Parameters.",
                                        intro: "Parameter set '\(p.name)' (\(p.source)): table knots (red circles) and the piecewise cubic interpolation (PCHIP, black line) the model uses, as in seed Fig. S1.",
                                        panels: panels, rows: 1, columns: 2))
    }
}
