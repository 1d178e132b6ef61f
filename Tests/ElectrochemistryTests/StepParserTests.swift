import Testing
@testable import Electrochemistry

struct StepCase: Sendable, CustomTestStringConvertible {
    var text: String
    var kind: StepKind
    var ends: [EndCondition]
    init(_ text: String, _ kind: StepKind, _ ends: [EndCondition]) { self.text = text; self.kind = kind; self.ends = ends }
    var testDescription: String { text }
}

let documentedSteps: [StepCase] = [
    StepCase("Charge at C/3 until 4.3 V", .charge(.cRate(1.0 / 3)), [.voltage(volts: 4.3)]),
    StepCase("Discharge at 1C until 3.0 V", .discharge(.cRate(1)), [.voltage(volts: 3.0)]),
    StepCase("Charge at C/3 for 20 minutes", .charge(.cRate(1.0 / 3)), [.duration(seconds: 1200)]),
    StepCase("Charge at 70 mA/g until 4.3 V", .charge(.milliampsPerGram(70)), [.voltage(volts: 4.3)]),
    StepCase("Discharge at 0.5 mA for 2 h", .discharge(.amperes(0.5e-3)), [.duration(seconds: 7200)]),
    StepCase("Hold at 3.0 V for 2 hours", .hold(volts: 3.0), [.duration(seconds: 7200)]),
    StepCase("Hold at 3 V until C/200", .hold(volts: 3.0), [.current(.cRate(1.0 / 200))]),
    StepCase("Hold at 3 V for 2 hours or until C/200", .hold(volts: 3.0), [.duration(seconds: 7200), .current(.cRate(1.0 / 200))]),
    StepCase("Rest for 1 hour", .rest, [.duration(seconds: 3600)]),
    StepCase("Rest for 4 hours or until 1 mV/h", .rest, [.duration(seconds: 14400), .voltageSlope(voltsPerSecond: 1e-3 / 3600)]),
    StepCase("Charge at C/3 for 5 hours or until 4.3 V", .charge(.cRate(1.0 / 3)), [.duration(seconds: 18000), .voltage(volts: 4.3)]),
    StepCase("Hold at 3 V for 2 hours or until C/200 or until 10 uA", .hold(volts: 3), [.duration(seconds: 7200), .current(.cRate(0.005)), .current(.amperes(10e-6))]),
    StepCase("Hold at 4300 mV for 30 s", .hold(volts: 4.3), [.duration(seconds: 30)]),
    StepCase("Charge at 2C for 1 day", .charge(.cRate(2)), [.duration(seconds: 86400)]),
    StepCase("Charge at 0.5C for 90 min", .charge(.cRate(0.5)), [.duration(seconds: 5400)]),
    StepCase("Hold at 3 V until 10 µA", .hold(volts: 3), [.current(.amperes(10e-6))]),
    StepCase("charge at C/20 for 15 minutes", .charge(.cRate(0.05)), [.duration(seconds: 900)]),
]

/// The step strings of docs/interfaces.md, each with what it must mean.
@Test(arguments: documentedSteps)
func parsesDocumentedSteps(_ c: StepCase) throws {
    let (text, kind, ends) = (c.text, c.kind, c.ends)
    let step = try StepParser.parse(text)
    #expect(step.kind.name == kind.name)
    switch (step.kind, kind) {
    case (.charge(let a), .charge(let b)), (.discharge(let a), .discharge(let b)):
        #expect(close(a, b), "\(a) vs \(b)")
    case (.hold(let a), .hold(let b)):
        #expect(abs(a - b) < 1e-12)
    case (.rest, .rest): break
    default: Issue.record("kind \(step.kind) vs \(kind)")
    }
    #expect(step.endConditions.count == ends.count)
    for (a, b) in zip(step.endConditions, ends) {
        switch (a, b) {
        case (.duration(let x), .duration(let y)), (.voltage(let x), .voltage(let y)),
             (.voltageSlope(let x), .voltageSlope(let y)):
            #expect(abs(x - y) <= 1e-12 * max(1, abs(y)), "\(a) vs \(b)")
        case (.current(let x), .current(let y)):
            #expect(close(x, y), "\(a) vs \(b)")
        default: Issue.record("end \(a) vs \(b)")
        }
    }
}

private func close(_ a: CurrentSetpoint, _ b: CurrentSetpoint) -> Bool {
    switch (a, b) {
    case (.cRate(let x), .cRate(let y)), (.amperes(let x), .amperes(let y)),
         (.milliampsPerGram(let x), .milliampsPerGram(let y)):
        return abs(x - y) <= 1e-12 * max(1e-9, abs(y))
    default: return false
    }
}

/// Bad step strings: the error names the location and the text and says what was expected.
@Test(arguments: [
    ("Charge at C/3", "never ends"),
    ("Charge C/3 until 4.3 V", "must be followed by \"at\""),
    ("Charge at fast until 4.3 V", "expected a current"),
    ("Charge at -C/3 until 4.3 V", "positive value"),
    ("Charge at C/0 until 4.3 V", "divisor"),
    ("Discharge at 1 C until 3 Volts", "expected a voltage"),
    ("Hold at 3 A for 2 hours", "expected a voltage"),
    ("Hold at 3 V until 4.2 V", "cannot end on a voltage"),
    ("Charge at C/3 until C/200", "only a Hold step"),
    ("Rest for -5 minutes", "positive value"),
    ("Rest for 0 minutes", "positive duration"),
    ("Rest for 10 parsecs", "positive duration"),
    ("Charge at C/3 for 5 hours and until 4.3 V", "joined by \"or\""),
    ("Sprint at C/3 for 1 hour", "unknown step"),
    ("", "empty step"),
    ("Charge at C/3 until 4.3 V or", "must be followed"),
    ("Charge at 1.2.3 mA for 1 hour", "not a number"),
    ("Rest until 4 V", "cannot end on a voltage"),
    ("Charge at C/3 until 1 mV/h", "only a Rest step"),
])
func rejectsBadSteps(text: String, fragment: String) {
    let location = SourceLocation(file: "protocol.toml", line: 7)
    do {
        _ = try StepParser.parse(text, location: location)
        Issue.record("\"\(text)\" parsed but should not")
    } catch let e as ProtocolError {
        #expect(e.location == location)
        #expect(e.text == text)
        #expect(e.description.hasPrefix("protocol.toml:7: \"\(text)\""))
        #expect(e.problem.contains(fragment), "\(e.problem) lacks \(fragment)")
    } catch {
        Issue.record("unexpected error \(error)")
    }
}

@Test func cRateConversions() {
    // 70 mA/g at 210 mAh/g is C/3; 0.105 mA on 1.5 mg at 210 mAh/g is C/3.
    #expect(abs(CurrentSetpoint.milliampsPerGram(70).cRate(practicalCapacityMilliampHoursPerGram: 210, activeMassGrams: nil)! - 1.0 / 3) < 1e-12)
    #expect(abs(CurrentSetpoint.amperes(0.105e-3).cRate(practicalCapacityMilliampHoursPerGram: 210, activeMassGrams: 1.5e-3)! - 1.0 / 3) < 1e-12)
    #expect(CurrentSetpoint.amperes(1e-3).cRate(practicalCapacityMilliampHoursPerGram: 210, activeMassGrams: nil) == nil)
}
