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

    /// A panel at `cell` with an optional bold letter.
    public init(letter: String = "", cell: GridCell, content: PanelContent) {
        self.letter = letter; self.cell = cell; self.content = content
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
