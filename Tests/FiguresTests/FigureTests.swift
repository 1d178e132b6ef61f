import Foundation
import Testing
@testable import Figures

/// The figure model's reviewer-facing pieces: panel letters and captions from the panels drawn,
/// scale bars with their length, tiles cropped to the particle.
@Suite struct FigureLetteringTests {
    static func plot() -> PanelContent { .plot(Axes(x: Axis(label: "x (s)"), y: Axis(label: "y (V)"))) }

    @Test func lettersFollowReadingOrderNotTheOrderPanelsWereAdded() {
        // A 2 × 3 grid without spans reads row by row.
        let grid = [(1, 2), (0, 1), (1, 0), (0, 0), (1, 1)].map { Panel(cell: GridCell(row: $0.0, column: $0.1), content: Self.plot(), id: "\($0.0)\($0.1)", caption: "p\($0.0)\($0.1).") }
        let g = Figure.lettered(heightMillimetres: 80, heading: "Figure 8 | Grid.", panels: grid, rows: 2, columns: 3)
        #expect(g.panels.map(\.id) == ["00", "01", "10", "11", "12"])
        #expect(g.panels.map(\.letter) == ["A", "B", "C", "D", "E"])
        #expect(g.title == "Figure 8 | Grid. (A) p00. (B) p01. (C) p10. (D) p11. (E) p12.")
        // A stack of two plots beside a tall image block reads down the stack, then the block.
        let panels = [Panel(cell: GridCell(row: 0, column: 1, rowSpan: 2), content: Self.plot(), id: "images", caption: "Images marked in {trace}."),
                      Panel(cell: GridCell(row: 1, column: 0), content: Self.plot(), id: "trace", caption: "Trace; circles mark {images}."),
                      Panel(cell: GridCell(row: 0, column: 0), content: Self.plot(), id: "echem", caption: "Potential.")]
        let f = Figure.lettered(heightMillimetres: 80, heading: "Figure 9 | Test.", panels: panels, closing: "Dataset x.", rows: 2, columns: 2)
        #expect(f.panels.map(\.id) == ["echem", "trace", "images"])
        #expect(f.panels.map(\.letter) == ["A", "B", "C"])
        #expect(f.panelLetters == ["A", "B", "C"])
        #expect(f.title == "Figure 9 | Test. (A) Potential. (B) Trace; circles mark (C). (C) Images marked in (B). Dataset x.")
        #expect(f.captionPanelReferences == ["A", "B", "C", "C", "B"])
    }

    @Test func aSinglePanelHasNoLetterAndItsCaptionNoPrefix() {
        let f = Figure.lettered(heightMillimetres: 60, heading: "Figure 5 | One.", panels: [Panel(cell: GridCell(row: 0, column: 0), content: Self.plot(), id: "p", caption: "Only panel.")],
                                rows: 1, columns: 1)
        #expect(f.panels.map(\.letter) == [""])
        #expect(f.title == "Figure 5 | One. Only panel.")
        #expect(f.captionPanelReferences.isEmpty)
    }

    @Test func captionReferencesReadRangesAndListsButNotNotation() {
        var f = Figure(heightMillimetres: 10)
        f.title = "Figure 1 | T. (A) x. (B–D) y, as in (E, F); e(S, A) with the best (S = 2, A = 1) (%) (V vs Li/Li⁺)."
        #expect(f.captionPanelReferences == ["A", "B", "C", "D", "E", "F"])
    }
}

@Suite struct ScaleBarTests {
    @Test func labelStatesTheLengthDrawn() throws {
        let bar = try #require(ScaleBar(preferredMicrometres: 1, pixelSizeMicrometres: 0.0347, tileWidthPixels: 120))
        #expect(bar.lengthMicrometres == 1)
        #expect(bar.label == "1 µm")
    }

    @Test func aBarLongerThanHalfTheTileShortensToANiceLengthAndSaysSo() throws {
        // 40 px × 0.0347 µm = 1.39 µm wide: 1 µm would cover 72 %.
        let bar = try #require(ScaleBar(preferredMicrometres: 1, pixelSizeMicrometres: 0.0347, tileWidthPixels: 40))
        #expect(bar.lengthMicrometres <= 0.5 * 40 * 0.0347)
        #expect(bar.lengthMicrometres == 0.5)
        #expect(bar.label == "0.5 µm")
        #expect(ScaleBar(preferredMicrometres: 0, pixelSizeMicrometres: 0.1, tileWidthPixels: 10) == nil)
    }

