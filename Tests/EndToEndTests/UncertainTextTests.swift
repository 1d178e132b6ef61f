import Testing
@testable import operando

// Issue 16 item 8: an uncertainty is printed with significant digits, never "± 0.0000".

@Test func uncertaintiesKeepTheirSignificantDigits() {
    #expect(Uncertain.text(1.9922, 0.0012) == "1.9922 ± 0.0012")
    #expect(Uncertain.text(1.05263, 2.3e-05) == "1.052630 ± 0.000023")
    #expect(Uncertain.text(3.5, 0.25) == "3.50 ± 0.25")
    #expect(Uncertain.text(350, 12) == "350 ± 12")
    #expect(!Uncertain.text(1.0, 2.3e-12).contains("± 0.0"))
    #expect(Uncertain.text(2.0, .nan) == "2")
}

@Test func libraryLinesGetTheCommandsLabelOnce() {
    #expect(ProgressLines.prefixed("calibrate", "calibrate: scanning 13 values") == "calibrate: scanning 13 values")
    #expect(ProgressLines.prefixed("calibrate", "mask: threshold 0.5") == "calibrate: mask: threshold 0.5")
    #expect(ProgressLines.frameCount("analyse: frame 20/100")! == (20, 100))
    #expect(ProgressLines.frameCount("analyse: mask done") == nil)
}
