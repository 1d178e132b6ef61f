import Foundation
import Rig

// MethodSCRIPT (PalmSens EmStat4 / Nexus), written from the public MethodSCRIPT manual: scripts are
// text sent after an `e` line and ended by an empty line; measurement loops stream data packages
//
//     P<var>;<var>;…            e.g.  Pab8000F3Cm;ba80004E2u,10
//     <var> = TT HHHHHHH p [,meta…]
//
// TT is the variable type (`ab` WE potential, `ba` WE current, `da` applied potential, …), HHHHHHH a
// 28-bit value offset by 2^27 (0x8000000 is zero), p an SI prefix character; metadata entries start with
// their type digit (`1` status bits, `2` current range). Loops are bracketed by `M…` and `*`; the
// script's end is an empty line; `!XXXX` reports an error by its hexadecimal code; `Z` aborts.

/// One variable of a data package.
public struct MethodSCRIPTVariable: Sendable, Equatable {
    /// Two-letter type, e.g. `ab`.
    public var type: String
    /// Value in SI units (V, A, s, …).
    public var value: Double
    /// Status bits from metadata `1` (0: OK; 0x2 overload), if sent.
    public var status: Int?
    /// Current range index from metadata `2`, if sent.
    public var currentRange: Int?
}

/// Parsing and generation of MethodSCRIPT text.
public enum MethodSCRIPT {
    /// Variable types the driver interprets (the manual lists more; others are parsed and kept).
    public static let variableTypes: [String: String] = [
        "aa": "unknown", "ab": "WE potential (V)", "ac": "CE potential (V)", "ad": "WE potential vs ground (V)",
        "as": "sense potential (V)", "ba": "WE current (A)", "da": "applied potential (V)", "dc": "applied current (A)",
        "eb": "time (s)",
    ]

