import Foundation

/// Reads EC-Lab's binary modular file (`.mpr`).
///
/// Layout (little-endian): a 52-byte file header (`BIO-LOGIC MODULAR FILE\x1a`, blanks, 4 zero
/// bytes), then modules, each `MODULE` + short name (10 bytes) + long name (25 bytes) + a header
/// whose form depends on the EC-Lab version:
/// - old (≤ v11.4x): length u32, version u32, date (8 ASCII, `mm/dd/yy`);
/// - new (v11.50+): 0xFFFFFFFF, length u32, old-style version u32, new-style version u32, date.
/// Modules: `VMP Set` (settings; byte 0 is the technique), `VMP data` (row count u32, column count
/// u8, column ids, then rows), `VMP LOG` (acquisition start as an OLE date at 0x249, version strings
/// as Pascal strings), `VMP loop` (loop start rows).
///
/// Data module versions: 2 and 3 (old header) list ids as u16 little-endian and start rows at
/// 0x195/0x196; 0 with the new header lists them big-endian and starts rows at 0x3EF. Each row is the
/// flag byte (where the first flag id stands) followed by each data column at its own width.
public enum ECLabBinaryReader {
    static let fileMagic = Array("BIO-LOGIC MODULAR FILE\u{1a}".utf8)
    static let fileHeaderLength = 0x34

    /// One module's header and where its data lies in the file.
    struct Module {
        var shortName: String
        var longName: String
        var version: Int
        var newHeader: Bool
        var date: String
        var data: Range<Int>
    }

    /// Reads an `.mpr` file. `timeZone` is the zone of the instrument PC's clock (EC-Lab stores
    /// local time).
    public static func read(path: String, timeZone: TimeZone = .current) throws -> InstrumentRecord {
        let bytes = try TextBytes.load(path)
        return try parse(bytes: bytes, path: path, timeZone: timeZone)
    }

