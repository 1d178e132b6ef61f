import Testing
@testable import Electrochemistry

@Test func parsesCharge() throws {
    let s = try StepParser.parse("Charge at C/3 until 4.3 V")
    #expect(s.kind == .charge(.cRate(1.0 / 3)))
}