    /// SI prefix characters and their factors (`' '` and `i` are unity).
    public static let prefixes: [Character: Double] = [
        "a": 1e-18, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, " ": 1, "i": 1,
        "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    ]

    /// Status bit of an overloaded current (the measurement is at the end of its range).
    public static let statusOverload = 0x2

    /// Device error codes as the manual's error table names them; other codes are shown by number.
    public static let errorMessages: [Int: String] = [
        0x0001: "an unspecified error occurred",
        0x0002: "a fatal error occurred",
        0x0003: "invalid variable type",
        0x0004: "the command is not recognised",
        0x0005: "unknown register",
        0x0006: "the register is read-only",
        0x0007: "wrong communication mode",
        0x0008: "an argument has an unexpected value",
        0x0009: "not enough memory for the script",
    ]

    /// The message for an `!XXXX` line.
    public static func errorDescription(_ line: String) -> String {
        let body = line.dropFirst()
        let codeText = body.prefix { $0.isHexDigit }
        let rest = body.dropFirst(codeText.count).trimmingCharacters(in: CharacterSet(charactersIn: " :"))
        guard let code = Int(codeText, radix: 16) else { return "device error \"\(line)\"" }
        let known = errorMessages[code] ?? "device error (see the MethodSCRIPT manual's error table)"
        return String(format: "error 0x%04X: ", code) + known + (rest.isEmpty ? "" : " (\(rest))")
    }

    /// Decodes `HHHHHHHp` (7 hex digits, offset 2^27, SI prefix).
    public static func decodeValue(_ text: Substring) -> Double? {
        guard text.count == 8, let prefix = prefixes[text.last!],
              let raw = Int(text.prefix(7), radix: 16) else { return nil }
        return Double(raw - 0x800_0000) * prefix
    }

    /// Parses a `P…` data package.
    /// - Throws: `RigDriverError.badConfiguration`-free: returns nil for anything that is not a package.
    public static func parsePackage(_ line: String) -> [MethodSCRIPTVariable]? {
        guard line.hasPrefix("P") else { return nil }
        var out: [MethodSCRIPTVariable] = []
        for field in line.dropFirst().split(separator: ";", omittingEmptySubsequences: false) {
            let parts = field.split(separator: ",", omittingEmptySubsequences: false)
            guard let head = parts.first, head.count == 10, head.allSatisfy({ $0.isASCII }),
                  let value = decodeValue(head.dropFirst(2)) else { return nil }
            var v = MethodSCRIPTVariable(type: String(head.prefix(2)), value: value)
            for meta in parts.dropFirst() {
                guard let kind = meta.first, let x = Int(meta.dropFirst(), radix: 16) else { return nil }
                if kind == "1" { v.status = x }
                if kind == "2" { v.currentRange = x }
            }
            out.append(v)
        }
        return out.isEmpty ? nil : out
    }

    /// A number as a script argument: an integer mantissa with the largest SI prefix that keeps it
    /// exact to 10⁻⁷ (4.2 V → `4200m`, 105 µA → `105u`).
    public static func argument(_ x: Double) -> String {
        if x == 0 { return "0" }
        for (factor, p) in [(1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")] {
            let q = x / factor
            if q.rounded() != 0 && abs(q - q.rounded()) <= 1e-7 * abs(q) && abs(q) < 1e12 { return "\(Int64(q.rounded()))\(p)" }
        }
        return "\(Int64((x / 1e-12).rounded()))p"
    }

    /// Current ranges the driver picks from, A (EmStat4 HR: 1 nA … 100 mA).
    public static let currentRangesAmps: [Double] = [1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]

    /// The smallest range holding `amps`.
    public static func currentRange(forAmps amps: Double) -> Double? {
        currentRangesAmps.first { abs(amps) <= $0 * 1.0000001 }
    }

    /// Longest loop of a generated script, s; the driver starts the script again if it ever ends.
    public static let loopSeconds = 86400.0

    /// The script for a mode: a chronopotentiometry loop for CC (breaking at the window's edge into a
    /// chronoamperometry hold at that edge, which the driver reports as compliance), a
    /// chronoamperometry loop for CV, an OCP loop with the cell off for open circuit. Lines without
    /// the leading `e` and the ending empty line.
    public static func scriptLines(for mode: PotentiostatMode, intervalSeconds: Double) -> [String] {
        let dt = argument(intervalSeconds)
        let run = argument(loopSeconds)
        let header = ["var p", "var c", "set_pgstat_chan 0", "set_pgstat_mode 2", "set_max_bandwidth 40"]
        let package = ["pck_start", "pck_add p", "pck_add c", "pck_end"]
        switch mode {
        case .constantCurrent(let amps, let window):
            let range = currentRange(forAmps: amps) ?? 0.1
            let edge = amps >= 0 ? window.upperBound : window.lowerBound
            let test = amps >= 0 ? "if p > \(argument(edge))" : "if p < \(argument(edge))"
            return header + ["set_range ba \(argument(range))", "set_autoranging ba \(argument(range)) \(argument(range))",
                             "cell_on", "meas_loop_cp p c \(argument(amps)) \(dt) \(run)"] + package
                + [test, "breakloop", "endif", "endloop",
                   "set_e \(argument(edge))", "meas_loop_ca p c \(argument(edge)) \(dt) \(run)"] + package
                + ["endloop", "on_finished:", "cell_off"]
        case .constantVoltage(let volts, let limit):
            let range = currentRange(forAmps: limit) ?? 0.1
            return header + ["set_range ba \(argument(range))", "set_autoranging ba \(argument(currentRangesAmps[0])) \(argument(range))",
                             "set_e \(argument(volts))", "cell_on", "meas_loop_ca p c \(argument(volts)) \(dt) \(run)"] + package
                + ["endloop", "on_finished:", "cell_off"]
        case .openCircuit:
            return ["var p", "set_pgstat_chan 0", "set_pgstat_mode 2", "set_max_bandwidth 40", "cell_off",
                    "meas_loop_ocp p \(dt) \(run)", "pck_start", "pck_add p", "pck_end", "endloop", "on_finished:", "cell_off"]
        }
    }
}
