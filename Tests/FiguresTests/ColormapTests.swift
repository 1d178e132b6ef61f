import Testing
@testable import Figures

@Suite struct ColormapTests {
    @Test func divergingMapIsWhiteAtZero() {
        let norm = ColourNorm.centred(at: 0, halfRange: 0.1)
        let c = Colormap.blueWhiteRed.colour(at: norm.normalise(0))
        #expect(c.bytes == (255, 255, 255))
    }

    @Test func divergingEndsAreSaturatedBlueAndRed() {
        let norm = ColourNorm.centred(at: 0, halfRange: 0.1)
        let lo = Colormap.blueWhiteRed.colour(at: norm.normalise(-0.1))
        let hi = Colormap.blueWhiteRed.colour(at: norm.normalise(0.5))  // clipped to the top end
        #expect(lo.blue > 0.3 && lo.red < 0.05 && lo.blue > 3 * lo.red)
        #expect(hi.red > 0.35 && hi.blue < 0.15 && hi.red > 3 * hi.blue)
        // Positive contrast is red, negative blue (seed Fig. 2B caption).
        #expect(Colormap.blueWhiteRed.colour(at: norm.normalise(0.05)).red > Colormap.blueWhiteRed.colour(at: norm.normalise(0.05)).blue)
        #expect(Colormap.blueWhiteRed.colour(at: norm.normalise(-0.05)).blue > Colormap.blueWhiteRed.colour(at: norm.normalise(-0.05)).red)
    }

    @Test func viridisEndsMatchMatplotlib() {
        #expect(Colormap.viridis.colour(at: 0).bytes == (0x44, 0x01, 0x54))
        #expect(Colormap.viridis.colour(at: 1).bytes == (0xfd, 0xe7, 0x25))
        #expect(Colormap.viridis.colour(at: 0.5).bytes == (0x21, 0x91, 0x8c))
    }

    @Test func viridisLightnessIncreasesMonotonically() {
        func luma(_ c: Colour) -> Double { 0.2126 * c.red + 0.7152 * c.green + 0.0722 * c.blue }
        var last = -1.0
        for k in 0...64 {
            let l = luma(Colormap.viridis.colour(at: Double(k) / 64))
            #expect(l > last)
            last = l
        }
    }

    @Test func centredNormIsSymmetricAndKeepsNaN() {
        let n = ColourNorm.centred(covering: [-0.03, 0.07, .nan, 0.01], at: 0)
        #expect(n.lower == -n.upper)
        #expect(n.upper >= 0.07 && n.upper <= 0.1)
        #expect(n.normalise(0) == 0.5)
        #expect(n.normalise(.nan).isNaN)
        #expect(ColourNorm(lower: 2, upper: 4).normalise(3) == 0.5)
    }
}
