// TIFF stacks through libtiff (no hand-written codec but RunDeflate, an encoder the contrast pages go
// through, whose streams libtiff decodes like any other). Reading is page by page so a multi-GB stack
// is never held in memory; writing appends pages and patches the frame count into the ImageJ
// description on close (it is unknown when page 0 is written).
import CDeflate
import CTiff
import Foundation

/// Reads a grayscale multi-page TIFF (8/16/32-bit integer or 32/64-bit float) one frame at a time.
///
/// Understands ImageJ hyperstacks (`channels`/`slices`/`frames`, `unit`, `finterval`, resolution) and
/// OME-TIFF (`SizeC/Z/T`, `DimensionOrder`, `PhysicalSizeX`, `TimeIncrement`). For a hyperstack with
/// several channels or slices, time frame `t` is read from channel 0, slice 0.
public final class TIFFStackReader {
    /// The file being read.
    public let path: String
    /// Size, frame count and the calibration found in the file's metadata.
    public let info: StackInfo
    /// Page 0's TIFF Compression code (1 none, 8 deflate, 5 LZW, 32773 PackBits, 50000 zstd…).
    public let compressionCode: Int
    private let tif: OpaquePointer
    /// Page index of time frame t is `t * pageStride` (channel 0, slice 0).
    private let pageStride: Int
    /// File offset of page 0's pixels when all pages follow it contiguously (one IFD for all).
    private let contiguousOffset: UInt64?
    /// Decoded bytes of a page that is not 32-bit float, reused from page to page.
    private var scratch: [UInt8] = []

