import Dataset
import Foundation
import InstrumentFiles

// Units: times s (instrument times on the instrument's clock, rig times of run time), voltages V,
// currents A positive on charge, capacities A·h from the file and mAh/g in echem.csv.

/// Errors of an import. Each names the dataset or file, what was wrong and what to do.
public enum ImportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The dataset already has electrochemistry (a commanded run, or an import done before).
    case alreadyHasElectrochemistry(dataset: String, reason: String)
    /// No trigger edges to align on and no `--offset`.
    case noTriggerEdges(dataset: String, instrumentEvents: Int)
    /// Several files but one has no acquisition start to place it on the common timeline.
    case noAcquisitionStart(path: String)
    /// A file without data rows.
    case noData(path: String)
    /// Nothing to import.
    case noFiles
    /// A value outside its range (`--offset`).
    case badValue(option: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .alreadyHasElectrochemistry(let d, let r):
            return "\(d): already has electrochemistry (\(r)); import only into a follow-mode dataset that has none, or use --out DIR for a new dataset"
        case .noTriggerEdges(let d, let n):
            return "\(d): triggers.csv holds no instrument trigger edges to align the instrument's \(n) step start(s) on; give --offset SECONDS (the run time, s, of the instrument's time 0)"
        case .noAcquisitionStart(let p):
            return "\(p): the file records no acquisition start, so it cannot be placed on one timeline with the other files; import it on its own"
        case .noData(let p): return "\(p): the file holds no data rows"
        case .noFiles: return "no instrument file given"
        case .badValue(let o, let v, let e): return "\(o) \(v): expected \(e)"
        }
    }
}

/// Options of an import.
public struct ImportOptions: Sendable {
    /// A plain offset (rig run time of instrument time 0, s) instead of the fit on trigger edges.
    public var offsetSeconds: Double?
    /// The instrument PC's time zone (files store local time without a zone).
    public var timeZone: TimeZone = .current
    /// operando's version, for run.json.
    public var softwareVersion = "operando"
    /// The cell's active mass, mg, for a new dataset (`create`) whose file does not state it (EC-Lab's
    /// binary .mpr keeps it out of the data module); a mass the file states must agree within 0.1 %.
    public var activeMassMilligrams: Double?

    public init(offsetSeconds: Double? = nil) { self.offsetSeconds = offsetSeconds }
}

/// What an import did.
public struct ImportSummary: Sendable {
    public var directory: String
    /// Instrument rows imported (all files).
    public var rows: Int
    public var files: [String]
    public var alignment: ClockAlignment
    /// `trigger edges`, `offset` or `none`.
    public var method: String
    public var frames: Int
    /// Frames that now carry an instrument sample.
    public var framesWithSample: Int
    public var notes: [String]
    /// Wall time of the whole import (read, map, align, write), s.
    public var wallSeconds: Double
    /// Rows per second of wall time.
    public var rowsPerSecond: Double { wallSeconds > 0 ? Double(rows) / wallSeconds : .infinity }
}

/// `operando import`: an instrument's own record (EC-Lab `.mpr`/`.mpt`, Gamry `.DTA`, BDF CSV) into a
/// follow-mode dataset — instrument.csv with every original column, echem.csv in operando's
/// convention, the clock alignment on the recorded trigger edges, frames.csv carrying the
/// instrument's step and sample, and run.json's `instrument` object (docs/follow.md).
public enum InstrumentImport {
    /// Imports `files` into the follow-mode dataset at `dataset`.
    /// - Throws: `ImportError` (a dataset with electrochemistry, no edges and no offset…),
    ///   `InstrumentFileError` naming the file, `DatasetError` naming the dataset file.
    public static func into(dataset: String, files: [String], options: ImportOptions = ImportOptions()) throws -> ImportSummary {
        let start = Date()
        let reader = try DatasetReader(dataset)
        return try DatasetRewrite.withExclusiveLock(dataset) {
            if let previous = reader.runInfo.extra["instrument"] {
                let from = previous["files"]?.array?.compactMap { $0["path"]?.string }.joined(separator: ", ") ?? "an instrument file"
                throw ImportError.alreadyHasElectrochemistry(dataset: dataset, reason: "imported before from \(from)")
            }
            let echem = try reader.echem()
            if !reader.isFollowMode {
                throw ImportError.alreadyHasElectrochemistry(
                    dataset: dataset, reason: echem.isEmpty ? "run.json records a commanded run (no follow object), so operando's own echem.csv is its record"
                        : "echem.csv holds \(echem.count) samples operando recorded while commanding the run")
            }
            let combined = try read(files, options: options)
            let alignment: ClockAlignment, method: String
            if let offset = options.offsetSeconds {
                alignment = ClockAlignment(offsetSeconds: offset); method = "offset"
            } else {
                let edges = try reader.triggers()
                guard !edges.isEmpty else { throw ImportError.noTriggerEdges(dataset: dataset, instrumentEvents: combined.events.count) }
                // With both edges recorded, the leading (rising) ones mark the starts.
                let kinds = Set(edges.map(\.kind))
                let used = kinds.count > 1 ? edges.filter { $0.kind == "rising" } : edges
                alignment = try ClockAlignment.fit(instrumentSeconds: combined.events, rigSeconds: used.map(\.timeSeconds))
                method = "trigger edges"
            }
            return try write(combined, alignment: alignment, method: method, reader: reader, options: options, start: start)
        }
    }

