import Rig
import RigDrivers
import Testing

@Test func sixteenBitGigEFrameIDsUnwrapAcrossTheSkippedZero() {
    var u = FrameIDUnwrapper(sixteenBitGigE: true)
    #expect(u.next(65_534) == (65_534, 0))
    #expect(u.next(65_535) == (65_535, 0))
    #expect(u.next(1) == (65_536, 0), "0 is never sent: 65535 → 1 is one step")
    #expect(u.next(2) == (65_537, 0))
    #expect(u.next(5) == (65_540, 2), "ids 3 and 4 never arrived")
    // A gap across the wrap: 65535 → 2 skips only id 1.
    var w = FrameIDUnwrapper(sixteenBitGigE: true)
    _ = w.next(65_535)
    #expect(w.next(2) == (65_537, 1))
}

@Test func sixtyFourBitFrameIDsCountGapsAndSurviveARestart() {
    var u = FrameIDUnwrapper(sixteenBitGigE: false)
    #expect(u.next(100) == (100, 0))
    #expect(u.next(101) == (101, 0))
    #expect(u.next(104) == (104, 2))
    #expect(u.next(1) == (105, 0), "a device restart continues the unwrapped count without a false gap")
    #expect(u.next(1) == (105, 0), "a repeated id is the same frame")
}

@Test func roiRoundsDownOntoTheDevicesIncrements() {
    #expect(ROIRounding.roundDown(257, min: 16, increment: 16) == 256)
    #expect(ROIRounding.roundDown(255, min: 16, increment: 16) == 240)
    #expect(ROIRounding.roundDown(833, min: 0, increment: 2) == 832)
    #expect(ROIRounding.roundDown(10, min: 16, increment: 16) == 16, "never below the minimum")
    #expect(ROIRounding.roundDown(101, min: 1, increment: 1) == 101)
    #expect(ROIRounding.roundDown(30, min: 8, increment: 4) == 28, "the grid starts at the minimum")
}

@Test func mono8IsWidenedAndMono16CopiedUnchanged() {
    let bytes: [UInt8] = [0, 1, 127, 255]
    var out = [UInt16](repeating: 9, count: 4)
    bytes.withUnsafeBytes { b in out.withUnsafeMutableBufferPointer { AravisPixelLayout.mono8.convert(b.baseAddress!, count: 4, into: $0.baseAddress!) } }
    #expect(out == [0, 1, 127, 255])
    let words: [UInt16] = [0, 4095, 65_535, 32]
    words.withUnsafeBytes { b in out.withUnsafeMutableBufferPointer { AravisPixelLayout.mono16.convert(b.baseAddress!, count: 4, into: $0.baseAddress!) } }
    #expect(out == words)
    #expect(AravisPixelLayout.mono16.pfnc == 0x0110_0007 && AravisPixelLayout.mono8.pfnc == 0x0108_0001)
    #expect(AravisPixelLayout.mono12.isNative16 && !AravisPixelLayout.mono8.isNative16)
}
