import Testing
@testable import Rig

@Test func moduleLinks() { #expect(RigModule.self == RigModule.self) }