    /// Opens `path` and reads its metadata (not its pixels).
    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ImagingError.cannotOpen(path: path, reason: "no such file")
        }
        operando_tiff_quiet()
        // "m": no memory mapping, so reading a multi-GB stack keeps the resident set at about one page.
        guard let tif = TIFFOpen(path, "rm") else {
            throw ImagingError.cannotOpen(path: path, reason: "not a TIFF file libtiff can read")
        }
        self.tif = tif
        let pages = Int(TIFFNumberOfDirectories(tif))
        var width: UInt32 = 0, height: UInt32 = 0
        _ = operando_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), &width)
        _ = operando_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), &height)
        var descriptionPointer: UnsafePointer<CChar>? = nil
        let description: String? = operando_tiff_get_string(tif, UInt32(TIFFTAG_IMAGEDESCRIPTION),
                                                            &descriptionPointer) == 1
            ? descriptionPointer.map { String(cString: $0) } : nil
        var metadata = TIFFMetadata.parse(description: description)
        // Resolution tags: ImageJ stores pixels per `unit` with ResolutionUnit NONE; other writers use
        // inch or centimetre.
        var xResolution: Float = 0
        if operando_tiff_get_float(tif, UInt32(TIFFTAG_XRESOLUTION), &xResolution) == 1, xResolution > 0,
           metadata.pixelSizeMicrometres == nil {
            var resolutionUnit: UInt16 = 0
            _ = operando_tiff_get_u16_defaulted(tif, UInt32(TIFFTAG_RESOLUTIONUNIT), &resolutionUnit)
            // libtiff hands the rational back as a Float: keep the 7 digits it carries, so 0.0347
            // reads as 0.0347 and not 0.034700000608901986.
            func trimmed(_ v: Double) -> Double { Double(String(format: "%.7g", v)) ?? v }
            if let micrometresPerUnit = metadata.imageJMicrometresPerUnit {
                metadata.pixelSizeMicrometres = trimmed(micrometresPerUnit / Double(xResolution))
            } else if resolutionUnit == UInt16(RESUNIT_CENTIMETER) {
                metadata.pixelSizeMicrometres = trimmed(1e4 / Double(xResolution))
            } else if resolutionUnit == UInt16(RESUNIT_INCH), xResolution != 72, xResolution != 96 {
                // 72 and 96 dpi are screen defaults that writers put in when they know nothing.
                metadata.pixelSizeMicrometres = trimmed(25_400 / Double(xResolution))
            }
        }
        // Thrown before every stored property is set, so deinit will not close the handle again.
        if pages == 0 || width == 0 || height == 0 {
            TIFFClose(tif)
            throw ImagingError.emptyStack(path: path)
        }
        // A header claims a size; the file must be able to hold it before anything is allocated (a
        // 16 KB file claiming 100000×100000 would otherwise ask for 40 GB on the first read).
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
        var bits: UInt16 = 1, compression: UInt16 = UInt16(COMPRESSION_NONE)
        _ = operando_tiff_get_u16_defaulted(tif, UInt32(TIFFTAG_BITSPERSAMPLE), &bits)
        _ = operando_tiff_get_u16_defaulted(tif, UInt32(TIFFTAG_COMPRESSION), &compression)
        let pagePixels = UInt64(width) * UInt64(height)
        let pageBytes = pagePixels * UInt64(max(1, bits / 8))
        // Compressed pages decode to more than they take on disk, but each codec has a largest ratio:
        // past it the header lies (a 16 KB deflate file cannot hold a 1 GB page). The decoded size is
        // width × height × bytes per sample, and that is all any read allocates.
        let decodableBytes = Self.largestDecodedBytes(fileBytes: fileBytes, compression: compression)
        if pagePixels > Self.maximumPagePixels || pageBytes > decodableBytes {
            TIFFClose(tif)
            throw ImagingError.unsupportedTIFF(path: path, page: 0, found: "\(width)×\(height) pixels of \(bits) bits in a \(fileBytes)-byte file",
                                               expected: "a page the file can hold, at most \(Self.maximumPagePixels) pixels")
        }
        var pageCount = pages
        var contiguousOffset: UInt64? = nil
        if let images = metadata.imageJImages, images > pages, pages >= 1, TIFFIsTiled(tif) == 0 {
            // ImageJ's contiguous layout: as many pages as the description says, if the file holds them.
            if compression == UInt16(COMPRESSION_NONE), UInt64(images) <= fileBytes / max(1, pageBytes) {
                contiguousOffset = TIFFGetStrileOffset(tif, 0)
                pageCount = images
            }
        }
        self.contiguousOffset = contiguousOffset
        self.compressionCode = Int(compression)
        let layout = metadata.timeLayout(pageCount: pageCount)
        self.pageStride = layout.stride
        self.info = StackInfo(width: Int(width), height: Int(height), frameCount: layout.frames,
                              pixelSizeMicrometres: metadata.pixelSizeMicrometres,
                              frameIntervalSeconds: metadata.frameIntervalSeconds)
    }

    /// The largest page operando reads: 2²⁸ pixels (1 GiB as 32-bit floats; a full IMX174 frame is 2.3 M).
    public static let maximumPagePixels: UInt64 = 1 << 28

    /// The most bytes a file of `fileBytes` can decode to with `compression` (a TIFF compression
    /// code): the file size when uncompressed; deflate expands at most 1032:1 (RFC 1951: a 258-byte
    /// match in 2 bits, rounded up), PackBits 64:1 (2 bytes → 128), LZW at most 4096 bytes per 9-bit
    /// code; any other codec (zstd's run-length blocks, the largest: 128 KiB from 4 bytes) 32768:1.
    static func largestDecodedBytes(fileBytes: UInt64, compression: UInt16) -> UInt64 {
        let slack: UInt64 = 1 << 16
        switch UInt32(compression) {
        case UInt32(COMPRESSION_NONE): return fileBytes
        case UInt32(COMPRESSION_ADOBE_DEFLATE), UInt32(COMPRESSION_DEFLATE): return fileBytes * 1032 + slack
        case UInt32(COMPRESSION_PACKBITS): return fileBytes * 64 + slack
        case UInt32(COMPRESSION_LZW): return fileBytes * 3641 + slack
        default: return fileBytes * 32768 + slack
        }
    }

    deinit { TIFFClose(tif) }

    /// Reads time frame `index` as 32-bit float.
    public func readFrame(_ index: Int) throws -> BinnedFrame {
        guard index >= 0, index < info.frameCount else {
            throw ImagingError.badValue(option: "frame", value: "\(index)",
                                        expected: "0..<\(info.frameCount) in \(path)")
        }
        return try readPage(index * pageStride)
    }

    /// Reads page `page` (an IFD, ignoring hyperstack layout) as 32-bit float.
    public func readPage(_ page: Int) throws -> BinnedFrame {
        var pixels: [Float] = []
        return try readPage(page, into: &pixels)
    }

    /// Reads time frame `index` as 32-bit float into `pixels` (resized to the frame; its storage is
    /// reused when it already has the frame's size and no other reference, so reading frame after
    /// frame allocates nothing). Returns the frame, which takes the storage; `pixels` is left empty.
    public func readFrame(_ index: Int, into pixels: inout [Float]) throws -> BinnedFrame {
        guard index >= 0, index < info.frameCount else {
            throw ImagingError.badValue(option: "frame", value: "\(index)",
                                        expected: "0..<\(info.frameCount) in \(path)")
        }
        return try readPage(index * pageStride, into: &pixels)
    }

    /// Reads time frame `index` into `pixels` as ``readFrame(_:into:)`` does, decoding only the
    /// strips that hold rows `rows`: the rows of the other strips are NaN. A page in one strip (or
    /// tiled, or ImageJ-contiguous) is decoded whole.
    public func readFrame(_ index: Int, into pixels: inout [Float], rows: Range<Int>) throws -> BinnedFrame {
        guard index >= 0, index < info.frameCount else {
            throw ImagingError.badValue(option: "frame", value: "\(index)",
                                        expected: "0..<\(info.frameCount) in \(path)")
        }
        return try readPage(index * pageStride, into: &pixels, rows: rows)
    }

    /// Reads page `page` into `pixels`, as ``readFrame(_:into:)`` does; with `rows`, only the strips
    /// holding those rows (see ``readFrame(_:into:rows:)``).
    public func readPage(_ page: Int, into pixels: inout [Float], rows: Range<Int>? = nil) throws -> BinnedFrame {
        // Reading forward steps from IFD to IFD; TIFFSetDirectory walks the chain from the start,
        // which would make reading a long stack quadratic (and a reader that skips the pages other
        // readers decode, as the offline analysis' workers do, skips forward by up to a few batches).
        let current = Int(TIFFCurrentDirectory(tif))
        var moved: Int32 = 1
        if contiguousOffset != nil {
            // One IFD describes every page; it stays current.
        } else if page > current {
            for _ in current..<page where moved == 1 { moved = TIFFReadDirectory(tif) }
        } else if page != current {
            moved = TIFFSetDirectory(tif, UInt32(page))
        }
        guard moved == 1 else {
            throw ImagingError.tiffIO(path: path, page: page, reason: "cannot read the page directory")
        }
        var width: UInt32 = 0, height: UInt32 = 0
        var samples: UInt16 = 1, bits: UInt16 = 1, format: UInt16 = UInt16(SAMPLEFORMAT_UINT)
        var photometric: UInt16 = UInt16(PHOTOMETRIC_MINISBLACK)
        _ = operando_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), &width)
        _ = operando_tiff_get_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), &height)
        _ = operando_tiff_get_u16_defaulted(tif, UInt32(TIFFTAG_SAMPLESPERPIXEL), &samples)
        _ = operando_tiff_get_u16_defaulted(tif, UInt32(TIFFTAG_BITSPERSAMPLE), &bits)
        _ = operando_tiff_get_u16_defaulted(tif, UInt32(TIFFTAG_SAMPLEFORMAT), &format)
        _ = operando_tiff_get_u16(tif, UInt32(TIFFTAG_PHOTOMETRIC), &photometric)
        let expected = "grayscale (1 sample per pixel), 8/16/32-bit integer or 32/64-bit float"
        if samples != 1 || photometric == UInt16(PHOTOMETRIC_RGB) {
            throw ImagingError.unsupportedTIFF(path: path, page: page,
                                               found: "\(samples) samples per pixel (colour)", expected: expected)
        }
        if photometric == UInt16(PHOTOMETRIC_PALETTE) {
            throw ImagingError.unsupportedTIFF(path: path, page: page, found: "a palette (indexed colour) image",
                                               expected: expected)
        }
        let supported: Set<String> = ["1-8", "1-16", "1-32", "2-8", "2-16", "2-32", "3-32", "3-64"]
        guard supported.contains("\(format)-\(bits)") else {
            throw ImagingError.unsupportedTIFF(path: path, page: page,
                                               found: "\(bits)-bit sample format \(format)", expected: expected)
        }
        if Int(width) != info.width || Int(height) != info.height {
            throw ImagingError.sizeMismatch(path: path, frame: page, found: "\(width)×\(height)",
                                            expected: "\(info.width)×\(info.height)")
        }
        let bytesPerSample = Int(bits) / 8
        let count = Int(width) * Int(height)
        if pixels.count != count { pixels = [Float](repeating: 0, count: count) }
        // 32-bit float pages decode straight into the frame's storage; other types through one
        // scratch buffer kept between pages (issue 17: two page-sized allocations, their zeroing and a
        // copy per frame were a tenth of the offline analysis' reading).
        let direct = format == 3 && bits == 32
        let byteCount = count * bytesPerSample
        if !direct && scratch.count != byteCount { scratch = [UInt8](repeating: 0, count: byteCount) }
        // With `rows`, the rows of the whole strips that hold them; the others are not decoded and
        // become NaN: no value, as a dropped frame's.
        var kept: Range<Int>? = nil
        func blankSkipped() {
            guard let kept else { return }
            let w = Int(width), n = Int(height) * w
            pixels.withUnsafeMutableBufferPointer { out in
                for i in 0..<(kept.lowerBound * w) { out[i] = .nan }
                for i in (kept.upperBound * w)..<n { out[i] = .nan }
            }
        }
        func decode(_ raw: UnsafeMutableRawBufferPointer) throws {
            let base = raw.baseAddress!
            if let start = contiguousOffset {
                try readContiguous(into: raw, offset: start + UInt64(page) * UInt64(raw.count), bits: Int(bits), page: page)
            } else if TIFFIsTiled(tif) != 0 {
                try readTiled(into: base, width: Int(width), height: Int(height), bytesPerSample: bytesPerSample, page: page)
            } else {
                var offset = 0
                let strips = TIFFNumberOfStrips(tif)
                // Strips of whole rows: those outside `rows` are skipped (their rows become NaN below).
                var stripRows: UInt32 = 0
                let rowBytes = Int(width) * bytesPerSample
                let skipping = rows != nil && operando_tiff_get_u32(tif, UInt32(TIFFTAG_ROWSPERSTRIP), &stripRows) == 1
                    && stripRows > 0 && stripRows < height && Int(strips) == (Int(height) + Int(stripRows) - 1) / Int(stripRows)
                if skipping, let rows {
                    let n = Int(height), per = Int(stripRows)
                    let low = min(max(0, rows.lowerBound), n) / per * per
                    kept = low..<min(n, (max(rows.upperBound, low + 1) + per - 1) / per * per)
                }
                for strip in 0..<strips {
                    if let kept {
                        let first = Int(strip) * Int(stripRows), end = min(Int(height), first + Int(stripRows))
                        if !kept.overlaps(first..<end) {
                            offset = end * rowBytes
                            continue
                        }
                        offset = first * rowBytes
                    }
                    let got = TIFFReadEncodedStrip(tif, strip, base + offset, tmsize_t(raw.count - offset))
                    if got < 0 {
                        throw ImagingError.tiffIO(path: path, page: page, reason: "strip \(strip) is unreadable (corrupt or unsupported compression)")
                    }
                    offset += Int(got)
                    if offset >= raw.count { break }
                }
                // Short strips leave the rest of the page zero, as a freshly allocated buffer would.
                if offset < raw.count { (base + offset).initializeMemory(as: UInt8.self, repeating: 0, count: raw.count - offset) }
            }
        }
        if direct {
            try pixels.withUnsafeMutableBytes { try decode($0) }
            blankSkipped()
            return BinnedFrame(width: Int(width), height: Int(height), pixels: consume(&pixels))
        }
        try scratch.withUnsafeMutableBytes { try decode($0) }
        // Through raw pointers: indexing the array per pixel (exclusivity and bounds checks) was most of
        // the offline analysis's serial time (issue 17's profile).
        scratch.withUnsafeBytes { raw in
            pixels.withUnsafeMutableBufferPointer { out in
                switch (format, bits) {
                case (1, 8): for i in 0..<count { out[i] = Float(raw.load(fromByteOffset: i, as: UInt8.self)) }
                case (2, 8): for i in 0..<count { out[i] = Float(raw.load(fromByteOffset: i, as: Int8.self)) }
                case (1, 16): for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                case (2, 16): for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
                case (1, 32): for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
                case (2, 32): for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
                default: for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
                }
            }
        }
        blankSkipped()
        return BinnedFrame(width: Int(width), height: Int(height), pixels: consume(&pixels))
    }

    /// Moves the array out, leaving `pixels` empty (so the returned frame holds the only reference).
    private func consume(_ pixels: inout [Float]) -> [Float] {
        var taken: [Float] = []
        swap(&taken, &pixels)
        return taken
    }

    /// Reads one page of a contiguous ImageJ stack straight from the file (libtiff only knows the
    /// first page), swapping bytes when the file's byte order is not the machine's.
    private func readContiguous(into raw: UnsafeMutableRawBufferPointer, offset: UInt64, bits: Int, page: Int) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ImagingError.cannotOpen(path: path, reason: "cannot reopen to read contiguous pages")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            try handle.seek(toOffset: offset)
            data = try handle.read(upToCount: raw.count) ?? Data()
        } catch {
            throw ImagingError.tiffIO(path: path, page: page, reason: "\(error.localizedDescription)")
        }
        guard data.count == raw.count else {
            throw ImagingError.tiffIO(path: path, page: page, reason: "file ends inside the page (truncated stack?)")
        }
        _ = data.copyBytes(to: raw.bindMemory(to: UInt8.self))
        if TIFFIsByteSwapped(tif) != 0 {
            let n = tmsize_t(raw.count / (bits / 8))
            switch bits {
            case 16: TIFFSwabArrayOfShort(raw.baseAddress!.assumingMemoryBound(to: UInt16.self), n)
            case 32: TIFFSwabArrayOfLong(raw.baseAddress!.assumingMemoryBound(to: UInt32.self), n)
            case 64: TIFFSwabArrayOfDouble(raw.baseAddress!.assumingMemoryBound(to: Double.self), n)
            default: break
            }
        }
    }

    private func readTiled(into base: UnsafeMutableRawPointer, width: Int, height: Int,
                           bytesPerSample: Int, page: Int) throws {
        var tileWidth: UInt32 = 0, tileHeight: UInt32 = 0
        _ = operando_tiff_get_u32(tif, UInt32(TIFFTAG_TILEWIDTH), &tileWidth)
        _ = operando_tiff_get_u32(tif, UInt32(TIFFTAG_TILELENGTH), &tileHeight)
        let tw = Int(tileWidth), th = Int(tileHeight)
        var tile = [UInt8](repeating: 0, count: Int(TIFFTileSize(tif)))
        for y0 in stride(from: 0, to: height, by: th) {
            for x0 in stride(from: 0, to: width, by: tw) {
                let got = tile.withUnsafeMutableBytes {
                    TIFFReadTile(tif, $0.baseAddress, UInt32(x0), UInt32(y0), 0, 0)
                }
                if got < 0 {
                    throw ImagingError.tiffIO(path: path, page: page, reason: "tile at \(x0),\(y0) is unreadable")
                }
                tile.withUnsafeBytes { t in
                    for row in 0..<min(th, height - y0) {
                        let n = min(tw, width - x0) * bytesPerSample
                        memcpy(base + ((y0 + row) * width + x0) * bytesPerSample,
                               t.baseAddress! + row * tw * bytesPerSample, n)
                    }
                }
            }
        }
    }
}

