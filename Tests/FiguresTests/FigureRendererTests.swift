import Foundation
import Testing
@testable import Figures

/// Checks on what the renderer placed and painted: layout through the text boxes it records,
/// pixels through cairo's image surface.
@Suite struct FigureRendererTests {
    /// A 4 × 2 image: −1, −0.5, 0, 0.5 / 1, NaN, 0.25, −0.25, with a centred ±1 scale.
    static func knownImageFigure() -> Figure {
        let tile = ImageTile(width: 4, height: 2, pixels: [-1, -0.5, 0, 0.5, 1, .nan, 0.25, -0.25], label: "t = 0")
        let m = ImageMontage(tiles: [tile], norm: .centred(at: 0, halfRange: 1), colormap: .blueWhiteRed,
                             background: Colour(hex: 0x00ff00), colorbarLabel: "Total contrast",
                             pixelSizeMicrometres: 0.5, scaleBarMicrometres: 0)
        var f = Figure(widthMillimetres: 89, heightMillimetres: 60, title: "Test. A known image.")
        f.panels = [Panel(letter: "A", cell: GridCell(row: 0, column: 0), content: .images(m))]
        return f
    }

    @Test func imagePixelsCarryColormapColoursAndNaNTheBackground() throws {
        let r = try FigureRenderer.rasterise(Self.knownImageFigure(), dotsPerInch: 300)
        let tile = try #require(r.page.dataAreas.first)
        let values: [Double] = [-1, -0.5, 0, 0.5, 1, .nan, 0.25, -0.25]
        let norm = ColourNorm.centred(at: 0, halfRange: 1)
        for k in 0..<8 {
            let col = k % 4, row = k / 4
            let (x, y) = r.pixelIndex(xPoints: tile.x + (Double(col) + 0.5) * tile.width / 4,
                                      yPoints: tile.y + (Double(row) + 0.5) * tile.height / 2)
            let got = r.pixel(x, y)
            let want = values[k].isNaN ? Colour(hex: 0x00ff00).bytes
                : Colormap.blueWhiteRed.colour(at: norm.normalise(values[k])).bytes
            #expect(abs(Int(got.0) - Int(want.0)) <= 1 && abs(Int(got.1) - Int(want.1)) <= 1 && abs(Int(got.2) - Int(want.2)) <= 1,
                    "pixel \(k) value \(values[k]): got \(got), want \(want)")
        }
        // Zero is white; NaN is the background, not a colormap colour.
        let (zx, zy) = r.pixelIndex(xPoints: tile.x + 2.5 * tile.width / 4, yPoints: tile.y + 0.5 * tile.height / 2)
        #expect(r.pixel(zx, zy) == (255, 255, 255))
    }

    @Test func imagePixelsAreSharpNotInterpolated() throws {
        let r = try FigureRenderer.rasterise(Self.knownImageFigure(), dotsPerInch: 300)
        let tile = try #require(r.page.dataAreas.first)
        // Across the −1 pixel the colour is constant up to its edge (nearest-neighbour filter).
        let y = r.pixelIndex(xPoints: tile.x, yPoints: tile.y + tile.height / 4).1
        let x0 = r.pixelIndex(xPoints: tile.x + 0.05 * tile.width / 4, yPoints: 0).0
        let x1 = r.pixelIndex(xPoints: tile.x + 0.95 * tile.width / 4, yPoints: 0).0
        #expect(r.pixel(x0, y) == r.pixel(x1, y))
    }

    /// No two text boxes overlap and every one lies on the page.
    static func checkLayout(_ fig: Figure, _ name: String) throws {
        let r = try FigureRenderer.rasterise(fig, dotsPerInch: 30)
        let page = PageRect(x: 0, y: 0, width: r.page.widthPoints, height: r.page.heightPoints)
        let boxes = r.page.textBoxes
        #expect(boxes.count > 10, "\(name): too little text")
        for b in boxes { #expect(page.contains(b.box), "\(name): '\(b.text)' (\(b.role)) leaves the page: \(b.box)") }
        for i in boxes.indices {
            for j in boxes.indices where j > i && boxes[i].box.overlaps(boxes[j].box) {
                Issue.record("\(name): '\(boxes[i].text)' (\(boxes[i].role)) overlaps '\(boxes[j].text)' (\(boxes[j].role))")
            }
        }
        for a in r.page.dataAreas { #expect(page.contains(a), "\(name): data area leaves the page") }
    }

    @Test func everyReportPageKeepsTextApartAndOnThePage() throws {
        let (figs, skipped) = Report.figures(inputs: .synthetic(echemIntervalSeconds: 10, frameIntervalSeconds: 120))
        #expect(skipped.isEmpty)
        for (name, fig) in figs { try Self.checkLayout(fig, name) }
    }

    @Test(arguments: ["no images", "no intensity", "no step kinds", "negative-only contrast", "milliamps"])
    func partialInputsStillLayOutCleanly(variant: String) throws {
        var inp = ReportInputs.synthetic(echemIntervalSeconds: 20, frameIntervalSeconds: 300)
        switch variant {
        case "no images": inp.contrast = nil; inp.modelThetaMaps = nil
        case "no intensity": inp.intensityChange = nil
        case "no step kinds":
            if let e = inp.echem { inp.echem = EchemSeries(timeSeconds: e.timeSeconds, voltageVolts: e.voltageVolts, currentAmps: e.currentAmps) }
        case "negative-only contrast":
            if var c = inp.contrast { c.frames = c.frames.map { $0.map { -abs($0) } }; inp.contrast = c }
        default:
            if let e = inp.echem { inp.echem = EchemSeries(timeSeconds: e.timeSeconds, voltageVolts: e.voltageVolts,
                                                           currentAmps: e.currentAmps.map { $0 * 40 }, stepKind: e.stepKind, step: e.step) }
        }
        let (figs, _) = Report.figures(inputs: inp)
        #expect(figs.count >= 4)
        for (name, fig) in figs { try Self.checkLayout(fig, "\(variant) / \(name)") }
    }

    @Test func sharedTimeAxesAlignStackedPanels() throws {
        let (figs, _) = Report.figures(inputs: .synthetic(echemIntervalSeconds: 10, frameIntervalSeconds: 120))
        let overview = try #require(figs.first { $0.name.hasPrefix("1") }).figure
        let r = try FigureRenderer.rasterise(overview, dotsPerInch: 30)
        #expect(r.page.dataAreas.count == 2)
        let (a, b) = (r.page.dataAreas[0], r.page.dataAreas[1])
        #expect(abs(a.x - b.x) < 1e-9 && abs(a.width - b.width) < 1e-9)
        // The upper panel shows no time tick labels: only one "Time (h)" label on the page.
        #expect(r.page.textBoxes.filter { $0.text == "Time (h)" }.count == 1)
    }

    @Test func pngPreviewIsWritten() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try FigureRenderer.rasterise(Self.knownImageFigure(), dotsPerInch: 80, pngPath: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(data.prefix(4) == Data([0x89, 0x50, 0x4e, 0x47]))
    }

    @Test func logAxisPlotRendersDecadeLabels() throws {
        var f = Figure(widthMillimetres: 89, heightMillimetres: 60)
        let x = stride(from: 0.0, through: 1, by: 0.1).map { $0 }
        f.panels = [Panel(cell: GridCell(row: 0, column: 0), content: .plot(Axes(
            x: Axis(label: "1 − θ"), y: Axis(label: "D (cm² s⁻¹)", scale: .log10),
            items: [.line(LineSeries(x: x, y: x.map { 1e-14 * pow(10, 3 * $0) }))])))]
        let r = try FigureRenderer.rasterise(f, dotsPerInch: 30)
        let labels = r.page.textBoxes.filter { $0.role == .tickLabel }.map(\.text)
        #expect(labels.contains("10⁻¹⁴") && labels.contains("10⁻¹¹"))
    }
}
