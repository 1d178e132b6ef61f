import CCairo
import Foundation

/// A rectangle in points (1/72 in) from the page's top-left corner, y down.
public struct PageRect: Sendable, Equatable {
    /// Left edge, points.
    public var x: Double
    /// Top edge, points (y down).
    public var y: Double
    /// Width, points.
    public var width: Double
    /// Height, points.
    public var height: Double

    /// A rectangle from its top-left corner and size in points.
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }

    /// Right edge.
    public var maxX: Double { x + width }
    /// Bottom edge.
    public var maxY: Double { y + height }

    /// True when the two rectangles share interior area (touching edges do not count).
    public func overlaps(_ o: PageRect, tolerance: Double = 0.01) -> Bool {
        x < o.maxX - tolerance && o.x < maxX - tolerance && y < o.maxY - tolerance && o.y < maxY - tolerance
    }

    /// True when `o` lies inside this rectangle (within `tolerance`).
    public func contains(_ o: PageRect, tolerance: Double = 0.01) -> Bool {
        o.x >= x - tolerance && o.y >= y - tolerance && o.maxX <= maxX + tolerance && o.maxY <= maxY + tolerance
    }
}

/// A piece of text the renderer placed, with its box (font ascent to descent, advance width).
public struct TextBox: Sendable, Equatable {
    /// What kind of text it is (tick label, axis label, legend, …), for tests and debugging.
    public enum Role: String, Sendable {
        case title, panelLetter, tickLabel, axisLabel, legend, annotation, tileLabel, scaleBar, colorbar
    }
    /// The text drawn.
    public var text: String
    /// Its box on the page.
    public var box: PageRect
    /// What kind of text it is.
    public var role: Role
}

enum HAlign { case left, centre, right }
enum VAlign { case top, centre, baseline, bottom }

/// Font sizes and spacings in points; one place so the figures read alike.
enum Style {
    static let font = "DejaVu Sans"
    static let tickFont = 6.5
    static let labelFont = 7.5
    static let legendFont = 6.5
    static let annotationFont = 6.5
    static let letterFont = 10.0
    static let titleFont = 8.0
    static let tileLabelFont = 7.0
    static let majorTick = 3.0
    static let minorTick = 1.6
    static let pad = 2.0
    static let axisLineWidth = 0.6
    static let pointsPerMillimetre = 72.0 / 25.4
}

/// Thin wrapper over a cairo context: text with measured boxes, colours, paths.
/// Every text it draws is logged (for the no-overlap and inside-the-page tests).
final class Canvas {
    let cr: OpaquePointer
    private(set) var textBoxes: [TextBox] = []
    /// Scale bars drawn so far (the renderer appends; the page record reports them).
    var scaleBars: [DrawnScaleBar] = []
    private var fontSize = 7.0
    private var bold = false

    init(cr: OpaquePointer) { self.cr = cr }

    func setFont(_ size: Double, bold: Bool = false) {
        // Always select: a cairo_restore can silently bring back an older font.
        fontSize = size
        self.bold = bold
        cairo_select_font_face(cr, Style.font, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }

    func width(_ s: String) -> Double {
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, s, &e)
        return e.x_advance
    }

    /// (ascent, descent) of the current font.
    func metrics() -> (Double, Double) {
        var f = cairo_font_extents_t()
        cairo_font_extents(cr, &f)
        return (f.ascent, f.descent)
    }

    func lineHeight() -> Double { let (a, d) = metrics(); return a + d }

    func setColour(_ c: Colour) { cairo_set_source_rgba(cr, c.red, c.green, c.blue, c.alpha) }

    /// Draws horizontal text anchored at (x, y); returns its box.
    @discardableResult
    func text(_ s: String, x: Double, y: Double, h: HAlign, v: VAlign, colour: Colour = .black,
              role: TextBox.Role, record: Bool = true) -> PageRect {
        let w = width(s)
        let (asc, desc) = metrics()
        let left: Double
        switch h {
        case .left: left = x
        case .centre: left = x - w / 2
        case .right: left = x - w
        }
        let baseline: Double
        switch v {
        case .top: baseline = y + asc
        case .centre: baseline = y - (asc + desc) / 2 + asc
        case .baseline: baseline = y
        case .bottom: baseline = y - desc
        }
        setColour(colour)
        cairo_move_to(cr, left, baseline)
        cairo_show_text(cr, s)
        cairo_new_path(cr)
        let box = PageRect(x: left, y: baseline - asc, width: w, height: asc + desc)
        if record { textBoxes.append(TextBox(text: s, box: box, role: role)) }
        return box
    }