/// Metadata from an ImageJ or OME-XML ImageDescription.
struct TIFFMetadata {
    var pixelSizeMicrometres: Double?
    var frameIntervalSeconds: Double?
    /// For ImageJ files: µm per `unit` (resolution tags are in pixels per unit).
    var imageJMicrometresPerUnit: Double?
    var channels = 1, slices = 1, frames = 1
    /// ImageJ `images=`: more than the file's IFDs means the frames are stored contiguously after
    /// the first IFD (ImageJ's layout for stacks over 4 GB, tifffile's `truncate=True`).
    var imageJImages: Int?
    /// OME dimension order (e.g. "XYCZT"), nil for ImageJ/plain files.
    var dimensionOrder: String?
    var isHyperstack = false

    static func micrometres(perUnit unit: String) -> Double? {
        switch unit.trimmingCharacters(in: .whitespaces).lowercased() {
        case "micron", "microns", "um", "µm", "μm", "\\u00b5m", "micrometer", "micrometre": return 1
        case "nm", "nanometer", "nanometre": return 1e-3
        case "mm", "millimeter", "millimetre": return 1e3
        case "cm", "centimeter", "centimetre": return 1e4
        case "m", "meter", "metre": return 1e6
        default: return nil
        }
    }

    static func seconds(perUnit unit: String) -> Double? {
        switch unit.trimmingCharacters(in: .whitespaces).lowercased() {
        case "s", "sec", "second", "seconds": return 1
        case "ms", "msec", "millisecond", "milliseconds": return 1e-3
        case "us", "µs", "μs", "\\u00b5s", "microsecond", "microseconds": return 1e-6
        case "min", "minute", "minutes": return 60
        case "h", "hr", "hour", "hours": return 3600
        default: return nil
        }
    }

