import CCairo
import Foundation

/// What the renderer placed on one page: its size and every text box (for layout checks).
public struct RenderedPage: Sendable {
    /// Page size in points.
    public var widthPoints: Double
    /// Page height in points.
    public var heightPoints: Double
    /// Every piece of text drawn, with its box in points from the top-left corner.
    public var textBoxes: [TextBox]
    /// Plot areas and image tiles, in points.
    public var dataAreas: [PageRect]
    /// Every scale bar drawn, with its label.
    public var scaleBars: [DrawnScaleBar] = []
}

/// A scale bar the renderer drew: its length, label and where they went.
public struct DrawnScaleBar: Sendable {
    /// The bar's length and label text.
    public var scaleBar: ScaleBar
    /// The bar, points.
    public var bar: PageRect
    /// The label's box, points.
    public var labelBox: PageRect
    /// The tile the bar sits on, points.
    public var tile: PageRect
    /// Points per µm on that tile (bar width ÷ length).
    public var pointsPerMicrometre: Double
}

/// Data → page mapping for one axis.
struct AxisMap {
    var lower: Double, upper: Double, scale: AxisScale
    /// Page coordinates of `lower` and `upper`.
    var p0: Double, p1: Double

    func callAsFunction(_ v: Double) -> Double? {
        guard v.isFinite else { return nil }
        switch scale {
        case .linear:
            return p0 + (v - lower) / (upper - lower) * (p1 - p0)
        case .log10:
            guard v > 0 else { return nil }
            let a = log10(lower), b = log10(upper)
            return p0 + (log10(v) - a) / (b - a) * (p1 - p0)
        }
    }
}

/// Lays out a `Figure` and draws it with Cairo. The layout computes every margin from the text it
/// will hold, so labels are neither clipped nor overlapping.
public enum FigureRenderer {
    static let pageMargin = 3.0 * Style.pointsPerMillimetre