    /// The renderer draws the label even on a tile too small for it at the usual size (issue 16's
    /// page-4 bar had none), inside the tile, and the bar is as long as its label says.
    @Test func everyDrawnBarHasItsLabelInsideTheTile() throws {
        for tileWidthPixels in [256, 96, 40] {
            let tile = ImageTile(width: tileWidthPixels, height: tileWidthPixels / 2,
                                 pixels: [Float](repeating: 0.1, count: tileWidthPixels * (tileWidthPixels / 2)))
            let m = ImageMontage(tiles: Array(repeating: tile, count: 6), columns: 3, norm: ColourNorm(lower: 0, upper: 1), colormap: .viridis,
                                 colorbarLabel: "v (%)", pixelSizeMicrometres: 0.0347)
            var f = Figure(widthMillimetres: 90, heightMillimetres: 40)
            f.panels = [Panel(cell: GridCell(row: 0, column: 0), content: .images(m))]
            let r = try FigureRenderer.rasterise(f, dotsPerInch: 30)
            let drawn = try #require(r.page.scaleBars.first)
            #expect(r.page.scaleBars.count == 1)
            #expect(drawn.scaleBar == m.scaleBar)
            #expect(drawn.scaleBar.label == ScaleBar.label(micrometres: drawn.scaleBar.lengthMicrometres))
            #expect(abs(drawn.bar.width / drawn.pointsPerMicrometre - drawn.scaleBar.lengthMicrometres) < 1e-9)
            #expect(drawn.tile.contains(drawn.labelBox, tolerance: 0.01), "label \(drawn.labelBox) outside tile \(drawn.tile)")
            #expect(r.page.textBoxes.contains { $0.role == .scaleBar && $0.text == drawn.scaleBar.label })
        }
    }
}

@Suite struct TileCropTests {
    /// A full frame with an elliptical particle (finite inside, NaN outside).
    static func frame(width: Int, height: Int, cx: Double, cy: Double, a: Double, b: Double) -> ImageTile {
        var p = [Float](repeating: .nan, count: width * height)
        for y in 0..<height { for x in 0..<width {
            let dx = (Double(x) - cx) / a, dy = (Double(y) - cy) / b
            if dx * dx + dy * dy <= 1 { p[y * width + x] = Float(x + y) }
        } }
        return ImageTile(width: width, height: height, pixels: p, label: "t")
    }

    static func finiteCount(_ t: ImageTile) -> Int { t.pixels.filter(\.isFinite).count }

    @Test func cropKeepsTheWholeMaskAndIsSmallerThanTheFrame() throws {
        let t = Self.frame(width: 256, height: 256, cx: 128, cy: 120, a: 44, b: 29)
        let m = ImageMontage(tiles: [t, t], norm: ColourNorm(lower: 0, upper: 1), colormap: .viridis, pixelSizeMicrometres: 0.0347)
        let box = try #require(m.particleBox())
        let mask = try #require(t.finiteBounds)
        let c = m.croppedToParticle()
        #expect(c.tiles.allSatisfy { $0.width == box.width && $0.height == box.height })
        #expect(box.width < t.width && box.height < t.height)
        #expect(box.width * box.height < t.width * t.height / 4, "mostly background still: \(box)")
        #expect(Self.finiteCount(c.tiles[0]) == Self.finiteCount(t), "the crop cut into the particle")
        // A margin on every side.
        #expect(box.x < mask.x && box.y < mask.y && box.x + box.width > mask.x + mask.width && box.y + box.height > mask.y + mask.height)
        #expect(c.tiles[0].label == "t")
    }

    /// A stack the analysis already cropped (particle near its edges, crop origin elsewhere) crops to
    /// at most its frame and still keeps the whole particle; one cropped with a wide margin comes out
    /// the same as the full frame's crop.
    @Test func alreadyCroppedStacksWorkToo() throws {
        let full = Self.frame(width: 256, height: 256, cx: 128, cy: 120, a: 44, b: 29)
        let fullCrop = ImageMontage(tiles: [full], norm: ColourNorm(lower: 0, upper: 1), colormap: .viridis, pixelSizeMicrometres: 0.0347).croppedToParticle()
        let mask = try #require(full.finiteBounds)
        let tight = full.cropped(to: mask.expanded(by: 1, frameWidth: 256, frameHeight: 256))
        let tightCrop = ImageMontage(tiles: [tight], norm: ColourNorm(lower: 0, upper: 1), colormap: .viridis, pixelSizeMicrometres: 0.0347).croppedToParticle()
        #expect(tightCrop.tiles[0].width <= tight.width && tightCrop.tiles[0].height <= tight.height)
        #expect(Self.finiteCount(tightCrop.tiles[0]) == Self.finiteCount(full))
        let wide = full.cropped(to: mask.expanded(by: 30, frameWidth: 256, frameHeight: 256))
        let wideCrop = ImageMontage(tiles: [wide], norm: ColourNorm(lower: 0, upper: 1), colormap: .viridis, pixelSizeMicrometres: 0.0347).croppedToParticle()
        #expect(wideCrop.tiles[0].width == fullCrop.tiles[0].width && wideCrop.tiles[0].height == fullCrop.tiles[0].height)
        #expect(wideCrop.tiles[0].pixels.elementsEqual(fullCrop.tiles[0].pixels) { $0 == $1 || ($0.isNaN && $1.isNaN) })
    }

    @Test func tilesWithNoParticleAreLeftAsTheyAre() {
        let empty = ImageTile(width: 8, height: 4, pixels: [Float](repeating: .nan, count: 32))
        let m = ImageMontage(tiles: [empty], norm: ColourNorm(lower: 0, upper: 1), colormap: .viridis, pixelSizeMicrometres: 0.1)
        #expect(m.particleBox() == nil)
        #expect(m.croppedToParticle().tiles[0].width == 8)
    }
}