    static func parse(description: String?) -> TIFFMetadata {
        var m = TIFFMetadata()
        guard let text = description else { return m }
        if text.hasPrefix("ImageJ=") {
            var fields: [String: String] = [:]
            for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
                let parts = line.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0]).trimmingCharacters(in: .whitespaces)] = String(parts[1]).trimmingCharacters(in: .whitespaces) }
            }
            m.channels = Int(fields["channels"] ?? "") ?? 1
            m.slices = Int(fields["slices"] ?? "") ?? 1
            m.frames = Int(fields["frames"] ?? "") ?? 1
            m.imageJImages = Int(fields["images"] ?? "")
            m.isHyperstack = fields["channels"] != nil || fields["slices"] != nil || fields["frames"] != nil
            // ImageJ's default unit is the pixel: resolution then means nothing physical.
            if let unit = fields["unit"] { m.imageJMicrometresPerUnit = micrometres(perUnit: unit) }
            if let interval = fields["finterval"].flatMap(Double.init), interval > 0 {
                m.frameIntervalSeconds = interval * (fields["tunit"].flatMap(seconds(perUnit:)) ?? 1)
            }
        } else if text.contains("<OME") {
            func attribute(_ name: String, in xml: Substring) -> String? {
                guard let r = xml.range(of: " \(name)=\"") else { return nil }
                let rest = xml[r.upperBound...]
                guard let end = rest.firstIndex(of: "\"") else { return nil }
                return String(rest[..<end])
            }
            // The first <Pixels …> element describes the first image (series 0).
            guard let start = text.range(of: "<Pixels ") else { return m }
            let tail = text[start.lowerBound...]
            let element = tail[..<(tail.firstIndex(of: ">") ?? tail.endIndex)]
            m.channels = attribute("SizeC", in: element).flatMap(Int.init) ?? 1
            m.slices = attribute("SizeZ", in: element).flatMap(Int.init) ?? 1
            m.frames = attribute("SizeT", in: element).flatMap(Int.init) ?? 1
            m.dimensionOrder = attribute("DimensionOrder", in: element)
            m.isHyperstack = true
            if let size = attribute("PhysicalSizeX", in: element).flatMap(Double.init), size > 0 {
                let unit = attribute("PhysicalSizeXUnit", in: element) ?? "µm"
                m.pixelSizeMicrometres = micrometres(perUnit: unit).map { size * $0 }
            }
            if let dt = attribute("TimeIncrement", in: element).flatMap(Double.init), dt > 0 {
                let unit = attribute("TimeIncrementUnit", in: element) ?? "s"
                m.frameIntervalSeconds = seconds(perUnit: unit).map { dt * $0 }
            }
        }
        return m
    }

    /// Number of time frames and the page stride between them (channel 0, slice 0).
    func timeLayout(pageCount: Int) -> (frames: Int, stride: Int) {
        let c = max(1, channels), z = max(1, slices), t = max(1, frames)
        guard isHyperstack, c * z * t == pageCount, pageCount > 0 else { return (pageCount, 1) }
        // A z-series with one time point is taken as a time series: people save time lapses as
        // "slices" often enough.
        let timeFramesAreSlices = t == 1 && z > 1
        if let order = dimensionOrder, order.count == 5 {
            // OME: the first letter after XY varies fastest.
            var strides: [Character: Int] = [:]
            var s = 1
            for letter in order.dropFirst(2) {
                strides[letter] = s
                s *= letter == "C" ? c : letter == "Z" ? z : t
            }
            if timeFramesAreSlices { return (z, strides["Z"] ?? 1) }
            return (t, strides["T"] ?? 1)
        }
        // ImageJ order is CZT (channel fastest).
        if timeFramesAreSlices { return (z, c) }
        return (t, c * z)
    }
}

