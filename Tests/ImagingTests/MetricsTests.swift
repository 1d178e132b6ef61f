import Foundation
import Testing
@testable import Imaging

@Test func totalContrastIsSeedEquationOneWithNaNOutsideTheMask() {
    let reference = BinnedFrame(width: 2, height: 2, pixels: [100, 200, 400, 50])
    let frame = BinnedFrame(width: 2, height: 2, pixels: [110, 190, 400, 99])
    let mask = Mask(width: 2, height: 2, bits: [true, true, true, false])
    let c = ContrastMetrics.totalContrast(frame, reference: reference, mask: mask)
    #expect(abs(c.pixels[0] - 0.1) < 1e-6 && abs(c.pixels[1] + 0.05) < 1e-6 && c.pixels[2] == 0 && c.pixels[3].isNaN)
    let m = ContrastMetrics.meanAndStandardDeviation(c, mask: mask)
    #expect(abs(m.mean - 0.05 / 3) < 1e-7)
    #expect(abs(ContrastMetrics.normalisedIntensityChange(c, mask: mask) - m.mean) < 1e-12)
}

@Test func lineProfileAveragesAcrossItsWidth() {
    var f = BinnedFrame(width: 20, height: 10, repeating: 0)
    for y in 0..<10 { for x in 0..<20 { f[x, y] = Float(x) + (y == 5 ? 3 : 0) } }
    let thin = ContrastMetrics.lineProfile(f, from: (2, 4), to: (12, 4), widthPixels: 1)
    #expect(thin.count == 11 && thin[0].value == 2 && thin[10].value == 12)
    let wide = ContrastMetrics.lineProfile(f, from: (2, 4), to: (12, 4), widthPixels: 3)
    #expect(abs(wide[3].value - (5 + 1)) < 1e-6)  // rows 3, 4, 5 → +3 on one row of three
    let diagonal = ContrastMetrics.lineProfile(f, from: (0, 0), to: (6, 8), widthPixels: 1, stepPixels: 5)
    #expect(diagonal.count == 3 && abs(diagonal[1].value - 3) < 1e-5)
}

@Test func diskMeanAveragesWithinTheRadius() {
    var f = BinnedFrame(width: 21, height: 21, repeating: 10)
    f[10, 10] = 10 + 29  // 29 pixels lie within r ≤ 3 of the centre
    #expect(abs(ContrastMetrics.diskMean(f, centre: (10, 10), radiusPixels: 3) - 11) < 1e-9)
}

@Test func sdcDropIsPlacedAtTheChangeIntervalMidpoint() {
    // Idealised seed Fig. S12 shape: flat while a front moves, a linear fall over `lag` frames after
    // it reaches the centre at frame 100, then flat; SDC values belong to interval midpoints.
    let lag = 30
    let times = (0..<300).map { Double($0) * 2 }
    let std = (0..<300).map { k -> Double in
        if k < lag { return .nan }
        if k < 100 { return 0.01 }
        if k < 100 + lag { return 0.01 * (1 - Double(k - 100) / Double(lag)) + 0.001 }
        return 0.001
    }
    let drop = ContrastMetrics.sdcDropTime(timesSeconds: times, sdcStandardDeviation: std, lagFrames: lag)
    #expect(drop != nil && abs(drop! - 200) < 6)
    #expect(ContrastMetrics.sdcDropTime(timesSeconds: times, sdcStandardDeviation: times.map { _ in 0.01 }, lagFrames: lag) == nil)
}

@Test func binnerAveragesAndKeepsTimeWhenAnExposureIsDropped() throws {
    var binner = try TemporalBinner(framesPerBin: 20, exposureIntervalSeconds: 0.1)
    var bins: [TimedFrame] = []
    for n in 0..<60 where n != 25 {  // exposure 25 lost
        bins += binner.add(RawFrame(width: 2, height: 1, pixels: [UInt16(n), 7]), sequenceNumber: n)
    }
    bins += binner.finish()
    #expect(bins.count == 3)
    #expect(bins.map(\.exposures) == [20, 19, 20])
    #expect(abs(bins[1].startSeconds - 2.0) < 1e-12 && abs(bins[2].startSeconds - 4.0) < 1e-12)
    let mean1 = Float((20..<40).filter { $0 != 25 }.reduce(0, +)) / 19
    #expect(abs(bins[1].frame.pixels[0] - mean1) < 1e-5 && bins[1].frame.pixels[1] == 7)
}

@Test func binnerEmitsAnEmptyMarkedBinWhenAWholeBinIsLost() throws {
    var binner = try TemporalBinner(framesPerBin: 20, exposureIntervalSeconds: 0.5)
    var bins: [TimedFrame] = []
    for n in [0, 1, 2, 45, 46] { bins += binner.add(BinnedFrame(width: 1, height: 1, pixels: [1]), sequenceNumber: n) }
    bins += binner.finish()
    #expect(bins.map(\.index) == [0, 1, 2])
    #expect(bins.map(\.exposures) == [3, 0, 2])
    #expect(bins[1].frame.pixels[0].isNaN && bins[2].startSeconds == 20)
    #expect(throws: ImagingError.self) { try TemporalBinner(framesPerBin: 0, exposureIntervalSeconds: 1) }
}
