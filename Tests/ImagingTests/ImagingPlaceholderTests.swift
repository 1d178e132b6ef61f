import Testing
@testable import Imaging

@Test func moduleLinks() { #expect(ImagingModule.self == ImagingModule.self) }
