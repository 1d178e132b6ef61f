import Testing
@testable import ParticleModel

@Test func defaultSetValidates() throws { try ParameterSet.nmc87.validate() }
