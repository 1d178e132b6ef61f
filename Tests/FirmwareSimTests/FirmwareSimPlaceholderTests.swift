import Testing
@testable import FirmwareSim

@Test func moduleLinks() { #expect(FirmwareSimModule.self == FirmwareSimModule.self) }