/// A float32 page compressed for a deflate ``TIFFStackWriter`` (strips of
/// ``TIFFStackWriter/rowsPerStrip(width:height:bytesPerSample:)`` rows, each a zlib stream, from
/// ``TIFFPageEncoder``), ready for ``TIFFStackWriter/append(_:)``. Its storage is reused by the next
/// encoding.
public struct EncodedPage: Sendable {
    /// Page size, pixels.
    public internal(set) var width = 0, height = 0
    /// The strips' compressed bytes, one after another.
    var bytes: [UInt8] = []
    /// Where each strip ends in `bytes`.
    var stripEnds: [Int] = []
    /// An empty page.
    public init() {}
    /// Compressed size, bytes.
    public var byteCount: Int { stripEnds.last ?? 0 }
}

/// Compresses float32 pages for a deflate ``TIFFStackWriter`` off the writing thread: the offline
/// analysis compresses each contrast image on the worker that computed it, and only the writing
/// stays in frame order (issue 17). Each strip is one zlib stream from ``RunDeflate`` (literals and
/// runs of a repeated float, such as the NaN around the particle: a fraction of libdeflate's work at
/// its fastest level on a contrast image, for a file as small), or, where that declines (strips of
/// under 512 bytes, bytes it cannot shrink), from libdeflate at ``TIFFStackWriter/deflateLevel``:
/// byte for byte what the writer itself writes. One encoder per thread.
public final class TIFFPageEncoder {
    private let compressor: OpaquePointer
    private var runs = RunDeflate()

    /// An encoder; `runDeflate` false compresses every strip with libdeflate, as the writer does.
    public init(runDeflate: Bool = true) {
        compressor = libdeflate_alloc_compressor(Int32(TIFFStackWriter.deflateLevel))!
        usesRunDeflate = runDeflate
    }

    /// Whether strips go through ``RunDeflate`` first.
    public let usesRunDeflate: Bool

    deinit { libdeflate_free_compressor(compressor) }