    static func parse(bytes: [UInt8], path: String, timeZone: TimeZone) throws -> InstrumentRecord {
        guard bytes.count >= fileHeaderLength, Array(bytes[0..<fileMagic.count]) == fileMagic else {
            throw InstrumentFileError.malformed(path: path, location: "byte 0", detail: "expected \"BIO-LOGIC MODULAR FILE\" (an EC-Lab .mpr)")
        }
        let modules = try readModules(bytes, path: path)
        var record = InstrumentRecord(sourcePath: path, format: .ecLabBinary, instrument: nil, softwareVersion: nil,
                                      firmwareVersion: nil, techniques: [], settings: [:], acquisitionStart: nil,
                                      columns: [], otherTables: [], aborted: false, notes: [])
        guard let dataModule = modules.first(where: { $0.shortName == "VMP data" }) else {
            throw InstrumentFileError.malformed(path: path, location: "modules",
                                                detail: "no \"VMP data\" module; found \(modules.map { "\"\($0.shortName)\"" }.joined(separator: ", "))")
        }
        if let set = modules.first(where: { $0.shortName == "VMP Set" }), !set.data.isEmpty {
            let id = bytes[set.data.lowerBound]
            record.techniques = [ECLabColumns.techniqueNames[id] ?? String(format: "EC-Lab technique 0x%02X", id)]
            record.settings["technique id"] = String(format: "0x%02X", id)
            record.settings["settings date"] = set.date
            readCellCharacteristics(bytes, set, into: &record)
        }
        if let log = modules.first(where: { $0.shortName == "VMP LOG" }) {
            readLog(bytes, log, into: &record, timeZone: timeZone)
        }
        if let loop = modules.first(where: { $0.shortName == "VMP loop" }), loop.data.count >= 4 {
            let n = Int(u32(bytes, loop.data.lowerBound))
            var starts: [String] = []
            var p = loop.data.lowerBound + 4
            for _ in 0..<n where p + 4 <= loop.data.upperBound {
                starts.append(String(u32(bytes, p)))
                p += 4
            }
            record.settings["loop start rows"] = starts.joined(separator: ", ")
        }
        record.columns = try readData(bytes, dataModule, path: path)
        return record
    }

    static func readModules(_ bytes: [UInt8], path: String) throws -> [Module] {
        var modules: [Module] = []
        var p = fileHeaderLength
        let magic = Array("MODULE".utf8)
        while p < bytes.count {
            guard p + 6 + 35 + 16 <= bytes.count, Array(bytes[p..<(p + 6)]) == magic else {
                throw InstrumentFileError.malformed(path: path, location: "byte \(p)", detail: "expected \"MODULE\" (start of a module) or end of file")
            }
            var q = p + 6
            let short = ascii(bytes[q..<(q + 10)]); q += 10
            let long = ascii(bytes[q..<(q + 25)]); q += 25
            let newHeader = u32(bytes, q) == 0xFFFF_FFFF
            let length: Int, version: Int
            if newHeader {
                guard q + 24 <= bytes.count else {
                    throw InstrumentFileError.malformed(path: path, location: "byte \(q)", detail: "module \"\(short)\" header cut short")
                }
                length = Int(u32(bytes, q + 4))
                version = Int(u32(bytes, q + 8))
                q += 16
            } else {
                length = Int(u32(bytes, q))
                version = Int(u32(bytes, q + 4))
                q += 8
            }
            let date = ascii(bytes[q..<(q + 8)]); q += 8
            guard q + length <= bytes.count else {
                throw InstrumentFileError.malformed(path: path, location: "byte \(p)",
                                                    detail: "module \"\(short)\" declares \(length) bytes; only \(bytes.count - q) remain in the file")
            }
            modules.append(Module(shortName: short, longName: long, version: version, newHeader: newHeader, date: date, data: q..<(q + length)))
            p = q + length
        }
        return modules
    }

    /// Decodes the data module's rows into columns.
    static func readData(_ bytes: [UInt8], _ m: Module, path: String) throws -> [InstrumentColumn] {
        let d = m.data.lowerBound
        guard m.data.count >= 5 else {
            throw InstrumentFileError.malformed(path: path, location: "VMP data module", detail: "shorter than its 5-byte header")
        }
        let rows = Int(u32(bytes, d))
        let columnCount = Int(bytes[d + 4])
        let bigEndianIDs: Bool, rowStart: Int
        switch (m.newHeader, m.version) {
        case (true, 0): bigEndianIDs = true; rowStart = 0x3EF
        case (false, 2): bigEndianIDs = false; rowStart = 0x195
        case (false, 3): bigEndianIDs = false; rowStart = 0x196
        default:
            throw InstrumentFileError.malformed(path: path, location: "VMP data module",
                                                detail: "version \(m.version) with the \(m.newHeader ? "new" : "old") module header; expected old-header version 2 or 3, or new-header version 0")
        }
        guard 5 + 2 * columnCount <= rowStart, rowStart <= m.data.count else {
            throw InstrumentFileError.malformed(path: path, location: "VMP data module", detail: "\(columnCount) column ids do not fit before the rows at 0x\(String(rowStart, radix: 16))")
        }
        var ids: [Int] = []
        for k in 0..<columnCount {
            let a = Int(bytes[d + 5 + 2 * k]), b = Int(bytes[d + 6 + 2 * k])
            ids.append(bigEndianIDs ? (a << 8 | b) : (b << 8 | a))
        }

        // The row layout, refusing any id whose width is unknown.
        enum Field { case flags(offset: Int, mask: UInt8), value(offset: Int, storage: ECLabColumns.Storage) }
        var layout: [(name: String, id: Int, field: Field)] = []
        var flagOffset: Int? = nil
        var rowSize = 0
        for id in ids {
            if let flag = ECLabColumns.flags[id] {
                if flagOffset == nil { flagOffset = rowSize; rowSize += 1 }
                layout.append((flag.name, id, .flags(offset: flagOffset ?? 0, mask: flag.mask)))
            } else if let col = ECLabColumns.data[id] {
                layout.append((col.name, id, .value(offset: rowSize, storage: col.storage)))
                rowSize += col.storage.width
            } else {
                throw InstrumentFileError.unknownColumnID(path: path, id: id, afterColumn: layout.last?.name)
            }
        }
        let available = m.data.count - rowStart
        guard rowSize > 0, rows * rowSize == available else {
            throw InstrumentFileError.malformed(path: path, location: "VMP data module",
                                                detail: "\(rows) rows of \(rowSize) bytes (ids \(ids.map(String.init).joined(separator: ","))) need \(rows * rowSize) bytes; the module holds \(available) after its header")
        }
        let base = d + rowStart
        return bytes.withUnsafeBytes { raw -> [InstrumentColumn] in
            layout.map { entry in
                var values = [Double](repeating: 0, count: rows)
                switch entry.field {
                case let .flags(offset, mask):
                    let shift = UInt8(mask.trailingZeroBitCount)
                    for r in 0..<rows { values[r] = Double((raw[base + r * rowSize + offset] & mask) >> shift) }
                case let .value(offset, storage):
                    for r in 0..<rows {
                        let at = base + r * rowSize + offset
                        switch storage {
                        case .float32: values[r] = Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian))
                        case .float64: values[r] = Double(bitPattern: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian)
                        case .uint16: values[r] = Double(raw.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian)
                        case .uint32: values[r] = Double(raw.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
                        case .uint8: values[r] = Double(raw[at])
                        }
                    }
                }
                return InstrumentColumn(name: entry.name, values: values, unitSeparator: .ecLab, ecLabColumnID: entry.id)
            }
        }
    }

    /// The log module: acquisition start (OLE automation date: days since 1899-12-30, local time of
    /// the instrument PC) and the software/firmware versions and device serial as Pascal strings.
    static func readLog(_ bytes: [UInt8], _ m: Module, into record: inout InstrumentRecord, timeZone: TimeZone) {
        let d = m.data.lowerBound
        func pascal(_ offset: Int) -> String? {
            guard offset < m.data.count else { return nil }
            let n = Int(bytes[d + offset])
            guard n > 0, offset + 1 + n <= m.data.count else { return nil }
            let s = bytes[(d + offset + 1)..<(d + offset + 1 + n)]
            guard s.allSatisfy({ $0 >= 0x20 }) else { return nil }
            return TextBytes.text(s)
        }
        if 0x249 + 8 <= m.data.count {
            let days = Double(bitPattern: UInt64(u32(bytes, d + 0x249)) | UInt64(u32(bytes, d + 0x24D)) << 32)
            // Plausible acquisition dates only (1990…2100): older layouts put other bytes here.
            if days.isFinite, days > 32874, days < 73051 {
                let naive = (days - 25569) * 86400   // OLE day 25569 is 1970-01-01
                let guess = Date(timeIntervalSince1970: naive)
                let offset = Double(timeZone.secondsFromGMT(for: guess))
                // Millisecond rounding: EC-Lab prints the start to the millisecond.
                record.acquisitionStart = Date(timeIntervalSince1970: ((naive - offset) * 1000).rounded() / 1000)
            }
        }
        record.softwareVersion = pascal(0x3B7)
        record.firmwareVersion = pascal(0x3BE)
        if let sn = pascal(0x3CF) { record.instrument = "SN \(sn)" }
        if let host = pascal(0x351) { record.settings["Host"] = host }
        if let address = pascal(0x384) { record.settings["Address"] = address }
        if let file = pascal(0x251) { record.settings["File"] = file }
    }

    /// Cell characteristics from the settings module, only those whose offset and unit agree with
    /// EC-Lab's export in every fixture: comments (Pascal string at 0x07), electrode material (0x11E),
    /// battery capacity (f32 at 0x25C, in mA·h whatever unit EC-Lab displays it in).
    static func readCellCharacteristics(_ bytes: [UInt8], _ m: Module, into record: inout InstrumentRecord) {
        let d = m.data.lowerBound
        func pascal(_ offset: Int) -> String? {
            guard offset < m.data.count else { return nil }
            let n = Int(bytes[d + offset])
            guard n > 0, offset + 1 + n <= m.data.count else { return nil }
            return TextBytes.text(bytes[(d + offset + 1)..<(d + offset + 1 + n)]).replacingOccurrences(of: "\r\n", with: "\n")
        }
        if let c = pascal(0x07) { record.settings["Comments"] = c }
        if let mat = pascal(0x11E) { record.settings["Electrode material"] = mat }
        if 0x25C + 4 <= m.data.count {
            let capacity = Float(bitPattern: u32(bytes, d + 0x25C))
            if capacity.isFinite, capacity > 0 { record.settings["Battery capacity"] = String(format: "%.7g mA.h", Double(capacity)) }
        }
    }

    static func u32(_ b: [UInt8], _ p: Int) -> UInt32 {
        UInt32(b[p]) | UInt32(b[p + 1]) << 8 | UInt32(b[p + 2]) << 16 | UInt32(b[p + 3]) << 24
    }

    static func ascii(_ s: ArraySlice<UInt8>) -> String {
        TextBytes.text(s).trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
    }
}
