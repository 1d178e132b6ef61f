import Foundation

/// The electrochemistry a record maps to, in operando's units and sign convention: time in s
/// (the instrument's own clock, from its acquisition or curve start), voltage in V, current in A
/// positive on charge/oxidation of the working electrode (as EC-Lab records it), capacity in A·h.
/// Named `ImportedEchemSeries` because `Figures` already has an `EchemSeries` the CLI imports too.
public struct ImportedEchemSeries: Sendable, Equatable {
    /// Instrument time, s.
    public var timeSeconds: [Double]
    /// Working-electrode (cell) voltage, V.
    public var voltageVolts: [Double]
    /// Current, A, positive on charge/oxidation.
    public var currentAmps: [Double]
    /// Charge passed since the start, A·h (positive on charge), where the file records it.
    public var capacityAmpHours: [Double]?
    /// The instrument's step (sequence) index, where recorded.
    public var stepIndex: [Int]?
    /// The cycle number, where recorded.
    public var cycleNumber: [Int]?
    /// Which instrument column each quantity came from: keys `time_s`, `voltage_V`, `current_A`,
    /// `capacity_Ah`, `step`, `cycle`; values the instrument column names.
    public var sourceColumns: [String: String]
    /// Conversions and assumptions made, one sentence each.
    public var notes: [String]

    /// Number of samples.
    public var count: Int { timeSeconds.count }
}

