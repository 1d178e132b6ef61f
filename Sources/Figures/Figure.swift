// The figure model: a tree of artists that says *what* to draw, in data units and millimetres.
// Nothing here knows about Cairo; `FigureRenderer` lays it out and draws it (matplotlib's lesson).

/// Standard journal widths.
public enum FigureWidth {
    /// Single column, 89 mm.
    public static let singleColumnMillimetres = 89.0
    /// Double column, 183 mm.
    public static let doubleColumnMillimetres = 183.0
}

/// A figure: one PDF page, panels on a grid below a caption-like title.
public struct Figure: Sendable {
    /// Page width in millimetres (89 single column, 183 double).
    public var widthMillimetres: Double
    /// Page height in millimetres.
    public var heightMillimetres: Double
    /// Caption-like title printed at the top, wrapped to the page width (bold up to the first ". ").
    public var title: String
    /// Relative heights of the grid rows.
    public var rowHeights: [Double]
    /// Relative widths of the grid columns.
    public var columnWidths: [Double]
    /// The panels.
    public var panels: [Panel]

    /// A figure of the given size with a uniform `rows` × `columns` grid.
    public init(widthMillimetres: Double = FigureWidth.doubleColumnMillimetres, heightMillimetres: Double,
                title: String = "", rows: Int = 1, columns: Int = 1, panels: [Panel] = []) {
        self.widthMillimetres = widthMillimetres
        self.heightMillimetres = heightMillimetres
        self.title = title
        self.rowHeights = Array(repeating: 1, count: max(rows, 1))
        self.columnWidths = Array(repeating: 1, count: max(columns, 1))
        self.panels = panels
    }
}

/// Where a panel sits on the figure grid.
public struct GridCell: Sendable, Equatable {
    /// Grid row (0 at the top).
    public var row: Int
    /// Grid column (0 at the left).
    public var column: Int
    /// Rows spanned.
    public var rowSpan: Int
    /// Columns spanned.
    public var columnSpan: Int

    /// A cell at (`row`, `column`) spanning `rowSpan` × `columnSpan` grid cells.
    public init(row: Int, column: Int, rowSpan: Int = 1, columnSpan: Int = 1) {
        self.row = row; self.column = column; self.rowSpan = max(1, rowSpan); self.columnSpan = max(1, columnSpan)
    }
}

/// A panel: a grid cell, an optional bold letter, and its content.
public struct Panel: Sendable {
    /// Bold panel letter ("A", "B", …), drawn at the cell's top-left corner; empty for none.
    public var letter: String
    /// Where the panel sits on the grid.
    public var cell: GridCell
    /// What the panel shows.
    public var content: PanelContent
    /// A short name for the panel ("echem", "images"), for captions that refer to it and for tests.
    public var id: String
    /// The panel's sentence(s) in the caption, without its "(A)" prefix; `{id}` names another panel
    /// and becomes its letter, e.g. "black circles mark the images in {images}".
    public var caption: String

    /// A panel at `cell` with an optional bold letter, name and caption fragment.
    public init(letter: String = "", cell: GridCell, content: PanelContent, id: String = "", caption: String = "") {
        self.letter = letter; self.cell = cell; self.content = content; self.id = id; self.caption = caption
    }
}

extension Figure {
    /// Builds a figure whose panel letters and caption come from the panels actually drawn: letters
    /// A, B, C… in reading order (`readingOrder`), and a title of
    /// `heading`, `intro`, each panel's "(X) caption" in the same order and `closing`. A single panel
    /// gets no letter and its caption no "(A)" (a one-panel figure needs none). `{id}` in any text
    /// becomes "(X)" for the panel of that id; a reference to a panel that is not drawn stays as written,
    /// so a test sees it (the builders only refer to panels they add).
    public static func lettered(widthMillimetres: Double = FigureWidth.doubleColumnMillimetres, heightMillimetres: Double,
                                heading: String, intro: String = "", panels: [Panel], closing: String = "",
                                rows: Int, columns: Int) -> Figure {
        var fig = Figure(widthMillimetres: widthMillimetres, heightMillimetres: heightMillimetres, rows: rows, columns: columns)
        let order = readingOrder(panels.map(\.cell))
        let single = panels.count == 1
        var letters: [String: String] = [:]
        var ordered: [Panel] = []
        for (k, i) in order.enumerated() {
            var p = panels[i]
            p.letter = single ? "" : panelLetter(k)
            if !p.id.isEmpty { letters[p.id] = p.letter }
            ordered.append(p)
        }
        func resolve(_ text: String) -> String {
            var out = text
            for (id, letter) in letters { out = out.replacingOccurrences(of: "{\(id)}", with: letter.isEmpty ? "" : "(\(letter))") }
            return out
        }
        var parts: [String] = [heading]
        if !intro.isEmpty { parts.append(resolve(intro)) }
        for p in ordered where !p.caption.isEmpty {
            parts.append(p.letter.isEmpty ? resolve(p.caption) : "(\(p.letter)) " + resolve(p.caption))
        }
        if !closing.isEmpty { parts.append(resolve(closing)) }
        fig.title = parts.joined(separator: " ")
        fig.panels = ordered
        return fig
    }

