import Foundation
import Testing
@testable import ConfigFile

private func parse(_ text: String) throws -> ConfigFile { try ConfigFile.parse(text: text, path: "t.toml") }

/// A folder under the system's temporary directory, removed by the caller's `defer`.
private func makeTemporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Test func readsTheTOMLValueKinds() throws {
    let f = try parse("""
    # comment
    title = "a \\"quoted\\" \\u00B5m\\ttab"
    lit = 'C:\\path'
    multi = \"\"\"
    one
    two \\
       three\"\"\"
    mlit = '''
    raw \\n'''
    hex = 0xDEAD_beef
    oct = 0o755
    bin = 0b1010
    big = 1_000_000
    neg = -17
    f1 = 3.1415
    f2 = -2e-3
    f3 = 6.626E+34
    pinf = +inf
    ninf = -inf
    nan = nan
    yes = true
    when = 1979-05-27T07:32:00Z
    day = 1979-05-27
    at = 07:32:00.5
    space = 1979-05-27 07:32:00
    list = [1, 2.5, "x", [true], { a = 1 },]
    point = { x = 1, y.z = 2 }
    a.b.c = 4
    "quoted key" = 1

    [cell]
    active_mass_mg = 1.5

    [x.y]
    k = 1

    [[steps]]
    do = "Rest for 1 hour"
    [[steps]]
    do = "Charge at C/3 until 4.3 V"
    [steps.extra]
    n = 2
    """)
    let r = f.root
    #expect(try r.string("title") == "a \"quoted\" µm\ttab")
    #expect(try r.string("lit") == "C:\\path")
    #expect(try r.string("multi") == "one\ntwo three")
    #expect(try r.string("mlit") == "raw \\n")
    #expect(try r.integer("hex") == 0xDEADBEEF)
    #expect(try r.integer("oct") == 0o755)
    #expect(try r.integer("bin") == 10)
    #expect(try r.integer("big") == 1_000_000)
    #expect(try r.integer("neg") == -17)
    #expect(try r.number("f1") == 3.1415)
    #expect(try r.number("f2") == -2e-3)
    #expect(try r.number("f3") == 6.626e34)
    #expect(r.node("pinf").map { if case .float(let d) = $0.value { return d == .infinity } else { return false } } == true)
    #expect(r.node("ninf").map { if case .float(let d) = $0.value { return d == -.infinity } else { return false } } == true)
    #expect(r.node("nan").map { if case .float(let d) = $0.value { return d.isNaN } else { return false } } == true)
    #expect(try r.bool("yes") == true)
    #expect(r.node("when").map { if case .dateTime(let s) = $0.value { return s } else { return "" } } == "1979-05-27T07:32:00Z")
    #expect(r.node("day").map { if case .dateTime(let s) = $0.value { return s } else { return "" } } == "1979-05-27")
    #expect(r.node("at").map { if case .dateTime(let s) = $0.value { return s } else { return "" } } == "07:32:00.5")
    #expect(r.node("space").map { if case .dateTime(let s) = $0.value { return s } else { return "" } } == "1979-05-27 07:32:00")
    #expect(try r.array("list")?.count == 5)
    let point = try #require(try r.table("point"))
    #expect(try point.integer("x") == 1)
    #expect(try point.table("y")?.integer("z") == 2)
    #expect(try r.table("a")?.table("b")?.integer("c") == 4)
    #expect(try r.integer("quoted key") == 1)
    let cell = try #require(try r.table("cell"))
    #expect(try cell.number("active_mass_mg", unit: "mg", range: .positive(upTo: 1e4)) == 1.5)
    #expect(cell.line == 31 && cell.line(of: "active_mass_mg") == 32)
    #expect(try r.table("x")?.table("y")?.integer("k") == 1)
    let steps = try #require(try r.tables("steps"))
    #expect(steps.count == 2)
    #expect(steps[0].line == 37 && steps[1].line == 39)
    #expect(try steps[1].string("do") == "Charge at C/3 until 4.3 V")
    #expect(try steps[1].table("extra")?.integer("n") == 2)
    #expect(steps[1].path == "steps[1]")
    #expect(steps[1].node("do")?.line == 40)
}