extension InstrumentRecord {
    /// Maps this record onto operando's electrochemistry series. Throws `missingQuantity` when there
    /// is no time or no voltage column; a record without a current column (open-circuit runs) gets
    /// zero current and a note.
    public func echemSeries() throws -> ImportedEchemSeries {
        var source: [String: String] = [:]
        var notes: [String] = []
        func find(_ candidates: [String]) -> InstrumentColumn? {
            for c in candidates {
                if let col = columns.first(where: { ECLabColumns.canonicalName($0.name) == c || $0.name == c }) { return col }
            }
            return nil
        }
        let available = columns.map(\.name)
        let timeNames: [String], voltageNames: [String], currentNames: [(String, Double)]
        switch format {
        case .ecLabBinary, .ecLabText:
            timeNames = ["time/s"]
            voltageNames = ["Ewe/V", "<Ewe>/V", "Ecell/V", "Ewe-Ece/V"]
            currentNames = [("I/mA", 1e-3), ("<I>/mA", 1e-3), ("I/A", 1), ("<I>/A", 1)]
        case .gamryDTA:
            timeNames = ["T", "Time"]
            // Vf/Im in DC curves; EIS tables carry the DC potential and current as Vdc/Idc.
            voltageNames = ["Vf", "Vm", "Vdc"]
            currentNames = [("Im", 1), ("Idc", 1)]
        case .batteryDataFormat:
            timeNames = ["Test Time / s"]
            voltageNames = ["Voltage / V"]
            currentNames = [("Current / A", 1)]
        }
        guard let time = find(timeNames) else {
            throw InstrumentFileError.missingQuantity(path: sourcePath, quantity: "time (\(timeNames.joined(separator: " or ")))", available: available)
        }
        guard let voltage = find(voltageNames) else {
            throw InstrumentFileError.missingQuantity(path: sourcePath, quantity: "voltage (\(voltageNames.joined(separator: " or ")))", available: available)
        }
        source["time_s"] = time.name
        source["voltage_V"] = voltage.name
        var current = [Double](repeating: 0, count: time.values.count)
        if let (col, scale) = currentNames.lazy.compactMap({ name, scale in find([name]).map { ($0, scale) } }).first {
            var sign = 1.0
            if format == .gamryDTA {
                // Gamry's CONVENTION setting ("Current Convention"): read as 1 = anodic current
                // positive (Gamry's usual setting, operando's and EC-Lab's convention), 0 = cathodic
                // positive. The numbering is this reader's reading of Gamry files, not from a Gamry
                // document; every fixture has 1. When absent, anodic-positive is assumed.
                switch settings["CONVENTION"]?.trimmingCharacters(in: .whitespaces) {
                case "0": sign = -1; notes.append("Gamry CONVENTION 0 (cathodic positive): current negated to operando's anodic-positive sign")
                case "1": break
                default: notes.append("Gamry file without CONVENTION: Gamry's default, anodic current positive, assumed")
                }
            }
            if format == .batteryDataFormat {
                notes.append("BDF current taken as positive on charge")
            }
            current = col.values.map { $0 * scale * sign }
            source["current_A"] = col.name
        } else if format == .ecLabBinary || format == .ecLabText, let dq = find(["dq/mA.h"]) {
            // GCPL .mpr files store dq per sample but no current; EC-Lab's export computes <I>/mA
            // as dq over the sampling interval, and so does this.
            let t = time.values
            for k in 1..<max(1, t.count) where t[k] > t[k - 1] {
                current[k] = dq.values[k] * 3.6 / (t[k] - t[k - 1])   // mA·h per s → A
            }
            source["current_A"] = dq.name
            notes.append("current derived from dq/mA.h over each sampling interval (the file records no current column)")
        } else {
            notes.append("no current column: current taken as 0 A (open circuit)")
        }
        var capacity: [Double]? = nil
        let capacityNames: [(String, Double)] = format == .batteryDataFormat
            ? [("Net Capacity / Ah", 1), ("Cumulative Capacity / Ah", 1)]
            : [("(Q-Qo)/mA.h", 1e-3), ("(Q-Qo)/C", 1.0 / 3600)]
        if let (col, scale) = capacityNames.lazy.compactMap({ name, scale in find([name]).map { ($0, scale) } }).first {
            capacity = col.values.map { $0 * scale }
            source["capacity_Ah"] = col.name
        }
        func ints(_ names: [String], key: String) -> [Int]? {
            guard let col = find(names) else { return nil }
            source[key] = col.name
            return col.values.map { $0.isFinite ? Int($0.rounded()) : -1 }
        }
        let step: [Int]?, cycle: [Int]?
        switch format {
        case .ecLabBinary, .ecLabText:
            step = ints(["Ns"], key: "step")
            if let c = ints(["cycle number"], key: "cycle") {
                cycle = c
            } else if let half = ints(["half cycle"], key: "cycle") {
                // The binary file has no cycle column; EC-Lab's export numbers cycles as half cycle ÷ 2.
                cycle = half.map { $0 >= 0 ? $0 / 2 : -1 }
                notes.append("cycle number derived from half cycle ÷ 2, as EC-Lab's export numbers cycles")
            } else {
                cycle = nil
            }
        case .gamryDTA:
            step = ints(["Curve"], key: "step"); cycle = nil
        case .batteryDataFormat:
            step = ints(["Step Count / 1", "Step Index / 1"], key: "step"); cycle = ints(["Cycle Count / 1"], key: "cycle")
        }
        return ImportedEchemSeries(timeSeconds: time.values, voltageVolts: voltage.values, currentAmps: current,
                                   capacityAmpHours: capacity, stepIndex: step, cycleNumber: cycle,
                                   sourceColumns: source, notes: notes)
    }
}

extension ImportedEchemSeries {
    /// Instrument times at which a step (EC-Lab sequence `Ns`, Gamry curve, BDF step) begins: the
    /// first sample and every sample whose step index differs from the one before. These are the
    /// instrument-side events to match with trigger edges in `ClockAlignment.fit` when the
    /// instrument raises its trigger at each step; with no step column only the first sample's time.
    public var stepStartSeconds: [Double] {
        guard let first = timeSeconds.first else { return [] }
        guard let step = stepIndex, step.count == timeSeconds.count else { return [first] }
        var out = [first]
        for k in 1..<step.count where step[k] != step[k - 1] { out.append(timeSeconds[k]) }
        return out
    }
}

extension InstrumentRecord {
    /// Seconds from acquisition start to technique start, where the EC-Lab export gives both
    /// ("Technique started on"); the instrument time of a trigger raised at technique start.
    public var techniqueStartSeconds: Double? {
        // Both stamps are the same local clock; any zone gives their difference.
        let utc = TimeZone(identifier: "UTC")!
        guard let techniqueText = settings["Technique started on"], let acquisitionText = settings["Acquisition started on"],
              let technique = ECLabHeader.date(techniqueText, timeZone: utc),
              let acquisition = ECLabHeader.date(acquisitionText, timeZone: utc) else { return nil }
        return technique.timeIntervalSince(acquisition)
    }
}