    /// Reading order of grid cells: row by row, left to right — except that rows joined by a panel
    /// spanning them form one band read column by column, so a stack of plots beside a tall image
    /// block reads down the stack first (A top left, B below it, C the block), as journals letter it.
    public static func readingOrder(_ cells: [GridCell]) -> [Int] {
        // Band of each row: rows overlapped by one multi-row panel share the band of their first row.
        let lastRow = cells.map { $0.row + $0.rowSpan - 1 }.max() ?? 0
        var band = Array(0...max(0, lastRow))
        var changed = true
        while changed {
            changed = false
            for c in cells where c.rowSpan > 1 {
                let rows = c.row...min(lastRow, c.row + c.rowSpan - 1)
                let b = rows.map { band[$0] }.min() ?? c.row
                for r in rows where band[r] != b { band[r] = b; changed = true }
            }
        }
        return cells.indices.sorted {
            let a = cells[$0], b = cells[$1]
            return (band[max(0, a.row)], a.column, a.row, $0) < (band[max(0, b.row)], b.column, b.row, $1)
        }
    }

    /// "A" … "Z", then "AA", "AB", … (a figure with more than 26 panels is unlikely but not a trap).
    static func panelLetter(_ k: Int) -> String {
        let a = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return k < a.count ? String(a[k]) : String(a[k / a.count - 1]) + String(a[k % a.count])
    }

    /// Letters of the panels drawn, in reading order (empty letters left out).
    public var panelLetters: [String] {
        Figure.readingOrder(panels.map(\.cell)).map { panels[$0].letter }.filter { !$0.isEmpty }
    }

    /// Panel letters the title refers to as "(X)", "(X–Y)" or "(X, Y)", in order of appearance.
    public var captionPanelReferences: [String] {
        var refs: [String] = []
        let chars = Array(title)
        var i = 0
        while i < chars.count {
            // "e(S, A)" is notation, not a reference: a reference's "(" follows a space or starts the text.
            guard chars[i] == "(", i == 0 || chars[i - 1] == " " else { i += 1; continue }
            guard let close = chars[i...].firstIndex(of: ")") else { break }
            let inner = String(chars[(i + 1)..<close])
            // Only parentheses holding nothing but upper-case letters, commas, dashes and spaces are panel references.
            let isRef = !inner.isEmpty && inner.allSatisfy { $0.isUppercase || $0 == "," || $0 == " " || $0 == "–" || $0 == "-" }
                && inner.contains(where: \.isUppercase) && inner.split(whereSeparator: { ", –-".contains($0) }).allSatisfy { $0.count <= 2 }
            if isRef {
                for tok in inner.split(whereSeparator: { ", ".contains($0) }) {
                    let ends = tok.split(whereSeparator: { "–-".contains($0) }).map(String.init)
                    if ends.count == 2, let a = ends[0].unicodeScalars.first?.value, let b = ends[1].unicodeScalars.first?.value, a <= b {
                        for v in a...b { if let u = Unicode.Scalar(v) { refs.append(String(Character(u))) } }
                    } else {
                        refs.append(contentsOf: ends)
                    }
                }
            }
            i = close + 1
        }
        return refs
    }
}

/// What a panel holds.
public enum PanelContent: Sendable {
    /// Line/marker plot axes (with optional second y axis).
    case plot(Axes)
    /// One or more image tiles sharing one colour scale and colorbar.
    case images(ImageMontage)
}

/// One axis: label (with units), scale, limits and tick visibility.
public struct Axis: Sendable {
    /// Label with units, e.g. "Capacity (mA h g⁻¹)".
    public var label: String
    /// Linear or log10.
    public var scale: AxisScale
    /// Fixed limits; `nil` → nice limits around the data.
    public var limits: (lower: Double, upper: Double)?
    /// Draw tick labels and the axis label (false for the upper panels of a shared time axis).
    public var showsLabels: Bool
    /// Colour of the axis line, ticks and labels (a twin axis takes its trace's colour).
    public var colour: Colour
    /// About how many labelled ticks to aim for.
    public var targetTickCount: Int

