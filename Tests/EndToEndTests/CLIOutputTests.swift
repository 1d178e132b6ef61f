import Foundation
import Testing

// Issue 16 items 8 and 9 through the built binary: `--json` is one JSON object on stdout with the
// human text on stderr, `--quiet` leaves only errors and the summary, quantity flags take units,
// progress without a terminal is plain lines, and no --help doubles a default.

/// Runs the binary at 80 columns (help wraps are checked at that width).
private func operando(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
    try runOperando(args, environment: ["COLUMNS": "80"])
}

private func withFolder<T>(_ body: (String) throws -> T) throws -> T {
    try withTemporaryFolder { try body($0.path) }
}

/// stdout must be exactly one JSON object.
private func jsonObject(_ text: String) throws -> [String: Any] {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(!trimmed.contains("\n"), "stdout holds more than the JSON line: \(trimmed)")
    return try #require(try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any])
}

private let commands: [[String]] = [["demo"], ["run"], ["simulate"], ["analyse"], ["calibrate"], ["report"], ["params"], ["devices"], ["gpio"],
                                    ["sim-serve"], ["sim-serve", "scpi"], ["sim-serve", "methodscript"], ["export"], ["import"], ["view"]]

@Test func noHelpDoublesADefaultOrBreaksAWrap() throws {
    for c in commands {
        let help = try operando(c + ["--help"])
        #expect(help.status == 0, "\(c)")
        let text = help.out
        // One block per option: from a line starting "  -" to the next.
        var blocks: [String] = []
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("  -") || blocks.isEmpty { blocks.append(line) } else { blocks[blocks.count - 1] += " " + line }
        }
        for b in blocks where b.hasPrefix("  -") {
            let n = b.components(separatedBy: "(default").count - 1
            #expect(n <= 1, "operando \(c.joined(separator: " ")): \(b)")
        }
        // The overview and discussion (before USAGE) wrap as paragraphs: a line that a following
        // word would have fitted on is a broken wrap, unless it ends a sentence or a label.
        let prose = text.components(separatedBy: "USAGE:")[0].components(separatedBy: "\n")
        for (k, line) in prose.enumerated() where k + 1 < prose.count {
            let next = prose[k + 1]
            guard !line.isEmpty, !next.isEmpty, !next.hasPrefix(" "), let word = next.split(separator: " ").first else { continue }
            if line.hasSuffix(".") || line.hasSuffix(":") || line.hasSuffix(")") { continue }
            // An example command stands on its own line on purpose.
            if line.hasPrefix("Example") || line.hasPrefix(" ") { continue }
            #expect(line.count + 1 + word.count > 79, "operando \(c.joined(separator: " ")): broken wrap after \"\(line)\"")
        }
    }
}

@Test func simulateJSONOnStdoutHumanTextOnStderrAndUnitsOnFlags() throws {
    try withFolder { dir in
        let a = try operando(["simulate", "Charge at 1C for 2 minutes", "--particle", "circle:1um", "--size", "0.6um", "--element-size", "100nm",
                              "--output-interval", "30s", "--out", dir + "/a", "--json"])
        #expect(a.status == 0, "\(a.err)")
        let o = try jsonObject(a.out)
        #expect(o["command"] as? String == "simulate")
        let steps = try #require(o["steps"] as? [[String: Any]])
        #expect(steps.count == 1 && steps[0]["step"] as? Int == 0 && steps[0]["ended_by"] as? String == "duration")
        #expect((o["final"] as? [String: Any])?["time_s"] as? Double == 120)
        #expect(a.err.contains("final: t = 120.0 s") && a.err.contains("step 1 \"Charge at 1C for 2 minutes\""))
        // Plain numbers keep the documented unit: the same run with µm and seconds.
        let b = try operando(["simulate", "Charge at 1C for 2 minutes", "--particle", "circle:1um", "--size", "0.6", "--element-size", "0.1",
                              "--output-interval", "30", "--out", dir + "/b", "--json", "--quiet"])
        #expect(b.status == 0, "\(b.err)")
        let p = try jsonObject(b.out)
        #expect(p["nodes"] as? Int == o["nodes"] as? Int)
        // --quiet: no progress lines, the summary still on stderr (stdout is the JSON).
        #expect(!b.err.contains("%") && b.err.contains("final: t = 120.0 s"), "\(b.err)")
        // Without --json the summary is on stdout, and without a terminal progress is plain lines.
        let c = try operando(["simulate", "Charge at 1C for 2 minutes", "--particle", "circle:1um", "--size", "600nm", "--out", dir + "/c"])
        #expect(c.status == 0 && c.out.contains("final: t = 120.0 s"))
        #expect(!c.err.contains("\r") && !c.err.contains("\u{1B}"), "\(c.err.debugDescription)")
        // A unit of the wrong kind names the flag and what it expects.
        let bad = try operando(["simulate", "Charge at 1C for 2 minutes", "--output-interval", "3mV", "--out", dir + "/d"])
        #expect(bad.status == 2 && bad.err.contains("--output-interval") && bad.err.contains("expected a positive duration"), "\(bad.err)")
    }
}

