import Foundation
import Testing
@testable import Imaging

/// This process's folder for Imaging's test files, removed when the test process exits.
let imagingTestRoot: URL = {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("operando-imaging-tests-\(ProcessInfo.processInfo.processIdentifier)")
    atexit { try? FileManager.default.removeItem(at: imagingTestRoot) }
    return url
}()

func temporaryDirectory(_ name: String = #function) -> URL {
    let url = imagingTestRoot.appendingPathComponent(name.filter { $0.isLetter || $0.isNumber })
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Test func float32MultiPageRoundTripKeepsPixelsAndMetadata() throws {
    let path = temporaryDirectory().appendingPathComponent("f32.tif").path
    let writer = try TIFFStackWriter(path: path, sampleType: .float32, pixelSizeMicrometres: 0.0347,
                                     frameIntervalSeconds: 3.0)
    var frames: [BinnedFrame] = []
    for k in 0..<5 {
        let f = BinnedFrame(width: 7, height: 4, pixels: (0..<28).map { Float($0) * 0.25 + Float(k) - 3.5 })
        frames.append(f)
        try writer.append(f)
    }
    var nanFrame = frames[0]
    nanFrame[2, 1] = .nan
    try writer.append(nanFrame)
    try writer.close()
    let reader = try TIFFStackReader(path: path)
    #expect(reader.info.width == 7 && reader.info.height == 4 && reader.info.frameCount == 6)
    #expect(reader.info.pixelSizeMicrometres == 0.0347)  // float resolution trimmed to its 7 digits
    #expect(reader.info.frameIntervalSeconds == 3.0)
    for k in 0..<5 { #expect(try reader.readFrame(k).pixels == frames[k].pixels) }
    #expect(try reader.readFrame(5)[2, 1].isNaN)
}

@Test func bigTIFFRoundTrip() throws {
    let path = temporaryDirectory().appendingPathComponent("big.tif").path
    let writer = try TIFFStackWriter(path: path, sampleType: .float32, pixelSizeMicrometres: 0.1, bigTIFF: true)
    for k in 0..<3 { try writer.append(BinnedFrame(width: 4, height: 3, pixels: (0..<12).map { Float($0 * k) })) }
    try writer.close()
    let reader = try TIFFStackReader(path: path)
    #expect(reader.info.frameCount == 3 && abs((reader.info.pixelSizeMicrometres ?? 0) - 0.1) < 1e-6)
    #expect(try reader.readFrame(2).pixels == (0..<12).map { Float($0 * 2) })
}

@Test func uint16RoundTripRoundsAndClamps() throws {
    let path = temporaryDirectory().appendingPathComponent("u16.tif").path
    let writer = try TIFFStackWriter(path: path, sampleType: .uint16)
    try writer.append(RawFrame(width: 3, height: 2, pixels: [0, 1, 2, 65535, 1000, 7]))
    try writer.append(BinnedFrame(width: 3, height: 2, pixels: [-5, 1.4, 1.6, 70000, 1000, .nan]))
    try writer.close()
    let reader = try TIFFStackReader(path: path)
    #expect(reader.info.frameCount == 2)
    #expect(reader.info.pixelSizeMicrometres == nil)
    #expect(try reader.readFrame(0).pixels == [0, 1, 2, 65535, 1000, 7])
    #expect(try reader.readFrame(1).pixels == [0, 1, 2, 65535, 1000, 0])
}

// Fixtures written by Python tifffile (see Fixtures/README.md); never by operando itself.
func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

func ramp(t: Int, c: Int = 0, z: Int = 0, width: Int = 6, height: Int = 5) -> [Float] {
    var values: [Float] = []
    for y in 0..<height { for x in 0..<width { values.append(Float(1000 * t + 100 * c + 10 * z + 3 * y + x)) } }
    return values
}

@Test func readsImageJHyperstackFromTifffileAsTimeSeries() throws {
    let reader = try TIFFStackReader(path: fixture("imagej_hyperstack_u16.tif"))
    #expect(reader.info.frameCount == 4)
    #expect(reader.info.width == 6 && reader.info.height == 5)
    #expect(abs((reader.info.pixelSizeMicrometres ?? 0) - 0.0347) < 1e-6)
    #expect(reader.info.frameIntervalSeconds == 2.5)
    for t in 0..<4 { #expect(try reader.readFrame(t).pixels == ramp(t: t)) }
}

@Test func readsContiguousBigEndianImageJStackWithOneIFD() throws {
    let reader = try TIFFStackReader(path: fixture("imagej_contiguous_u16_be.tif"))
    #expect(reader.info.frameCount == 5 && reader.info.frameIntervalSeconds == 0.5)
    for t in [0, 1, 4] { #expect(try reader.readFrame(t).pixels == ramp(t: t)) }
}

@Test func readsOMETIFFFromTifffileWithUnitConversion() throws {
    let reader = try TIFFStackReader(path: fixture("ome_float32.ome.tif"))
    #expect(reader.info.frameCount == 4)
    #expect(abs((reader.info.pixelSizeMicrometres ?? 0) - 0.0347) < 1e-9)
    #expect(reader.info.frameIntervalSeconds == 1.5)
    #expect(try reader.readFrame(3).pixels == ramp(t: 3).map { $0 + 0.5 })
}

@Test func readsPlainAndTiledCompressedPages() throws {
    let plain = try TIFFStackReader(path: fixture("plain_u8.tif"))
    #expect(plain.info.frameCount == 4 && plain.info.pixelSizeMicrometres == nil)
    #expect(try plain.readFrame(2).pixels == ramp(t: 2).map { Float(Int($0) % 256) })
    let tiled = try TIFFStackReader(path: fixture("tiled_i32_deflate.tif"))
    #expect(tiled.info.frameCount == 4)
    #expect(try tiled.readFrame(1).pixels == ramp(t: 1).map { $0 - 5 })
}

@Test func refusesColourTIFFNamingTheFile() throws {
    let path = fixture("rgb_u8.tif")
    let reader = try TIFFStackReader(path: path)
    #expect {
        _ = try reader.readFrame(0)
    } throws: { error in
        guard let e = error as? ImagingError, case .unsupportedTIFF = e else { return false }
        return e.description.contains("rgb_u8.tif") && e.description.contains("grayscale")
    }
}

@Test func missingAndNonTIFFFilesGiveErrorsNamingThem() throws {
    #expect(throws: ImagingError.cannotOpen(path: "/nonexistent/stack.tif", reason: "no such file")) {
        _ = try TIFFStackReader(path: "/nonexistent/stack.tif")
    }
    let text = temporaryDirectory().appendingPathComponent("notatiff.tif")
    try "hello".write(to: text, atomically: true, encoding: .utf8)
    #expect { _ = try TIFFStackReader(path: text.path) } throws: { error in
        (error as? ImagingError)?.description.contains("notatiff.tif") == true
    }
}

/// A 200-byte little-endian TIFF whose one IFD claims `width`×`height` 32-bit float pixels in one
/// 16-byte strip: a header that lies about its size (issue 11: a 16 KB TIFF claiming 100000×100000).
private func lyingTIFF(width: UInt32, height: UInt32, compression: UInt16 = 1) -> [UInt8] {
    var b: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0]
    func u16(_ v: UInt16) { b += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func u32(_ v: UInt32) { b += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }
    let entries: [(UInt16, UInt16, UInt32)] = [(256, 4, width), (257, 4, height), (258, 3, 32), (259, 3, UInt32(compression)), (262, 3, 1),
                                               (273, 4, 200), (277, 3, 1), (278, 4, height), (279, 4, 16), (339, 3, 3)]
    u16(UInt16(entries.count))
    for (tag, type, value) in entries { u16(tag); u16(type); u32(1); if type == 3 { u16(UInt16(value)); u16(0) } else { u32(value) } }
    u32(0)
    while b.count < 200 { b.append(0) }
    return b + [UInt8](repeating: 0, count: 16)
}

@Test func aHeaderClaimingMoreThanTheFileHoldsIsRefusedBeforeAnyAllocation() throws {
    let path = temporaryDirectory().appendingPathComponent("lying.tif").path
    try Data(lyingTIFF(width: 100_000, height: 100_000)).write(to: URL(fileURLWithPath: path))
    do {
        _ = try TIFFStackReader(path: path)
        Issue.record("a 216-byte file claiming 100000×100000 was opened")
    } catch let e as ImagingError {
        #expect("\(e)".contains("100000×100000"), "\(e)")
        #expect("\(e)".contains(path))
    }
    // The same header with a size the file does hold opens.
    try Data(lyingTIFF(width: 2, height: 2)).write(to: URL(fileURLWithPath: path))
    let reader = try TIFFStackReader(path: path)
    #expect(reader.info.width == 2 && reader.info.height == 2)
    #expect(try reader.readFrame(0).pixels.count == 4)
}

/// Issue 16: a compressed page decodes to more than it takes on disk, but not to more than its codec
/// can expand: a 216-byte deflate file claiming a 1 GB page is refused before allocating; one claiming
/// what deflate could hold opens, and its garbage strip is an error, not a crash.
@Test func aCompressedHeaderIsBoundedByItsCodecsLargestRatio() throws {
    let path = temporaryDirectory().appendingPathComponent("lying-deflate.tif").path
    for code: UInt16 in [8, 50000] {   // deflate (≤ 1032:1), zstd (≤ 32768:1)
        try Data(lyingTIFF(width: 16_000, height: 16_000, compression: code)).write(to: URL(fileURLWithPath: path))
        #expect(throws: ImagingError.self, "compression \(code)") { _ = try TIFFStackReader(path: path) }
    }
    // 100×100 floats (40 kB) fit 216 bytes × 1032: the header is plausible; the strip is not deflate.
    try Data(lyingTIFF(width: 100, height: 100, compression: 8)).write(to: URL(fileURLWithPath: path))
    let reader = try TIFFStackReader(path: path)
    #expect(reader.compressionCode == 8)
    #expect(throws: ImagingError.self) { _ = try reader.readFrame(0) }
}

/// Issue 16: deflate pages read back bit for bit — every uint16 value, and float32 with NaN, ±0,
/// ±infinity and subnormals — and take less room than the same pages uncompressed.
@Test func deflateStacksRoundTripBitExact() throws {
    let dir = temporaryDirectory()
    var generator = SystemRandomNumberGenerator()
    let width = 64, height = 48
    // A smooth image with noise, like a camera frame; the first row holds the special values.
    var floats = [Float](repeating: 0, count: width * height)
    for i in 0..<floats.count {
        let x = Float(i % width) / 9, y = Float(i / width) / 7
        let smooth: Float = 400 + 300 * sin(x) * cos(y)
        floats[i] = smooth + Float.random(in: -3...3, using: &generator)
    }
    let specials: [Float] = [.nan, -.nan, Float(bitPattern: 0x7FC0_1234), 0, -0.0, .infinity, -.infinity,
                             .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude]
    for (k, v) in specials.enumerated() { floats[k] = v }
    for k in 0..<(width * height / 3) where k % 5 == 0 { floats[width * 10 + k] = .nan }   // a NaN background
    // The first 2048 words span 0…65535; the rest look like a 12-bit camera's.
    var words = [UInt16](repeating: 0, count: width * height)
    for i in 0..<words.count {
        let value: Int = i < 2048 ? i * 32 + i % 32 : i % 4096 + 900
        words[i] = UInt16(value)
    }
    var sizes: [TIFFStackWriter.Compression: (Int, Int)] = [:]
    for compression in TIFFStackWriter.Compression.allCases {
        let f32 = dir.appendingPathComponent("f32-\(compression).tif").path
        let u16 = dir.appendingPathComponent("u16-\(compression).tif").path
        let fw = try TIFFStackWriter(path: f32, sampleType: .float32, pixelSizeMicrometres: 0.0347, compression: compression)
        let uw = try TIFFStackWriter(path: u16, sampleType: .uint16, pixelSizeMicrometres: 0.0347, compression: compression)
        for k in 0..<3 {
            try fw.append(BinnedFrame(width: width, height: height, pixels: floats.map { $0.isFinite ? $0 + Float(k) : $0 }))
            try uw.append(RawFrame(width: width, height: height, pixels: words.map { $0 &+ UInt16(k) }))
        }
        try fw.close(); try uw.close()
        let fr = try TIFFStackReader(path: f32), ur = try TIFFStackReader(path: u16)
        #expect(fr.compressionCode == (compression == .deflate ? 8 : 1) && ur.compressionCode == fr.compressionCode)
        #expect(fr.info.frameCount == 3 && ur.info.frameCount == 3 && fr.info.pixelSizeMicrometres == 0.0347)
        for k in 0..<3 {
            let expected = floats.map { ($0.isFinite ? $0 + Float(k) : $0).bitPattern }
            #expect(try fr.readFrame(k).pixels.map(\.bitPattern) == expected, "\(compression) float page \(k)")
            #expect(try ur.readFrame(k).pixels == words.map { Float($0 &+ UInt16(k)) }, "\(compression) uint16 page \(k)")
        }
        func bytes(_ p: String) throws -> Int { try FileManager.default.attributesOfItem(atPath: p)[.size] as! Int }
        sizes[compression] = (try bytes(f32), try bytes(u16))
    }
    let plain = try #require(sizes[.none]), deflated = try #require(sizes[.deflate])
    #expect(plain.0 >= 3 * width * height * 4 && plain.1 >= 3 * width * height * 2)
    // Noisy float mantissas compress little (a 4-digit noise in every pixel); the 12-bit words well.
    #expect(deflated.0 < plain.0 && deflated.1 < plain.1 * 3 / 4, "\(deflated) vs \(plain)")
}

/// Issue 17: reading into the storage of a frame the caller is done with gives the same pixels as a
/// fresh read (float pages straight into it, integer pages through the reader's scratch), reuses that
/// storage instead of allocating, and a reader stepping forward over pages (as each analysis worker
/// does) reads the right ones.
@Test func readingIntoReusedStorageGivesTheSamePagesInPlace() throws {
    let dir = temporaryDirectory()
    let width = 40, height = 30
    func page(_ k: Int) -> [Float] { (0..<(width * height)).map { Float(($0 * 37 + k * 101) % 4001) } }
    for (name, type) in [("f32", TIFFStackWriter.SampleType.float32), ("u16", .uint16)] {
        for compression in TIFFStackWriter.Compression.allCases {
            let path = dir.appendingPathComponent("\(name)-\(compression).tif").path
            let writer = try TIFFStackWriter(path: path, sampleType: type, compression: compression)
            for k in 0..<6 { try writer.append(BinnedFrame(width: width, height: height, pixels: page(k))) }
            try writer.close()
            let fresh = try TIFFStackReader(path: path), reusing = try TIFFStackReader(path: path)
            var storage: [Float] = []
            var lastAddress: UnsafeRawPointer? = nil
            for k in [0, 1, 2, 4, 5] {   // page 3 skipped: the reader steps over it
                let frame = try reusing.readFrame(k, into: &storage)
                #expect(storage.isEmpty)
                let expected = try fresh.readFrame(k).pixels
                #expect(frame.pixels == page(k) && frame.pixels == expected, "\(name) \(compression) page \(k)")
                let address = frame.pixels.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) }
                if k > 0 { #expect(address == lastAddress, "\(name) \(compression): page \(k) decoded into the storage given back") }
                lastAddress = address
                storage = frame.pixels
            }
            // A page of another size than the storage still reads right (the storage is resized).
            var small: [Float] = [1, 2, 3]
            let resized = try reusing.readFrame(3, into: &small)
            #expect(resized.pixels == page(3))
        }
    }
}