    /// An axis; `limits` nil → nice limits around the data.
    public init(label: String = "", scale: AxisScale = .linear, limits: (lower: Double, upper: Double)? = nil,
                showsLabels: Bool = true, colour: Colour = .black, targetTickCount: Int = 5) {
        self.label = label; self.scale = scale; self.limits = limits
        self.showsLabels = showsLabels; self.colour = colour; self.targetTickCount = targetTickCount
    }
}

/// Line style of a series.
public enum LineStyle: Sendable, Equatable {
    case solid
    case dashed
    case dotted
}

/// Marker shapes.
public enum MarkerShape: Sendable, Equatable {
    case circle
    case openCircle
    case square
    case star
    case none
}

/// A polyline in data coordinates; NaN values break the line.
public struct LineSeries: Sendable {
    /// x values, data units.
    public var x: [Double]
    /// y values, data units (NaN breaks the line).
    public var y: [Double]
    /// Line and marker colour.
    public var colour: Colour
    /// Line width in points; 0 draws markers only.
    public var lineWidthPoints: Double
    /// Solid, dashed or dotted.
    public var style: LineStyle
    /// Marker at each point (`.none` for a plain line).
    public var marker: MarkerShape
    /// Marker diameter, points.
    public var markerSizePoints: Double
    /// Legend entry; empty for none.
    public var label: String

    /// A line series; see the properties for units.
    public init(x: [Double], y: [Double], colour: Colour = .black, lineWidthPoints: Double = 1,
                style: LineStyle = .solid, marker: MarkerShape = .none, markerSizePoints: Double = 3,
                label: String = "") {
        self.x = x; self.y = y; self.colour = colour; self.lineWidthPoints = lineWidthPoints
        self.style = style; self.marker = marker; self.markerSizePoints = markerSizePoints; self.label = label
    }
}

/// Markers at chosen points (the seed's black circles), each with an optional text label.
public struct MarkerSet: Sendable {
    /// x positions, data units.
    public var x: [Double]
    /// y positions, data units.
    public var y: [Double]
    /// Text beside each marker (e.g. "a", "b"); may be shorter than `x`.
    public var labels: [String]
    /// Marker shape.
    public var shape: MarkerShape
    /// Marker and label colour.
    public var colour: Colour
    /// Marker diameter, points.
    public var sizePoints: Double
    /// Legend entry; empty for none.
    public var legendLabel: String

    /// Markers at chosen points.
    public init(x: [Double], y: [Double], labels: [String] = [], shape: MarkerShape = .circle,
                colour: Colour = .black, sizePoints: Double = 4, legendLabel: String = "") {
        self.x = x; self.y = y; self.labels = labels; self.shape = shape
        self.colour = colour; self.sizePoints = sizePoints; self.legendLabel = legendLabel
    }
}

/// Iso-lines of a gridded field (marching squares), optionally labelled, with an optional marked minimum.
public struct ContourSet: Sendable {
    /// Grid x coordinates (columns), increasing.
    public var x: [Double]
    /// Grid y coordinates (rows), increasing.
    public var y: [Double]
    /// Row-major values, `values[row * x.count + column]`; NaN cells are skipped.
    public var values: [Double]
    /// Iso-levels; empty → nice levels between the field's min and max.
    public var levels: [Double]
    /// Line colours come from this map over the levels.
    public var colormap: Colormap
    /// Write each level's value on its line.
    public var labelsLines: Bool
    /// Marked minimum (data coordinates) with its label; `nil` for none.
    public var minimum: (x: Double, y: Double, label: String)?

    /// A contour set over a rectilinear grid; empty `levels` → nice levels.
    public init(x: [Double], y: [Double], values: [Double], levels: [Double] = [],
                colormap: Colormap = .viridis, labelsLines: Bool = true,
                minimum: (x: Double, y: Double, label: String)? = nil) {
        self.x = x; self.y = y; self.values = values; self.levels = levels
        self.colormap = colormap; self.labelsLines = labelsLines; self.minimum = minimum
    }
}

/// A thing drawn inside plot axes.
public enum PlotItem: Sendable {
    case line(LineSeries)
    case markers(MarkerSet)
    /// Shaded x range (e.g. the CV hold) with an optional label at its top.
    case span(from: Double, to: Double, colour: Colour, label: String)
    /// Horizontal reference line (e.g. the zero-change guide of seed Fig. 4A).
    case horizontalLine(y: Double, colour: Colour, style: LineStyle)
    /// Vertical reference line (e.g. the centre position in seed Fig. 3D).
    case verticalLine(x: Double, colour: Colour, style: LineStyle)
    /// Arrow pointing down at a data point (the seed's red arrows), with a label above it.
    case arrow(x: Double, y: Double, colour: Colour, label: String)
    case contour(ContourSet)
}