@Test func simulateProgressCountsUntilStepsAndNever100BeforeTheEnd() throws {
    try withFolder { dir in
        // All `until` steps: the old bar had no total at all (or read 100 % on the fixed part).
        let r = try operando(["simulate", "Charge at 2C until 4.2 V", "Rest for 5 minutes", "--particle", "circle:1um", "--size", "0.6um",
                              "--out", dir + "/s"])
        #expect(r.status == 0, "\(r.err)")
        let lines = r.err.components(separatedBy: "\n").filter { $0.hasPrefix("simulate: ") }
        let percents = lines.compactMap { line -> Int? in
            guard let p = line.split(separator: " ").dropFirst().first else { return nil }
            return Int(p)
        }
        #expect(percents.last == 100, "\(lines)")
        #expect(percents.dropLast().allSatisfy { $0 < 100 }, "\(lines)")
        #expect(percents == percents.sorted(), "\(lines)")
        #expect(lines.last?.contains("model t") == true)
    }
}

@Test func runAnalyseExportPrintJSONAndAcceptUnits() throws {
    try withFolder { dir in
        let proto = dir + "/p.toml"
        try """
        [cell]
        active_mass_mg = 1.5
        [limits]
        voltage_min_V = 2.8
        voltage_max_V = 4.4
        [imaging]
        frame_rate_Hz = 2
        exposure_ms = 2.5
        bin = 2
        [[steps]]
        do = "Charge at 2C for 40 s"
        [[steps]]
        do = "Discharge at 2C for 40 s"
        [[steps]]
        do = "Charge at 2C for 20 s"
        """.write(toFile: proto, atomically: true, encoding: .utf8)
        let dataset = dir + "/p.operando"
        let run = try operando(["run", proto, "--out", dataset, "--json", "--quiet"])
        #expect(run.status == 0, "\(run.err)")
        let r = try jsonObject(run.out)
        #expect(r["completed"] as? Bool == true && r["exit_code"] as? Int == 0 && r["directory"] as? String == dataset)
        #expect((r["recorded_frames"] as? Int ?? 0) > 40)
        #expect(run.err.contains("run: protocol complete") && !run.err.contains("%"), "\(run.err)")

        // echem.csv: the cycle and per-half-cycle capacities beside the signed total.
        let echem = try String(contentsOfFile: dataset + "/echem.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = echem[0]
        #expect(header == ["time_s", "step", "step_kind", "voltage_V", "current_A", "capacity_mAh_per_g", "cycle",
                           "charge_capacity_mAh_per_g", "discharge_capacity_mAh_per_g"])
        let rows = echem.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
        let cycles = Set(rows.map { $0["cycle"]! })
        #expect(cycles == ["0", "1"])
        let discharge = rows.filter { $0["step_kind"] == "discharge" }.map { Double($0["discharge_capacity_mAh_per_g"]!)! }
        #expect(discharge.allSatisfy { $0 >= 0 } && abs(discharge.max()! - 2 * 210 * 40 / 3600) < 1.5, "\(discharge.max()!)")
        let firstCharge = rows.filter { $0["step"] == "0" }.map { Double($0["charge_capacity_mAh_per_g"]!)! }
        #expect(abs(firstCharge.max()! - 2 * 210 * 40 / 3600) < 1.5)

        let analyse = try operando(["analyse", dataset, "--json", "--quiet", "--frame-interval", "1s", "--pixel-size", "34.7nm"])
        #expect(analyse.status == 0, "\(analyse.err)")
        let a = try jsonObject(analyse.out)
        #expect(a["command"] as? String == "analyse" && (a["frames"] as? Int ?? 0) > 40)
        #expect(analyse.err.contains("analysed") && !analyse.err.contains("%"), "\(analyse.err)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dataset + "/analysis/summary.json"))) as? [String: Any])
        #expect(abs((summary["pixel_size_um"] as? Double ?? 0) - 0.0347) < 1e-9, "\(summary["pixel_size_um"] ?? "none")")

        let export = try operando(["export", dataset, "--out", dir + "/p.ome.tif", "--json"])
        #expect(export.status == 0, "\(export.err)")
        let e = try jsonObject(export.out)
        #expect(e["path"] as? String == dir + "/p.ome.tif" && e["frames"] as? Int == a["frames"] as? Int)

        // Unit flags on calibrate: a wrong unit is refused before anything runs.
        let cal = try operando(["calibrate", dataset, "--psf-fwhm", "3s", "--json"])
        #expect(cal.status == 2 && cal.err.contains("--psf-fwhm") && cal.out.isEmpty, "\(cal.err)")
    }
}