    /// Encodes `frame` into `page`, reusing its storage.
    public func encode(_ frame: BinnedFrame, into page: inout EncodedPage) {
        let stripRows = TIFFStackWriter.rowsPerStrip(width: frame.width, height: frame.height, bytesPerSample: 4)
        let rowBytes = frame.width * 4
        let strips = (frame.height + stripRows - 1) / stripRows
        let bound = libdeflate_zlib_compress_bound(compressor, stripRows * rowBytes)
        if page.bytes.count < strips * bound { page.bytes = [UInt8](repeating: 0, count: strips * bound) }
        page.width = frame.width
        page.height = frame.height
        page.stripEnds.removeAll(keepingCapacity: true)
        var end = 0
        frame.pixels.withUnsafeBytes { source in
            for s in 0..<strips {
                let first = s * stripRows * rowBytes
                let size = min(stripRows * rowBytes, source.count - first)
                let input = UnsafeRawBufferPointer(rebasing: source[first..<(first + size)])
                page.bytes.withUnsafeMutableBytes { out in
                    // The strip's room: `bound` bytes (more than RunDeflate needs).
                    let room = UnsafeMutableRawBufferPointer(rebasing: out[end..<(end + bound)])
                    if usesRunDeflate, let count = runs.compress(input, into: room) {
                        end += count
                    } else {
                        end += libdeflate_zlib_compress(compressor, input.baseAddress!, size, room.baseAddress!, bound)
                    }
                }
                page.stripEnds.append(end)
            }
        }
    }
}

/// Writes a multi-page grayscale TIFF (16-bit unsigned or 32-bit float) with ImageJ metadata
/// (`unit=micron`, resolution = 1/pixel size, `spacing`, `finterval`, `frames`) that Fiji and
/// tifffile open as a time series. Pages are appended one at a time.
public final class TIFFStackWriter {
    /// Pixel type of the pages written.
    public enum SampleType: Sendable {
        /// 16-bit unsigned integer (values rounded and clamped to 0…65535).
        case uint16
        /// 32-bit IEEE float.
        case float32
    }

    /// Lossless compression of the pages. Every TIFF reader in use opens deflate (Fiji's ImageJ and
    /// Bio-Formats, tifffile with only numpy and zlib, napari, libtiff).
    public enum Compression: String, Sendable, CaseIterable {
        /// Uncompressed strips (fastest to write; readers can memory-map them).
        case none
        /// Deflate (TIFF compression 8) at level `TIFFStackWriter.deflateLevel`; 16-bit pages with the
        /// horizontal-difference predictor (2). 32-bit float pages get no predictor: the floating-point
        /// predictor (3) needs the optional imagecodecs package in tifffile (Debian's tifffile refuses
        /// it) and saved under 2 % on recorded and contrast frames (measured, README "Disk use").
        case deflate
    }

    /// The deflate level: 1 (libdeflate's fastest). Levels 3, 6 and 9 gave files 0–2 % smaller on a
    /// demo chunk, a contrast stack and a 1920×1200 Mono16 frame, at a half to a fifth of the speed.
    public static let deflateLevel = 1

    /// Bytes per strip, about: a page over 4 × this size is cut into strips of whole rows of about
    /// this size (the TIFF 6.0 specification advises about 8 KB). A reader that needs only some rows
    /// decodes only their strips: the offline analysis reads the band of rows around the particle
    /// and the fiducial (issue 17). A 256 × 256 float page is 16 strips: deflate starts afresh in each, so
    /// it takes 0.1 % (a synthetic noise stack) to 13 % (a demo frame) more than one strip;
    /// each strip costs libtiff's compressor a fixed ~65 k instructions (resetting zlib's state), so
    /// smaller pages (a cropped contrast image) stay in one strip.
    public static let stripBytes = 16_384

    /// Rows per strip for pages `width` pixels wide of `bytesPerSample`-byte samples and `height` rows.
    public static func rowsPerStrip(width: Int, height: Int, bytesPerSample: Int) -> Int {
        let rowBytes = max(1, width * bytesPerSample)
        if rowBytes * height <= 4 * stripBytes { return max(1, height) }
        return max(1, min(height, stripBytes / rowBytes))
    }

    /// The file being written.
    public let path: String
    /// Pages written so far.
    public private(set) var frameCount = 0
    /// The compression of every page.
    public let compression: Compression
    private var tif: OpaquePointer?
    private let sampleType: SampleType
    private let pixelSizeMicrometres: Double?
    private let frameIntervalSeconds: Double?
    private let bigTIFF: Bool
    private var size: (width: Int, height: Int)?
    /// Fixed-width placeholder for the frame count, patched in place by `close()`. There is no
    /// `images=`: with it, ImageJ's TiffDecoder reads only the first IFD and takes the other pages
    /// to follow it contiguously and uncompressed, which these (one IFD per page, compressed) do not.
    private static let countPlaceholder = "frames=0000000000"
    /// Fixed-width display range placeholder; ImageJ ignores min = max = 0, so it is harmless unpatched.
    private static let rangePlaceholder = "min=+0.000000000e+00\nmax=+0.000000000e+00"

    /// Display range recorded for ImageJ/Fiji (`min=`/`max=`); may be set any time before `close()`
    /// (e.g. once the data's range is known). Without it ImageJ scales to page 0, which for a contrast
    /// stack is all zeros.
    public var displayRange: (min: Double, max: Double)?

    /// Replaces page 0's ImageJ description with this text (e.g. OME-XML, which then states the page
    /// count itself); set it before the first page. The resolution tags are then in pixels per
    /// centimetre, and nothing is patched at `close()` (no frame count, no display range).
    public var firstPageDescription: String?

