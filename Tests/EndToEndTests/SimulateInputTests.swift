import Foundation
import Testing

// `operando simulate` at the edges (issues 10, 11 and 16), through the built binary.

private func simulate(_ args: [String], in dir: URL) throws -> (status: Int32, out: String, err: String) {
    try runOperando(["simulate"] + args + ["--out", dir.appendingPathComponent("sim-\(UUID().uuidString)").path])
}

/// Issue 10's check: the model ends `Rest for 4 hours or until 1 mV/h` by its slope after more than
/// 5 minutes (on main it ended after 60 s: the slope was always 0).
@Test func simulateEndsTheRestBySlopeAfterMoreThanFiveMinutes() throws {
    try withTemporaryFolder { dir in
        let r = try simulate(["Charge at C/3 for 20 minutes", "Rest for 4 hours or until 1 mV/h", "--kinetics", "butler-volmer"], in: dir)
        #expect(r.status == 0, "\(r.err)")
        let line = try #require(r.out.split(separator: "\n").first { $0.hasPrefix("step 2 ") }, "\(r.out)")
        #expect(line.contains("ended by until 1 mV/h"), "\(line)")
        // "step 2 "…": 1200.0–2951.0 s, ended by …"
        let times = line.split(separator: ":").dropFirst().first.map { String($0) } ?? ""
        let numbers = times.split(whereSeparator: { !($0.isNumber || $0 == ".") }).compactMap { Double($0) }
        #expect(numbers.count >= 2 && numbers[1] - numbers[0] > 300, "\(line)")
    }
}

struct FlagCase: Sendable, CustomTestStringConvertible {
    var args: [String]
    var status: Int32
    var fragment: String
    var testDescription: String { args.joined(separator: " ") }
}

let simulateFlagCases: [FlagCase] = [
    // Issue 16 item 3: an absolute current needs the cell; with it, it is the cell's current.
    .init(args: ["Discharge at 0.5 mA for 2 h"], status: 2, fragment: "active mass"),
    .init(args: ["Discharge at 0.1 mA for 1 minute", "--cell-mass", "1.5mg"], status: 0, fragment: "ended by duration"),
    .init(args: ["Rest for 10 s", "--cell-mass", "-1"], status: 2, fragment: "--cell-mass -1: expected a positive mass"),
    // Negative flag values are values, refused as such (main: "Missing value for '--size'").
    .init(args: ["Rest for 10 s", "--size", "-2"], status: 2, fragment: "--size -2: expected a positive length"),
    .init(args: ["Rest for 10 s", "--scale", "-3"], status: 2, fragment: "--scale -3: expected a finite positive number"),
    // Units on flags.
    .init(args: ["Rest for 10 s", "--size", "0.6um"], status: 0, fragment: "ended by duration"),
    .init(args: ["Rest for 10 s", "--size", "0.6μm", "--output-interval", "5s"], status: 0, fragment: "ended by duration"),
    .init(args: ["Rest for 10 s", "--size", "1e300"], status: 2, fragment: "up to 50 µm"),
    // Bounded loops and allocations.
    .init(args: ["Rest for 10 s", "--output-interval", "1e-9"], status: 1, fragment: "output interval"),
    .init(args: ["Rest for 10 s", "--particle", "ellipse:1e300x1e300um"], status: 2, fragment: "up to 50 µm"),
    .init(args: ["Rest for 10 s", "--particle", "circle:1000um"], status: 2, fragment: "up to 50 µm"),
    .init(args: ["Rest for 10 s", "--element-size", "1e-5"], status: 1, fragment: "at most 200000"),
    .init(args: ["Rest for 1e19 seconds"], status: 2, fragment: "at most 30 days"),
    .init(args: ["Hold at 4.2 V until 0 A"], status: 2, fragment: "never reached"),
]

@Test(arguments: simulateFlagCases)
func simulateFlagsAtTheEdges(_ c: FlagCase) throws {
    try withTemporaryFolder { dir in
        let start = Date()
        let r = try simulate(c.args, in: dir)
        #expect(r.status == c.status, "\(r.err)\(r.out)")
        #expect((r.err + r.out).contains(c.fragment), "\(r.err)\(r.out)")
        #expect(Date().timeIntervalSince(start) < 60)
    }
}

@Test func simulateTakesTheProtocolFilesCell() throws {
    try withTemporaryFolder { dir in
        let proto = dir.appendingPathComponent("p.toml")
        try "[cell]\nactive_mass_mg = 1.5\n[[steps]]\ndo = \"Charge at 0.105 mA for 1 minute\"\n".write(to: proto, atomically: true, encoding: .utf8)
        let ok = try simulate([proto.path], in: dir)
        #expect(ok.status == 0, "\(ok.err)")
        try "[[steps]]\ndo = \"Charge at 0.105 mA for 1 minute\"\n".write(to: proto, atomically: true, encoding: .utf8)
        let refused = try simulate([proto.path], in: dir)
        #expect(refused.status == 2 && refused.err.contains("p.toml:2"), "\(refused.err)")
    }
}
