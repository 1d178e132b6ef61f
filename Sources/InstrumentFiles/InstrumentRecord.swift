// InstrumentFiles — readers for files written by potentiostats' own software (BioLogic EC-Lab
// .mpr/.mpt, Gamry .DTA, Battery Data Format CSV), the mapping of what they recorded onto
// operando's electrochemistry series, the instrument-clock ↔ rig-clock fit, and the EC-Lab-style
// .mpt writer firmware-sim uses. Pure library over Foundation: it returns typed values and never
// writes dataset files (the Dataset target owns those).
import Foundation

/// The file formats this module reads.
public enum InstrumentFormat: String, Sendable, Codable, CaseIterable {
    /// BioLogic EC-Lab binary modular file (`.mpr`).
    case ecLabBinary
    /// BioLogic EC-Lab text export (`.mpt`).
    case ecLabText
    /// Gamry Framework data file (`.DTA`).
    case gamryDTA
    /// Battery Data Alliance's Battery Data Format, CSV serialisation (`.bdf`, `.bdf.csv`, `.csv`).
    case batteryDataFormat
}

/// One column as the instrument's software recorded it.
public struct InstrumentColumn: Sendable, Equatable {
    /// The column's name exactly as the file gives it, unit included where the file joins them
    /// (`"Ewe/V"`, `"<I>/mA"`, `"Test Time / s"`, Gamry's `"Vf"`). For `.mpr` files this is the
    /// name EC-Lab's own text export prints for the column id.
    public var name: String
    /// The quantity without its unit (`"Ewe"`, `"Test Time"`).
    public var quantity: String
    /// The unit as written (`"V"`, `"mA.h"`, `"V vs. Ref."`), nil for unitless columns and flags.
    public var unit: String?
    /// One value per row. Flags and bit columns are decoded to numbers (EC-Lab `mode` 0…3, `ox/red`
    /// 0/1; Gamry `Over` as a bit mask, one bit per position that is not `.`).
    public var values: [Double]
    /// The EC-Lab column id for `.mpr` columns, nil otherwise.
    public var ecLabColumnID: Int?

    /// A column from its parts.
    public init(name: String, quantity: String, unit: String?, values: [Double], ecLabColumnID: Int? = nil) {
        self.name = name
        self.quantity = quantity
        self.unit = unit
        self.values = values
        self.ecLabColumnID = ecLabColumnID
    }

    /// A column whose quantity and unit are split from `name` by the file format's rule.
    init(name: String, values: [Double], unitSeparator: ColumnNameSplitter, ecLabColumnID: Int? = nil) {
        let (q, u) = unitSeparator.split(name)
        self.init(name: name, quantity: q, unit: u, values: values, ecLabColumnID: ecLabColumnID)
    }
}

/// A further table of a file beside its main data (Gamry's `OCVCURVE` before a `CURVE`).
public struct InstrumentTable: Sendable, Equatable {
    /// The table's tag in the file (`"OCVCURVE"`).
    public var name: String
    /// Its columns, as in `InstrumentRecord.columns`.
    public var columns: [InstrumentColumn]
}

/// Everything a reader took from one instrument file.
public struct InstrumentRecord: Sendable {
    /// The file read.
    public var sourcePath: String
    /// Its format.
    public var format: InstrumentFormat
    /// The instrument (model and/or serial number) where the file names it.
    public var instrument: String?
    /// The acquisition software's version (`"11.50"` for EC-Lab v11.50), where present.
    public var softwareVersion: String?
    /// The instrument firmware's version, where present.
    public var firmwareVersion: String?
    /// Technique name(s), in run order (`["Galvanostatic Cycling with Potential Limitation"]`,
    /// `["CHRONOA"]`).
    public var techniques: [String]
    /// Header settings, key → text as the file writes it (numbers keep their own decimal mark).
    public var settings: [String: String]
    /// When acquisition started, if the file records it (EC-Lab: "Acquisition started on", the
    /// `.mpr` log module's timestamp; Gamry: DATE and TIME, read as local time of this machine's
    /// time zone unless `timeZone` is given to the reader).
    public var acquisitionStart: Date?
    /// The data columns, every one the file has, in file order.
    public var columns: [InstrumentColumn]
    /// Further tables (Gamry files only).
    public var otherTables: [InstrumentTable]
    /// True when the file says the run was aborted or its last table is shorter than declared.
    public var aborted: Bool
    /// What the reader noticed that a user should know (short table, incomplete header, assumed
    /// sign convention), one sentence each.
    public var notes: [String]