/// Where the legend goes.
public enum LegendPlacement: Sendable, Equatable {
    /// The corner with the fewest data points under it.
    case best
    case upperLeft
    case upperRight
    case lowerLeft
    case lowerRight
    /// In a row (or rows) above the plot area, outside the data.
    case above
    /// No legend.
    case none
}

/// Plot axes: x, left y, optional right y with its own items, and a legend.
public struct Axes: Sendable {
    /// The horizontal axis.
    public var x: Axis
    /// The left vertical axis.
    public var y: Axis
    /// Second y axis on the right (voltage left, current right as in seed Fig. 1E).
    public var secondY: Axis?
    /// Items plotted against `x` and `y`.
    public var items: [PlotItem]
    /// Items plotted against `secondY`.
    public var secondItems: [PlotItem]
    /// Where the legend goes (entries come from labelled items).
    public var legend: LegendPlacement
    /// Small title above the plot area (optional).
    public var title: String

    /// Plot axes; see the properties.
    public init(x: Axis, y: Axis, secondY: Axis? = nil, items: [PlotItem] = [], secondItems: [PlotItem] = [],
                legend: LegendPlacement = .none, title: String = "") {
        self.x = x; self.y = y; self.secondY = secondY; self.items = items; self.secondItems = secondItems
        self.legend = legend; self.title = title
    }
}

/// A single-precision image, row-major from the top row, NaN = masked.
public struct ImageTile: Sendable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// `width × height` values, row-major from the top row; NaN = masked.
    public var pixels: [Float]
    /// Label above the tile (e.g. "5 min" or "a  90 min").
    public var label: String

    /// A tile of `width × height` pixels.
    public init(width: Int, height: Int, pixels: [Float], label: String = "") {
        self.width = width; self.height = height; self.pixels = pixels; self.label = label
    }
}

/// Image tiles (small multiples) with one shared norm, colormap and colorbar, and a scale bar.
public struct ImageMontage: Sendable {
    /// The images, all the same size.
    public var tiles: [ImageTile]
    /// Tiles per row; 0 → all in one row.
    public var columns: Int
    /// Shared data → 0…1 mapping (e.g. centred at zero).
    public var norm: ColourNorm
    /// Shared 0…1 → colour mapping.
    public var colormap: Colormap
    /// Colour of masked (NaN) pixels.
    public var background: Colour
    /// Colorbar label (with units); `nil` hides the colorbar.
    public var colorbarLabel: String?
    /// Pixel size, µm per pixel, for the scale bar.
    public var pixelSizeMicrometres: Double
    /// Scale-bar length in µm (drawn on the first tile); 0 for none.
    public var scaleBarMicrometres: Double

    /// A montage with one shared colour scale.
    public init(tiles: [ImageTile], columns: Int = 0, norm: ColourNorm, colormap: Colormap,
                background: Colour = .maskBackground, colorbarLabel: String? = nil,
                pixelSizeMicrometres: Double, scaleBarMicrometres: Double = 1) {
        self.tiles = tiles; self.columns = columns; self.norm = norm; self.colormap = colormap
        self.background = background; self.colorbarLabel = colorbarLabel
        self.pixelSizeMicrometres = pixelSizeMicrometres; self.scaleBarMicrometres = scaleBarMicrometres
    }
}

/// A scale bar as drawn: its length and the label that states it.
public struct ScaleBar: Sendable, Equatable {
    /// Bar length, µm.
    public var lengthMicrometres: Double
    /// The label drawn with the bar, e.g. "1 µm" or "0.5 µm".
    public var label: String

    /// The bar for a tile `tileWidthPixels` wide at `pixelSizeMicrometres`: `preferredMicrometres`,
    /// shortened to a 1-2-5 length while it would cover more than half the tile. `nil` when either
    /// length is not positive.
    public init?(preferredMicrometres: Double, pixelSizeMicrometres: Double, tileWidthPixels: Int) {
        guard preferredMicrometres > 0, pixelSizeMicrometres > 0, tileWidthPixels > 0 else { return nil }
        let tileMicrometres = Double(tileWidthPixels) * pixelSizeMicrometres
        var length = preferredMicrometres
        while length > 0.5 * tileMicrometres && length > 1e-3 {
            let nice = TickLocator.niceStep(span: length * 0.9, targetCount: 1)
            length = nice < length ? nice : length / 2
        }
        lengthMicrometres = length
        label = ScaleBar.label(micrometres: length)
    }