    /// Renders figures as pages of one vector PDF (fonts embedded as subsets by cairo).
    /// Returns what was placed on each page.
    @discardableResult
    public static func writePDF(_ figures: [Figure], to path: String, title: String = "operando report") throws -> [RenderedPage] {
        guard let first = figures.first else { throw FigureError.invalidData(input: path, reason: "no figures to write") }
        let w0 = first.widthMillimetres * Style.pointsPerMillimetre, h0 = first.heightMillimetres * Style.pointsPerMillimetre
        guard let surface = cairo_pdf_surface_create(path, w0, h0) else { throw FigureError.cairo(output: path, status: "no surface") }
        defer { cairo_surface_destroy(surface) }
        if cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS {
            throw FigureError.cairo(output: path, status: String(cString: cairo_status_to_string(cairo_surface_status(surface))))
        }
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "operando Figures (cairo)")
        var pages: [RenderedPage] = []
        for fig in figures {
            let w = fig.widthMillimetres * Style.pointsPerMillimetre, h = fig.heightMillimetres * Style.pointsPerMillimetre
            cairo_pdf_surface_set_size(surface, w, h)
            guard let cr = cairo_create(surface) else { throw FigureError.cairo(output: path, status: "no context") }
            pages.append(draw(fig, cr: cr))
            cairo_show_page(cr)
            cairo_destroy(cr)
        }
        cairo_surface_finish(surface)
        let st = cairo_surface_status(surface)
        if st != CAIRO_STATUS_SUCCESS { throw FigureError.cairo(output: path, status: String(cString: cairo_status_to_string(st))) }
        return pages
    }

    /// An RGBA raster of a rendered figure (row-major from the top, 4 bytes per pixel, not premultiplied).
    public struct Raster: Sendable {
        /// Width in pixels.
        public var width: Int
        /// Height in pixels.
        public var height: Int
        /// RGBA bytes, row-major from the top.
        public var rgba: [UInt8]
        /// Dots per inch it was rendered at.
        public var dotsPerInch: Double
        /// The layout record of the page.
        public var page: RenderedPage

        /// (r, g, b) of the pixel at column `x`, row `y`.
        public func pixel(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
            let i = (y * width + x) * 4
            return (rgba[i], rgba[i + 1], rgba[i + 2])
        }

        /// Pixel position of a point given in page points.
        public func pixelIndex(xPoints: Double, yPoints: Double) -> (Int, Int) {
            (Int(xPoints * dotsPerInch / 72), Int(yPoints * dotsPerInch / 72))
        }
    }

    /// Renders a figure through cairo's image surface; optionally writes a PNG preview.
    public static func rasterise(_ figure: Figure, dotsPerInch: Double = 150, pngPath: String? = nil) throws -> Raster {
        let s = dotsPerInch / 72
        let wPt = figure.widthMillimetres * Style.pointsPerMillimetre, hPt = figure.heightMillimetres * Style.pointsPerMillimetre
        let w = Int((wPt * s).rounded(.up)), h = Int((hPt * s).rounded(.up))
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(w), Int32(h)) else {
            throw FigureError.cairo(output: pngPath ?? "image", status: "no surface")
        }
        defer { cairo_surface_destroy(surface) }
        guard let cr = cairo_create(surface) else { throw FigureError.cairo(output: pngPath ?? "image", status: "no context") }
        cairo_scale(cr, s, s)
        let page = draw(figure, cr: cr)
        cairo_destroy(cr)
        cairo_surface_flush(surface)
        if let p = pngPath {
            let st = cairo_surface_write_to_png(surface, p)
            if st != CAIRO_STATUS_SUCCESS { throw FigureError.cairo(output: p, status: String(cString: cairo_status_to_string(st))) }
        }
        let stride = Int(cairo_image_surface_get_stride(surface))
        var rgba = [UInt8](repeating: 0, count: w * h * 4)
        if let data = cairo_image_surface_get_data(surface) {
            for y in 0..<h {
                for x in 0..<w {
                    let p = data.advanced(by: y * stride + x * 4)
                    // ARGB32 native-endian (little): B G R A, premultiplied; the page is opaque.
                    let i = (y * w + x) * 4
                    rgba[i] = p[2]; rgba[i + 1] = p[1]; rgba[i + 2] = p[0]; rgba[i + 3] = p[3]
                }
            }
        }
        return Raster(width: w, height: h, rgba: rgba, dotsPerInch: dotsPerInch, page: page)
    }

    // MARK: - Page

    static func draw(_ fig: Figure, cr: OpaquePointer) -> RenderedPage {
        let c = Canvas(cr: cr)
        let W = fig.widthMillimetres * Style.pointsPerMillimetre, H = fig.heightMillimetres * Style.pointsPerMillimetre
        c.fillRect(PageRect(x: 0, y: 0, width: W, height: H), .white)
        var top = pageMargin
        if !fig.title.isEmpty { top = drawTitle(fig.title, c: c, width: W - 2 * pageMargin) + 4 }
        let grid = PageRect(x: pageMargin, y: top, width: W - 2 * pageMargin, height: H - top - pageMargin)
        let cells = fig.panels.map { cellRect($0.cell, fig: fig, grid: grid) }

        // Margins from the text each panel holds, then aligned across panels sharing a column span.
        var plans: [PanelPlan] = fig.panels.enumerated().map { i, p in plan(p, rect: cells[i], c: c) }
        var groups: [String: (Double, Double)] = [:]
        for (i, p) in fig.panels.enumerated() where plans[i].isPlot {
            let key = "\(p.cell.column)/\(p.cell.columnSpan)"
            let g = groups[key] ?? (0, 0)
            groups[key] = (max(g.0, plans[i].insets.left), max(g.1, plans[i].insets.right))
        }
        for (i, p) in fig.panels.enumerated() where plans[i].isPlot {
            if let g = groups["\(p.cell.column)/\(p.cell.columnSpan)"] {
                plans[i].insets.left = g.0; plans[i].insets.right = g.1
            }
        }
        var areas: [PageRect] = []
        for (i, p) in fig.panels.enumerated() {
            let r = cells[i]
            if !p.letter.isEmpty {
                c.setFont(Style.letterFont, bold: true)
                c.text(p.letter, x: r.x, y: r.y, h: .left, v: .top, role: .panelLetter)
            }
            switch p.content {
            case .plot(let axes):
                areas.append(drawAxes(axes, plan: plans[i], cell: r, c: c))
            case .images(let m):
                areas.append(contentsOf: drawMontage(m, cell: r, hasLetter: !p.letter.isEmpty, c: c))
            }
        }
        return RenderedPage(widthPoints: W, heightPoints: H, textBoxes: c.textBoxes, dataAreas: areas, scaleBars: c.scaleBars)
    }

    /// Caption-like title: the text up to the first ". " in bold, the rest regular, wrapped. Returns its bottom.
    static func drawTitle(_ title: String, c: Canvas, width: Double) -> Double {
        var words: [(String, Bool)] = []
        var boldPart = title, rest = ""
        if let r = title.range(of: ". ") {
            boldPart = String(title[..<r.upperBound]).trimmingCharacters(in: .whitespaces)
            rest = String(title[r.upperBound...])
        }
        for w in boldPart.split(separator: " ") { words.append((String(w), true)) }
        for w in rest.split(separator: " ") { words.append((String(w), false)) }
        c.setFont(Style.titleFont)
        let lh = c.lineHeight()
        var x = pageMargin, y = pageMargin
        for (w, b) in words {
            c.setFont(Style.titleFont, bold: b)
            let ww = c.width(w), space = c.width(" ")
            if x > pageMargin && x + ww > pageMargin + width { x = pageMargin; y += lh }
            c.text(w, x: x, y: y, h: .left, v: .top, role: .title)
            x += ww + space
        }
        return y + lh
    }

    static func cellRect(_ cell: GridCell, fig: Figure, grid: PageRect) -> PageRect {
        // Gutters between grid cells, points: columns wider so neighbouring panels read apart.
        let columnGap = 9.0, rowGap = 4.0
        // Empty or non-positive grids fall back to one row / one column.
        let rows = fig.rowHeights.isEmpty || fig.rowHeights.contains(where: { !($0 > 0) }) ? [1.0] : fig.rowHeights
        let cols = fig.columnWidths.isEmpty || fig.columnWidths.contains(where: { !($0 > 0) }) ? [1.0] : fig.columnWidths
        let rs = rows.reduce(0, +), cs = cols.reduce(0, +)
        func span(_ sizes: [Double], total: Double, length: Double, start: Int, count: Int, gap: Double) -> (Double, Double) {
            let s = max(0, min(start, sizes.count - 1)), e = max(s + 1, min(start + count, sizes.count))
            let a = sizes[..<s].reduce(0, +) / total * length
            let b = sizes[..<e].reduce(0, +) / total * length
            return (a + (s > 0 ? gap / 2 : 0), b - a - (s > 0 ? gap / 2 : 0) - (e < sizes.count ? gap / 2 : 0))
        }
        let (x, w) = span(cols, total: cs, length: grid.width, start: cell.column, count: cell.columnSpan, gap: columnGap)
        let (y, h) = span(rows, total: rs, length: grid.height, start: cell.row, count: cell.rowSpan, gap: rowGap)
        return PageRect(x: grid.x + x, y: grid.y + y, width: w, height: h)
    }

    // MARK: - Axes layout

    struct Insets { var left = 0.0, right = 0.0, top = 0.0, bottom = 0.0 }

    struct ResolvedAxis {
        var lower: Double, upper: Double
        var ticks: [Tick]
    }

    struct PanelPlan {
        var isPlot: Bool
        var insets = Insets()
        var x: ResolvedAxis?
        var y: ResolvedAxis?
        var y2: ResolvedAxis?
        /// Legend entries per row, for `.above` legends.
        var legendRows: [[LegendEntry]] = []
    }

    struct LegendEntry { var label: String; var colour: Colour; var style: LineStyle?; var marker: MarkerShape }

    static func legendEntries(_ ax: Axes) -> [LegendEntry] {
        var entries: [LegendEntry] = []
        for it in ax.items + ax.secondItems {
            switch it {
            case .line(let s) where !s.label.isEmpty:
                entries.append(LegendEntry(label: s.label, colour: s.colour, style: s.lineWidthPoints > 0 ? s.style : nil, marker: s.marker))
            case .markers(let m) where !m.legendLabel.isEmpty:
                entries.append(LegendEntry(label: m.legendLabel, colour: m.colour, style: nil, marker: m.shape))
            default: break
            }
        }
        return entries
    }

    static let legendSample = 12.0

    static func legendEntryWidth(_ e: LegendEntry, c: Canvas) -> Double { legendSample + 2 + c.width(e.label) + 6 }

    static func extent(_ items: [PlotItem], xAxis: Bool, scale: AxisScale) -> (Double, Double)? {
        var lo = Double.infinity, hi = -Double.infinity
        func add(_ v: Double) {
            guard v.isFinite, scale == .linear || v > 0 else { return }
            lo = min(lo, v); hi = max(hi, v)
        }
        for it in items {
            switch it {
            case .line(let s): (xAxis ? s.x : s.y).forEach(add)
            case .markers(let m): (xAxis ? m.x : m.y).forEach(add)
            case .span(let a, let b, _, _): if xAxis { add(a); add(b) }
            case .horizontalLine(let y, _, _): if !xAxis { add(y) }
            case .verticalLine(let x, _, _): if xAxis { add(x) }
            case .arrow(let x, let y, _, _): add(xAxis ? x : y)
            case .contour(let cs): (xAxis ? cs.x : cs.y).forEach(add)
            }
        }
        return lo <= hi ? (lo, hi) : nil
    }

    static func resolve(_ axis: Axis, items: [PlotItem], isX: Bool) -> (Double, Double) {
        if let l = axis.limits { return (l.lower, l.upper) }
        guard var (lo, hi) = extent(items, xAxis: isX, scale: axis.scale) else {
            return axis.scale == .log10 ? (1, 10) : (0, 1)
        }
        // A small margin so data never sit on the frame (matplotlib's 5 % rule, here 4 %).
        if axis.scale == .linear && hi > lo { let m = 0.04 * (hi - lo); lo -= m; hi += m }
        let nice = TickLocator.niceLimits(lo, hi, scale: axis.scale, targetCount: axis.targetTickCount)
        // Round out to ticks only when that wastes little room (0.1…1.0 should not become 0…1.2).
        if axis.scale == .linear && hi > lo && nice.1 - nice.0 > 1.2 * (hi - lo) { return (lo, hi) }
        return nice
    }

    static func ticks(_ axis: Axis, _ lo: Double, _ hi: Double, target: Int) -> [Tick] {
        TickLocator.ticks(lo, hi, scale: axis.scale, targetCount: target)
    }

    static func plan(_ panel: Panel, rect: PageRect, c: Canvas) -> PanelPlan {
        guard case .plot(let ax) = panel.content else { return PanelPlan(isPlot: false) }
        var p = PanelPlan(isPlot: true)
        let (xl, xh) = resolve(ax.x, items: ax.items + ax.secondItems, isX: true)
        let (yl, yh) = resolve(ax.y, items: ax.items, isX: false)
        c.setFont(Style.tickFont)
        let tickH = c.lineHeight()
        c.setFont(Style.labelFont)
        let labelH = c.lineHeight()
        c.setFont(Style.tickFont)
        let yTicks = ticks(ax.y, yl, yh, target: ax.y.targetTickCount)
        p.y = ResolvedAxis(lower: yl, upper: yh, ticks: yTicks)
        let yw = yTicks.map { c.width($0.label) }.max() ?? 0
        p.insets.left = Style.pad + (ax.y.showsLabels ? yw + Style.majorTick + Style.pad + (ax.y.label.isEmpty ? 0 : labelH + Style.pad) : 0)
        if let y2 = ax.secondY {
            let (l2, h2) = resolve(y2, items: ax.secondItems, isX: false)
            let t2 = ticks(y2, l2, h2, target: y2.targetTickCount)
            p.y2 = ResolvedAxis(lower: l2, upper: h2, ticks: t2)
            let w2 = t2.map { c.width($0.label) }.max() ?? 0
            p.insets.right = Style.pad + (y2.showsLabels ? w2 + Style.majorTick + Style.pad + (y2.label.isEmpty ? 0 : labelH + Style.pad) : 0)
        } else {
            p.insets.right = Style.pad
        }
        // Top: the panel letter (or axes title) sits above the plot area; else half a tick label.
        var top = tickH / 2 + 1
        if !panel.letter.isEmpty { c.setFont(Style.letterFont, bold: true); top = max(top, c.lineHeight() + 1) }
        if !ax.title.isEmpty { c.setFont(Style.labelFont); top = max(top, c.lineHeight() + 2) }
        if ax.legend == .above {
            c.setFont(Style.legendFont)
            let avail = 0.9 * (rect.width - p.insets.left - p.insets.right)
            var rows: [[LegendEntry]] = [[]]
            var x = 0.0
            for e in legendEntries(ax) {
                let w = legendEntryWidth(e, c: c)
                if x + w > avail && !rows[rows.count - 1].isEmpty { rows.append([]); x = 0 }
                rows[rows.count - 1].append(e); x += w
            }
            p.legendRows = rows.filter { !$0.isEmpty }
            let lh = c.lineHeight()
            let legendH = Double(p.legendRows.count) * lh + 1
            var t2 = legendH + 1
            if !ax.title.isEmpty { c.setFont(Style.labelFont); t2 += c.lineHeight() + 1 }
            if !panel.letter.isEmpty { c.setFont(Style.letterFont, bold: true); t2 = max(t2, c.lineHeight() + 1) }
            top = max(top, t2)
        }
        p.insets.top = top
        p.insets.bottom = Style.majorTick + (ax.x.showsLabels ? Style.pad + tickH + (ax.x.label.isEmpty ? 0 : Style.pad + labelH) + Style.pad : 1)
        // x ticks: thin until neighbouring labels keep a gap; the last label may overhang the plot area.
        let plotW = max(10, rect.width - p.insets.left - p.insets.right - 8)
        c.setFont(Style.tickFont)
        var target = ax.x.targetTickCount
        var xt = ticks(ax.x, xl, xh, target: target)
        while target > 2 {
            let m = AxisMap(lower: xl, upper: xh, scale: ax.x.scale, p0: 0, p1: plotW)
            var ok = true
            var lastRight = -Double.infinity
            for t in xt where !t.label.isEmpty {
                guard let px = m(t.value) else { continue }
                let w = c.width(t.label)
                if px - w / 2 < lastRight + 3 { ok = false; break }
                lastRight = px + w / 2
            }
            if ok { break }
            target -= 1
            xt = ticks(ax.x, xl, xh, target: target)
        }
        p.x = ResolvedAxis(lower: xl, upper: xh, ticks: xt)
        // y ticks: thin until the labels fit the plot's height with a gap (a short panel in % units
        // would otherwise stack "0.0 0.5 … 3.0" into each other).
        let plotH = max(10, rect.height - p.insets.top - p.insets.bottom)
        func thinned(_ axis: Axis, _ r: ResolvedAxis) -> ResolvedAxis {
            var target = axis.targetTickCount
            var t = r.ticks
            while target > 2 && Double(t.filter { !$0.label.isEmpty }.count) * (tickH + 1.5) > plotH {
                target -= 1
                t = ticks(axis, r.lower, r.upper, target: target)
            }
            return ResolvedAxis(lower: r.lower, upper: r.upper, ticks: t)
        }
        if let ry = p.y { p.y = thinned(ax.y, ry) }
        if let r2 = p.y2, let a2 = ax.secondY { p.y2 = thinned(a2, r2) }
        if ax.x.showsLabels, let last = xt.last(where: { !$0.label.isEmpty }), abs(last.value - xh) <= abs(xh - xl) * 1e-6 {
            p.insets.right = max(p.insets.right, c.width(last.label) / 2 + 1)
        }
        if ax.x.showsLabels, let first = xt.first(where: { !$0.label.isEmpty }), abs(first.value - xl) <= abs(xh - xl) * 1e-6 {
            p.insets.left = max(p.insets.left, c.width(first.label) / 2 + 1)
        }
        return p
    }

    // MARK: - Axes drawing

    static func drawAxes(_ ax: Axes, plan p: PanelPlan, cell: PageRect, c: Canvas) -> PageRect {
        let cr = c.cr
        let area = PageRect(x: cell.x + p.insets.left, y: cell.y + p.insets.top,
                            width: max(1, cell.width - p.insets.left - p.insets.right),
                            height: max(1, cell.height - p.insets.top - p.insets.bottom))
        guard let rx = p.x, let ry = p.y else { return area }
        let mx = AxisMap(lower: rx.lower, upper: rx.upper, scale: ax.x.scale, p0: area.x, p1: area.maxX)
        let my = AxisMap(lower: ry.lower, upper: ry.upper, scale: ax.y.scale, p0: area.maxY, p1: area.y)
        var my2: AxisMap?
        if let r2 = p.y2, let a2 = ax.secondY {
            my2 = AxisMap(lower: r2.lower, upper: r2.upper, scale: a2.scale, p0: area.maxY, p1: area.y)
        }
        // Data, clipped to the plot area. Spans first (behind), then the rest.
        var placedLabels: [PageRect] = []
        cairo_save(cr)
        cairo_rectangle(cr, area.x, area.y, area.width, area.height)
        cairo_clip(cr)
        for it in ax.items + ax.secondItems {
            if case let .span(a, b, col, _) = it, let pa = mx(a), let pb = mx(b) {
                c.fillRect(PageRect(x: min(pa, pb), y: area.y, width: abs(pb - pa), height: area.height), col)
            }
        }
        func isMarkers(_ it: PlotItem) -> Bool { if case .markers = it { return true }; return false }
        for it in ax.items where !isMarkers(it) { drawItem(it, mx: mx, my: my, area: area, c: c, placed: &placedLabels) }
        if let m2 = my2 { for it in ax.secondItems where !isMarkers(it) { drawItem(it, mx: mx, my: m2, area: area, c: c, placed: &placedLabels) } }
        cairo_restore(cr)
        // Chosen-time markers and their labels stay whole even at the plot edge.
        for it in ax.items where isMarkers(it) { drawItem(it, mx: mx, my: my, area: area, c: c, placed: &placedLabels) }
        if let m2 = my2 { for it in ax.secondItems where isMarkers(it) { drawItem(it, mx: mx, my: m2, area: area, c: c, placed: &placedLabels) } }

        // Frame and ticks.
        c.lineStyle(.solid, width: Style.axisLineWidth)
        c.setColour(.black)
        cairo_move_to(cr, area.x, area.y); cairo_line_to(cr, area.x, area.maxY); cairo_line_to(cr, area.maxX, area.maxY)
        cairo_stroke(cr)
        c.setColour(my2 == nil ? .lightGrey : ax.secondY?.colour ?? .black)
        cairo_move_to(cr, area.maxX, area.maxY); cairo_line_to(cr, area.maxX, area.y); cairo_stroke(cr)
        c.setColour(.lightGrey)
        cairo_move_to(cr, area.x, area.y); cairo_line_to(cr, area.maxX, area.y); cairo_stroke(cr)

        c.setFont(Style.tickFont)
        let tickH = c.lineHeight()
        // x axis
        c.setColour(ax.x.colour)
        for t in rx.ticks {
            guard let px = mx(t.value) else { continue }
            let len = t.isMajor ? Style.majorTick : Style.minorTick
            c.setColour(ax.x.colour); c.lineStyle(.solid, width: Style.axisLineWidth)
            c.strokeLine(px, area.maxY, px, area.maxY + len)
            if ax.x.showsLabels && !t.label.isEmpty {
                c.text(t.label, x: px, y: area.maxY + Style.majorTick + Style.pad, h: .centre, v: .top, colour: ax.x.colour, role: .tickLabel)
            }
        }
        if ax.x.showsLabels && !ax.x.label.isEmpty {
            c.setFont(Style.labelFont)
            c.text(ax.x.label, x: area.x + area.width / 2, y: area.maxY + Style.majorTick + Style.pad + tickH + Style.pad,
                   h: .centre, v: .top, colour: ax.x.colour, role: .axisLabel)
        }
        // y axes
        func yAxis(_ axis: Axis, _ r: ResolvedAxis, _ m: AxisMap, right: Bool) {
            c.setFont(Style.tickFont)
            var widest = 0.0
            let edge = right ? area.maxX : area.x
            let dir = right ? 1.0 : -1.0
            for t in r.ticks {
                guard let py = m(t.value) else { continue }
                let len = t.isMajor ? Style.majorTick : Style.minorTick
                c.setColour(axis.colour); c.lineStyle(.solid, width: Style.axisLineWidth)
                c.strokeLine(edge, py, edge + dir * len, py)
                if axis.showsLabels && !t.label.isEmpty {
                    let x = edge + dir * (Style.majorTick + Style.pad)
                    let b = c.text(t.label, x: x, y: py, h: right ? .left : .right, v: .centre, colour: axis.colour, role: .tickLabel)
                    widest = max(widest, b.width)
                }
            }
            if axis.showsLabels && !axis.label.isEmpty {
                // A label longer than the axis shrinks (down to 5.5 pt) rather than run into the panel letter.
                c.setFont(Style.labelFont)
                let full = c.width(axis.label)
                if full > area.height { c.setFont(max(5.5, Style.labelFont * area.height / full)) }
                let lh = c.lineHeight()
                let x = right ? cell.maxX - Style.pad - lh : cell.x + Style.pad
                // Still too long: start at the plot's top and run down into the empty corner below.
                let centreY = max(area.y + area.height / 2, area.y + c.width(axis.label) / 2)
                c.verticalText(axis.label, leftX: x, centreY: centreY, colour: axis.colour, role: .axisLabel)
            }
        }
        yAxis(ax.y, ry, my, right: false)
        if let r2 = p.y2, let a2 = ax.secondY, let m2 = my2 { yAxis(a2, r2, m2, right: true) }
        var titleBottom = area.y - 2
        if ax.legend == .above && !p.legendRows.isEmpty {
            c.setFont(Style.legendFont)
            let lh = c.lineHeight()
            var y = area.y - 1 - Double(p.legendRows.count) * lh
            titleBottom = y - 1
            for row in p.legendRows {
                var x = area.x
                for e in row {
                    let cy = y + lh / 2
                    if let st = e.style { c.setColour(e.colour); c.lineStyle(st, width: 1); c.strokeLine(x, cy, x + legendSample, cy) }
                    if e.marker != .none { c.marker(e.marker, x: x + legendSample / 2, y: cy, size: 3.5, colour: e.colour) }
                    c.setFont(Style.legendFont)
                    c.text(e.label, x: x + legendSample + 2, y: cy, h: .left, v: .centre, role: .legend)
                    x += legendEntryWidth(e, c: c)
                }
                y += lh
            }
        }
        if !ax.title.isEmpty {
            c.setFont(Style.labelFont)
            c.text(ax.title, x: area.x + area.width / 2, y: titleBottom, h: .centre, v: .bottom, role: .axisLabel)
        }
        if ax.legend != .above { drawLegend(ax, area: area, mx: mx, my: my, my2: my2, c: c, avoid: placedLabels) }
        return area
    }

    /// Keeps long traces light: above 4000 points, keeps first/min/max/last per bucket, in order.
    static func decimate(_ x: [Double], _ y: [Double]) -> ([Double], [Double]) {
        let n = min(x.count, y.count)
        guard n > 4000 else { return (Array(x.prefix(n)), Array(y.prefix(n))) }
        let buckets = 1500
        var ox: [Double] = [], oy: [Double] = []
        ox.reserveCapacity(buckets * 4); oy.reserveCapacity(buckets * 4)
        for b in 0..<buckets {
            let s = b * n / buckets, e = (b + 1) * n / buckets
            guard e > s else { continue }
            var iMin = s, iMax = s
            var hasNaN = false
            for i in s..<e {
                if !y[i].isFinite || !x[i].isFinite { hasNaN = true; continue }
                if !y[iMin].isFinite || y[i] < y[iMin] { iMin = i }
                if !y[iMax].isFinite || y[i] > y[iMax] { iMax = i }
            }
            for i in Set([s, iMin, iMax, e - 1]).sorted() { ox.append(x[i]); oy.append(y[i]) }
            if hasNaN { ox.append(.nan); oy.append(.nan) }
        }
        return (ox, oy)
    }

    static func drawItem(_ it: PlotItem, mx: AxisMap, my: AxisMap, area: PageRect, c: Canvas, placed: inout [PageRect]) {
        let cr = c.cr
        switch it {
        case .span(let a, let b, _, let label):
            if !label.isEmpty, let pa = mx(a), let pb = mx(b) {
                c.setFont(Style.annotationFont)
                let cx = (pa + pb) / 2
                let bx = c.box(label, x: cx, y: area.y + 1.5, h: .centre, v: .top)
                if area.contains(bx) { c.text(label, x: cx, y: area.y + 1.5, h: .centre, v: .top, colour: .grey, role: .annotation); placed.append(bx) }
            }
        case .line(let s):
            let (xs, ys) = decimate(s.x, s.y)
            if s.lineWidthPoints > 0 {
                c.setColour(s.colour)
                c.lineStyle(s.style, width: s.lineWidthPoints)
                cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
                var pen = false
                for i in 0..<xs.count {
                    if let px = mx(xs[i]), let py = my(ys[i]) {
                        if pen { cairo_line_to(cr, px, py) } else { cairo_move_to(cr, px, py); pen = true }
                    } else { pen = false }
                }
                cairo_stroke(cr)
            }
            if s.marker != .none {
                for i in 0..<min(s.x.count, s.y.count) {
                    if let px = mx(s.x[i]), let py = my(s.y[i]) { c.marker(s.marker, x: px, y: py, size: s.markerSizePoints, colour: s.colour) }
                }
            }
        case .markers(let m):
            c.setFont(Style.annotationFont)
            for i in 0..<min(m.x.count, m.y.count) {
                guard let px = mx(m.x[i]), let py = my(m.y[i]) else { continue }
                c.marker(m.shape, x: px, y: py, size: m.sizePoints, colour: m.colour)
                if i < m.labels.count, !m.labels[i].isEmpty {
                    // Above the marker if it fits, else below.
                    var b = c.box(m.labels[i], x: px, y: py - m.sizePoints / 2 - 1, h: .centre, v: .bottom)
                    if b.y < area.y || placed.contains(where: { $0.overlaps(b) }) {
                        b = c.box(m.labels[i], x: px, y: py + m.sizePoints / 2 + 1, h: .centre, v: .top)
                    }
                    b.x = min(max(b.x, area.x + 0.5), area.maxX - b.width - 0.5)
                    c.text(m.labels[i], x: b.x, y: b.y, h: .left, v: .top, colour: m.colour, role: .annotation)
                    placed.append(b)
                }
            }
        case .horizontalLine(let y, let col, let st):
            if let py = my(y) { c.setColour(col); c.lineStyle(st, width: 0.6); c.strokeLine(area.x, py, area.maxX, py) }
        case .verticalLine(let x, let col, let st):
            if let px = mx(x) { c.setColour(col); c.lineStyle(st, width: 0.6); c.strokeLine(px, area.y, px, area.maxY) }
        case .arrow(let x, let y, let col, let label):
            guard let px = mx(x), let py = my(y) else { return }
            let tipY = py - 2, tailY = max(area.y + 10, py - 16)
            c.setColour(col); c.lineStyle(.solid, width: 0.9)
            c.strokeLine(px, tailY, px, tipY - 2)
            cairo_move_to(cr, px, tipY); cairo_line_to(cr, px - 2.2, tipY - 4); cairo_line_to(cr, px + 2.2, tipY - 4)
            cairo_close_path(cr); cairo_fill(cr)
            if !label.isEmpty {
                c.setFont(Style.annotationFont)
                var b = c.box(label, x: px + 2, y: tailY, h: .left, v: .centre)
                if b.maxX > area.maxX - 1 { b = c.box(label, x: px - 2, y: tailY, h: .right, v: .centre) }
                if b.y < area.y { b.y = area.y + 0.5 }
                c.text(label, x: b.x, y: b.y, h: .left, v: .top, colour: col, role: .annotation)
                placed.append(b)
            }
        case .contour(let cs):
            drawContour(cs, mx: mx, my: my, area: area, c: c, placed: &placed)
        }
    }

    static func drawContour(_ cs: ContourSet, mx: AxisMap, my: AxisMap, area: PageRect, c: Canvas, placed: inout [PageRect]) {
        let cr = c.cr
        // The minimum's label is placed first so that iso-line labels keep clear of it.
        var minimumLabelBox: PageRect?
        if let m = cs.minimum, !m.label.isEmpty, let px = mx(m.x), let py = my(m.y) {
            c.setFont(Style.annotationFont)
            let candidates = [c.box(m.label, x: px + 5, y: py - 3, h: .left, v: .bottom),
                              c.box(m.label, x: px - 5, y: py - 3, h: .right, v: .bottom),
                              c.box(m.label, x: px + 5, y: py + 3, h: .left, v: .top),
                              c.box(m.label, x: px - 5, y: py + 3, h: .right, v: .top)].filter { area.contains($0) }
            minimumLabelBox = candidates.first(where: { cb in !placed.contains(where: { $0.overlaps(cb) }) }) ?? candidates.first
            if let b = minimumLabelBox { placed.append(b) }
        }
        let levels = cs.levels.isEmpty ? MarchingSquares.niceLevels(cs.values) : cs.levels
        let step = levels.count > 1 ? abs(levels[1] - levels[0]) : 1
        let decimals = TickLocator.decimalsFor(step: step)
        c.setFont(Style.annotationFont - 0.5)
        for (k, level) in levels.enumerated() {
            let segs = MarchingSquares.segments(x: cs.x, y: cs.y, values: cs.values, level: level)
            guard !segs.isEmpty else { continue }
            // Keep lines readable on white: use the dark 0…0.85 part of the map.
            let col = cs.colormap.colour(at: levels.count > 1 ? 0.85 * Double(k) / Double(levels.count - 1) : 0.3)
            c.setColour(col); c.lineStyle(.solid, width: 0.7)
            for s in segs {
                guard let a = mx(s.x0), let b = my(s.y0), let d = mx(s.x1), let e = my(s.y1) else { continue }
                cairo_move_to(cr, a, b); cairo_line_to(cr, d, e)
            }
            cairo_stroke(cr)
            guard cs.labelsLines else { continue }
            let text = TickLocator.format(level, decimals: decimals)
            // Try segment midpoints from the middle of the list outwards; first free spot wins.
            let n = segs.count
            var order: [Int] = []
            for j in 0..<n { order.append((n / 2 + (j % 2 == 0 ? j / 2 : -(j / 2 + 1)) + n) % n) }
            for j in order.prefix(400) {
                let s = segs[j]
                guard let a = mx((s.x0 + s.x1) / 2), let b = my((s.y0 + s.y1) / 2) else { continue }
                let box = c.box(text, x: a, y: b, h: .centre, v: .centre)
                let padded = PageRect(x: box.x - 1, y: box.y, width: box.width + 2, height: box.height)
                let clearance = PageRect(x: padded.x - 4, y: padded.y - 2, width: padded.width + 8, height: padded.height + 4)
                guard area.contains(padded, tolerance: -1), !placed.contains(where: { $0.overlaps(clearance) }) else { continue }
                c.fillRect(padded, .white)
                // Labels a shade darker than their line, so light levels stay readable on white.
                let dark = Colour(red: col.red * 0.6, green: col.green * 0.6, blue: col.blue * 0.6)
                c.text(text, x: a, y: b, h: .centre, v: .centre, colour: dark, role: .annotation)
                placed.append(padded)
                break
            }
        }
        if let m = cs.minimum, let px = mx(m.x), let py = my(m.y) {
            c.marker(.star, x: px, y: py, size: 6, colour: .red)
            if let b = minimumLabelBox {
                c.setFont(Style.annotationFont)
                c.fillRect(b, Colour(red: 1, green: 1, blue: 1, alpha: 0.8))
                c.text(m.label, x: b.x, y: b.y, h: .left, v: .top, colour: .black, role: .annotation)
            }
        }
    }

    static func drawLegend(_ ax: Axes, area: PageRect, mx: AxisMap, my: AxisMap, my2: AxisMap?, c: Canvas, avoid: [PageRect]) {
        guard ax.legend != .none else { return }
        let entries = legendEntries(ax)
        guard !entries.isEmpty else { return }
        c.setFont(Style.legendFont)
        let lh = c.lineHeight()
        let sample = 12.0
        let w = 3 + sample + 3 + (entries.map { c.width($0.label) }.max() ?? 0) + 3
        let h = Double(entries.count) * lh + 3
        let inset = 3.0
        func rect(_ pl: LegendPlacement) -> PageRect {
            switch pl {
            case .upperLeft: return PageRect(x: area.x + inset, y: area.y + inset, width: w, height: h)
            case .lowerLeft: return PageRect(x: area.x + inset, y: area.maxY - inset - h, width: w, height: h)
            case .lowerRight: return PageRect(x: area.maxX - inset - w, y: area.maxY - inset - h, width: w, height: h)
            default: return PageRect(x: area.maxX - inset - w, y: area.y + inset, width: w, height: h)
            }
        }
        var chosen = ax.legend
        if chosen == .best {
            // The corner covering the fewest data points (and no annotation) wins.
            var best = Int.max
            for pl in [LegendPlacement.upperRight, .upperLeft, .lowerRight, .lowerLeft] {
                let r = rect(pl)
                var n = avoid.contains(where: { $0.overlaps(r) }) ? 1_000_000 : 0
                func count(_ items: [PlotItem], _ m: AxisMap) {
                    for it in items {
                        var xs: [Double] = [], ys: [Double] = []
                        if case .line(let s) = it { xs = s.x; ys = s.y }
                        if case .markers(let mk) = it { xs = mk.x; ys = mk.y }
                        let stride = max(1, xs.count / 2000)
                        var i = 0
                        while i < min(xs.count, ys.count) {
                            if let px = mx(xs[i]), let py = m(ys[i]), px >= r.x, px <= r.maxX, py >= r.y, py <= r.maxY { n += stride }
                            i += stride
                        }
                    }
                }
                count(ax.items, my)
                if let m2 = my2 { count(ax.secondItems, m2) }
                if n < best { best = n; chosen = pl }
            }
        }
        let r = rect(chosen)
        c.fillRect(r, Colour(red: 1, green: 1, blue: 1, alpha: 0.85))
        c.strokeRect(r, .lightGrey, width: 0.4)
        for (i, e) in entries.enumerated() {
            let cy = r.y + 1.5 + (Double(i) + 0.5) * lh
            if let st = e.style {
                c.setColour(e.colour); c.lineStyle(st, width: 1)
                c.strokeLine(r.x + 3, cy, r.x + 3 + sample, cy)
            }
            if e.marker != .none { c.marker(e.marker, x: r.x + 3 + sample / 2, y: cy, size: 3.5, colour: e.colour) }
            c.setFont(Style.legendFont)
            c.text(e.label, x: r.x + 3 + sample + 3, y: cy, h: .left, v: .centre, role: .legend)
        }
    }

    // MARK: - Images

    /// Fills an ARGB32 cairo image surface from floats through norm and colormap; NaN → background.
    static func imageSurface(_ t: ImageTile, norm: ColourNorm, colormap: Colormap, background: Colour) -> OpaquePointer? {
        guard t.width > 0, t.height > 0, t.pixels.count == t.width * t.height,
              let s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(t.width), Int32(t.height)) else { return nil }
        cairo_surface_flush(s)
        let stride = Int(cairo_image_surface_get_stride(s))
        guard let data = cairo_image_surface_get_data(s) else { cairo_surface_destroy(s); return nil }
        // A lookup with an odd entry count (so 0.5, the centre of a diverging map, is an exact entry)
        // keeps this O(pixels) without per-pixel interpolation.
        let lutMax = 1024
        var lut = [UInt32](repeating: 0, count: lutMax + 1)
        func pack(_ col: Colour) -> UInt32 {
            let (r, g, b) = col.bytes
            return 0xff00_0000 | UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
        }
        for i in 0...lutMax { lut[i] = pack(colormap.colour(at: Double(i) / Double(lutMax))) }
        let bg = pack(background)
        for y in 0..<t.height {
            let row = UnsafeMutableRawPointer(data.advanced(by: y * stride)).assumingMemoryBound(to: UInt32.self)
            for x in 0..<t.width {
                let v = t.pixels[y * t.width + x]
                if v.isFinite {
                    let n = norm.normalise(Double(v))
                    row[x] = lut[min(lutMax, max(0, Int((n * Double(lutMax)).rounded())))]
                } else {
                    row[x] = bg
                }
            }
        }
        cairo_surface_mark_dirty(s)
        return s
    }

    static func paintImage(_ s: OpaquePointer, pixelsWide: Int, pixelsHigh: Int, into r: PageRect, c: Canvas) {
        let cr = c.cr
        cairo_save(cr)
        cairo_rectangle(cr, r.x, r.y, r.width, r.height)
        cairo_clip(cr)
        cairo_translate(cr, r.x, r.y)
        cairo_scale(cr, r.width / Double(pixelsWide), r.height / Double(pixelsHigh))
        cairo_set_source_surface(cr, s, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        cairo_paint(cr)
        cairo_restore(cr)
    }

    /// A black bar with its length above it, bottom right on the tile, both on a white halo so they
    /// read on red, blue, white and grey alike. The label is always drawn: it is kept inside the tile
    /// (shifted left of centre, then set smaller down to 4.5 pt) rather than left out.
    static func drawScaleBar(_ bar: ScaleBar, pixelSizeMicrometres: Double, tilePixelsWide: Int, tile r: PageRect, c: Canvas) {
        let pointsPerMicrometre = r.width / (Double(tilePixelsWide) * pixelSizeMicrometres)
        let barW = bar.lengthMicrometres * pointsPerMicrometre
        let inset = min(3, 0.05 * r.width)
        let bx = r.maxX - inset - barW, by = r.maxY - inset
        c.fillRect(PageRect(x: bx - 0.6, y: by - 1.8, width: barW + 1.2, height: 2.4), Colour(red: 1, green: 1, blue: 1, alpha: 0.85))
        let barRect = PageRect(x: bx, y: by - 1.2, width: barW, height: 1.2)
        c.fillRect(barRect, .black)
        var size = Style.annotationFont - 0.5
        c.setFont(size)
        while c.width(bar.label) > r.width - 2 && size > 4.5 { size -= 0.5; c.setFont(size) }
        var b = c.box(bar.label, x: bx + barW / 2, y: by - 1.8, h: .centre, v: .bottom)
        if b.maxX > r.maxX - 1 { b.x = r.maxX - 1 - b.width }
        if b.x < r.x + 1 { b.x = r.x + 1 }
        c.haloText(bar.label, box: b)
        let drawn = c.text(bar.label, x: b.x, y: b.maxY, h: .left, v: .bottom, role: .scaleBar)
        c.scaleBars.append(DrawnScaleBar(scaleBar: bar, bar: barRect, labelBox: drawn, tile: r, pointsPerMicrometre: pointsPerMicrometre))
    }

    static func drawMontage(_ m: ImageMontage, cell: PageRect, hasLetter: Bool, c: Canvas) -> [PageRect] {
        guard let t0 = m.tiles.first, t0.width > 0, t0.height > 0 else { return [] }
        let n = m.columns > 0 ? min(m.columns, m.tiles.count) : m.tiles.count
        let rows = (m.tiles.count + n - 1) / n
        c.setFont(Style.tileLabelFont)
        let labelH = m.tiles.contains { !$0.label.isEmpty } ? c.lineHeight() + 1 : 0
        c.setFont(Style.letterFont, bold: true)
        let letterH = hasLetter ? c.lineHeight() : 0
        // Colorbar block: gap, bar, ticks, labels, rotated label.
        c.setFont(Style.tickFont)
        let cbTicks = TickLocator.ticks(m.norm.lower, m.norm.upper, scale: .linear, targetCount: 4)
        let cbLabelW = cbTicks.map { c.width($0.label) }.max() ?? 0
        let tickH = c.lineHeight()
        c.setFont(Style.labelFont)
        let cbW = m.colorbarLabel == nil ? 0 : 5 + 6 + Style.majorTick + Style.pad + cbLabelW + Style.pad + c.lineHeight() + Style.pad
        let gap = 3.0
        let top = max(letterH + 1, 0) + labelH
        let availW = cell.width - cbW - 2
        let availH = cell.height - top - tickH / 2 - 1
        let aspect = Double(t0.width) / Double(t0.height)
        let tileW = max(1, min((availW - Double(n - 1) * gap) / Double(n),
                               (availH - Double(rows - 1) * (gap + labelH)) / Double(rows) * aspect))
        let tileH = tileW / aspect
        let blockW = Double(n) * tileW + Double(n - 1) * gap
        let blockH = Double(rows) * tileH + Double(rows - 1) * (gap + labelH)
        let x0 = cell.x + max(0, (cell.width - blockW - cbW) / 2)
        let y0 = cell.y + top
        var areas: [PageRect] = []
        for (i, t) in m.tiles.enumerated() {
            let r = PageRect(x: x0 + Double(i % n) * (tileW + gap), y: y0 + Double(i / n) * (tileH + gap + labelH),
                             width: tileW, height: tileH)
            areas.append(r)
            if let s = imageSurface(t, norm: m.norm, colormap: m.colormap, background: m.background) {
                paintImage(s, pixelsWide: t.width, pixelsHigh: t.height, into: r, c: c)
                cairo_surface_destroy(s)
            } else {
                c.fillRect(r, m.background)
            }
            if !t.label.isEmpty {
                c.setFont(Style.tileLabelFont)
                c.text(t.label, x: r.x + r.width / 2, y: r.y - 1, h: .centre, v: .bottom, role: .tileLabel)
            }
            if i == 0, let bar = m.scaleBar {
                drawScaleBar(bar, pixelSizeMicrometres: m.pixelSizeMicrometres, tilePixelsWide: t.width, tile: r, c: c)
            }
        }
        if let label = m.colorbarLabel {
            let bar = PageRect(x: x0 + blockW + 5, y: y0, width: 6, height: blockH)
            let steps = 256
            var grad = ImageTile(width: 1, height: steps, pixels: [])
            grad.pixels = (0..<steps).map { i in
                Float(m.norm.lower + (m.norm.upper - m.norm.lower) * (Double(steps - 1 - i) + 0.5) / Double(steps))
            }
            if let s = imageSurface(grad, norm: m.norm, colormap: m.colormap, background: m.background) {
                paintImage(s, pixelsWide: 1, pixelsHigh: steps, into: bar, c: c)
                cairo_surface_destroy(s)
            }
            c.strokeRect(bar, .black, width: 0.4)
            let my = AxisMap(lower: m.norm.lower, upper: m.norm.upper, scale: .linear, p0: bar.maxY, p1: bar.y)
            c.setFont(Style.tickFont)
            for t in cbTicks {
                guard let py = my(t.value) else { continue }
                c.setColour(.black); c.lineStyle(.solid, width: 0.5)
                c.strokeLine(bar.maxX, py, bar.maxX + Style.majorTick, py)
                c.text(t.label, x: bar.maxX + Style.majorTick + Style.pad, y: py, h: .left, v: .centre, role: .colorbar)
            }
            c.setFont(Style.labelFont)
            c.verticalText(label, leftX: bar.maxX + Style.majorTick + Style.pad + cbLabelW + Style.pad,
                           centreY: bar.y + bar.height / 2, role: .axisLabel)
        }
        return areas
    }
}
