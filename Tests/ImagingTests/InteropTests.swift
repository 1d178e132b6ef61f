import Foundation
import Testing
@testable import Imaging

/// Runs python3 with `script`, returning stdout, or nil when python3 or tifffile is missing.
func runPython(_ script: String, arguments: [String] = []) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = Pipe()
    do { try process.run() } catch { return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
}

let tifffileAvailable = runPython("import tifffile") != nil

/// The other direction of the fixtures: files Imaging writes, read by tifffile (skipped where
/// python3 with tifffile is not installed).
@Test(.enabled(if: tifffileAvailable, "needs python3 with tifffile"))
func tifffileReadsOurStacksWithTheirCalibration() throws {
    let dir = temporaryDirectory()
    let f32 = dir.appendingPathComponent("contrast.tif").path
    let u16 = dir.appendingPathComponent("raw.tif").path
    let writer = try TIFFStackWriter(path: f32, sampleType: .float32, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 2.5)
    writer.displayRange = (-0.125, 0.125)
    let raw = try TIFFStackWriter(path: u16, sampleType: .uint16, pixelSizeMicrometres: 0.0347)
    for k in 0..<3 {
        var frame = BinnedFrame(width: 5, height: 4, pixels: (0..<20).map { Float($0) + Float(k) * 0.5 })
        frame[1, 1] = .nan
        try writer.append(frame)
        try raw.append(RawFrame(width: 5, height: 4, pixels: (0..<20).map { UInt16($0 * 1000 + k) }))
    }
    try writer.close()
    try raw.close()
    // Two large pages: the case tifffile would read as one contiguous block if IFDs followed data.
    let two = dir.appendingPathComponent("two.tif").path
    let pair = try TIFFStackWriter(path: two, sampleType: .float32, pixelSizeMicrometres: 0.0347)
    for k in 0..<2 { try pair.append(BinnedFrame(width: 64, height: 64, repeating: Float(k) + 7)) }
    try pair.close()
    let script = """
    import sys, tifffile, math
    for p in sys.argv[1:]:
        with tifffile.TiffFile(p) as t:
            a = t.asarray(); ij = t.imagej_metadata; s = t.series[0]
            px = 1 / (t.pages[0].tags['XResolution'].value[0] / t.pages[0].tags['XResolution'].value[1])
            print(s.axes, a.shape, a.dtype, ij['frames'], ij['unit'], ij.get('finterval'), round(px, 6), ij.get('min'), ij.get('max'),
                  a[2, 3, 4], math.isnan(a[0, 1, 1]) if a.dtype.kind == 'f' else a[0, 1, 1])
    """
    let output = try #require(runPython(script, arguments: [f32, u16]))
    let lines = output.split(separator: "\n").map(String.init)
    #expect(lines.count == 2)
    let pairOutput = runPython("import sys, tifffile; a = tifffile.imread(sys.argv[1]); print(a.shape, a[0, 5, 5], a[1, 63, 63])",
                               arguments: [two])
    #expect(pairOutput == "(2, 64, 64) 7.0 8.0\n")
    #expect(lines[0] == "TYX (3, 4, 5) float32 3 micron 2.5 0.0347 -0.125 0.125 20.0 True")
    #expect(lines[1] == "TYX (3, 4, 5) uint16 3 micron None 0.0347 0.0 0.0 19002 6000")
}
