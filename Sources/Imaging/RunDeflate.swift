// A deflate encoder for float pages that are noise inside the particle and one repeated value (NaN)
// outside it: the contrast images of the offline analysis (issue 17). The one hand-written codec in
// operando, and only an encoder: every stream it writes is plain zlib-wrapped deflate (RFC 1950/1951)
// that libtiff, libdeflate, zlib, tifffile and Fiji decode, and the tests decode them with
// libdeflate and with Python's zlib. Why not libdeflate's own compressor: at its fastest level it took
// 1.2 M instructions a 120 × 91 contrast page (27 a byte, most of them on the noise, where it finds
// nothing to match), the largest part of an analysed frame after inflating its input;
// this one takes 0.63 M, for files 0.6 % larger (3.3× smaller than the pixels either way).
import CDeflate

/// Compresses bytes into one zlib stream of one dynamic-Huffman deflate block whose only matches are
/// runs of at least 8 bytes repeating the 4 before them (distance 4: a float such as NaN or 0 repeated);
/// everything else is a Huffman-coded literal. Two passes over the input: literals and runs with
/// their frequencies, then the codes. Reuses its storage from call to call; one per thread.
public struct RunDeflate {
    /// Bytes a run must span (past the 4 it repeats) to be coded as matches.
    static let minimumRun = 8
    /// Token stream: a literal byte (< 256) or 256 + match length (3…258); never more tokens than bytes.
    private var tokens: [UInt16] = []
    private var frequencies = [Int](repeating: 0, count: 286)
    private var lengths = [UInt8](repeating: 0, count: 286)
    private var codes = [UInt16](repeating: 0, count: 286)
    /// Per token: the bits it is written as | their count << 32 (a literal: its code; a match: the
    /// length code, its extra bits and the distance code).
    private var words = [UInt64](repeating: 0, count: 256 + 259)
    /// The last input's matches' extra bits and distance-code bits.
    private var matchExtraBits = 0

    public init() {}

    /// Length code (257…285), its extra bits and their value for each match length 3…258.
    private static let lengthCodes: [(code: UInt16, extraBits: UInt8, extra: UInt16)] = {
        let bases = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        let extra: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        var table = [(code: UInt16, extraBits: UInt8, extra: UInt16)](repeating: (0, 0, 0), count: 259)
        for length in 3...258 {
            var c = bases.count - 1
            while bases[c] > length { c -= 1 }
            table[length] = (UInt16(257 + c), extra[c], UInt16(length - bases[c]))
        }
        return table
    }()