    /// Number of data rows (0 for a file without data).
    public var rowCount: Int { columns.first?.values.count ?? 0 }

    /// The first column with exactly this name, if any.
    public func column(named name: String) -> InstrumentColumn? {
        columns.first { $0.name == name }
    }
}

/// Errors of the InstrumentFiles module. Every message names the file, what was wrong there and what
/// was expected.
public enum InstrumentFileError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or read.
    case unreadable(path: String, reason: String)
    /// The file's extension or first bytes are not of a format this module reads.
    case unknownFormat(path: String, detail: String)
    /// The file does not follow its format at `location` (a byte offset or line): `detail` says
    /// what was found and what was expected.
    case malformed(path: String, location: String, detail: String)
    /// An `.mpr` data module names a column id whose width this reader does not know; the row
    /// layout after it cannot be known, so the file is refused rather than guessed.
    case unknownColumnID(path: String, id: Int, afterColumn: String?)
    /// The record has no column that can serve as `quantity` for the electrochemistry series.
    case missingQuantity(path: String, quantity: String, available: [String])
    /// The clock fit got too few usable edge pairs.
    case alignment(detail: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read the file: \(reason)"
        case let .unknownFormat(path, detail):
            return "\(path): not an instrument file this importer reads (\(detail)); expected EC-Lab .mpr/.mpt, Gamry .DTA or Battery Data Format CSV"
        case let .malformed(path, location, detail):
            return "\(path): \(location): \(detail)"
        case let .unknownColumnID(path, id, after):
            let where_ = after.map { " after column \"\($0)\"" } ?? " as the first column"
            return "\(path): EC-Lab data module has column id \(id)\(where_), whose byte width is not known; the rows cannot be decoded without guessing — export the file as .mpt from EC-Lab and import that"
        case let .missingQuantity(path, quantity, available):
            return "\(path): no \(quantity) column; the file has: \(available.joined(separator: ", "))"
        case let .alignment(detail):
            return "clock alignment: \(detail)"
        }
    }
}

/// How a format joins a quantity and its unit in a column name.
enum ColumnNameSplitter {
    /// EC-Lab: `quantity/unit`, where the unit may itself hold one slash (`control/V/mA`,
    /// `Re(Conductivity)/mS/cm`) and averages are sometimes written `<Ewe/V>`.
    case ecLab
    /// Battery Data Format: `Quantity / unit`.
    case spacedSlash
    /// No unit in the name (Gamry: units are on their own line).
    case none

    func split(_ name: String) -> (String, String?) {
        switch self {
        case .none:
            return (name, nil)
        case .spacedSlash:
            guard let r = name.range(of: " / ", options: .backwards) else { return (name, nil) }
            return (String(name[..<r.lowerBound]), String(name[r.upperBound...]))
        case .ecLab:
            // "<Ewe/V>" (older exports) is the average <Ewe> in V.
            if name.hasPrefix("<"), name.hasSuffix(">"), let s = name.firstIndex(of: "/") {
                let q = String(name[..<s]) + ">"
                let u = String(name[name.index(after: s)..<name.index(before: name.endIndex)])
                return (q, u)
            }
            for composite in ["/V/mA", "/mS/cm", "/discharge/mA.h", "/discharge/C"] where name.hasSuffix(composite) {
                // "Q charge/discharge/mA.h": the quantity is "Q charge/discharge".
                if composite.hasPrefix("/discharge") {
                    let cut = name.index(name.endIndex, offsetBy: -(composite.count - "/discharge".count))
                    return (String(name[..<cut]), String(name[name.index(after: cut)...]))
                }
                let cut = name.index(name.endIndex, offsetBy: -composite.count)
                return (String(name[..<cut]), String(name[name.index(after: cut)...]))
            }
            guard let s = name.lastIndex(of: "/") else { return (name, nil) }
            return (String(name[..<s]), String(name[name.index(after: s)...]))
        }
    }
}
