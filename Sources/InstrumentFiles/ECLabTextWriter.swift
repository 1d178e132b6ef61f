import Foundation

/// One GCPL sample as EC-Lab records it, in EC-Lab's units (mA, mA·h), current positive on charge.
public struct ECLabGCPLSample: Sendable, Equatable {
    /// EC-Lab mode: 1 galvanostatic, 2 potentiostatic, 3 rest.
    public var mode: Int
    /// 1 while the current is anodic (charge/oxidation), else 0.
    public var oxRed: Int
    /// 1 on an instrument error flag.
    public var error: Int
    /// 1 on the first sample after the control changed.
    public var controlChanges: Int
    /// 1 on the first sample of a new sequence (Ns).
    public var nsChanges: Int
    /// 1 when the cycle counter was incremented.
    public var counterInc: Int
    /// Sequence (step) index, from 0.
    public var ns: Int
    /// Time since acquisition start, s.
    public var timeSeconds: Double
    /// The control value: V in a potentiostatic sequence, mA in a galvanostatic one.
    public var controlVoltsOrMilliamps: Double
    /// Working-electrode potential, V.
    public var eweVolts: Double
    /// Mean current over the sampling interval, mA.
    public var currentMilliamps: Double
    /// Charge since the previous sample, mA·h.
    public var dqMilliampHours: Double
    /// Charge since the start, mA·h.
    public var qMinusQ0MilliampHours: Double
    /// EC-Lab's current-range code.
    public var iRange: Int
    /// Charge in the current half cycle, mA·h.
    public var qChargeDischargeMilliampHours: Double
    /// Half-cycle index, from 0.
    public var halfCycle: Int
    /// Cycle number, from 0.
    public var cycleNumber: Int

    /// A sample from all its fields.
    public init(mode: Int, oxRed: Int, error: Int = 0, controlChanges: Int, nsChanges: Int, counterInc: Int = 0, ns: Int,
                timeSeconds: Double, controlVoltsOrMilliamps: Double, eweVolts: Double, currentMilliamps: Double,
                dqMilliampHours: Double, qMinusQ0MilliampHours: Double, iRange: Int = 41,
                qChargeDischargeMilliampHours: Double, halfCycle: Int, cycleNumber: Int) {
        self.mode = mode; self.oxRed = oxRed; self.error = error; self.controlChanges = controlChanges
        self.nsChanges = nsChanges; self.counterInc = counterInc; self.ns = ns; self.timeSeconds = timeSeconds
        self.controlVoltsOrMilliamps = controlVoltsOrMilliamps; self.eweVolts = eweVolts
        self.currentMilliamps = currentMilliamps; self.dqMilliampHours = dqMilliampHours
        self.qMinusQ0MilliampHours = qMinusQ0MilliampHours; self.iRange = iRange
        self.qChargeDischargeMilliampHours = qChargeDischargeMilliampHours; self.halfCycle = halfCycle
        self.cycleNumber = cycleNumber
    }
}

/// The header of an EC-Lab-style GCPL export.
public struct ECLabGCPLHeader: Sendable, Equatable {
    /// Acquisition start, printed in `timeZone` as EC-Lab does (month/day/year, ms).
    public var acquisitionStart: Date
    /// Technique start ("Technique started on"), when it differs from the acquisition start.
    public var techniqueStart: Date?
    /// Zone of the writing clock.
    public var timeZone: TimeZone
    /// The device line ("firmware-sim (SN 0)").
    public var device: String
    /// The channel number.
    public var channel: Int
    /// Further `key : value` lines (written in this order after the standard ones).
    public var settings: [(key: String, value: String)]
    /// The technique's parameter table, one row per parameter, one value per sequence (`("Is",
    /// ["0.000", "30.000"])`). `Ns` is added in front.
    public var sequenceParameters: [(name: String, values: [String])]
    /// Write decimal commas (German-locale EC-Lab) instead of points.
    public var decimalComma: Bool

    /// A header; only the start time is required.
    public init(acquisitionStart: Date, techniqueStart: Date? = nil, timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current,
                device: String = "firmware-sim", channel: Int = 1, settings: [(key: String, value: String)] = [],
                sequenceParameters: [(name: String, values: [String])] = [], decimalComma: Bool = false) {
        self.acquisitionStart = acquisitionStart; self.techniqueStart = techniqueStart; self.timeZone = timeZone; self.device = device; self.channel = channel
        self.settings = settings; self.sequenceParameters = sequenceParameters; self.decimalComma = decimalComma
    }

    public static func == (a: ECLabGCPLHeader, b: ECLabGCPLHeader) -> Bool {
        a.acquisitionStart == b.acquisitionStart && a.techniqueStart == b.techniqueStart && a.timeZone == b.timeZone && a.device == b.device && a.channel == b.channel
            && a.settings.map { [$0.key, $0.value] } == b.settings.map { [$0.key, $0.value] }
            && a.sequenceParameters.map { [$0.name] + $0.values } == b.sequenceParameters.map { [$0.name] + $0.values }
            && a.decimalComma == b.decimalComma
    }
}

