import CDeflate
import Foundation
import Testing
@testable import Imaging

/// Inflates one zlib stream with libdeflate (the library libtiff decodes deflate TIFFs with); nil
/// unless it is a valid stream of exactly `size` bytes whose Adler-32 matches.
private func inflate(_ stream: [UInt8], size: Int) -> [UInt8]? {
    let d = libdeflate_alloc_decompressor()!
    defer { libdeflate_free_decompressor(d) }
    var out = [UInt8](repeating: 0, count: size)
    var got = 0
    let result = stream.withUnsafeBytes { s in
        out.withUnsafeMutableBytes { o in libdeflate_zlib_decompress(d, s.baseAddress, s.count, o.baseAddress, size, &got) }
    }
    return result == LIBDEFLATE_SUCCESS && got == size ? out : nil
}

/// libdeflate's own zlib stream at the writer's level, for sizes to compare with.
private func libdeflateSize(_ bytes: [UInt8]) -> Int {
    let c = libdeflate_alloc_compressor(Int32(TIFFStackWriter.deflateLevel))!
    defer { libdeflate_free_compressor(c) }
    var out = [UInt8](repeating: 0, count: libdeflate_zlib_compress_bound(c, bytes.count))
    return bytes.withUnsafeBytes { i in out.withUnsafeMutableBytes { o in libdeflate_zlib_compress(c, i.baseAddress, i.count, o.baseAddress, o.count) } }
}

/// A contrast image as the analysis writes it: noise of σ 0.004 inside an ellipse, NaN outside
/// (also the interop test's pages).
func contrastPage(width: Int, height: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<(width * height)).map { i in
        let x = Double(i % width - width / 2) / Double(width / 2 - 16), y = Double(i / width - height / 2) / Double(height / 2 - 16)
        return x * x + y * y > 1 ? .nan : Float(0.004 * rng.nextGaussian())
    }
}

private func bytes(_ floats: [Float]) -> [UInt8] { floats.withUnsafeBytes { Array($0) } }

/// Every stream RunDeflate writes inflates to its input exactly: contrast images, all-NaN and all-zero
/// pages, runs of every length around deflate's 258-byte limit, runs broken one byte short, and runs
/// at the very end; it declines input it cannot shrink and input too short to pay for its header.
@Test func runDeflateStreamsInflateToTheirInputExactly() throws {
    var cases: [(String, [UInt8])] = []
    cases.append(("contrast 120×91", bytes(contrastPage(width: 120, height: 91, seed: 1))))
    cases.append(("all NaN 64×64", bytes([Float](repeating: .nan, count: 64 * 64))))
    cases.append(("all zero 256×16", [UInt8](repeating: 0, count: 256 * 16 * 4)))
    // Runs of 3…520 repeated floats between noise, and runs that break one byte early.
    var rng = SplitMix64(seed: 5)
    var mixed: [UInt8] = []
    for run in [1, 2, 3, 4, 5, 62, 64, 65, 66, 67, 68, 128, 129, 130, 131, 260, 261] {
        for _ in 0..<24 { mixed.append(UInt8(truncatingIfNeeded: rng.next())) }
        let pattern = (0..<4).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for _ in 0..<run { mixed += pattern }
        mixed.append(pattern[0] ^ 1)
    }
    mixed += [UInt8](repeating: 0x7F, count: 300)   // a run to the very end
    cases.append(("runs", mixed))
    for (name, input) in cases {
        var runs = RunDeflate()
        var stream: [UInt8] = [0xAA]   // appended after what is there
        let compressed = input.withUnsafeBytes { runs.compress($0, appendingTo: &stream) }
        #expect(compressed, "\(name): declined")
        guard compressed else { continue }
        #expect(stream.first == 0xAA)
        let inflated = inflate(Array(stream.dropFirst()), size: input.count)
        #expect(inflated == input, "\(name): does not inflate to its input")
        print("RunDeflate \(name): \(input.count) → \(stream.count - 1) B (libdeflate level \(TIFFStackWriter.deflateLevel): \(libdeflateSize(input)) B)")
    }
    // Incompressible bytes, and a page of 20 floats: declined, nothing appended.
    var noise = [UInt8](repeating: 0, count: 8192)
    for i in noise.indices { noise[i] = UInt8(truncatingIfNeeded: rng.next()) }
    for input in [noise, bytes([Float](repeating: 1, count: 20))] {
        var runs = RunDeflate()
        var stream: [UInt8] = []
        #expect(!input.withUnsafeBytes { runs.compress($0, appendingTo: &stream) } && stream.isEmpty)
    }
}

/// On the analysis's own contrast images RunDeflate's files are as small as libdeflate's at the
/// writer's level (within 2 %), so compressing them faster costs no disk (issue 17).
@Test func runDeflateIsAsSmallAsLibdeflateOnContrastImages() {
    var runs = RunDeflate()
    var ours = 0, theirs = 0
    for seed in 0..<8 as Range<UInt64> {
        let page = bytes(contrastPage(width: 120, height: 91, seed: seed))
        var stream: [UInt8] = []
        #expect(page.withUnsafeBytes { runs.compress($0, appendingTo: &stream) })
        ours += stream.count
        theirs += libdeflateSize(page)
    }
    print("contrast images, 8 pages: RunDeflate \(ours) B, libdeflate \(theirs) B (\(String(format: "%.3f", Double(ours) / Double(theirs))))")
    #expect(Double(ours) <= 1.02 * Double(theirs))
    #expect(Double(ours) < 0.45 * Double(8 * 120 * 91 * 4), "compresses the NaN and the noise's exponent bytes")
}

/// Deflate allows codes of at most 15 bits (7 for the code-length code): frequencies growing like
/// Fibonacci numbers make an unlimited Huffman code ~30 deep; the limited one keeps the Kraft sum at
/// exactly 1 (a complete code) and gives no rarer symbol a shorter code than a more frequent one.
@Test func huffmanCodeLengthsAreLimitedAndComplete() {
    var fib = [1, 1]
    while fib.count < 30 { fib.append(fib[fib.count - 1] + fib[fib.count - 2]) }
    for (frequencies, limit) in [(fib + [Int](repeating: 0, count: 256) + [5], 15), (Array(fib.prefix(19)), 7), ([0, 0, 9, 0], 15), ([0, 0, 0], 7)] {
        var lengths = [UInt8](repeating: 0, count: frequencies.count)
        HuffmanCode.lengths(frequencies, limit: limit, into: &lengths)
        let used = lengths.filter { $0 > 0 }
        #expect(used.count >= 2 && used.allSatisfy { Int($0) <= limit }, "\(lengths)")
        let kraft = used.reduce(0.0) { $0 + pow(2, -Double($1)) }
        #expect(kraft == 1, "Kraft sum \(kraft)")
        for a in frequencies.indices where frequencies[a] > 0 {
            for b in frequencies.indices where frequencies[b] > frequencies[a] { #expect(lengths[b] <= lengths[a]) }
        }
        var codes = [UInt16](repeating: 0, count: frequencies.count)
        HuffmanCode.codes(lengths, into: &codes)
        // Prefix-free: no code is the start of another (compared in reading order, bit-reversed back).
        func bitsOf(_ s: Int) -> String { String((0..<Int(lengths[s])).map { (codes[s] >> $0) & 1 == 1 ? "1" : "0" }) }
        let words = frequencies.indices.filter { lengths[$0] > 0 }.map(bitsOf)
        for (i, u) in words.enumerated() { for (j, v) in words.enumerated() where i != j { #expect(!v.hasPrefix(u)) } }
    }
}
