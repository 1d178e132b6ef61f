import Foundation
import Testing
@testable import Figures

@Suite struct ReportTests {
    @Test func syntheticReportRendersEveryPage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operando-figures-test").path
        let path = dir + "/report.pdf"
        let inputs = ReportInputs.synthetic()
        let t0 = Date()
        let s = try Report.render(inputs: inputs, to: path)
        let dt = Date().timeIntervalSince(t0)
        print("report render: \(String(format: "%.3f", dt)) s, pages \(s.pages)")
        #expect(s.pages.count == 7)
        #expect(s.skipped.isEmpty)
        #expect(FileManager.default.fileExists(atPath: path))
    }
}