    /// Appends the zlib stream of `input` to `output`; false (appending nothing) where
    /// ``compress(_:into:)`` declines.
    public mutating func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) -> Bool {
        var scratch = [UInt8](repeating: 0, count: input.count + 16)
        guard let count = scratch.withUnsafeMutableBytes({ compress(input, into: $0) }) else { return false }
        output += scratch[0..<count]
        return true
    }

    /// Writes the zlib stream of `input` at the start of `destination` and returns its size; nil
    /// (the stream would not be smaller than `input`, `input` is too short to pay for the block's
    /// code tables — under 512 bytes — or `destination` is too small) so the caller stores it
    /// otherwise. The stream needs at most `input.count` bytes, and a store may touch up to 4 bytes
    /// past its end.
    public mutating func compress(_ input: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        let n = input.count
        guard n >= 512 else { return nil }
        let lengthCodes = Self.lengthCodes
        let tokenCount = tokenize(input, lengthCodes: lengthCodes)
        HuffmanCode.lengths(frequencies, limit: 15, into: &lengths)
        HuffmanCode.codes(lengths, into: &codes)
        // Matches' extra bits and one-bit distance codes, then every symbol's code.
        var payloadBits = matchExtraBits
        let (codes, lengths) = (self.codes, self.lengths)
        for s in 0..<286 { payloadBits += frequencies[s] * Int(lengths[s]) }
        codes.withUnsafeBufferPointer { codes in
            lengths.withUnsafeBufferPointer { lengths in
                lengthCodes.withUnsafeBufferPointer { lengthCodes in
                    words.withUnsafeMutableBufferPointer { w in
                        for b in 0..<256 { w[b] = UInt64(codes[b]) | UInt64(lengths[b]) << 32 }
                        for length in 3...258 {
                            let m = lengthCodes[length]
                            let c = Int(m.code), l = UInt64(lengths[c]), e = UInt64(m.extraBits)
                            // Length code, its extra bits, then distance code 3 (the one-bit code 1).
                            w[256 + length] = (UInt64(codes[c]) | UInt64(m.extra) << l | 1 << (l + e)) | (l + e + 1) << 32
                        }
                    }
                }
            }
        }
        // The zlib header and trailer (6 bytes), the block header (57 bits for HLIT…HCLEN and the
        // code-length code) and ≤ 290 code lengths of ≤ 7 bits plus repeat counts: under 400 bytes.
        guard payloadBits / 8 + 400 < n, payloadBits / 8 + 400 + 8 <= destination.count else { return nil }

        var bits = BitSink(base: destination.baseAddress!)
        bits.write(0x78, 8); bits.write(0x01, 8)   // zlib: deflate, 32 KB window, fastest level
        bits.write(1, 1)                           // BFINAL
        bits.write(2, 2)                           // BTYPE 10: dynamic Huffman
        // Two distance codes, 0 and 3 (distances 1 and 4), of one bit each: a complete code every
        // inflater accepts; only code 3 (bit 1) is used.
        writeCodeLengths(&bits, distanceLengths: [1, 0, 0, 1])
        tokens.withUnsafeBufferPointer { t in
            words.withUnsafeBufferPointer { w in Self.emit(t.baseAddress!, tokenCount, w.baseAddress!, &bits) }
        }
        bits.write(UInt64(codes[256]), UInt64(lengths[256]))
        bits.alignToByte()
        let adler = UInt32(libdeflate_adler32(1, input.baseAddress, n))
        for shift: UInt32 in [24, 16, 8, 0] { bits.write(UInt64(UInt8(truncatingIfNeeded: adler >> shift)), 8) }
        bits.alignToByte()
        return bits.position
    }

    /// Writes each token's bits (`table[token]`), with the sink's state kept in registers.
    @inline(never)
    private static func emit(_ tokens: UnsafePointer<UInt16>, _ count: Int, _ table: UnsafePointer<UInt64>, _ bits: inout BitSink) {
        var accumulator = bits.accumulator, filled = bits.filled, position = bits.position
        let base = bits.base
        for k in 0..<count {
            let word = table[Int(tokens[k])]
            accumulator |= (word & 0xFFFF_FFFF) &<< filled
            filled &+= word &>> 32
            if filled >= 32 {
                base.storeBytes(of: UInt32(truncatingIfNeeded: accumulator).littleEndian, toByteOffset: position, as: UInt32.self)
                position &+= 4
                accumulator &>>= 32
                filled &-= 32
            }
        }
        bits.accumulator = accumulator; bits.filled = filled; bits.position = position
    }

    /// Splits `input` into literals and runs that repeat the 4 bytes before them, counting each
    /// symbol; returns the number of tokens.
    private mutating func tokenize(_ input: UnsafeRawBufferPointer, lengthCodes: [(code: UInt16, extraBits: UInt8, extra: UInt16)]) -> Int {
        let n = input.count
        if tokens.count < n { tokens = [UInt16](repeating: 0, count: n) }
        let minimumRun = Self.minimumRun
        var extraBits = 0
        defer { matchExtraBits = extraBits }
        return frequencies.withUnsafeMutableBufferPointer { f in
            for s in 0..<286 { f[s] = 0 }
            f[256] = 1
            return tokens.withUnsafeMutableBufferPointer { t in
                let b = input.bindMemory(to: UInt8.self)
                var i = 0, count = 0
                // The first 4 bytes repeat nothing.
                while i < min(4, n) { f[Int(b[i])] &+= 1; t[count] = UInt16(b[i]); count &+= 1; i &+= 1 }
                // Four bytes at a time: a run starts where the 4 bytes at i repeat the 4 before them
                // (a float repeated, wherever the run began; its first 4 bytes stay literals).
                while i &+ 4 <= n {
                    if input.loadUnaligned(fromByteOffset: i, as: UInt32.self) == input.loadUnaligned(fromByteOffset: i &- 4, as: UInt32.self) {
                        var run = 4
                        while i &+ run &+ 4 <= n,
                              input.loadUnaligned(fromByteOffset: i &+ run, as: UInt32.self) == input.loadUnaligned(fromByteOffset: i &+ run &- 4, as: UInt32.self) {
                            run &+= 4
                        }
                        while i &+ run < n && b[i &+ run] == b[i &+ run &- 4] { run &+= 1 }
                        if run >= minimumRun {
                            // Pieces of at most 258, none shorter than 3 (258 + 1 or 2 goes as 257 or 256 + 3).
                            while run > 0 {
                                let piece = run > 258 ? (run &- 258 >= 3 ? 258 : run &- 3) : run
                                t[count] = 256 &+ UInt16(truncatingIfNeeded: piece); count &+= 1
                                let m = lengthCodes[piece]
                                f[Int(m.code)] &+= 1
                                extraBits &+= Int(m.extraBits) &+ 1
                                i &+= piece
                                run &-= piece
                            }
                            continue
                        }
                    }
                    let b0 = b[i], b1 = b[i &+ 1], b2 = b[i &+ 2], b3 = b[i &+ 3]
                    f[Int(b0)] &+= 1; f[Int(b1)] &+= 1; f[Int(b2)] &+= 1; f[Int(b3)] &+= 1
                    t[count] = UInt16(b0); t[count &+ 1] = UInt16(b1); t[count &+ 2] = UInt16(b2); t[count &+ 3] = UInt16(b3)
                    count &+= 4
                    i &+= 4
                }
                while i < n { f[Int(b[i])] &+= 1; t[count] = UInt16(b[i]); count &+= 1; i &+= 1 }
                return count
            }
        }
    }

    /// HLIT, HDIST, HCLEN, the code-length code's lengths and the run-length coded code lengths.
    private func writeCodeLengths(_ bits: inout BitSink, distanceLengths: [UInt8]) {
        var literalCount = 286
        while literalCount > 257 && lengths[literalCount - 1] == 0 { literalCount -= 1 }
        let all = Array(lengths[0..<literalCount]) + distanceLengths
        // Run-length code (16: repeat the previous 3–6 times, 17: 3–10 zeros, 18: 11–138 zeros).
        var symbols: [(symbol: UInt8, extra: UInt8)] = []
        var i = 0
        while i < all.count {
            let v = all[i]
            var run = 1
            while i + run < all.count && all[i + run] == v { run += 1 }
            var left = run
            if v == 0 {
                while left >= 11 { let r = min(138, left); symbols.append((18, UInt8(r - 11))); left -= r }
                if left >= 3 { symbols.append((17, UInt8(left - 3))); left = 0 }
                while left > 0 { symbols.append((0, 0)); left -= 1 }
            } else {
                symbols.append((v, 0)); left -= 1
                while left >= 3 { let r = min(6, left); symbols.append((16, UInt8(r - 3))); left -= r }
                while left > 0 { symbols.append((v, 0)); left -= 1 }
            }
            i += run
        }
        var frequencies = [Int](repeating: 0, count: 19)
        for s in symbols { frequencies[Int(s.symbol)] += 1 }
        var lengths = [UInt8](repeating: 0, count: 19), codes = [UInt16](repeating: 0, count: 19)
        HuffmanCode.lengths(frequencies, limit: 7, into: &lengths)
        HuffmanCode.codes(lengths, into: &codes)
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var codeLengthCount = 19
        while codeLengthCount > 4 && lengths[order[codeLengthCount - 1]] == 0 { codeLengthCount -= 1 }
        bits.write(UInt64(literalCount - 257), 5)
        bits.write(UInt64(distanceLengths.count - 1), 5)
        bits.write(UInt64(codeLengthCount - 4), 4)
        for k in 0..<codeLengthCount { bits.write(UInt64(lengths[order[k]]), 3) }
        for s in symbols {
            bits.write(UInt64(codes[Int(s.symbol)]), UInt64(lengths[Int(s.symbol)]))
            switch s.symbol {
            case 16: bits.write(UInt64(s.extra), 2)
            case 17: bits.write(UInt64(s.extra), 3)
            case 18: bits.write(UInt64(s.extra), 7)
            default: break
            }
        }
    }
}