    /// Imports `files` into a new dataset at `out` (no frames; instrument time 0 at run time 0, or
    /// `--offset`), for inspection and `operando report`.
    public static func create(out: String, files: [String], options: ImportOptions = ImportOptions()) throws -> ImportSummary {
        let start = Date()
        let combined = try read(files, options: options)
        let first = combined.records.first
        let stated = first.flatMap(activeMassMilligrams)
        if let given = options.activeMassMilligrams {
            guard given.isFinite, given > 0, given <= 1e4 else {
                throw ImportError.badValue(option: "--active-mass", value: "\(given) mg", expected: "a mass of 0 < m ≤ 10 g")
            }
            if let stated, abs(stated - given) > 1e-3 * stated {
                throw ImportError.badValue(option: "--active-mass", value: "\(given) mg",
                                           expected: "the \(stated) mg that \(first?.sourcePath ?? "the file") states (or leave the option out)")
            }
        }
        let info = RunInfo(softwareVersion: options.softwareVersion, protocolPath: "", protocolText: "", rig: .null,
                           backend: "instrument import (no rig, no frames)",
                           startTimeUTC: ISO8601DateFormatter().string(from: first?.acquisitionStart ?? Date()),
                           pixelSizeMicrometres: 1, roi: (0, 0, 0, 0), binning: 1, frameRateHz: .nan, exposureMilliseconds: .nan,
                           ledLeadMilliseconds: .nan, ledWavelengthNanometres: .nan, blackLevelSubtractedCounts: 0,
                           activeMassMilligrams: options.activeMassMilligrams ?? stated, practicalCapacityMilliampHoursPerGram: 210)
        let writer = try RunWriter(creating: out, runInfo: info, framesPerChunk: 1)
        try writer.close()
        let reader = try DatasetReader(out)
        let alignment = ClockAlignment(offsetSeconds: options.offsetSeconds ?? 0)
        return try write(combined, alignment: alignment, method: options.offsetSeconds == nil ? "none (instrument time)" : "offset",
                         reader: reader, options: options, start: start)
    }

    /// The active mass a file's header gives (EC-Lab "Mass of active material : 1.5 mg"), mg.
    static func activeMassMilligrams(_ r: InstrumentRecord) -> Double? {
        guard let text = r.settings["Mass of active material"] else { return nil }
        let parts = text.replacingOccurrences(of: ",", with: ".").split(separator: " ")
        guard let v = parts.first.flatMap({ Double($0) }), v > 0, v.isFinite else { return nil }
        switch parts.count > 1 ? String(parts[1]) : "mg" {
        case "mg": return v
        case "g": return v * 1e3
        case "µg", "ug": return v * 1e-3
        default: return nil
        }
    }

    /// Every file's record and series on one instrument timeline.
    struct Combined {
        var records: [InstrumentRecord] = []
        var series: [ImportedEchemSeries] = []
        /// Per file: seconds added to its times, and the number added to its steps and cycles.
        var timeOffsets: [Double] = []
        var stepOffsets: [Int] = []
        var cycleOffsets: [Int] = []
        /// Step starts on the common timeline (the instrument-side events of the alignment).
        var events: [Double] = []
        var rows: Int { series.reduce(0) { $0 + $1.count } }
    }