    /// Creates (or truncates) `path`. `bigTIFF` writes 64-bit offsets: needed past 4 GB (tifffile and
    /// Fiji's Bio-Formats read it; plain ImageJ 1.x may not), so use it only for files that big.
    /// A BigTIFF gets no ImageJ description (tifffile takes an ImageJ BigTIFF to be one contiguous
    /// block, which libtiff's page-by-page layout is not); its pixel size goes in the resolution tags
    /// in pixels per centimetre, and the frame interval is not recorded.
    /// `compression` (default deflate) applies to every page.
    public init(path: String, sampleType: SampleType, pixelSizeMicrometres: Double? = nil,
                frameIntervalSeconds: Double? = nil, bigTIFF: Bool = false, compression: Compression = .deflate) throws {
        self.path = path
        self.compression = compression
        self.sampleType = sampleType
        self.pixelSizeMicrometres = pixelSizeMicrometres
        self.frameIntervalSeconds = frameIntervalSeconds
        self.bigTIFF = bigTIFF
        operando_tiff_quiet()
        guard let tif = TIFFOpen(path, bigTIFF ? "w8" : "w") else {
            throw ImagingError.cannotWrite(path: path, reason: "libtiff cannot create the file")
        }
        self.tif = tif
    }

    deinit { if let tif { TIFFClose(tif) } }

    /// Appends a float frame (converted to the writer's sample type).
    public func append(_ frame: BinnedFrame) throws {
        switch sampleType {
        case .float32:
            try frame.pixels.withUnsafeBytes { try write($0, width: frame.width, height: frame.height) }
        case .uint16:
            let values = frame.pixels.map { v -> UInt16 in
                v.isNaN ? 0 : UInt16(max(0, min(65535, v.rounded())))
            }
            try values.withUnsafeBytes { try write($0, width: frame.width, height: frame.height) }
        }
    }

    /// Appends a raw 16-bit frame (converted to float for a float writer).
    public func append(_ frame: RawFrame) throws {
        switch sampleType {
        case .uint16: try frame.pixels.withUnsafeBytes { try write($0, width: frame.width, height: frame.height) }
        case .float32: try append(BinnedFrame(frame))
        }
    }

