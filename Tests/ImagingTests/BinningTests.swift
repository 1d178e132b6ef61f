import Testing
@testable import Imaging

@Test func rawExposuresAverageExactlyAndDroppedOnesLowerTheCountOnly() throws {
    var binner = try TemporalBinner(framesPerBin: 3, exposureIntervalSeconds: 0.1)
    func raw(_ v: UInt16) -> RawFrame { RawFrame(width: 4, height: 2, pixels: (0..<8).map { v &+ UInt16($0) }) }
    #expect(binner.add(raw(65000), sequenceNumber: 0).isEmpty)
    #expect(binner.add(raw(65001), sequenceNumber: 1).isEmpty)
    // Exposure 2 is dropped; exposure 3 starts bin 1.
    let done = binner.add(raw(10), sequenceNumber: 3)
    #expect(done.count == 1 && done[0].exposures == 2 && done[0].index == 0)
    for i in 0..<8 { #expect(done[0].frame.pixels[i] == Float(65000.5 + Double(i))) }
    _ = binner.add(raw(20), sequenceNumber: 4)
    let last = binner.finish()
    #expect(last.count == 1 && last[0].exposures == 2)
    for i in 0..<8 { #expect(last[0].frame.pixels[i] == Float(15 + i)) }
}

@Test func largeBinsOfFullScaleExposuresStayExact() throws {
    // 65535 exposures of 65535 counts: the UInt32 sum is exactly 65535² and the mean exactly 65535.
    var binner = try TemporalBinner(framesPerBin: 65535, exposureIntervalSeconds: 1)
    let frame = RawFrame(width: 2, height: 1, pixels: [65535, 1])
    for k in 0..<65535 { _ = binner.add(frame, sequenceNumber: k) }
    let bin = binner.finish()[0]
    #expect(bin.exposures == 65535 && bin.frame.pixels == [65535, 1])
}

@Test func floatAndRawExposuresMixAndNaNPixelsDoNotCount() throws {
    var binner = try TemporalBinner(framesPerBin: 4, exposureIntervalSeconds: 0.1)
    _ = binner.add(RawFrame(width: 2, height: 1, pixels: [100, 200]), sequenceNumber: 0)
    _ = binner.add(BinnedFrame(width: 2, height: 1, pixels: [.nan, 300]), sequenceNumber: 1)
    let bin = binner.finish()[0]
    #expect(bin.exposures == 2 && bin.frame.pixels == [100, 250])
}
