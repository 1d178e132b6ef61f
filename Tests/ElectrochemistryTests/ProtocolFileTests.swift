import Foundation
import Testing
@testable import Electrochemistry

private let header = """
[cell]
active_mass_mg = 1.5
practical_capacity_mAh_per_g = 210

[limits]
voltage_min_V = 2.8
voltage_max_V = 4.4
current_max_mA = 2.0

[imaging]
frame_rate_Hz = 10
exposure_ms = 2.5
bin = 30
led_lead_ms = 0.2

"""

@Test func parsesTheInterfacesExample() throws {
    let text = header + """
    [[steps]]
    do = "Rest for 10 minutes"
    [[steps]]
    do = "Charge at C/3 until 4.3 V"
    [[steps]]
    do = "Discharge at C/3 until 3.0 V"
    [[steps]]
    do = "Hold at 3.0 V for 2 hours or until C/200"

    [[steps]]
    repeat = 40
    until = "4.3 V"
    do = ["Charge at C/20 for 15 minutes", "Rest for 4 hours"]
    """
    let p = try ProtocolFile.parse(text: text, path: "p.toml")
    #expect(p.cell.activeMassMilligrams == 1.5)
    #expect(p.limits.currentMaxMilliamps == 2.0)
    #expect(p.imaging.bin == 30 && p.imaging.frameRateHz == 10)
    #expect(p.entries.count == 5)
    guard case .repeated(let n, let until, let steps, _) = p.entries[4] else { Issue.record("no repeat"); return }
    #expect(n == 40 && steps.count == 2 && until == .voltage(volts: 4.3))
    #expect(p.plannedSteps.count == 4 + 80)
    // Steps carry their file and line.
    guard case .step(let charge) = p.entries[1] else { Issue.record("entry 1 is not a step"); return }
    #expect(charge.location == SourceLocation(file: "p.toml", line: 18))
    #expect(abs(p.cell.oneCAmps! - 0.315e-3) < 1e-15)
}

@Test func shippedExamplesParse() throws {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/protocols")
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".toml") }
    #expect(files.count >= 3)
    for f in files { _ = try ProtocolFile.load(path: dir.appendingPathComponent(f).path) }
}

struct BadProtocol: Sendable, CustomTestStringConvertible {
    var body: String
    var line: Int?
    var fragment: String
    var withHeader = true
    var testDescription: String { fragment }
}

// ≥ 25 bad protocols: each error names file and line and says what was expected.
let badProtocols: [BadProtocol] = [
    .init(body: "[[steps]]\ndo = \"Charge at C/3\"", line: 16, fragment: "never ends"),
    .init(body: "[[steps]]\ndo = \"Charge at C/3 until 4.5 V\"", line: 16, fragment: "above voltage_max_V"),
    .init(body: "[[steps]]\ndo = \"Discharge at C/3 until 2.5 V\"", line: 16, fragment: "below voltage_min_V"),
    .init(body: "[[steps]]\ndo = \"Hold at 4.6 V for 1 hour\"", line: 16, fragment: "above voltage_max_V"),
    .init(body: "[[steps]]\ndo = \"Charge at 8C until 4.3 V\"", line: 16, fragment: "above current_max_mA"),
    .init(body: "[[steps]]\ndo = \"Charge at 10 mA until 4.3 V\"", line: 16, fragment: "above current_max_mA"),
    .init(body: "[[steps]]\ndo = \"Charge at -C/3 until 4.3 V\"", line: 16, fragment: "positive value"),
    .init(body: "[[steps]]\ndo = \"Charge at C/3 until 4.3 volts\"", line: 16, fragment: "expected a voltage"),
    .init(body: "[[steps]]\ndo = \"Charge at C/3 for 3 fortnights\"", line: 16, fragment: "positive duration"),
    .init(body: "[[steps]]\ndo = \"Jog at C/3 for 1 hour\"", line: 16, fragment: "unknown step"),
    .init(body: "[[steps]]\ndo = 42", line: 16, fragment: "must be a step string"),
    .init(body: "[[steps]]\ndo = [\"Rest for 1 hour\"]", line: 16, fragment: "needs repeat"),
    .init(body: "[[steps]]\nrepeat = 0\ndo = [\"Rest for 1 hour\"]", line: 16, fragment: "repeat must be a whole number"),
    .init(body: "[[steps]]\nrepeat = 3\ndo = []", line: 17, fragment: "non-empty array"),
    .init(body: "[[steps]]\nrepeat = 3\nuntil = \"4.3 parsecs\"\ndo = [\"Rest for 1 hour\"]", line: 17, fragment: "expected a voltage"),
    .init(body: "[[steps]]\nuntil = \"4.3 V\"\ndo = \"Rest for 1 hour\"", line: 16, fragment: "until belongs to a repeat"),
    .init(body: "[[steps]]\ndoo = \"Rest for 1 hour\"", line: 16, fragment: "unknown key \"doo\""),
    .init(body: "[[steps]]\nrepeat = 2", line: 15, fragment: "without \"do\""),
    .init(body: "", line: nil, fragment: "no [[steps]]"),
    .init(body: "[[steps]]\ndo = \"Rest for 1 hour\"\n[imager]\nx = 1", line: 17, fragment: "unknown key \"imager\""),
    .init(body: "[cell]\nactive_mass_mg = 1\ncolour = \"red\"\n[[steps]]\ndo = \"Rest for 1 hour\"", line: 3, fragment: "unknown key \"colour\" in [cell]", withHeader: false),
    .init(body: "[cell]\nactive_mass_mg = -1\n[[steps]]\ndo = \"Rest for 1 hour\"", line: 2, fragment: "active_mass_mg = -1 mg: expected a finite non-negative number", withHeader: false),
    .init(body: "[cell]\nactive_mass_mg = 0\n[[steps]]\ndo = \"Charge at 70 mA/g until 4.3 V\"", line: 4, fragment: "active_mass_mg = 0", withHeader: false),
    .init(body: "[imaging]\nframe_rate_Hz = 10\nexposure_ms = 120\n[[steps]]\ndo = \"Rest for 1 hour\"", line: 3, fragment: "not shorter than the frame period", withHeader: false),
    .init(body: "[imaging]\nframe_rate_Hz = 400\nexposure_ms = 2\nled_lead_ms = 0.4\n[[steps]]\ndo = \"Rest for 1 hour\"", line: 4, fragment: "does not fit in the frame period", withHeader: false),
    .init(body: "[imaging]\nframe_rate_Hz = -10\n[[steps]]\ndo = \"Rest for 1 hour\"", line: 2, fragment: "frame_rate_Hz = -10 Hz: expected a finite number from 0.001 Hz", withHeader: false),
    .init(body: "[imaging]\nbin = 0\n[[steps]]\ndo = \"Rest for 1 hour\"", line: 2, fragment: "bin must be a whole number", withHeader: false),
    .init(body: "[imaging]\nbin = 2.5\n[[steps]]\ndo = \"Rest for 1 hour\"", line: 2, fragment: "bin must be a whole number", withHeader: false),
    .init(body: "[limits]\nvoltage_min_V = 4.5\nvoltage_max_V = 4.4\n[[steps]]\ndo = \"Rest for 1 hour\"", line: 2, fragment: "must be below voltage_max_V", withHeader: false),
    .init(body: "[limits]\nvoltage_max_V = \"high\"\n[[steps]]\ndo = \"Rest for 1 hour\"", line: 2, fragment: "must be a number", withHeader: false),
    .init(body: "[cell\nactive_mass_mg = 1", line: 1, fragment: "not valid TOML", withHeader: false),
    .init(body: "cell = 3\n[[steps]]\ndo = \"Rest for 1 hour\"", line: nil, fragment: "must be a table", withHeader: false),
]