/// Canonical Huffman codes for deflate: code lengths limited to a maximum, and the codes bit-reversed
/// for deflate's least-significant-bit-first packing.
enum HuffmanCode {
    /// Optimal code lengths for `frequencies`, then lengthened where they exceed `limit` (the
    /// Kraft sum kept exactly 1). Unused symbols get 0; when fewer than two symbols are used, a second
    /// one is given a length too, so the code stays complete.
    static func lengths(_ frequencies: [Int], limit: Int, into lengths: inout [UInt8]) {
        let n = frequencies.count
        for s in 0..<n { lengths[s] = 0 }
        // The used symbols sorted by frequency, ties by symbol: keys frequency << 16 | symbol.
        var keys: [Int] = []
        keys.reserveCapacity(n + 1)
        for s in 0..<n where frequencies[s] > 0 { keys.append(frequencies[s] << 16 | s) }
        if keys.isEmpty { keys = [1 << 16, 1 << 16 | 1] } else if keys.count == 1 { keys.append(1 << 16 | (keys[0] & 0xFFFF == 0 ? 1 : 0)) }
        keys.sort()
        let used = keys.map { $0 & 0xFFFF }
        let m = used.count
        // Two-queue Huffman: the leaves in order, then the inner nodes as they are made; each node's
        // depth from its parent's (parents come after their children).
        var weight = keys.map { $0 >> 16 } + [Int](repeating: 0, count: m - 1)
        var parent = [Int](repeating: -1, count: 2 * m - 1)
        var depth = [Int](repeating: 0, count: 2 * m - 1)
        weight.withUnsafeMutableBufferPointer { weight in
            parent.withUnsafeMutableBufferPointer { parent in
                var leaf = 0, inner = m, next = m
                while next < 2 * m - 1 {
                    var pair = (0, 0)
                    for k in 0..<2 {
                        let take: Int
                        if leaf < m && (inner >= next || weight[leaf] <= weight[inner]) { take = leaf; leaf += 1 } else { take = inner; inner += 1 }
                        if k == 0 { pair.0 = take } else { pair.1 = take }
                    }
                    weight[next] = weight[pair.0] + weight[pair.1]
                    parent[pair.0] = next; parent[pair.1] = next
                    next += 1
                }
                depth.withUnsafeMutableBufferPointer { depth in
                    for node in stride(from: 2 * m - 3, through: 0, by: -1) { depth[node] = depth[parent[node]] + 1 }
                }
            }
        }
        // Count the leaves at each depth, fold those deeper than the limit into it, then restore the
        // Kraft sum by moving leaves one level down from the deepest level above the limit.
        var count = [Int](repeating: 0, count: max(limit, depth.prefix(m).max() ?? 1) + 1)
        for k in 0..<m { count[depth[k]] += 1 }
        if count.count > limit + 1 {
            for d in (limit + 1)..<count.count { count[limit] += count[d]; count[d] = 0 }
            var kraft = 0
            for d in 1...limit { kraft += count[d] << (limit - d) }
            while kraft > 1 << limit {
                count[limit] -= 1
                var d = limit - 1
                while count[d] == 0 { d -= 1 }
                count[d] -= 1
                count[d + 1] += 2
                kraft -= 1
            }
        }
        // The most frequent symbols get the shortest lengths.
        var k = m - 1
        for d in 1...limit {
            for _ in 0..<count[d] { lengths[used[k]] = UInt8(d); k -= 1 }
        }
    }