/// Writes EC-Lab-style GCPL text exports (`.mpt`): the same first lines, header conventions, column
/// names, units and number formats as EC-Lab's own GCPL exports (`%.15E`-style with three exponent
/// digits for 8-byte values, 7 mantissa digits for 4-byte ones), tab-separated with a trailing tab,
/// CRLF line ends. `ECLabTextReader` reads what this writes. firmware-sim writes its instrument
/// record with it; it can write `headerText` once and append `rowText` per sample.
public enum ECLabTextWriter {
    /// The technique line EC-Lab writes for GCPL.
    public static let gcplTechnique = "Galvanostatic Cycling with Potential Limitation"

    /// The column names, in EC-Lab's GCPL export order.
    public static let gcplColumns = [
        "mode", "ox/red", "error", "control changes", "Ns changes", "counter inc.", "Ns", "time/s",
        "dq/mA.h", "(Q-Qo)/mA.h", "control/V/mA", "Ewe/V", "I Range", "Q charge/discharge/mA.h",
        "half cycle", "<I>/mA", "cycle number",
    ]

    /// The header, through the column-name line, with its own "Nb header lines".
    public static func headerText(_ h: ECLabGCPLHeader) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = h.timeZone
        f.dateFormat = "MM/dd/yyyy HH:mm:ss.SSS"
        var body: [String] = [
            "",
            gcplTechnique,
            "",
            "Run on channel : \(h.channel)",
            "User : ",
            "Acquisition started on : \(f.string(from: h.acquisitionStart))",
        ]
        if let t = h.techniqueStart { body.append("Technique started on : \(f.string(from: t))") }
        body += [
            "Device : \(h.device)",
            "Written by : operando firmware-sim",
        ]
        body += h.settings.map { "\($0.key) : \($0.value)" }
        if !h.sequenceParameters.isEmpty {
            let n = h.sequenceParameters.map(\.values.count).max() ?? 0
            func row(_ name: String, _ values: [String]) -> String {
                (name.padding(toLength: max(20, name.count + 1), withPad: " ", startingAt: 0))
                    + values.map { $0.padding(toLength: max(20, $0.count + 1), withPad: " ", startingAt: 0) }.joined()
            }
            body.append(row("Ns", (0..<n).map(String.init)))
            body += h.sequenceParameters.map { row($0.name, $0.values) }
        }
        body.append("")
        // EC-Lab counts every line up to and including the column names.
        let count = 2 + body.count + 1
        var lines = ["EC-Lab ASCII FILE", "Nb header lines : \(count)".padding(toLength: 44, withPad: " ", startingAt: 0)]
        lines += body
        lines.append(gcplColumns.joined(separator: "\t") + "\t")
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// One data line (CRLF-terminated).
    public static func rowText(_ s: ECLabGCPLSample, decimalComma: Bool = false) -> String {
        func d(_ v: Double) -> String { number(v, digits: 15, comma: decimalComma) }
        func f(_ v: Double) -> String { number(Double(Float(v)), digits: 7, comma: decimalComma) }
        let fields = [
            String(s.mode), String(s.oxRed), String(s.error), String(s.controlChanges), String(s.nsChanges),
            String(s.counterInc), String(s.ns), d(s.timeSeconds), d(s.dqMilliampHours), d(s.qMinusQ0MilliampHours),
            f(s.controlVoltsOrMilliamps), f(s.eweVolts), String(s.iRange), d(s.qChargeDischargeMilliampHours),
            String(s.halfCycle), f(s.currentMilliamps), d(Double(s.cycleNumber)),
        ]
        return fields.joined(separator: "\t") + "\t\r\n"
    }

    /// The whole export as text.
    public static func gcplText(header: ECLabGCPLHeader, samples: [ECLabGCPLSample]) -> String {
        var out = headerText(header)
        out.reserveCapacity(out.utf8.count + samples.count * 260)
        for s in samples { out += rowText(s, decimalComma: header.decimalComma) }
        return out
    }

    /// Writes the export to `path` (replacing it), Latin-1 encoded as EC-Lab does.
    public static func writeGCPL(path: String, header: ECLabGCPLHeader, samples: [ECLabGCPLSample]) throws {
        let text = gcplText(header: header, samples: samples)
        guard let data = text.data(using: .isoLatin1) else {
            throw InstrumentFileError.malformed(path: path, location: "header", detail: "text not representable in Latin-1 (EC-Lab's encoding)")
        }
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw InstrumentFileError.unreadable(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// EC-Lab's number format: `d.dddE+XXX` with `digits` mantissa digits after the point and a
    /// signed three-digit exponent.
    static func number(_ v: Double, digits: Int, comma: Bool) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "INF" : "-INF") }
        var s = String(format: "%.\(digits)E", v)   // e.g. 3.015299923827115E+01
        if let e = s.firstIndex(of: "E") {
            let mantissa = s[..<e]
            let expPart = s[s.index(after: e)...]
            let sign = expPart.first == "-" ? "-" : "+"
            let digitsOnly = expPart.drop { $0 == "+" || $0 == "-" }
            let exponent = String(repeating: "0", count: max(0, 3 - digitsOnly.count)) + digitsOnly
            s = mantissa + "E" + sign + exponent
        }
        return comma ? s.replacingOccurrences(of: ".", with: ",") : s
    }
}
