import Foundation
import Testing
@testable import Electrochemistry

// Issue 11 "Inputs at the edges": each input is refused with a one-line error naming file, line and
// value (on main each was accepted, trapped, aborted or hung).

private let cell = "[cell]\nactive_mass_mg = 1.5\n"

struct EdgeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var line: Int?
    var fragment: String
    var testDescription: String { name }
}

let edgeProtocols: [EdgeCase] = [
    .init(name: "frame_rate_Hz = 1e-10", text: "[imaging]\nframe_rate_Hz = 1e-10\n[[steps]]\ndo = \"Rest for 1 h\"", line: 2, fragment: "from 0.001 Hz to 1000 Hz"),
    .init(name: "sample_interval_s = 1e10", text: "[cell]\nsample_interval_s = 1e10\n[[steps]]\ndo = \"Rest for 1 h\"", line: 2, fragment: "from 0.001 s to 3600 s"),
    .init(name: "sample_interval_s = 1e-12", text: "[cell]\nsample_interval_s = 1e-12\n[[steps]]\ndo = \"Rest for 1 h\"", line: 2, fragment: "from 0.001 s to 3600 s"),
    .init(name: "repeat = 100000000", text: cell + "[[steps]]\nrepeat = 100000000\ndo = [\"Rest for 1 h\"]", line: 4, fragment: "from 1 to 10000"),
    .init(name: "repeat unrolls too many steps", text: cell + "[[steps]]\nrepeat = 10000\ndo = [\"Rest for 1 s\", \"Rest for 1 s\", \"Rest for 1 s\", \"Rest for 1 s\", \"Rest for 1 s\", \"Rest for 1 s\", \"Rest for 1 s\", \"Rest for 1 s\", \"Rest for 1 s\", \"Rest for 1 s\", \"Rest for 1 s\"]", line: 4, fragment: "more than 100000 steps"),
    .init(name: "Rest for 1e19 seconds", text: cell + "[[steps]]\ndo = \"Rest for 1e19 seconds\"", line: 4, fragment: "at most 30 days"),
    .init(name: "Hold at 4.2 V until 0 A", text: cell + "[[steps]]\ndo = \"Hold at 4.2 V until 0 A\"", line: 4, fragment: "never reached"),
    .init(name: "Charge at C/3 until 4.3 mV", text: cell + "[[steps]]\ndo = \"Charge at C/3 until 4.3 mV\"", line: 4, fragment: "did you mean V rather than mV?"),
    .init(name: "until 0 mV/h", text: cell + "[[steps]]\ndo = \"Rest for 1 h or until 0 mV/h\"", line: 4, fragment: "never settles to exactly 0"),
    .init(name: "active_mass_mg = 1e300", text: "[cell]\nactive_mass_mg = 1e300\n[[steps]]\ndo = \"Rest for 1 h\"", line: 2, fragment: "up to 10000 mg"),
    .init(name: "repeat until 1e10 V", text: cell + "[[steps]]\nrepeat = 2\nuntil = \"1e10 V\"\ndo = [\"Charge at C/3 for 1 h\"]", line: 5, fragment: "expected a voltage from 0.5 to 6 V"),
    .init(name: "Rest until 4.1 V", text: cell + "[[steps]]\ndo = \"Rest for 1 h or until 4.1 V\"", line: 4, fragment: "expected a voltage slope (e.g. \"until 1 mV/h\")"),
    .init(name: "Hold at 42 V", text: cell + "[[steps]]\ndo = \"Hold at 42 V for 1 h\"", line: 4, fragment: "from 0.5 to 6 V"),
    .init(name: "Charge at 1000C", text: cell + "[[steps]]\ndo = \"Charge at 1000C for 1 h\"", line: 4, fragment: "C/10000 to 100C"),
    .init(name: "stray [", text: "[", line: 1, fragment: "not valid TOML"),
    .init(name: "[.a]", text: "[.a]", line: 1, fragment: "not valid TOML"),
    .init(name: "[=]", text: "[=]", line: 1, fragment: "not valid TOML"),
    .init(name: "[[;teps]]", text: "[[;teps]]\ndo = \"Rest for 1 h\"", line: 1, fragment: "not valid TOML"),
    .init(name: "NUL byte", text: cell + "[[steps]]\ndo = \"Rest for 1 h\"\n\u{0}[[steps]]\ndo = \"Charge at C/3 for 1 h\"", line: 5, fragment: "NUL byte"),
    .init(name: "unknown key in a step", text: cell + "[[steps]]\ndo = \"Rest for 1 h\"\nuntill = \"4 V\"", line: 5, fragment: "unknown key \"untill\""),
]