/// Inputs that made TOMLKit's vendored toml++ abort (rc 134), and other broken TOML: each is a
/// thrown syntax error naming file, line and column.
let brokenTOML: [(String, Int)] = [
    ("[", 1), ("[.a]", 1), ("[=]", 1), ("[[;teps]]", 1), ("a = 1\n[b\n", 2), ("x = ", 1), ("x = [1, 2", 1),
    ("x = \"abc", 1), ("x = 'abc", 1), ("x = \"\"\"abc", 1), ("x = 1\nx = 2", 2), ("[a]\n[a]", 2),
    ("a = 1\n[a]", 2), ("x = {a = 1,}", 1), ("x = {a = 1\n}", 1), ("x = 01", 1), ("x = 1__0", 1), ("x = _1", 1),
    ("x = 1.", 1), ("x = .5", 1), ("x = 1e", 1), ("x = 0x", 1), ("x = +0x10", 1), ("x = 99999999999999999999", 1),
    ("x = \"\\q\"", 1), ("x = \"\\uD800\"", 1), ("x = tru", 1), ("x = 1 2", 1), ("= 1", 1), ("a.b = 1\na.b.c = 2", 2),
    ("x = {a=1}\n[x]", 2), ("[[a]]\n[a]", 2), ("a = [1]\n[[a]]", 2), ("x = 1\r", 1), ("key\n", 1),
    ("x = \"a\u{7}b\"", 1), ("# bell \u{7}\n", 1), ("x = 1979-05-27T07:32", 1), ("\"\"\"k\"\"\" = 1", 1),
    (String(repeating: "[", count: 10_000), 1),
    ("x = " + String(repeating: "[", count: 10_000), 1),
    ("x = " + String(repeating: "{a=", count: 10_000), 1),
]

@Test func brokenTOMLIsAnErrorWithLineAndColumn() {
    for (text, line) in brokenTOML {
        do {
            _ = try parse(text)
            Issue.record("accepted: \(ConfigError.displayText(text))")
        } catch let e as ConfigError {
            #expect(e.kind == .syntax, "\(e)")
            #expect(e.file == "t.toml")
            #expect(e.line == line, "\(ConfigError.displayText(text)): \(e)")
            #expect(e.column != nil)
            #expect(e.description.contains("not valid TOML"))
            #expect(e.description.count < 1_000, "\(e.description.count) characters")
        } catch { Issue.record("wrong error \(error)") }
    }
}

@Test func bytesThatAreNotTextAreRefusedPlainly() {
    func problem(_ bytes: [UInt8]) -> ConfigError? {
        do { _ = try ConfigFile.parse(bytes: bytes, path: "b.toml"); return nil } catch { return error as? ConfigError }
    }
    let nul = problem(Array("a = 1\nb = \"x".utf8) + [0] + Array("\"\n".utf8))
    #expect(nul?.kind == .file && nul?.line == 2 && nul?.problem.contains("NUL byte") == true)
    let latin1 = problem(Array("a = \"".utf8) + [0xB5] + Array("m\"".utf8))
    #expect(latin1?.kind == .file && latin1?.problem.contains("not UTF-8") == true, "\(String(describing: latin1))")
    #expect(problem([0xC0, 0x80]) != nil)          // overlong NUL
    #expect(problem([0xED, 0xA0, 0x80]) != nil)    // surrogate
    #expect(problem([0xF4, 0x90, 0x80, 0x80]) != nil) // above U+10FFFF
    #expect(problem(Array("a = \"µm ✓ 😀\"".utf8)) == nil)
    #expect(problem([0xEF, 0xBB, 0xBF] + Array("a = 1".utf8)) == nil)  // BOM
}

@Test func directoriesFIFOsMissingAndHugeFilesAreRefusedPlainly() throws {
    let dir = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    func problem(_ path: String, max: Int = ConfigFile.maximumBytes) -> String {
        do { _ = try ConfigFile.load(path: path, maximumBytes: max); return "" } catch { return "\(error)" }
    }
    #expect(problem(dir.path).contains("is a directory"))
    let fifo = dir.appendingPathComponent("pipe.toml").path
    #expect(mkfifo(fifo, 0o600) == 0)
    #expect(problem(fifo).contains("FIFO"))
    #expect(problem(dir.appendingPathComponent("none.toml").path).contains("no such file"))
    let big = dir.appendingPathComponent("big.toml")
    try Data(repeating: 0x20, count: 5000).write(to: big)
    #expect(problem(big.path, max: 4096).contains("at most 4096 bytes"))
    #expect(problem(big.path) == "")
    #expect(problem("").contains("no file name"))
}

