import Testing
@testable import Figures

@Suite struct TickTests {
    @Test func linearRangeGetsRoundSteps() {
        let t = TickLocator.ticks(0, 10, scale: .linear, targetCount: 5)
        #expect(t.map(\.value) == [0, 2, 4, 6, 8, 10])
        #expect(t.map(\.label) == ["0", "2", "4", "6", "8", "10"])
    }

    @Test func fractionalStepsKeepEqualDecimals() {
        let t = TickLocator.ticks(3.0, 4.4, scale: .linear, targetCount: 5)
        #expect(t.first?.label == "3.0")
        #expect(t.allSatisfy { $0.label.count == 3 })
    }

    @Test func negativeValuesUseTypographicMinusAndNoNegativeZero() {
        let t = TickLocator.ticks(-0.1, 0.1, scale: .linear, targetCount: 4)
        #expect(t.contains { $0.label == "−0.10" || $0.label == "−0.1" })
        #expect(t.contains { $0.label == "0.00" || $0.label == "0.0" || $0.label == "0" })
        #expect(!t.contains { $0.label.hasPrefix("-") })
        #expect(TickLocator.format(-0.0001, decimals: 2) == "0.00")
    }

    @Test func niceLimitsEncloseTheData() {
        let (a, b) = TickLocator.niceLimits(0.13, 9.7)
        #expect(a <= 0.13 && b >= 9.7)
        #expect(a == 0 && b == 10)
        let (c, d) = TickLocator.niceLimits(-3.2, -1.1)
        #expect(c <= -3.2 && d >= -1.1 && d <= 0)
        let (e, f) = TickLocator.niceLimits(2, 2)
        #expect(e < 2 && f > 2)
    }

    @Test func logAxisLabelsDecadesWithSuperscripts() {
        let t = TickLocator.ticks(1e-14, 1e-11, scale: .log10)
        let majors = t.filter(\.isMajor)
        #expect(majors.map(\.label) == ["10⁻¹⁴", "10⁻¹³", "10⁻¹²", "10⁻¹¹"])
        #expect(t.filter { !$0.isMajor }.count == 8 * 3)  // minor ticks 2…9 in each decade
        let (lo, hi) = TickLocator.niceLimits(1.6e-13, 1.9e-11, scale: .log10)
        #expect(abs(lo - 1e-13) < 1e-25 && abs(hi - 1e-10) < 1e-22)
    }

    @Test func manyDecadesAreThinned() {
        let t = TickLocator.ticks(1e-20, 1e0, scale: .log10, targetCount: 5).filter { !$0.label.isEmpty }
        #expect(t.count <= 8 && t.count >= 3)
    }

    @Test func narrowLogRangeLabels125() {
        let labels = TickLocator.ticks(1, 8, scale: .log10).filter(\.isMajor).map(\.label)
        #expect(labels == ["1", "2", "5"])
    }
}
