import Foundation

/// What the `.mpr` data module's column ids mean: the name EC-Lab's text export prints for each
/// id, and how many bytes the value takes in a row. Facts gathered from public format notes
/// (galvani, yadg) and checked here against EC-Lab's own `.mpt` exports of the fixture runs (the
/// `.mpr` columns appear in the `.mpt` in the same order, under these names). An id not listed
/// here has no known width: the reader refuses the file rather than guess (`unknownColumnID`).
public enum ECLabColumns {
    /// The storage type of one `.mpr` column.
    public enum Storage: Sendable, Equatable {
        case float32, float64, uint16, uint32, uint8
        /// Bytes per value.
        public var width: Int {
            switch self {
            case .float32, .uint32: return 4
            case .float64: return 8
            case .uint16: return 2
            case .uint8: return 1
            }
        }
    }

    /// Flag columns: all of them share one byte per row, each a bit field of it.
    public static let flags: [Int: (name: String, mask: UInt8)] = [
        1: ("mode", 0b0000_0011),
        2: ("ox/red", 0b0000_0100),
        3: ("error", 0b0000_1000),
        21: ("control changes", 0b0001_0000),
        31: ("Ns changes", 0b0010_0000),
        65: ("counter inc.", 0b1000_0000),
    ]

    /// Data columns: id → (name as the `.mpt` prints it, storage).
    public static let data: [Int: (name: String, storage: Storage)] = {
        var t: [Int: (String, Storage)] = [
            4: ("time/s", .float64), 5: ("control/V/mA", .float32), 6: ("Ewe/V", .float32),
            7: ("dq/mA.h", .float64), 8: ("I/mA", .float32), 9: ("Ece/V", .float32),
            11: ("<I>/mA", .float64), 13: ("(Q-Qo)/mA.h", .float64),
            16: ("Analog IN 1/V", .float32), 17: ("Analog IN 2/V", .float32),
            19: ("control/V", .float32), 20: ("control/mA", .float32),
            23: ("dQ/mA.h", .float64), 24: ("cycle number", .float64),
            32: ("freq/Hz", .float32), 33: ("|Ewe|/V", .float32), 34: ("|I|/A", .float32),
            35: ("Phase(Z)/deg", .float32), 36: ("|Z|/Ohm", .float32), 37: ("Re(Z)/Ohm", .float32),
            38: ("-Im(Z)/Ohm", .float32), 39: ("I Range", .uint16),
            69: ("R/Ohm", .float32), 70: ("P/W", .float32), 74: ("|Energy|/W.h", .float64),
            75: ("Analog OUT/V", .float32), 76: ("<I>/mA", .float32), 77: ("<Ewe>/V", .float32),
            78: ("Cs-2/µF-2", .float32),
            96: ("|Ece|/V", .float32), 98: ("Phase(Zce)/deg", .float32), 99: ("|Zce|/Ohm", .float32),
            100: ("Re(Zce)/Ohm", .float32), 101: ("-Im(Zce)/Ohm", .float32),
            123: ("Energy charge/W.h", .float64), 124: ("Energy discharge/W.h", .float64),
            125: ("Capacitance charge/µF", .float64), 126: ("Capacitance discharge/µF", .float64),
            131: ("Ns", .uint16), 163: ("|Estack|/V", .float32), 168: ("Rcmp/Ohm", .float32),
            169: ("Cs/µF", .float32), 172: ("Cp/µF", .float32), 173: ("Cp-2/µF-2", .float32),
            174: ("<Ewe>/V", .float32), 178: ("(Q-Qo)/C", .float32), 179: ("dQ/C", .float32),
            182: ("step time/s", .float64), 211: ("Q charge/discharge/mA.h", .float64),
            217: ("THD Ewe/%", .float32),
            241: ("|E1|/V", .float32), 242: ("|E2|/V", .float32),
            271: ("Phase(Z1)/deg", .float32), 272: ("Phase(Z2)/deg", .float32),
            295: ("I Range", .uint16),
            301: ("|Z1|/Ohm", .float32), 302: ("|Z2|/Ohm", .float32), 326: ("P/W", .float32),
            331: ("Re(Z1)/Ohm", .float32), 332: ("Re(Z2)/Ohm", .float32),
            361: ("-Im(Z1)/Ohm", .float32), 362: ("-Im(Z2)/Ohm", .float32),
            379: ("Energy charge/W.h", .float64),
            391: ("<E1>/V", .float32), 392: ("<E2>/V", .float32),
            422: ("Phase(Zstack)/deg", .float32), 423: ("|Zstack|/Ohm", .float32),
            424: ("Re(Zstack)/Ohm", .float32), 425: ("-Im(Zstack)/Ohm", .float32), 426: ("<Estack>/V", .float32),
            430: ("Phase(Zwe-ce)/deg", .float32), 431: ("|Zwe-ce|/Ohm", .float32),
            432: ("Re(Zwe-ce)/Ohm", .float32), 433: ("-Im(Zwe-ce)/Ohm", .float32),
            434: ("(Q-Qo)/C", .float32), 435: ("dQ/C", .float32), 441: ("<Ece>/V", .float32),
            462: ("Temperature/°C", .float32), 467: ("Q charge/discharge/mA.h", .float64),
            468: ("half cycle", .uint32), 469: ("z cycle", .uint32), 471: ("<Ece>/V", .float32),
            473: ("THD Ewe/%", .float32), 474: ("THD I/%", .float32), 475: ("THD Ece/%", .float32),
            476: ("NSD Ewe/%", .float32), 477: ("NSD I/%", .float32), 478: ("NSD Ece/%", .float32),
            479: ("NSR Ewe/%", .float32), 480: ("NSR I/%", .float32), 481: ("NSR Ece/%", .float32),
        ]
        for h in 2...7 {
            t[484 + h] = ("|Ewe h\(h)|/V", .float32)   // 486…491
            t[490 + h] = ("|I h\(h)|/A", .float32)     // 492…497
            t[496 + h] = ("|Ece h\(h)|/V", .float32)   // 498…503
        }
        return t.mapValues { (name: $0.0, storage: $0.1) }
    }()