/// Issue 17: pages are written in strips of about `TIFFStackWriter.stripBytes`, and a reader asked
/// for a band of rows decodes only the strips holding it: those rows equal the whole page's, the
/// others are NaN. A page in one strip is decoded whole whatever the band.
@Test func aRowBandDecodesOnlyTheStripsThatHoldIt() throws {
    let dir = temporaryDirectory()
    let width = 256, height = 200
    #expect(TIFFStackWriter.rowsPerStrip(width: width, height: height, bytesPerSample: 4) == 16)
    #expect(TIFFStackWriter.rowsPerStrip(width: width, height: height, bytesPerSample: 2) == 32)
    #expect(TIFFStackWriter.rowsPerStrip(width: 40, height: 30, bytesPerSample: 4) == 30)
    #expect(TIFFStackWriter.rowsPerStrip(width: 128, height: 128, bytesPerSample: 4) == 128)   // 64 KB: one strip
    #expect(TIFFStackWriter.rowsPerStrip(width: 20_000, height: 10, bytesPerSample: 4) == 1)
    func pixels(_ k: Int) -> [Float] { (0..<(width * height)).map { i in Float((i * 7919 + k * 104_729) % 60_000) } }
    for type in [TIFFStackWriter.SampleType.float32, .uint16] {
        let path = dir.appendingPathComponent("bands-\(type).tif").path
        let writer = try TIFFStackWriter(path: path, sampleType: type)
        for k in 0..<3 { try writer.append(BinnedFrame(width: width, height: height, pixels: pixels(k))) }
        try writer.close()
        let reader = try TIFFStackReader(path: path)
        var storage: [Float] = []
        for k in [0, 2, 1] {
            let whole = try reader.readFrame(k)
            #expect(whole.pixels == pixels(k))
            // Rows 40..<50 lie in the strips of rows 32..<48 and 48..<64 (float) or 32..<64 (uint16).
            let band = try reader.readFrame(k, into: &storage, rows: 40..<50)
            for y in 0..<height {
                let row = Array(band.pixels[(y * width)..<((y + 1) * width)])
                if (32..<64).contains(y) {
                    #expect(row == Array(whole.pixels[(y * width)..<((y + 1) * width)]), "row \(y) of page \(k)")
                } else {
                    let blank = row.allSatisfy { $0.isNaN }
                    #expect(blank, "row \(y) of page \(k) should not be decoded")
                }
            }
            storage = band.pixels
        }
        // The last, short strip (rows 192..<200) and a band reaching past the page.
        let tail = try reader.readFrame(0, into: &storage, rows: 197..<400)
        #expect(Array(tail.pixels[(192 * width)...]) == Array(pixels(0)[(192 * width)...]))
        #expect(tail.pixels[(191 * width)].isNaN)
    }
    // One strip per page: the band changes nothing.
    let small = dir.appendingPathComponent("one-strip.tif").path
    let writer = try TIFFStackWriter(path: small, sampleType: .float32)
    let values = (0..<(40 * 30)).map { Float($0) }
    try writer.append(BinnedFrame(width: 40, height: 30, pixels: values))
    try writer.close()
    var storage: [Float] = []
    #expect(try TIFFStackReader(path: small).readFrame(0, into: &storage, rows: 3..<4).pixels == values)
}