    /// The canonical code of each symbol from its length (RFC 1951 3.2.2), bit-reversed.
    static func codes(_ lengths: [UInt8], into codes: inout [UInt16]) {
        var count = [Int](repeating: 0, count: 16)
        for l in lengths where l > 0 { count[Int(l)] += 1 }
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for bits in 1..<16 { code = (code + count[bits - 1]) << 1; next[bits] = code }
        for s in 0..<lengths.count {
            let l = Int(lengths[s])
            guard l > 0 else { codes[s] = 0; continue }
            var c = next[l], reversed = 0
            next[l] += 1
            for _ in 0..<l { reversed = (reversed << 1) | (c & 1); c >>= 1 }
            codes[s] = UInt16(reversed)
        }
    }
}

/// Deflate's bit packing, least significant bit first, into memory the caller has sized (each
/// 32 bits are stored as 4 bytes; a store may touch up to 4 bytes past the last one written).
struct BitSink {
    let base: UnsafeMutableRawPointer
    /// Bytes stored so far.
    var position = 0
    /// Bits not yet stored (the low `filled` bits of `accumulator`; fewer than 32).
    var accumulator: UInt64 = 0
    var filled: UInt64 = 0

    init(base: UnsafeMutableRawPointer) { self.base = base }

    /// Writes the low `count` (≤ 32) bits of `value` (its other bits zero).
    @inline(__always) mutating func write(_ value: UInt64, _ count: UInt64) {
        accumulator |= value &<< filled
        filled &+= count
        if filled >= 32 {
            base.storeBytes(of: UInt32(truncatingIfNeeded: accumulator).littleEndian, toByteOffset: position, as: UInt32.self)
            position &+= 4
            accumulator &>>= 32
            filled &-= 32
        }
    }

    /// Pads with zero bits to a byte boundary and stores what is left.
    mutating func alignToByte() {
        while filled > 0 {
            base.storeBytes(of: UInt8(truncatingIfNeeded: accumulator), toByteOffset: position, as: UInt8.self)
            position &+= 1
            accumulator &>>= 8
            filled = filled > 8 ? filled &- 8 : 0
        }
        accumulator = 0
    }
}
