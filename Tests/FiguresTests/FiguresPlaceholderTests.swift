import Testing
@testable import Figures

@Test func moduleLinks() { #expect(FiguresModule.self == FiguresModule.self) }