    /// EC-Lab's full technique names (as its text export writes them) by the settings module's
    /// technique byte. 0x04, 0x0B, 0x18, 0x19, 0x75, 0x76 and 0x7F are checked against fixture files
    /// beside their own `.mpt` export; the others are from public format notes (yadg).
    public static let techniqueNames: [UInt8: String] = [
        0x04: "Galvanostatic Cycling with Potential Limitation",
        0x06: "Cyclic Voltammetry",
        0x0B: "Open Circuit Voltage",
        0x16: "Modular Potentio",
        0x18: "Chronoamperometry / Chronocoulometry",
        0x19: "Chronopotentiometry",
        0x1C: "Wait",
        0x1D: "Potentio Electrochemical Impedance Spectroscopy",
        0x1E: "Galvano Electrochemical Impedance Spectroscopy",
        0x30: "Cyclic Voltammetry",
        0x32: "IR compensation (PEIS)",
        0x33: "Cyclic Voltammetry Advanced",
        0x6C: "Linear Sweep Voltammetry",
        0x75: "Constant Voltage",
        0x76: "Constant Current",
        0x77: "Galvanostatic Cycling with Potential Limitation",
        0x7F: "Modulo Bat",
    ]

    /// One name for a column that EC-Lab versions print differently: `<Ewe/V>` (older) is `<Ewe>/V`;
    /// v11.5x+ with Ece recorded writes `Energy we charge/W.h` for `Energy charge/W.h`.
    public static func canonicalName(_ name: String) -> String {
        var n = name
        if n.hasPrefix("<"), n.hasSuffix(">"), let s = n.firstIndex(of: "/") {
            n = String(n[..<s]) + ">" + String(n[s..<n.index(before: n.endIndex)])
        }
        if n.hasPrefix("Energy we charge") { n = "Energy charge" + n.dropFirst("Energy we charge".count) }
        if n.hasPrefix("Energy we discharge") { n = "Energy discharge" + n.dropFirst("Energy we discharge".count) }
        return n
    }
}