@Test(arguments: edgeProtocols)
func edgeInputsAreRefusedNamingFileLineAndValue(_ c: EdgeCase) {
    do {
        _ = try ProtocolFile.parse(text: c.text, path: "edge.toml")
        Issue.record("accepted: \(c.name)")
    } catch let e as ProtocolError {
        #expect(e.location.file == "edge.toml")
        #expect(e.location.line == c.line, "\(e)")
        #expect(e.description.contains(c.fragment), "\(e)")
        #expect(!e.description.contains("\n"))
    } catch { Issue.record("wrong error \(error)") }
}

@Test func messagesEscapeControlCharactersAndStayShort() throws {
    let long = String(repeating: "Z", count: 100_000)
    for text in [cell + "[[steps]]\ndo = \"Rest for 1 \\r\\u001B[2Jhour\"", cell + "[[steps]]\ndo = \"\(long)\"", cell + "[[steps]]\ndo = \"Jog \(long)\""] {
        do { _ = try ProtocolFile.parse(text: text, path: "m.toml"); Issue.record("accepted") } catch {
            let s = "\(error)"
            #expect(!s.unicodeScalars.contains { $0.value < 0x20 }, "\(s.prefix(200))")
            #expect(s.count < 2_000, "\(s.count) characters")
        }
    }
}

@Test func eightThousandStepsValidateQuickly() throws {
    var text = cell
    for k in 0..<8_000 { text += "[[steps]]\ndo = \"Charge at C/3 for \(k % 50 + 1) s\"\n" }
    let start = Date()
    let p = try ProtocolFile.parse(text: text, path: "long.toml")
    let elapsed = Date().timeIntervalSince(start)
    #expect(p.entries.count == 8_000)
    guard case .step(let last) = p.entries[7_999] else { Issue.record("not a step"); return }
    #expect(last.location.line == 2 + 2 * 8_000)
    #expect(elapsed < 10, "\(elapsed) s (main: 274 s)")
}

@Test func protocolFilesThatAreNotTextAreRefusedPlainly() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    func problem(_ path: String) -> String {
        do { _ = try ProtocolFile.load(path: path); return "" } catch { return "\(error)" }
    }
    #expect(problem(dir.path).contains("is a directory"))
    let fifo = dir.appendingPathComponent("p.toml").path
    #expect(mkfifo(fifo, 0o600) == 0)
    #expect(problem(fifo).contains("FIFO"))
    let latin1 = dir.appendingPathComponent("l.toml")
    try Data(Array("[[steps]]\ndo = \"Rest for 1 h\" # 25 \u{B0}C".utf8.map { $0 }).dropLast(3) + [0xB0, 0x43]).write(to: latin1)
    #expect(problem(latin1.path).contains("not UTF-8"))
    #expect(!problem(latin1.path).contains("NSCocoaErrorDomain"))
}

@Test func anAbsoluteCurrentNeedsTheActiveMassOnARig() throws {
    let p = try ProtocolFile.parse(text: "[[steps]]\ndo = \"Charge at 0.1 mA for 1 h\"", path: "a.toml")
    do {
        _ = try StepProgram.compile(p, resolution: .amperes)
        Issue.record("an absolute current without active_mass_mg was accepted")
    } catch let e as ProtocolError {
        #expect(e.location.line == 2 && e.problem.contains("active_mass_mg"), "\(e)")
    }
}

@Test func microSignsAreAcceptedAlike() throws {
    let a = try StepParser.parse("Hold at 4 V until 10 µA")   // U+00B5
    let b = try StepParser.parse("Hold at 4 V until 10 μA")   // U+03BC
    #expect(a.endConditions == b.endConditions)
}
