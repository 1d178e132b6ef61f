import Testing
@testable import Electrochemistry

// Issue 16 item 7: quantities print as the user wrote them — at most 6 significant digits, in the
// step language's units — and every printed end reason parses back to the same value.

@Test func endReasonsPrintAsWritten() throws {
    let cases: [(String, [String])] = [
        ("Rest for 4 hours or until 1 mV/h", ["for 4 h", "until 1 mV/h"]),
        ("Rest for 20 minutes or until 0.3 mV/h", ["for 20 min", "until 0.3 mV/h"]),
        ("Hold at 4.3 V for 90 minutes or until C/50", ["for 1.5 h", "until C/50"]),
        ("Hold at 4300 mV for 45 s or until 10 uA", ["for 45 s", "until 10 µA"]),
        ("Hold at 4.2 V until 0.5 mA", ["until 0.5 mA"]),
        ("Charge at C/3 until 4.3 V", ["until 4.3 V"]),
        ("Discharge at 1C until 150 mAh/g", ["until 150 mAh/g"]),
        ("Rest until 2 V/h", ["until 2 V/h"]),
    ]
    for (text, expected) in cases {
        let step = try StepParser.parse(text)
        #expect(step.endConditions.map(\.description) == expected, "\(text)")
        // Each printed condition parses back to the same condition.
        let cut = [text.range(of: " for "), text.range(of: " until ")].compactMap { $0?.lowerBound }.min()!
        let again = try StepParser.parse(String(text[..<cut]) + " " + expected.joined(separator: " or "))
        for (a, b) in zip(again.endConditions, step.endConditions) {
            switch (a, b) {
            case (.duration(let x), .duration(let y)), (.voltage(let x), .voltage(let y)),
                 (.voltageSlope(let x), .voltageSlope(let y)), (.capacity(let x), .capacity(let y)):
                #expect(abs(x - y) <= 1e-9 * abs(y), "\(text): \(a) vs \(b)")
            case (.current(let x), .current(let y)):
                #expect(x.description == y.description, "\(text)")
            default: Issue.record("\(text): \(a) vs \(b)")
            }
        }
    }
}

@Test func numbersHaveAtMostSixSignificantDigits() {
    #expect(QuantityText.number(0.9999999999999999) == "1")
    #expect(QuantityText.number(1e-3 / 3600 * 3.6e6) == "1")
    #expect(QuantityText.number(3.0000000000000004) == "3")
    #expect(QuantityText.number(0.000105) == "0.000105")
    #expect(QuantityText.number(1234567) == "1234570")
    #expect(QuantityText.number(1.5e-9) == "1.5e-09")
    #expect(QuantityText.number(4.3) == "4.3")
    #expect(QuantityText.current(amps: 0.5e-3) == "0.5 mA")
    #expect(QuantityText.current(amps: 1e-5) == "10 µA")
    #expect(QuantityText.current(amps: 2.5e-12) == "0.0025 nA")
    #expect(QuantityText.duration(seconds: 7200) == "2 h")
    #expect(QuantityText.duration(seconds: 1000) == "1000 s")
    #expect(QuantityText.slope(voltsPerSecond: 1e-3 / 3600) == "1 mV/h")
    #expect(CurrentSetpoint.cRate(1 / 3.0).description == "C/3")
    #expect(CurrentSetpoint.amperes(0.5e-3).description == "0.5 mA")
}