    static func read(_ files: [String], options: ImportOptions) throws -> Combined {
        guard !files.isEmpty else { throw ImportError.noFiles }
        var c = Combined()
        for path in files {
            let r = try InstrumentFile.read(path: path, timeZone: options.timeZone)
            let s = try r.echemSeries()
            guard s.count > 0 else { throw ImportError.noData(path: path) }
            c.records.append(r)
            c.series.append(s)
        }
        if files.count > 1 {
            for r in c.records where r.acquisitionStart == nil { throw ImportError.noAcquisitionStart(path: r.sourcePath) }
            let order = c.records.indices.sorted { c.records[$0].acquisitionStart! < c.records[$1].acquisitionStart! }
            c.records = order.map { c.records[$0] }
            c.series = order.map { c.series[$0] }
        }
        let origin = c.records.first?.acquisitionStart
        var stepBase = 0, cycleBase = 0
        for (k, r) in c.records.enumerated() {
            let s = c.series[k]
            let dt = k == 0 ? 0 : (r.acquisitionStart.map { $0.timeIntervalSince(origin!) } ?? 0)
            c.timeOffsets.append(dt)
            c.stepOffsets.append(stepBase)
            c.cycleOffsets.append(cycleBase)
            c.events += s.stepStartSeconds.map { $0 + dt }
            stepBase += (s.stepIndex?.max() ?? 0) + 1
            cycleBase += (s.cycleNumber?.max() ?? 0) + 1
        }
        return c
    }

    /// What one sample's step was doing: EC-Lab's `mode` where recorded, else the current's sign.
    static func stepKinds(_ record: InstrumentRecord, _ s: ImportedEchemSeries) -> [String] {
        let mode = record.column(named: "mode")?.values
        let scale = max(1e-12, s.currentAmps.map(abs).max() ?? 0)
        return s.currentAmps.indices.map { k in
            let i = s.currentAmps[k]
            if let m = mode, k < m.count {
                switch Int(m[k]) {
                case 2: return "hold"
                case 3: return "rest"
                default: break
                }
            }
            if abs(i) < 1e-3 * scale { return "rest" }
            return i > 0 ? "charge" : "discharge"
        }
    }