@Test func unreadKeysAreErrorsNamingLineAndKnownKeys() throws {
    let f = try parse("[cell]\nactive_mass_mg = 1.5\nactive_mas_mg = 2\n[imager]\nx = 1\n")
    let cell = try #require(try f.root.table("cell"))
    _ = try cell.number("active_mass_mg")
    _ = try cell.number("sample_interval_s")
    do { try f.finish(); Issue.record("unread key accepted") } catch let e as ConfigError {
        #expect(e.kind == .unknownKey)
        #expect(e.line == 4 && e.key == "imager", "\(e)")
    }
    _ = f.root.node("imager")
    do { try f.finish(); Issue.record("unread key accepted") } catch let e as ConfigError {
        #expect(e.line == 3 && e.key == "cell.active_mas_mg", "\(e)")
        #expect(e.description.contains("unknown key \"active_mas_mg\" in [cell]; expected one of active_mass_mg, sample_interval_s"), "\(e)")
    }
}

@Test func typedGettersCheckTypeAndRange() throws {
    let f = try parse("""
    rate = -10
    bin = 2.5
    count = 100000000
    name = "sim"
    mass = 1e300
    flag = 3
    list = [1, "two"]
    kind = "meteor"
    """)
    let r = f.root
    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }
    #expect(message { _ = try r.number("rate", unit: "Hz", range: .positive(upTo: 1000)) }
        == "t.toml:1:1: rate: \"-10\": rate = -10 Hz: expected a finite positive number up to 1000 Hz")
    #expect(message { _ = try r.integer("bin", range: 1...10000) }.contains("bin must be a whole number from 1 to 10000; got a float"))
    #expect(message { _ = try r.integer("count", range: 1...10000) }.contains("t.toml:3:1: count"))
    #expect(message { _ = try r.number("name") }.contains("name must be a number; got a string"))
    #expect(message { _ = try r.number("mass", unit: "mg", range: 0...1e4) }.contains("mass = 1e+300 mg: expected a finite non-negative number up to 10000 mg"))
    #expect(message { _ = try r.bool("flag") }.contains("must be true or false"))
    #expect(message { _ = try r.numbers("list") }.contains("t.toml:7:12: list[1]"))
    #expect(message { _ = try r.string("kind", oneOf: ["drop", "timeout"]) }.contains("expected one of \"drop\", \"timeout\""))
    #expect(try r.number("absent", default: 4) == 4)
}

@Test func messagesEscapeControlCharactersAndTruncateLongValues() throws {
    let long = String(repeating: "x", count: 100_000)
    let f = try parse("a = \"\(long)\"\nb = \"one\\rtwo\\u001B[2J\"\n")
    do { _ = try f.root.number("a"); Issue.record("accepted") } catch {
        #expect("\(error)".count < 500, "\("\(error)".count) characters")
        #expect("\(error)".contains("more characters"))
    }
    do { _ = try f.root.number("b"); Issue.record("accepted") } catch {
        let s = "\(error)"
        #expect(!s.unicodeScalars.contains { $0.value < 0x20 })
        #expect(s.contains("one\\rtwo\\u{1B}[2J"), "\(s)")
    }
}

@Test func tenThousandStepsParseQuickly() throws {
    var text = ""
    for k in 0..<10_000 { text += "[[steps]]\ndo = \"Rest for \(k + 1) s\"\n" }
    let start = Date()
    let f = try parse(text)
    let steps = try #require(try f.root.tables("steps"))
    #expect(steps.count == 10_000)
    #expect(steps[9_999].line == 19_999)
    #expect(Date().timeIntervalSince(start) < 5)
}

/// Found while fuzzing: 200,000-part dotted keys and headers were quadratic (the path of every
/// intermediate table was rebuilt) and a 3 MB one-line array recounted its column for every value.
@Test func deepKeysAndWideLinesStayLinear() throws {
    for text in ["a" + String(repeating: ".a", count: 200_000) + " = 1\n",
                 "[" + Array(repeating: "a", count: 200_000).joined(separator: ".") + "]\n"] {
        let start = Date()
        do { _ = try parse(text); Issue.record("accepted") } catch let e as ConfigError {
            #expect(e.problem.contains("more than 64 parts"), "\(e)")
        }
        #expect(Date().timeIntervalSince(start) < 5)
    }
    let wide = "x = [" + String(repeating: "1,", count: 300_000) + "1]\n"
    let start = Date()
    let f = try parse(wide)
    #expect(try f.root.array("x", maxCount: 1_000_000)?.count == 300_001)
    #expect(Date().timeIntervalSince(start) < 10)
}