/// Issue 17: a page compressed ahead by `TIFFPageEncoder` (the analysis does it on its workers) and
/// written with `append(_: EncodedPage)` gives the very file `append(_: BinnedFrame)` writes — in
/// one strip (a contrast crop) and in many (a full frame) — and a writer of another kind refuses it.
@Test func pagesEncodedAheadWriteTheSameFileAsTheWriter() throws {
    let dir = temporaryDirectory()
    let encoder = TIFFPageEncoder(runDeflate: false)
    let runs = TIFFPageEncoder()
    var page = EncodedPage(), runPage = EncodedPage()
    for (width, height) in [(120, 91), (256, 256)] {
        let frames = (0..<3).map { k in
            BinnedFrame(width: width, height: height, pixels: (0..<(width * height)).map { i in
                let x = i % width - width / 2, y = i / width - height / 2
                return x * x + y * y > (height / 3) * (height / 3) ? .nan : Float(k) * 0.01 + Float((i * 7919) % 1000) * 1e-5
            })
        }
        let plain = dir.appendingPathComponent("plain-\(width).tif").path, ahead = dir.appendingPathComponent("ahead-\(width).tif").path
        let viaRuns = dir.appendingPathComponent("runs-\(width).tif").path
        let a = try TIFFStackWriter(path: plain, sampleType: .float32, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 3)
        let b = try TIFFStackWriter(path: ahead, sampleType: .float32, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 3)
        let c = try TIFFStackWriter(path: viaRuns, sampleType: .float32, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 3)
        for f in frames {
            try a.append(f)
            encoder.encode(f, into: &page)
            try b.append(page)
            runs.encode(f, into: &runPage)
            try c.append(runPage)
        }
        for w in [a, b, c] { w.displayRange = (-0.1, 0.1); try w.close() }
        #expect(page.byteCount > 0 && page.byteCount < width * height * 4)
        #expect(try Data(contentsOf: URL(fileURLWithPath: plain)) == Data(contentsOf: URL(fileURLWithPath: ahead)), "\(width)×\(height)")
        #expect(try TIFFStackReader(path: ahead).readFrame(2).pixels.map(\.bitPattern) == frames[2].pixels.map(\.bitPattern))
        // Through RunDeflate: other bytes, the same pixels on every page, in the same strips. (This
        // pattern repeats every 1,000 pixels: libdeflate finds those matches, RunDeflate looks only
        // for runs, so here it is larger; on contrast images it is not, RunDeflateTests.)
        let reader = try TIFFStackReader(path: viaRuns)
        for k in 0..<3 { #expect(try reader.readFrame(k).pixels.map(\.bitPattern) == frames[k].pixels.map(\.bitPattern)) }
        #expect(runPage.stripEnds.count == page.stripEnds.count && runPage.byteCount < width * height * 4)
        #expect(try Data(contentsOf: URL(fileURLWithPath: viaRuns)) != Data(contentsOf: URL(fileURLWithPath: plain)))
    }
    let words = try TIFFStackWriter(path: dir.appendingPathComponent("u16.tif").path, sampleType: .uint16)
    #expect(throws: ImagingError.self) { try words.append(page) }
    try words.close()
}