    static func write(_ c: Combined, alignment: ClockAlignment, method: String, reader: DatasetReader, options: ImportOptions,
                      start: Date) throws -> ImportSummary {
        let dir = reader.directory
        let info = reader.runInfo
        let massGrams = info.activeMassMilligrams.flatMap { $0 > 0 ? $0 * 1e-3 : nil }
        var notes: [String] = []

        // echem.csv in operando's convention, on rig run time.
        var echem: [EchemRecord] = []
        var cycles: [Int] = []
        var hasCycle = false
        echem.reserveCapacity(c.rows)
        var capacityBase = 0.0
        // Half-cycle capacities as for a commanded run (docs/run.md), per gram; an instrument's own
        // cycle numbers, when its file has them, start the cycles instead.
        var halves = HalfCycleCapacity()
        var previousCapacity: Double? = nil
        var previousCycle: Int? = nil
        for (k, s) in c.series.enumerated() {
            let kinds = stepKinds(c.records[k], s)
            var integrated = 0.0
            var lastCapacity = 0.0
            for j in 0..<s.count {
                let tInstrument = s.timeSeconds[j] + c.timeOffsets[k]
                if j > 0 { integrated += 0.5 * (s.currentAmps[j] + s.currentAmps[j - 1]) * (s.timeSeconds[j] - s.timeSeconds[j - 1]) / 3600 }
                let ah = s.capacityAmpHours.map { $0[j] } ?? integrated
                lastCapacity = ah
                let step = s.stepIndex.map { $0[j] < 0 ? -1 : $0[j] + c.stepOffsets[k] } ?? c.stepOffsets[k]
                let perGram = massGrams.map { (ah + capacityBase) * 1e3 / $0 } ?? .nan
                var record = EchemRecord(timeSeconds: alignment.rigSeconds(fromInstrument: tInstrument), step: step, stepKind: kinds[j],
                                         voltageVolts: s.voltageVolts[j], currentAmps: s.currentAmps[j],
                                         capacityMilliampHoursPerGram: perGram)
                var instrumentCycle = -1
                if let cy = s.cycleNumber { hasCycle = true; instrumentCycle = cy[j] < 0 ? -1 : cy[j] + c.cycleOffsets[k] }
                cycles.append(instrumentCycle)
                if massGrams != nil {
                    if instrumentCycle >= 0, instrumentCycle != previousCycle {
                        if previousCycle != nil { halves.beginCycle(instrumentCycle) }
                        previousCycle = instrumentCycle
                    }
                    halves.add(stepKind: kinds[j], signedMilliampHoursPerGram: previousCapacity.map { perGram - $0 } ?? 0)
                    if perGram.isFinite { previousCapacity = perGram }
                    record.cycle = halves.cycle
                    record.chargeCapacityMilliampHoursPerGram = halves.chargeMilliampHoursPerGram
                    record.dischargeCapacityMilliampHoursPerGram = halves.dischargeMilliampHoursPerGram
                }
                echem.append(record)
            }
            capacityBase += lastCapacity
            if s.capacityAmpHours == nil { notes.append("\(c.records[k].sourcePath): no capacity column; capacity integrated from the current") }
            notes += s.notes.map { "\(c.records[k].sourcePath): \($0)" }
            notes += c.records[k].notes.map { "\(c.records[k].sourcePath): \($0)" }
        }
        if massGrams == nil { notes.append("run.json has no active mass: capacity_mAh_per_g is not known (nan)") }

        // instrument.csv: every original column (union over the files), then the timelines.
        var names: [String] = []
        var index: [String: Int] = [:]
        for r in c.records {
            for col in r.columns {
                let name = headerName(col)
                if index[name] == nil { index[name] = names.count; names.append(name) }
            }
        }
        var values = [[Double]](repeating: [], count: names.count + 3)
        for k in values.indices { values[k].reserveCapacity(c.rows) }
        var row = 0
        for (k, r) in c.records.enumerated() {
            let n = c.series[k].count
            var filled = Set<Int>()
            for col in r.columns {
                let j = index[headerName(col)]!
                guard !filled.contains(j) else { continue }
                filled.insert(j)
                values[j] += col.values.count == n ? col.values : (0..<n).map { $0 < col.values.count ? col.values[$0] : .nan }
            }
            for j in 0..<names.count where !filled.contains(j) { values[j] += [Double](repeating: .nan, count: n) }
            let s = c.series[k]
            for j in 0..<n {
                let t = s.timeSeconds[j] + c.timeOffsets[k]
                values[names.count].append(Double(k))
                values[names.count + 1].append(t)
                values[names.count + 2].append(echem[row + j].timeSeconds)
            }
            row += n
        }
        let comments = c.records.enumerated().map { k, r in
            "file \(k): \(r.sourcePath) (\(r.format.rawValue)\(r.techniques.isEmpty ? "" : ", " + r.techniques.joined(separator: ", "))), \(r.rowCount) rows"
        } + ["columns as the files name them (units in the names); file = index above; instrument_time_s on one timeline across the files; rig_time_s = run time, s, by the alignment in run.json"]
        try DatasetRewrite.writeInstrumentTable(InstrumentTable(columns: names + ["file", "instrument_time_s", "rig_time_s"], values: values,
                                                                comments: comments), directory: dir)
        try DatasetRewrite.replaceEchem(echem, cycles: hasCycle ? cycles : nil, directory: dir)

        // frames.csv: each frame carries the instrument's sample at its first exposure, like a commanded run.
        var frames = try reader.frames()
        let times = echem.map(\.timeSeconds)
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }.filter { $0 > 0 }.sorted()
        let interval = gaps.isEmpty ? 1 : gaps[gaps.count / 2]
        var withSample = 0
        for f in frames.indices {
            let t = frames[f].startSeconds
            var lo = 0, hi = times.count
            while lo < hi { let mid = (lo + hi) / 2; if times[mid] <= t { lo = mid + 1 } else { hi = mid } }
            let k = lo - 1
            if k >= 0, t <= times[times.count - 1] + 2 * interval {
                let e = echem[k]
                frames[f].step = e.step
                frames[f].echemTimeSeconds = e.timeSeconds
                frames[f].voltageVolts = e.voltageVolts
                frames[f].currentAmps = e.currentAmps
                withSample += 1
            } else {
                frames[f].step = -1
                frames[f].echemTimeSeconds = .nan
                frames[f].voltageVolts = .nan
                frames[f].currentAmps = .nan
            }
        }
        if !frames.isEmpty { try DatasetRewrite.replaceFrames(frames, directory: dir) }