    /// "1 µm", "0.5 µm", "2.5 µm": the length with as many decimals as it needs.
    public static func label(micrometres: Double) -> String {
        "\(TickLocator.format(micrometres, decimals: TickLocator.decimalsFor(step: micrometres))) µm"
    }
}

/// A rectangle of pixels: column `x`, row `y` of its top-left pixel, and its size.
public struct PixelBox: Sendable, Equatable {
    /// First column.
    public var x: Int
    /// First row (0 at the top).
    public var y: Int
    /// Columns.
    public var width: Int
    /// Rows.
    public var height: Int

    /// A box from its top-left pixel and size.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }

    /// The smallest box holding both.
    public func union(_ o: PixelBox) -> PixelBox {
        let x0 = min(x, o.x), y0 = min(y, o.y)
        return PixelBox(x: x0, y: y0, width: max(x + width, o.x + o.width) - x0, height: max(y + height, o.y + o.height) - y0)
    }

    /// This box grown by `margin` pixels on every side, clipped to a `frameWidth × frameHeight` frame.
    public func expanded(by margin: Int, frameWidth: Int, frameHeight: Int) -> PixelBox {
        let x0 = max(0, x - margin), y0 = max(0, y - margin)
        let x1 = min(frameWidth, x + width + margin), y1 = min(frameHeight, y + height + margin)
        return PixelBox(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }
}

extension ImageTile {
    /// Bounding box of the finite pixels — the particle, since the analysis writes NaN outside its
    /// mask — or `nil` when there are none (or the pixel count does not match the size).
    public var finiteBounds: PixelBox? {
        guard width > 0, height > 0, pixels.count == width * height else { return nil }
        var x0 = width, y0 = height, x1 = -1, y1 = -1
        for row in 0..<height {
            let base = row * width
            for col in 0..<width where pixels[base + col].isFinite {
                if col < x0 { x0 = col }
                if col > x1 { x1 = col }
                if row < y0 { y0 = row }
                y1 = row
            }
        }
        return x1 < 0 ? nil : PixelBox(x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1)
    }

    /// The pixels inside `box` (clipped to the tile), same label.
    public func cropped(to box: PixelBox) -> ImageTile {
        let c = box.expanded(by: 0, frameWidth: width, frameHeight: height)
        guard c.width > 0, c.height > 0, pixels.count == width * height else { return self }
        var out = [Float](repeating: .nan, count: c.width * c.height)
        for row in 0..<c.height {
            let src = (c.y + row) * width + c.x
            for col in 0..<c.width { out[row * c.width + col] = pixels[src + col] }
        }
        return ImageTile(width: c.width, height: c.height, pixels: out, label: label)
    }
}

extension ImageMontage {
    /// The scale bar drawn on the first tile (`nil` when `scaleBarMicrometres` or the pixel size is 0).
    public var scaleBar: ScaleBar? {
        guard let t = tiles.first else { return nil }
        return ScaleBar(preferredMicrometres: scaleBarMicrometres, pixelSizeMicrometres: pixelSizeMicrometres, tileWidthPixels: t.width)
    }

    /// The box `croppedToParticle` keeps: the union of the tiles' finite-pixel boxes (the particle
    /// mask) grown by `marginFraction` of its longer side (at least `minimumMarginPixels`), inside the
    /// frame. `nil` when no tile has a finite pixel or the tiles differ in size.
    public func particleBox(marginFraction: Double = 0.12, minimumMarginPixels: Int = 3) -> PixelBox? {
        guard let t0 = tiles.first, tiles.allSatisfy({ $0.width == t0.width && $0.height == t0.height }) else { return nil }
        var found: PixelBox?
        for b in tiles.compactMap(\.finiteBounds) { found = found.map { $0.union(b) } ?? b }
        guard let box = found else { return nil }
        let margin = max(minimumMarginPixels, Int((marginFraction * Double(max(box.width, box.height))).rounded(.up)))
        return box.expanded(by: margin, frameWidth: t0.width, frameHeight: t0.height)
    }

    /// Every tile cropped to `particleBox` — the particle plus a margin — so the images show the
    /// particle rather than the masked background. Works alike on full frames and on stacks the
    /// analysis already cropped (then the box is at most the frame). Unchanged when there is no box.
    public func croppedToParticle(marginFraction: Double = 0.12, minimumMarginPixels: Int = 3) -> ImageMontage {
        guard let box = particleBox(marginFraction: marginFraction, minimumMarginPixels: minimumMarginPixels) else { return self }
        var m = self
        m.tiles = tiles.map { $0.cropped(to: box) }
        return m
    }
}