    private func description() -> String {
        var lines = ["ImageJ=1.11a", Self.countPlaceholder, "hyperstack=true", Self.rangePlaceholder]
        if let px = pixelSizeMicrometres {
            lines += ["unit=micron", "spacing=\(px)"]
        }
        if let dt = frameIntervalSeconds { lines += ["finterval=\(dt)", "tunit=sec"] }
        lines += ["loop=false"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Appends a float frame compressed ahead by a ``TIFFPageEncoder`` (perhaps on another thread):
    /// the same bytes `append(_:)` would write. Only for a float32 deflate writer.
    public func append(_ page: EncodedPage) throws {
        guard sampleType == .float32, compression == .deflate else {
            throw ImagingError.cannotWrite(path: path, reason: "an encoded page is float32 deflate; this writer is \(sampleType) \(compression)")
        }
        try write(nil, encoded: page, width: page.width, height: page.height)
    }

    private func write(_ bytes: UnsafeRawBufferPointer, width: Int, height: Int) throws {
        try write(bytes, encoded: nil, width: width, height: height)
    }

    private func write(_ bytes: UnsafeRawBufferPointer?, encoded: EncodedPage?, width: Int, height: Int) throws {
        guard let tif else { throw ImagingError.cannotWrite(path: path, reason: "writer already closed") }
        if let size, size != (width, height) {
            throw ImagingError.sizeMismatch(path: path, frame: frameCount, found: "\(width)×\(height)",
                                            expected: "\(size.width)×\(size.height)")
        }
        size = (width, height)
        let bits: UInt16 = sampleType == .uint16 ? 16 : 32
        _ = operando_tiff_set_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), UInt32(width))
        _ = operando_tiff_set_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), UInt32(height))
        _ = operando_tiff_set_u16(tif, UInt32(TIFFTAG_BITSPERSAMPLE), bits)
        _ = operando_tiff_set_u16(tif, UInt32(TIFFTAG_SAMPLESPERPIXEL), 1)
        _ = operando_tiff_set_u16(tif, UInt32(TIFFTAG_SAMPLEFORMAT),
                                  UInt16(sampleType == .uint16 ? SAMPLEFORMAT_UINT : SAMPLEFORMAT_IEEEFP))
        _ = operando_tiff_set_u16(tif, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(PHOTOMETRIC_MINISBLACK))
        _ = operando_tiff_set_u16(tif, UInt32(TIFFTAG_PLANARCONFIG), UInt16(PLANARCONFIG_CONTIG))
        switch compression {
        case .none:
            _ = operando_tiff_set_u16(tif, UInt32(TIFFTAG_COMPRESSION), UInt16(COMPRESSION_NONE))
        case .deflate:
            guard operando_tiff_set_u16(tif, UInt32(TIFFTAG_COMPRESSION), UInt16(COMPRESSION_ADOBE_DEFLATE)) == 1 else {
                throw ImagingError.cannotWrite(path: path, reason: "this libtiff has no deflate codec")
            }
            _ = operando_tiff_set_u16(tif, UInt32(TIFFTAG_PREDICTOR),
                                      UInt16(sampleType == .uint16 ? PREDICTOR_HORIZONTAL : PREDICTOR_NONE))
            // A pseudo-tag (not stored): libtiff reads it as an int, which the u16 wrapper passes.
            _ = operando_tiff_set_u16(tif, UInt32(TIFFTAG_ZIPQUALITY), UInt16(Self.deflateLevel))
        }
        let bytesPerSample = Int(bits) / 8
        let stripRows = Self.rowsPerStrip(width: width, height: height, bytesPerSample: bytesPerSample)
        _ = operando_tiff_set_u32(tif, UInt32(TIFFTAG_ROWSPERSTRIP), UInt32(stripRows))
        if let px = pixelSizeMicrometres, px > 0 {
            // ImageJ: pixels per `unit` (micron) with no TIFF unit; BigTIFF: pixels per centimetre.
            let centimetres = bigTIFF || firstPageDescription != nil
            let perUnit = centimetres ? 1e4 / px : 1 / px
            _ = operando_tiff_set_double(tif, UInt32(TIFFTAG_XRESOLUTION), perUnit)
            _ = operando_tiff_set_double(tif, UInt32(TIFFTAG_YRESOLUTION), perUnit)
            _ = operando_tiff_set_u16(tif, UInt32(TIFFTAG_RESOLUTIONUNIT), UInt16(centimetres ? RESUNIT_CENTIMETER : RESUNIT_NONE))
        }
        if frameCount == 0, let text = firstPageDescription {
            _ = operando_tiff_set_string(tif, UInt32(TIFFTAG_IMAGEDESCRIPTION), text)
        } else if frameCount == 0 && !bigTIFF {
            _ = operando_tiff_set_string(tif, UInt32(TIFFTAG_IMAGEDESCRIPTION), description())
        }
        // Write the IFD before the pixels (libtiff rewrites it in place afterwards). With each IFD ahead
        // of its data, no reader can mistake the pages for one contiguous ImageJ block: tifffile does
        // when page 1's IFD lies beyond where N contiguous frames would end (2-page or tiny stacks).
        _ = TIFFCheckpointDirectory(tif)
        var complete = false
        if let bytes {
            let rowBytes = width * bytesPerSample
            var written = 0
            var strip: UInt32 = 0
            while written < bytes.count {
                let size = min(stripRows * rowBytes, bytes.count - written)
                let n = TIFFWriteEncodedStrip(tif, strip, UnsafeMutableRawPointer(mutating: bytes.baseAddress! + written), tmsize_t(size))
                if n != size { break }
                written += size
                strip += 1
            }
            complete = written == bytes.count
        } else if let encoded {
            complete = encoded.stripEnds.count == (height + stripRows - 1) / stripRows
            encoded.bytes.withUnsafeBytes { raw in
                var start = 0
                for (strip, end) in encoded.stripEnds.enumerated() where complete {
                    let n = TIFFWriteRawStrip(tif, UInt32(strip), UnsafeMutableRawPointer(mutating: raw.baseAddress! + start), tmsize_t(end - start))
                    complete = n == end - start
                    start = end
                }
            }
        }
        guard complete, TIFFWriteDirectory(tif) == 1 else {
            throw ImagingError.cannotWrite(path: path, reason: "libtiff failed writing page \(frameCount) (disk full, or over 4 GB?)")
        }
        frameCount += 1
    }

    /// Finishes the file: closes it and writes the frame count into the ImageJ description.
    public func close() throws {
        guard let tif else { return }
        TIFFClose(tif)
        self.tif = nil
        guard frameCount > 0, !bigTIFF, firstPageDescription == nil else { return }
        try patchFrameCount()
    }

    /// Overwrites the fixed-width placeholder in page 0's description in place; the description's
    /// length does not change, so no IFD moves and the file stays as libtiff wrote it.
    private func patchFrameCount() throws {
        guard let handle = FileHandle(forUpdatingAtPath: path) else {
            throw ImagingError.cannotWrite(path: path, reason: "cannot reopen to record the frame count")
        }
        defer { try? handle.close() }
        do {
            // Page 0's IFD and its description are written ahead of its pixels (see `write`), but look
            // past one page too in case a libtiff version places them after.
            let fileLength = Int(try handle.seekToEnd())
            let searchLength = min(4096 + (size.map { $0.width * $0.height * 4 } ?? 0) + 4096, fileLength)
            try handle.seek(toOffset: 0)
            let head = try handle.read(upToCount: searchLength) ?? Data()
            guard let count = head.range(of: Data(Self.countPlaceholder.utf8)) else {
                throw ImagingError.cannotWrite(path: path, reason: "ImageJ description not found to record the frame count")
            }
            // Fixed-width fields: the description's length does not change, so no IFD moves.
            func overwrite(_ text: String, at offset: Int) throws {
                try handle.seek(toOffset: UInt64(offset))
                try handle.write(contentsOf: Data(text.utf8))
            }
            let digits = String(frameCount)
            let padded = String(repeating: "0", count: 10 - digits.count) + digits
            try overwrite("frames=" + padded, at: count.lowerBound)
            if let range = displayRange, range.min.isFinite, range.max.isFinite,
               let slot = head.range(of: Data(Self.rangePlaceholder.utf8)) {
                // %+.9e always takes 16 characters for finite doubles with a 2-digit exponent.
                func field(_ v: Double) -> String {
                    let text = String(format: "%+.9e", v)
                    return text.count == 16 ? text : String(format: "%+.9e", 0.0)
                }
                try overwrite("min=\(field(range.min))\nmax=\(field(range.max))", at: slot.lowerBound)
            }
        } catch let e as ImagingError {
            throw e
        } catch {
            throw ImagingError.cannotWrite(path: path, reason: "recording the frame count: \(error.localizedDescription)")
        }
    }
}
