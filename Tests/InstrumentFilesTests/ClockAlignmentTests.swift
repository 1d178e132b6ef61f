import Foundation
import Testing
@testable import InstrumentFiles

@Suite struct ClockAlignmentTests {
    /// Synthetic trigger edges: technique starts on the instrument clock, the same edges on the rig
    /// clock 1234.5678 s later and 50 ppm faster. The fit recovers both, residuals < 1 µs.
    static let instrument: [Double] = [0, 600, 1800.25, 3600.5, 5400, 7200.75, 9000, 10800.125, 14400]
    static let offset = 1234.5678, drift = 50e-6
    static func rig(_ t: Double) -> Double { offset + (1 + drift) * t }

    @Test func recoversOffsetAndDrift() throws {
        let a = try ClockAlignment.fit(instrumentSeconds: Self.instrument, rigSeconds: Self.instrument.map(Self.rig))
        #expect(abs(a.offsetSeconds - Self.offset) < 1e-6)
        #expect(abs(a.driftPPM - 50) < 1e-3)
        #expect(a.residualRMSSeconds < 1e-6 && a.residualMaxSeconds < 1e-6)
        #expect(a.matchedPairs.count == Self.instrument.count)
        #expect(abs(a.rigSeconds(fromInstrument: 20000) - Self.rig(20000)) < 1e-6)
        #expect(abs(a.instrumentSeconds(fromRig: Self.rig(777)) - 777) < 1e-6)
    }

    /// Kernel timestamps jitter: with ±20 µs noise the fit still lands within the noise.
    @Test func noisyEdges() throws {
        var g = SystemRandomNumberGenerator()
        let rig = Self.instrument.map { Self.rig($0) + Double.random(in: -20e-6...20e-6, using: &g) }
        let a = try ClockAlignment.fit(instrumentSeconds: Self.instrument, rigSeconds: rig)
        #expect(abs(a.offsetSeconds - Self.offset) < 40e-6)
        #expect(abs(a.driftPPM - 50) < 0.02)
        #expect(a.residualMaxSeconds < 40e-6 && a.residualRMSSeconds > 0)
    }

    /// One spurious rig edge (a glitch) and one missed edge are left unmatched instead of shifting
    /// every pair.
    @Test func extraAndMissingEdges() throws {
        var rig = Self.instrument.map(Self.rig)
        rig.remove(at: 4)                       // the edge of instrument 5400 s never arrived
        rig.insert(Self.rig(100), at: 1)         // a glitch 100 s after the first edge
        let a = try ClockAlignment.fit(instrumentSeconds: Self.instrument, rigSeconds: rig)
        #expect(abs(a.offsetSeconds - Self.offset) < 1e-6 && abs(a.driftPPM - 50) < 1e-3)
        #expect(a.residualMaxSeconds < 1e-6)
        #expect(a.unmatchedInstrumentSeconds == [5400])
        #expect(a.unmatchedRigSeconds.count == 1 && abs(a.unmatchedRigSeconds[0] - Self.rig(100)) < 1e-9)
        // A missing first edge too: the match must not slide by one.
        let late = Array(Self.instrument.map(Self.rig).dropFirst())
        let b = try ClockAlignment.fit(instrumentSeconds: Self.instrument, rigSeconds: late)
        #expect(abs(b.offsetSeconds - Self.offset) < 1e-6 && b.unmatchedInstrumentSeconds == [0])
    }

    /// A contact bounce 1 ms after a real edge is passed over, not matched.
    @Test func bounceIsIgnored() throws {
        var rig = Self.instrument.map(Self.rig)
        rig.insert(rig[3] + 0.001, at: 4)
        let a = try ClockAlignment.fit(instrumentSeconds: Self.instrument, rigSeconds: rig)
        #expect(a.residualMaxSeconds < 1e-6 && a.matchedPairs.count == Self.instrument.count)
        #expect(a.unmatchedRigSeconds.count == 1 && abs(a.unmatchedRigSeconds[0] - rig[4]) < 1e-9)
    }

    /// The whole path firmware-sim and `operando import` take: an instrument record written as .mpt,
    /// read back, its step starts matched to rig edges on a clock 50 ppm fast and 17 s late, one
    /// edge lost: the instrument's samples land on the rig clock within 1 µs.
    @Test func alignsAWrittenRecord() throws {
        let samples = ECLabTextWriterTests.samples()
        let text = ECLabTextWriter.gcplText(header: ECLabGCPLHeader(acquisitionStart: Date(timeIntervalSince1970: 0)), samples: samples)
        let record = try ECLabTextReader.parse(bytes: Array(text.utf8), path: "sim.mpt", timeZone: Fixtures.utc)
        let series = try record.echemSeries()
        let starts = series.stepStartSeconds
        #expect(starts.count == 3)
        let rigEdges = starts.dropLast().map { 17 + (1 + 50e-6) * $0 }
        let a = try ClockAlignment.fit(instrumentSeconds: starts, rigSeconds: Array(rigEdges))
        #expect(a.unmatchedInstrumentSeconds == [starts[2]])
        let last = try #require(series.timeSeconds.last)
        #expect(abs(a.rigSeconds(fromInstrument: last) - (17 + (1 + 50e-6) * last)) < 1e-6)
    }

    /// `--offset`: a given offset, no drift, no residual.
    @Test func givenOffset() {
        let a = ClockAlignment(offsetSeconds: -12.5)
        #expect(a.rigSeconds(fromInstrument: 100) == 87.5 && a.driftPPM == 0 && a.residualRMSSeconds == 0)
    }

    /// One edge fixes the offset only; none is an error that says what to do.
    @Test func tooFewEdges() throws {
        let one = try ClockAlignment.fit(instrumentSeconds: [10], rigSeconds: [110.25])
        #expect(one.offsetSeconds == 100.25 && one.driftPPM == 0)
        #expect { try ClockAlignment.fit(instrumentSeconds: [1, 2], rigSeconds: []) } throws: { "\($0)".contains("--offset") }
    }
}