    /// A white outline around the glyphs of `s` placed at `box` (draw the text itself afterwards).
    func haloText(_ s: String, box: PageRect) {
        let (asc, _) = metrics()
        cairo_save(cr)
        cairo_move_to(cr, box.x, box.y + asc)
        cairo_text_path(cr, s)
        cairo_set_source_rgba(cr, 1, 1, 1, 0.9)
        cairo_set_line_width(cr, 1.6)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_stroke(cr)
        cairo_restore(cr)
    }

    /// Text box that `text` would occupy, without drawing.
    func box(_ s: String, x: Double, y: Double, h: HAlign, v: VAlign) -> PageRect {
        let w = width(s)
        let (asc, desc) = metrics()
        let left = h == .left ? x : (h == .centre ? x - w / 2 : x - w)
        let top: Double
        switch v {
        case .top: top = y
        case .centre: top = y - (asc + desc) / 2
        case .baseline: top = y - asc
        case .bottom: top = y - asc - desc
        }
        return PageRect(x: left, y: top, width: w, height: asc + desc)
    }

    /// Text rotated to read bottom-to-top, its top edge at `leftX`, centred vertically on `centreY`.
    func verticalText(_ s: String, leftX: Double, centreY: Double, colour: Colour = .black, role: TextBox.Role) {
        let w = width(s)
        let (asc, desc) = metrics()
        cairo_save(cr)
        cairo_translate(cr, leftX, centreY)
        cairo_rotate(cr, -Double.pi / 2)
        setColour(colour)
        cairo_move_to(cr, -w / 2, asc)
        cairo_show_text(cr, s)
        cairo_new_path(cr)
        cairo_restore(cr)
        textBoxes.append(TextBox(text: s, box: PageRect(x: leftX, y: centreY - w / 2, width: asc + desc, height: w), role: role))
    }

    func lineStyle(_ style: LineStyle, width: Double) {
        cairo_set_line_width(cr, width)
        switch style {
        case .solid: cairo_set_dash(cr, nil, 0, 0)
        case .dashed: let d: [Double] = [3.5 * max(width, 0.6), 2 * max(width, 0.6)]; cairo_set_dash(cr, d, 2, 0)
        case .dotted: let d: [Double] = [0.01, 1.8 * max(width, 0.6)]; cairo_set_dash(cr, d, 2, 0)
        }
        cairo_set_line_cap(cr, style == .dotted ? CAIRO_LINE_CAP_ROUND : CAIRO_LINE_CAP_BUTT)
    }

    func strokeLine(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) {
        cairo_move_to(cr, x0, y0)
        cairo_line_to(cr, x1, y1)
        cairo_stroke(cr)
    }

    func fillRect(_ r: PageRect, _ c: Colour) {
        setColour(c)
        cairo_rectangle(cr, r.x, r.y, r.width, r.height)
        cairo_fill(cr)
    }

    func strokeRect(_ r: PageRect, _ c: Colour, width: Double) {
        setColour(c)
        cairo_set_line_width(cr, width)
        cairo_set_dash(cr, nil, 0, 0)
        cairo_rectangle(cr, r.x, r.y, r.width, r.height)
        cairo_stroke(cr)
    }

    func marker(_ shape: MarkerShape, x: Double, y: Double, size: Double, colour: Colour) {
        let r = size / 2
        setColour(colour)
        cairo_set_dash(cr, nil, 0, 0)
        switch shape {
        case .none: return
        case .circle:
            cairo_new_sub_path(cr); cairo_arc(cr, x, y, r, 0, 2 * Double.pi); cairo_fill(cr)
        case .openCircle:
            cairo_set_line_width(cr, 0.7)
            cairo_new_sub_path(cr); cairo_arc(cr, x, y, r, 0, 2 * Double.pi)
            cairo_set_source_rgb(cr, 1, 1, 1); cairo_fill_preserve(cr)
            setColour(colour); cairo_stroke(cr)
        case .square:
            cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r); cairo_fill(cr)
        case .star:
            for k in 0..<10 {
                let a = -Double.pi / 2 + Double(k) * Double.pi / 5
                let rr = k % 2 == 0 ? r * 1.3 : r * 0.55
                if k == 0 { cairo_move_to(cr, x + rr * cos(a), y + rr * sin(a)) } else { cairo_line_to(cr, x + rr * cos(a), y + rr * sin(a)) }
            }
            cairo_close_path(cr)
            cairo_fill_preserve(cr)
            cairo_set_source_rgb(cr, 0, 0, 0); cairo_set_line_width(cr, 0.4); cairo_stroke(cr)
        }
    }
}