        // run.json last: its `instrument` object marks the import complete.
        var updated = info
        updated.extra["instrument"] = instrumentJSON(c, alignment: alignment, method: method, notes: notes, options: options,
                                                      frames: frames.count, framesWithSample: withSample)
        try DatasetRewrite.replaceRunInfo(updated, directory: dir)
        return ImportSummary(directory: dir, rows: c.rows, files: c.records.map(\.sourcePath), alignment: alignment, method: method,
                             frames: frames.count, framesWithSample: withSample, notes: notes,
                             wallSeconds: Date().timeIntervalSince(start))
    }

    /// A column's name in instrument.csv: as the file names it, with the unit appended where the
    /// file keeps units apart (Gamry's units line).
    static func headerName(_ c: InstrumentColumn) -> String {
        guard let u = c.unit, !u.isEmpty, !c.name.contains(u) else { return c.name }
        return c.name + "/" + u
    }

    static func instrumentJSON(_ c: Combined, alignment a: ClockAlignment, method: String, notes: [String], options: ImportOptions,
                               frames: Int, framesWithSample: Int) -> JSONValue {
        let iso = ISO8601DateFormatter()
        let files: [JSONValue] = c.records.enumerated().map { k, r in
            var o: [String: JSONValue] = [
                "path": .string(r.sourcePath), "format": .string(r.format.rawValue), "rows": .number(Double(r.rowCount)),
                "techniques": .array(r.techniques.map { .string($0) }),
                "settings": .object(r.settings.mapValues { .string($0) }),
                "echem_columns": .object(c.series[k].sourceColumns.mapValues { .string($0) }),
                "time_offset_s": .number(c.timeOffsets[k]), "step_offset": .number(Double(c.stepOffsets[k])),
                "aborted": .bool(r.aborted),
            ]
            if let v = r.instrument { o["instrument"] = .string(v) }
            if let v = r.softwareVersion { o["software_version"] = .string(v) }
            if let v = r.firmwareVersion { o["firmware_version"] = .string(v) }
            if let d = r.acquisitionStart { o["acquisition_start_utc"] = .string(iso.string(from: d)) }
            return .object(o)
        }
        let pairs: [JSONValue] = a.matchedPairs.map { p in
            .object(["instrument_s": .number(p.instrumentSeconds), "rig_s": .number(p.rigSeconds),
                     "residual_s": .number(p.rigSeconds - a.rigSeconds(fromInstrument: p.instrumentSeconds))])
        }
        return .object([
            "files": .array(files),
            "technique": .string(c.records.flatMap(\.techniques).joined(separator: "; ")),
            "rows": .number(Double(c.rows)),
            "alignment": .object([
                "method": .string(method), "model": .string("rig_s = offset_s + (1 + drift_ppm·1e-6) · instrument_s"),
                "offset_s": .number(a.offsetSeconds), "drift_ppm": .number(a.driftPPM),
                "residual_rms_s": .number(a.residualRMSSeconds), "residual_max_s": .number(a.residualMaxSeconds),
                "matched_edges": .number(Double(a.matchedPairs.count)), "pairs": .array(pairs),
                "unmatched_instrument_s": .array(a.unmatchedInstrumentSeconds.map { .number($0) }),
                "unmatched_rig_s": .array(a.unmatchedRigSeconds.map { .number($0) }),
            ]),
            "frames": .number(Double(frames)), "frames_with_sample": .number(Double(framesWithSample)),
            "notes": .array(notes.map { .string($0) }),
            "imported_by": .string(options.softwareVersion),
            "imported_utc": .string(iso.string(from: Date())),
        ])
    }
}