@Test(arguments: badProtocols)
func badProtocolsNameFileLineAndExpectation(_ c: BadProtocol) {
    let text = (c.withHeader ? header : "") + c.body
    do {
        _ = try ProtocolFile.parse(text: text, path: "bad.toml")
        Issue.record("accepted:\n\(text)")
    } catch let e as ProtocolError {
        #expect(e.location.file == "bad.toml")
        if let line = c.line { #expect(e.location.line == line, "\(e)") }
        #expect(e.description.contains(c.fragment), "\(e)")
    } catch {
        Issue.record("unexpected \(error)")
    }
}

@Test func missingProtocolFileIsNamed() {
    do { _ = try ProtocolFile.load(path: "/nonexistent/p.toml"); Issue.record("loaded") } catch {
        #expect("\(error)".contains("/nonexistent/p.toml"))
    }
}

/// Follow mode (docs/follow.md): `[[steps]]` become optional and `[follow]` is read; a commanded run
/// still needs steps and refuses `[follow]`, with the reason.
@Test func followModeAllowsNoStepsAndReadsFollow() throws {
    let text = header + """
    [follow]
    duration_s = 600
    edges = 4
    tail_s = 30
    """
    let p = try ProtocolFile.parse(text: text, path: "follow.toml", purpose: .followed)
    #expect(p.entries.isEmpty)
    #expect(p.follow == { var f = FollowSettings(); f.durationSeconds = 600; f.edgeCount = 4; f.tailSeconds = 30; return f }())
    #expect(p.imaging.frameRateHz == 10 && p.cell.activeMassMilligrams == 1.5)
    // Without [follow] a followed protocol gets the defaults (no bound but a signal or the steps' total).
    let bare = try ProtocolFile.parse(text: header, path: "bare.toml", purpose: .followed)
    #expect(bare.follow == FollowSettings() && bare.entries.isEmpty)
    // Steps are still read (the instrument's protocol, for its total).
    let withSteps = try ProtocolFile.parse(text: header + "[[steps]]\ndo = \"Rest for 2 minutes\"\n", path: "s.toml", purpose: .followed)
    #expect(withSteps.plannedSteps.count == 1)
    // Commanded: no steps is refused as before; [follow] names follow mode.
    #expect { try ProtocolFile.parse(text: header, path: "c.toml") } throws: { "\($0)".contains("no [[steps]]") }
    #expect { try ProtocolFile.parse(text: text + "\n[[steps]]\ndo = \"Rest for 1 minute\"\n", path: "c.toml") } throws: {
        "\($0)".contains("[follow]") && "\($0)".contains("follow mode") && "\($0)".contains("c.toml")
    }
    // Ranges and unknown keys.
    #expect { try ProtocolFile.parse(text: header + "[follow]\nedges = 0\n", path: "f.toml", purpose: .followed) } throws: { "\($0)".contains("edges") }
    #expect { try ProtocolFile.parse(text: header + "[follow]\nduration_s = -5\n", path: "f.toml", purpose: .followed) } throws: { "\($0)".contains("duration_s") }
    #expect { try ProtocolFile.parse(text: header + "[follow]\nedge_count = 3\n", path: "f.toml", purpose: .followed) } throws: { "\($0)".contains("edge_count") }
}

@Test func shippedFollowExamplesParse() throws {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/follow")
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".toml") }
    #expect(!files.isEmpty)
    for f in files {
        let p = try ProtocolFile.load(path: dir.appendingPathComponent(f).path, purpose: .followed)
        #expect(p.follow != nil)
    }
}
