import Foundation
import Testing
@testable import Imaging

/// Runs python3 with `script`, returning stdout, or nil when python3 or tifffile is missing. The
/// system's /usr/bin/python3 first (Debian's python3-tifffile, `make deps`): a python3 earlier on
/// PATH (pyenv, a venv) usually lacks tifffile, and the test would then be skipped.
func runPython(_ script: String, arguments: [String] = []) -> String? {
    let process = Process()
    let system = "/usr/bin/python3"
    if FileManager.default.isExecutableFile(atPath: system) {
        process.executableURL = URL(fileURLWithPath: system)
        process.arguments = ["-c", script] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
    }
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

/// Issue 17: pages in many strips (the last one short), float32 and uint16, deflate and
/// uncompressed, read by tifffile to the same bits; every page's IFD still lies before its pixels
/// (so no reader mistakes the pages for one contiguous ImageJ block).
@Test(.enabled(if: tifffileAvailable, "needs python3 with tifffile"))
func tifffileReadsOurStripedStacksBitExact() throws {
    let dir = temporaryDirectory()
    let width = 256, height = 200
    var paths: [String] = []
    for (type, compression) in [(TIFFStackWriter.SampleType.float32, TIFFStackWriter.Compression.deflate), (.uint16, .deflate), (.float32, .none)] {
        let path = dir.appendingPathComponent("striped-\(type)-\(compression).tif").path
        let writer = try TIFFStackWriter(path: path, sampleType: type, pixelSizeMicrometres: 0.0347, compression: compression)
        for k in 0..<2 {
            try writer.append(BinnedFrame(width: width, height: height, pixels: (0..<(width * height)).map { i in Float((i * 31 + k * 977) % 4096) }))
        }
        try writer.close()
        paths.append(path)
    }
    let script = """
    import sys, tifffile
    for p in sys.argv[1:]:
        with tifffile.TiffFile(p) as t:
            a = t.asarray()
            ok = all(page.offset < min(page.dataoffsets) for page in t.pages)
            print(a.shape, a.dtype, [len(page.dataoffsets) for page in t.pages], ok, int(a[0, 199, 255]), int(a[1, 17, 3]))
    """
    let output = try #require(runPython(script, arguments: paths), "tifffile could not read the striped stacks")
    // Page 0 at row 199, column 255: i = 51199, (51199 · 31) mod 4096 = 2017; page 1 at row 17, column 3: (4355 · 31 + 977) mod 4096 = 814.
    let expected = ["(2, 200, 256) float32 [13, 13] True 2017 814", "(2, 200, 256) uint16 [7, 7] True 2017 814",
                    "(2, 200, 256) float32 [13, 13] True 2017 814"]
    #expect(output.split(separator: "\n").map(String.init) == expected)
}

/// Issue 16: tifffile (Debian's, without imagecodecs) decodes our deflate stacks to the same bits —
/// float32 with NaN, uint16 with the horizontal predictor — and sees compression 8 on every page.
@Test(.enabled(if: tifffileAvailable, "needs python3 with tifffile"))
func tifffileReadsOurDeflateStacksBitExact() throws {
    let dir = temporaryDirectory()
    let f32 = dir.appendingPathComponent("deflate-f32.tif").path
    let u16 = dir.appendingPathComponent("deflate-u16.tif").path
    let fw = try TIFFStackWriter(path: f32, sampleType: .float32, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 3)
    let uw = try TIFFStackWriter(path: u16, sampleType: .uint16, pixelSizeMicrometres: 0.0347)
    var expectedFloat: [Float] = [], expectedWords: [UInt16] = []
    for k in 0..<4 {
        var pixels = (0..<(40 * 30)).map { i in Float(i % 40) * 1.37 + Float(i / 40) * 0.5 + Float(k) / 3 }
        for i in stride(from: k, to: pixels.count, by: 7) { pixels[i] = .nan }
        let words = (0..<(40 * 30)).map { i in UInt16((i * 977 + k * 13) % 65_536) }
        try fw.append(BinnedFrame(width: 40, height: 30, pixels: pixels))
        try uw.append(RawFrame(width: 40, height: 30, pixels: words))
        expectedFloat += pixels
        expectedWords += words
    }
    try fw.close(); try uw.close()
    let script = """
    import sys, tifffile
    for p, out in zip(sys.argv[1::2], sys.argv[2::2]):
        with tifffile.TiffFile(p) as t:
            a = t.asarray()
            print(a.shape, a.dtype, sorted({int(page.compression) for page in t.pages}), t.imagej_metadata['frames'])
            open(out, 'wb').write(a.astype(a.dtype.newbyteorder('<')).tobytes())
    """
    let fOut = dir.appendingPathComponent("f32.raw").path, uOut = dir.appendingPathComponent("u16.raw").path
    let output = try #require(runPython(script, arguments: [f32, fOut, u16, uOut]), "tifffile could not read the deflate stacks")
    #expect(output == "(4, 30, 40) float32 [8] 4\n(4, 30, 40) uint16 [8] 4\n")
    let floats = try Data(contentsOf: URL(fileURLWithPath: fOut)).withUnsafeBytes { raw in
        (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) }
    }
    let words = try Data(contentsOf: URL(fileURLWithPath: uOut)).withUnsafeBytes { raw in
        (0..<(raw.count / 2)).map { raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self) }
    }
    #expect(floats == expectedFloat.map(\.bitPattern))
    #expect(words == expectedWords)
}

/// Issue 17: contrast pages compressed by RunDeflate (the analysis's contrast.tif) are read by
/// tifffile — through Python's zlib, not libdeflate — to the same bits, in one strip and in sixteen.
@Test(.enabled(if: tifffileAvailable, "needs python3 with tifffile"))
func tifffileReadsRunDeflatePagesBitExact() throws {
    let dir = temporaryDirectory()
    let encoder = TIFFPageEncoder()
    var page = EncodedPage()
    var paths: [String] = [], expected: [[UInt32]] = []
    for (width, height) in [(120, 91), (256, 256)] {
        let path = dir.appendingPathComponent("runs-\(width).tif").path
        let writer = try TIFFStackWriter(path: path, sampleType: .float32, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 3)
        var bits: [UInt32] = []
        for k in 0..<3 {
            let pixels = contrastPage(width: width, height: height, seed: UInt64(23 + 10 * k + width))
            encoder.encode(BinnedFrame(width: width, height: height, pixels: pixels), into: &page)
            try writer.append(page)
            bits += pixels.map(\.bitPattern)
        }
        try writer.close()
        paths += [path, path + ".raw"]
        expected.append(bits)
    }
    let script = """
    import sys, tifffile
    for p, out in zip(sys.argv[1::2], sys.argv[2::2]):
        with tifffile.TiffFile(p) as t:
            a = t.asarray()
            print(a.shape, [len(page.dataoffsets) for page in t.pages][0])
            open(out, 'wb').write(a.astype('<f4').tobytes())
    """
    let output = try #require(runPython(script, arguments: paths), "tifffile could not read the RunDeflate stacks")
    #expect(output == "(3, 91, 120) 1\n(3, 256, 256) 16\n")
    for (k, raw) in [paths[1], paths[3]].enumerated() {
        let got = try Data(contentsOf: URL(fileURLWithPath: raw)).withUnsafeBytes { r in
            (0..<(r.count / 4)).map { r.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) }
        }
        #expect(got == expected[k])
    }
}
