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

    /// The voltage/current axes (top) and intensity axes (bottom) of seed Fig. 1E/2A/4A.
    static func echemAxes(_ e: EchemSeries, intensity: TimeSeries?, from: Double, to: Double, origin: Double,
                          unit: TimeUnit, markerTimes: [Double], markerLabels: [String]) -> (Axes, Axes?) {
        let (t, v) = window(e.timeSeconds, [e.voltageVolts, e.currentAmps], from: from, to: to, origin: origin, unit: unit.seconds)
        let (cf, cu) = currentScale(v[1])
        let xLimits = (lower: (from - origin) / unit.seconds, upper: (to - origin) / unit.seconds)
        var spans: [PlotItem] = []
        for (a, b) in holdSpans(e) where b > from && a < to {
            spans.append(.span(from: (max(a, from) - origin) / unit.seconds, to: (min(b, to) - origin) / unit.seconds,
                               colour: Colour(hex: 0xe8e8e8), label: ""))
        }
        var top = Axes(x: Axis(label: "Time (\(unit.name))", limits: xLimits, showsLabels: intensity == nil),
                       y: Axis(label: "Voltage (V)", targetTickCount: 4),
                       secondY: Axis(label: "Current (\(cu))", colour: .blue, targetTickCount: 4),
                       items: spans + [.line(LineSeries(x: t, y: v[0], colour: .black, lineWidthPoints: 1, label: "Voltage"))],
                       secondItems: [.line(LineSeries(x: t, y: v[1].map { $0 * cf }, colour: .blue, lineWidthPoints: 1, label: "Current"))])
        if !spans.isEmpty, case .span(let a, let b, let c, _) = spans[spans.count - 1] {
            top.items[spans.count - 1] = .span(from: a, to: b, colour: c, label: "CV hold")
        }
        guard let inten = intensity else { return (top, nil) }
        let (ti, vi) = window(inten.timeSeconds, [inten.values], from: from, to: to, origin: origin, unit: unit.seconds)
        let pct = vi[0].map { $0 * 100 }
        var items = spans
        items.append(.horizontalLine(y: 0, colour: .grey, style: .dashed))
        items.append(.line(LineSeries(x: ti, y: pct, colour: .black, lineWidthPoints: 1)))
        if !markerTimes.isEmpty {
            let mx = markerTimes.map { ($0 - origin) / unit.seconds }
            let my = markerTimes.map { interpolate(inten.timeSeconds, inten.values, at: $0) * 100 }
            items.append(.markers(MarkerSet(x: mx, y: my, labels: markerLabels, shape: .circle, colour: .black, sizePoints: 4.5)))
        }
        let bottom = Axes(x: Axis(label: "Time (\(unit.name))", limits: xLimits),
                          y: Axis(label: "ΔI/I₀ (%)", targetTickCount: 4), items: items)
        return (top, bottom)
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

    /// A montage of contrast frames nearest to `times` (absolute seconds), with a shared centred scale.
    static func contrastMontage(_ stack: ImageStack, times: [Double], labels: [String], columns: Int) -> ImageMontage? {
        var tiles: [ImageTile] = []
        var all: [Float] = []
        for (k, t) in times.enumerated() {
            guard let i = stack.nearestFrame(to: t), i < stack.frames.count, stack.frames[i].count == stack.width * stack.height else { continue }
            tiles.append(ImageTile(width: stack.width, height: stack.height, pixels: stack.frames[i], label: labels[k]))
            all.append(contentsOf: stack.frames[i])
        }
        guard !tiles.isEmpty else { return nil }
        return ImageMontage(tiles: tiles, columns: columns, norm: .centred(covering: all, at: 0, percentile: 0.995),
                            colormap: .blueWhiteRed, colorbarLabel: "Total contrast",
                            pixelSizeMicrometres: stack.pixelSizeMicrometres, scaleBarMicrometres: 1)
    }

    // MARK: - Pages

    static func overview(_ inp: ReportInputs) -> Result<Figure, Missing> {
        guard let e = inp.echem, let t0 = e.timeSeconds.first, let t1 = e.timeSeconds.last, t1 > t0 else {
            return .failure(Missing(reason: "no electrochemistry (\(DatasetFormat.File.echem))"))
        }
        let unit = TimeUnit(spanSeconds: t1 - t0)
        let (top, bottom) = echemAxes(e, intensity: inp.intensityChange, from: t0, to: t1, origin: t0, unit: unit, markerTimes: [], markerLabels: [])
        var fig = Figure(heightMillimetres: bottom == nil ? 70 : 110,
                         title: "Figure 1 | Overview. (A) Voltage (black) and current (blue) during the cycle; the CV hold is shaded. "
                            + (bottom == nil ? "" : "(B) Normalised intensity change ΔI/I₀ of the particle. ") + "Dataset \(inp.datasetName).",
                         rows: bottom == nil ? 1 : 2)
        fig.panels.append(Panel(letter: "A", cell: GridCell(row: 0, column: 0), content: .plot(top)))
        if let b = bottom { fig.panels.append(Panel(letter: "B", cell: GridCell(row: 1, column: 0), content: .plot(b))) }
        return .success(fig)
    }

    static func beginningOfCharge(_ inp: ReportInputs) -> Result<Figure, Missing> {
        guard let e = inp.echem, let tc = chargeStart(e) else { return .failure(Missing(reason: "no charge step in \(DatasetFormat.File.echem)")) }
        let times = (inp.beginningOfChargeTimesSeconds.isEmpty ? [5, 15, 25, 35].map { $0 * 60.0 } : inp.beginningOfChargeTimesSeconds)
        let abs = times.map { tc + $0 }
        let unit = TimeUnit(spanSeconds: 3600)
        let (top, bottom) = echemAxes(e, intensity: inp.intensityChange, from: tc, to: tc + 3600, origin: tc, unit: unit,
                                      markerTimes: inp.contrast == nil ? [] : abs, markerLabels: [])
        let montage = inp.contrast.flatMap { contrastMontage($0, times: abs, labels: times.map(formatMinutes), columns: 2) }
        var fig = Figure(heightMillimetres: bottom == nil && montage == nil ? 70 : 95,
                         title: "Figure 2 | Beginning of charge. (A) Voltage (black), current (blue) and normalised intensity change during the first hour of charge"
                            + (montage == nil ? "." : "; black circles mark the images in (B). (B) Total contrast (I/I₀ − 1, relative to the start of charge) at the times shown; colour scale centred at zero (white), masked pixels grey.")
                            + " Dataset \(inp.datasetName).",
                         rows: 2, columns: montage == nil ? 1 : 2)
        if montage != nil { fig.columnWidths = [1, 1] }
        fig.panels.append(Panel(letter: "A", cell: GridCell(row: 0, column: 0, rowSpan: bottom == nil ? 2 : 1), content: .plot(top)))
        if let b = bottom { fig.panels.append(Panel(cell: GridCell(row: 1, column: 0), content: .plot(b))) }
        if let m = montage { fig.panels.append(Panel(letter: "B", cell: GridCell(row: 0, column: 1, rowSpan: 2), content: .images(m))) }
        return .success(fig)
    }

    static func endOfDischarge(_ inp: ReportInputs) -> Result<Figure, Missing> {
        guard let e = inp.echem, let t0 = e.timeSeconds.first, let t1 = e.timeSeconds.last, t1 > t0 else {
            return .failure(Missing(reason: "no electrochemistry (\(DatasetFormat.File.echem))"))
        }
        let holds = holdSpans(e)
        guard let hold = holds.last else { return .failure(Missing(reason: "no CV hold step in \(DatasetFormat.File.echem)")) }
        var times = inp.endOfDischargeTimesSeconds
        if times.isEmpty {
            // a: mid discharge, b: end of CC discharge, c–e: through the hold, f: last frame (if after the hold).
            let dStart = e.timeSeconds.indices.last(where: { e.timeSeconds[$0] < hold.0 && e.kind($0).lowercased() != "discharge" })
                .map { e.timeSeconds[$0] } ?? t0
            let len = hold.1 - hold.0
            times = [(dStart + hold.0) / 2, hold.0, hold.0 + len / 3, hold.0 + 2 * len / 3, hold.1]
            if let last = inp.contrast?.timesSeconds.last, last > hold.1 + 60 { times.append(last) }
        }
        let letters = "abcdefghijklmnop".map(String.init)
        let labels = times.indices.map { letters[min($0, letters.count - 1)] }
        let unit = TimeUnit(spanSeconds: t1 - t0)
        let (top, bottom) = echemAxes(e, intensity: inp.intensityChange, from: t0, to: t1, origin: t0, unit: unit,
                                      markerTimes: inp.contrast == nil ? [] : times, markerLabels: labels)
        let tileLabels = times.indices.map { "\(labels[$0])  \(Int(((times[$0] - t0) / 60).rounded())) min" }
        let montage = inp.contrast.flatMap { contrastMontage($0, times: times, labels: tileLabels, columns: 3) }
        var fig = Figure(heightMillimetres: bottom == nil && montage == nil ? 70 : 100,
                         title: "Figure 4 | End of discharge. (A) Voltage (black), current (blue) and normalised intensity change through the cycle; the CV hold is shaded"
                            + (montage == nil ? "." : " and black circles mark the images in (B). (B) Total contrast through the end of the CC discharge and the CV hold (times from the start of the dataset); colour scale centred at zero.")
                            + " Dataset \(inp.datasetName).",
                         rows: 2, columns: montage == nil ? 1 : 2)
        fig.panels.append(Panel(letter: "A", cell: GridCell(row: 0, column: 0, rowSpan: bottom == nil ? 2 : 1), content: .plot(top)))
        if let b = bottom { fig.panels.append(Panel(cell: GridCell(row: 1, column: 0), content: .plot(b))) }
        if let m = montage { fig.panels.append(Panel(letter: "B", cell: GridCell(row: 0, column: 1, rowSpan: 2), content: .images(m))) }
        return .success(fig)
    }

    /// Colours for a time series of curves (viridis, dark to light as time runs).
    static func curveColours(_ n: Int) -> [Colour] {
        (0..<n).map { Colormap.viridis.colour(at: n > 1 ? 0.85 * Double($0) / Double(n - 1) : 0.3) }
    }

    static func modelVsExperiment(_ inp: ReportInputs) -> Result<Figure, Missing> {
        let gain = inp.calibration?.gain ?? 1
        let theta0 = inp.calibration.map { $0.theta0.isFinite ? $0.theta0 : (inp.parameters?.theta0Delithiation ?? 0.95) }
            ?? inp.parameters?.theta0Delithiation ?? 0.95
        let tc = inp.echem.flatMap(chargeStart) ?? 0
        var panels: [(String, PanelContent)] = []
        // B: D_eff(1 − θ) on a log axis.
        if let p = inp.parameters {
            let table = p.log10DiffusivityTable
            let xs = stride(from: 0.0, through: 1.0, by: 0.005).map { $0 }
            let d = xs.map { pow(10, table.evaluate($0).value) / p.scale }
            let ax = Axes(x: Axis(label: "1 − θ", limits: (0, 1)), y: Axis(label: "Effective D (cm² s⁻¹)", scale: .log10),
                          items: [.line(LineSeries(x: xs, y: d, colour: .black, lineWidthPoints: 1.2))],
                          title: String(format: "S = %.2f", p.scale))
            panels.append(("B", .plot(ax)))
        }
        // C: model θ maps, shown as 1 − θ.
        if let maps = inp.modelThetaMaps, !maps.frames.isEmpty, maps.frames.count == maps.timesSeconds.count {
            let pick = maps.frames.count <= 4 ? Array(maps.frames.indices)
                : (0..<4).map { $0 * (maps.frames.count - 1) / 3 }
            let tiles = pick.map { i in ImageTile(width: maps.width, height: maps.height, pixels: maps.frames[i].map { $0.isNaN ? $0 : 1 - $0 },
                                                  label: formatMinutes(maps.timesSeconds[i])) }
            let top = tiles.flatMap(\.pixels).filter(\.isFinite).max().map(Double.init) ?? 1
            let upper = TickLocator.niceLimits(0, max(top, 1e-6), targetCount: 4).1
            panels.append(("C", .images(ImageMontage(tiles: tiles, columns: 4, norm: ColourNorm(lower: 0, upper: upper), colormap: .viridis,
                                                      colorbarLabel: "1 − θ", pixelSizeMicrometres: maps.pixelSizeMicrometres))))
        }
        // D: model profiles of 1 − θ; E: measured contrast profiles with model predictions dashed.
        if let mp = inp.modelProfiles, !mp.curves.isEmpty {
            let curves = mp.curves.count <= 6 ? mp.curves : (0..<6).map { mp.curves[$0 * (mp.curves.count - 1) / 5] }
            let cols = curveColours(curves.count)
            var items: [PlotItem] = [.verticalLine(x: 0, colour: .grey, style: .dashed)]
            for (k, c) in curves.enumerated() {
                items.append(.line(LineSeries(x: c.positionMicrometres, y: c.values.map { 1 - $0 }, colour: cols[k], lineWidthPoints: 1,
                                              label: formatMinutes(c.timeSeconds))))
            }
            panels.append(("D", .plot(Axes(x: Axis(label: "Position (µm)"), y: Axis(label: "1 − θ (model)"), items: items, legend: .above))))
            if let meas = inp.measuredProfiles, !meas.curves.isEmpty {
                var eItems: [PlotItem] = [.verticalLine(x: 0, colour: .grey, style: .dashed)]
                for (k, c) in curves.enumerated() {
                    guard let m = meas.nearest(to: c.timeSeconds + tc) ?? meas.nearest(to: c.timeSeconds) else { continue }
                    eItems.append(.line(LineSeries(x: m.positionMicrometres, y: m.values, colour: cols[k], lineWidthPoints: 1,
                                                   label: formatMinutes(c.timeSeconds))))
                    eItems.append(.line(LineSeries(x: c.positionMicrometres, y: c.values.map { gain * (theta0 - $0) }, colour: cols[k],
                                                   lineWidthPoints: 0.8, style: .dashed)))
                }
                eItems.append(.line(LineSeries(x: [], y: [], colour: .black, lineWidthPoints: 0.8, style: .dashed, label: "model")))
                panels.append(("E", .plot(Axes(x: Axis(label: "Position (µm)"), y: Axis(label: "Total contrast"), items: eItems,
                                               legend: .above))))
            }
        }
        // F: centre contrast, measured vs model.
        if let ct = centreSeries(inp, gain: gain, theta0: theta0) {
            let tmin = ct.timeSeconds.first ?? 0
            let origin = tmin < tc ? 0 : tc
            let x = ct.timeSeconds.map { ($0 - origin) / 60 }
            let ax = Axes(x: Axis(label: "Time (min)", limits: dataLimits(x)), y: Axis(label: "Centre contrast"),
                          items: [.line(LineSeries(x: x, y: ct.measured, colour: .black, lineWidthPoints: 0, marker: .openCircle,
                                                   markerSizePoints: 2.5, label: "measured")),
                                  .line(LineSeries(x: x, y: ct.model, colour: .red, lineWidthPoints: 1.2, label: "model"))],
                          legend: .best)
            panels.append(("F", .plot(ax)))
        }
        guard panels.count >= 2 else { return .failure(Missing(reason: "needs at least two of: parameter set, model profiles, centre traces")) }
        var fig = Figure(heightMillimetres: 120,
                         title: "Figure 3 | Model vs experiment. " + panels.compactMap { captions3[$0.0] }.joined(separator: " ")
                            + " Dataset \(inp.datasetName).",
                         rows: 2, columns: 3)
        let hasImages = panels.contains { if case .images = $0.1 { return true }; return false }
        if hasImages {
            // Row 0: B (if present) and the image montage C across the rest; row 1: D, E, F.
            var cellIndex = 0
            for (letter, content) in panels {
                if case .images = content {
                    fig.panels.append(Panel(letter: letter, cell: GridCell(row: 0, column: cellIndex == 0 ? 0 : 1, columnSpan: cellIndex == 0 ? 3 : 2),
                                            content: content))
                    cellIndex = 3
                    continue
                }
                fig.panels.append(Panel(letter: letter, cell: GridCell(row: cellIndex / 3, column: cellIndex % 3), content: content))
                cellIndex += 1
            }
        } else {
            // Plots only: 2 → 1×2, 3 → 1×3, 4 → 2×2.
            let columns = panels.count == 4 ? 2 : min(panels.count, 3)
            let rows = (panels.count + columns - 1) / columns
            fig.columnWidths = Array(repeating: 1, count: columns)
            fig.rowHeights = Array(repeating: 1, count: rows)
            fig.heightMillimetres = rows == 1 ? 68 : 120
            for (k, (letter, content)) in panels.enumerated() {
                fig.panels.append(Panel(letter: letter, cell: GridCell(row: k / columns, column: k % columns), content: content))
            }
        }
        return .success(fig)
    }

    static let captions3: [String: String] = [
        "B": "(B) Effective lithium diffusivity D/S (S the calibrated scale) against the degree of delithiation.",
        "C": "(C) Model degree of delithiation 1 − θ at the times shown.",
        "D": "(D) Model 1 − θ along the horizontal line through the centroid.",
        "E": "(E) Measured total contrast along the same line; model prediction A·(θ₀ − θ) dashed.",
        "F": "(F) Total contrast at the particle centre, measured and model.",
    ]

    static func centreSeries(_ inp: ReportInputs, gain: Double, theta0: Double) -> CentreTrace? {
        if let c = inp.centreTrace, !c.timeSeconds.isEmpty { return c }
        guard let m = inp.measuredCentre, let tr = inp.modelTrace, !tr.timeSeconds.isEmpty else { return nil }
        let tc = inp.echem.flatMap(chargeStart) ?? 0
        let model = m.timeSeconds.map { t -> Double in
            let tt = t - tc
            guard tt >= 0, tt <= (tr.timeSeconds.last ?? 0) else { return .nan }
            return gain * (theta0 - interpolate(tr.timeSeconds, tr.thetaCentre, at: tt))
        }
        return CentreTrace(timeSeconds: m.timeSeconds, measured: m.values, model: model)
    }

    static func heterogeneity(_ inp: ReportInputs) -> Result<Figure, Missing> {
        guard let s = inp.sdcStd, s.values.contains(where: \.isFinite) else { return .failure(Missing(reason: "no SDC std (\(DatasetFormat.File.analysisDirectory)/\(DatasetFormat.AnalysisFile.metrics) sdc_std)")) }
        let tc = inp.echem.flatMap(chargeStart) ?? (s.timeSeconds.first ?? 0)
        // The first charge only (seed Fig. S12E–H), when the step kinds say where it ends.
        var tEnd = s.timeSeconds.last ?? 0
        if let e = inp.echem, let i0 = e.timeSeconds.firstIndex(where: { $0 >= tc }),
           let i1 = e.timeSeconds[i0...].indices.first(where: { e.kind($0).lowercased() != "charge" && !e.kind($0).isEmpty }) {
            tEnd = e.timeSeconds[i1]
        }
        let unit = TimeUnit(spanSeconds: tEnd - tc)
        let keep = s.timeSeconds.indices.filter { s.timeSeconds[$0] >= tc && s.timeSeconds[$0] <= tEnd }
        guard keep.count >= 2 else { return .failure(Missing(reason: "no SDC std values during the charge")) }
        let x = keep.map { (s.timeSeconds[$0] - tc) / unit.seconds }
        var items: [PlotItem] = [.line(LineSeries(x: x, y: keep.map { s.values[$0] }, colour: .black, lineWidthPoints: 0.9))]
        if let drop = inp.sdcDropTimeSeconds {
            let y = interpolate(s.timeSeconds, s.values, at: drop)
            items.append(.arrow(x: (drop - tc) / unit.seconds, y: y, colour: .red,
                                label: "drop at \(formatMinutes(drop - tc))"))
        }
        var fig = Figure(widthMillimetres: FigureWidth.singleColumnMillimetres, heightMillimetres: 75,
                         title: "Figure 5 | Heterogeneity. Standard deviation of the sequential differential contrast over the particle (seed Fig. S12E–H); the red arrow marks the sharp drop when the delithiation front reaches the centre. Dataset \(inp.datasetName).")
        fig.panels.append(Panel(cell: GridCell(row: 0, column: 0),
                                content: .plot(Axes(x: Axis(label: "Time from start of charge (\(unit.name))", limits: dataLimits(x)),
                                                    y: Axis(label: "SDC standard deviation"), items: items))))
        return .success(fig)
    }

    static func calibrationPage(_ inp: ReportInputs) -> Result<Figure, Missing> {
        var panels: [(String, Axes)] = []
        if let m = inp.errorMap, m.scales.count >= 2, m.gains.count >= 2 {
            let best = m.best
            let cs = ContourSet(x: m.scales, y: m.gains, values: m.rmse, levels: contourLevels(m.rmse),
                                minimum: best.map { ($0.scale, $0.gain, String(format: "min (%.2f, %.3f)", $0.scale, $0.gain)) })
            panels.append(("B", Axes(x: Axis(label: "Scale S", limits: (m.scales[0], m.scales[m.scales.count - 1])),
                                     y: Axis(label: "Optical gain A", limits: (m.gains[0], m.gains[m.gains.count - 1])),
                                     items: [.contour(cs)], title: "e(S, A)")))
        }
        let gain = inp.calibration?.gain ?? 1
        let theta0 = inp.calibration?.theta0 ?? inp.parameters?.theta0Delithiation ?? 0.95
        if let ct = centreSeries(inp, gain: gain, theta0: theta0.isFinite ? theta0 : 0.95) {
            let x = ct.timeSeconds.map { $0 / 60 }
            panels.append(("C", Axes(x: Axis(label: "Time (min)", limits: dataLimits(x)), y: Axis(label: "Centre contrast"),
                                     items: [.line(LineSeries(x: x, y: ct.measured, colour: .black, lineWidthPoints: 0, marker: .openCircle,
                                                              markerSizePoints: 2.5, label: "measured")),
                                             .line(LineSeries(x: x, y: ct.model, colour: .red, lineWidthPoints: 1.2, label: "model (best S, A)"))],
                                     legend: .best)))
        }
        guard !panels.isEmpty else { return .failure(Missing(reason: "no calibration outputs (\(DatasetFormat.File.calibrationDirectory)/\(DatasetFormat.CalibrationFile.errorMap), \(DatasetFormat.CalibrationFile.centreFit))")) }
        var fig = Figure(widthMillimetres: panels.count == 1 ? FigureWidth.singleColumnMillimetres : FigureWidth.doubleColumnMillimetres,
                         heightMillimetres: panels.count == 1 ? 85 : 80,
                         title: "Figure 6 | Calibration. " + panels.map { $0.0 == "B"
                            ? "(B) Contour map of the error e(S, A) between measured and predicted centre contrast; the star marks the minimum."
                            : "(C) Centre contrast measured and predicted with the best (S, A)." }.joined(separator: " ")
                            + " Dataset \(inp.datasetName).",
                         columns: panels.count)
        for (k, p) in panels.enumerated() { fig.panels.append(Panel(letter: p.0, cell: GridCell(row: 0, column: k), content: .plot(p.1))) }
        return .success(fig)
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
        var fig = Figure(heightMillimetres: 72,
                         title: "Figure 7 | Parameters. (A) Open-circuit voltage and (B) lithium diffusivity against occupancy θ for parameter set '\(p.name)' (\(p.source)): table knots (red) and the piecewise cubic interpolation used by the model (seed Fig. S1).",
                         columns: 2)
        fig.panels = [Panel(letter: "A", cell: GridCell(row: 0, column: 0), content: .plot(a)),
                      Panel(letter: "B", cell: GridCell(row: 0, column: 1), content: .plot(b))]
        return .success(fig)
    }
}
