import Foundation
import Synchronization
import Testing
@testable import TerminalProgress

// The one progress reporter (issue 16 item 9): a bar with ETA on a terminal, plain periodic lines
// otherwise, nothing with --quiet, and never "100 %" before the end.

/// A fake monotonic clock and a captured output.
private final class Harness: @unchecked Sendable {
    let lock = NSLock()
    var now = 1000.0
    var text = ""
    func clock() -> Double { lock.lock(); defer { lock.unlock() }; return now }
    func write(_ s: String) { lock.lock(); text += s; lock.unlock() }
    func reporter(_ mode: ProgressMode, label: String = "simulate") -> ProgressReporter {
        ProgressReporter(label: label, mode: mode, clock: { [self] in clock() }, output: { [self] in write($0) })
    }
    /// Lines as a terminal shows them: `\r` returns to the start, `ESC[K` erases the rest.
    var lines: [String] { text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
}

@Test func barLineHasBarPercentElapsedAndETAWithinTheWidth() {
    let line = ProgressReporter.barLine(label: "simulate", fraction: 0.25, elapsedSeconds: 30, detail: "step 1/3, model t 1:00:00", columns: 80)
    #expect(line.hasPrefix("simulate ["))
    #expect(line.contains("  25 % 0:30 ETA 1:30 step 1/3, model t 1:00:00"), "\(line)")
    #expect(line.count <= 79)
    // 20 cells at 80 columns, a quarter of them filled.
    #expect(line.contains("[" + String(repeating: "#", count: 5) + String(repeating: "-", count: 15) + "]"), "\(line)")
}

@Test func barLineNeverExceedsANarrowTerminal() {
    for columns in [20, 40, 57, 80, 200] {
        let line = ProgressReporter.barLine(label: "analyse", fraction: 0.5, elapsedSeconds: 3700, detail: String(repeating: "x", count: 300),
                                            columns: columns)
        #expect(line.count <= columns - 1, "\(columns): \(line.count)")
    }
    // With little room the bar goes, the numbers stay.
    let narrow = ProgressReporter.barLine(label: "analyse", fraction: 0.5, elapsedSeconds: 10, detail: "frame 5/10", columns: 38)
    #expect(!narrow.contains("[") && narrow.contains("50 %"), "\(narrow)")
}

@Test func percentIsFlooredAndHeldBelow100UntilDone() {
    #expect(ProgressReporter.percent(0.999) == 99)
    #expect(ProgressReporter.percent(1.0) == 99)
    #expect(ProgressReporter.percent(1.0, done: true) == 100)
    #expect(ProgressReporter.percent(0.426) == 42)
    let line = ProgressReporter.barLine(label: "run", fraction: 1, elapsedSeconds: 5, detail: "", columns: 80)
    #expect(line.contains(" 99 %") && !line.contains("100 %"), "\(line)")
}

@Test func etaComesFromElapsedAndFraction() {
    #expect(ProgressReporter.etaSeconds(fraction: 0.25, elapsedSeconds: 30) == 90)
    #expect(ProgressReporter.etaSeconds(fraction: 0.005, elapsedSeconds: 30) == nil)
    #expect(ProgressReporter.etaSeconds(fraction: 0.5, elapsedSeconds: 0.5) == nil)
    #expect(ProgressReporter.clock(3725) == "1:02:05")
    #expect(ProgressReporter.clock(65) == "1:05")
}

@Test func terminalModeRewritesOneLineAndEndsAt100() {
    let h = Harness()
    let r = h.reporter(.bar(columns: 60))
    h.now += 2; r.update(0.5, "half")
    h.now += 0.05; r.update(0.6, "too soon")   // within the redraw interval: not drawn
    h.now += 1; r.update(0.75, "three quarters")
    h.now += 1; r.finish("done")
    #expect(!h.text.contains("too soon"))
    #expect(h.text.components(separatedBy: "\r").count == 4, "\(h.text.debugDescription)")   // 3 draws
    #expect(h.text.hasSuffix("\u{1B}[K\n"))
    #expect(h.lines.count == 2 && h.lines[0].contains("100 %") && h.lines[0].contains("done"))
    for draw in h.text.components(separatedBy: "\r").dropFirst() { #expect(draw.replacingOccurrences(of: "\u{1B}[K", with: "").trimmingCharacters(in: .newlines).count <= 59) }
}

@Test func notesPrintAboveTheBar() {
    let h = Harness()
    let r = h.reporter(.bar(columns: 80), label: "analyse")
    h.now += 1; r.update(0.1, "frame 1/10")
    r.note("analyse: mask: threshold 0.5")
    h.now += 0.01; r.update(0.2, "frame 2/10")   // redrawn at once after a note
    // The bar is erased before the note, so the note has a line of its own.
    #expect(h.text.contains("\r\u{1B}[Kanalyse: mask: threshold 0.5\n\r"), "\(h.text.debugDescription)")
}

@Test func lineModePrintsEvery10PercentOr10Seconds() {
    let h = Harness()
    let r = h.reporter(.lines(percentStep: 0.1, seconds: 10), label: "export")
    for k in 1...100 {
        h.now += 0.1
        r.update(Double(k) / 100, "frame \(k)/100")
    }
    // 10 s in all: a line at each 10 % (10 %…100 % is 10 crossings, the last shown as 99 %).
    let lines = h.lines.filter { !$0.isEmpty }
    #expect(lines.count == 10, "\(lines)")
    #expect(lines.first == "export: 10 % after 0:01, ETA 0:09; frame 10/100", "\(lines.first ?? "")")
    #expect(!h.text.contains("\r") && !h.text.contains("\u{1B}"))
    r.finish()
    #expect(h.lines.filter { !$0.isEmpty }.last?.hasPrefix("export: 100 % after 0:10") == true)

    // Slow progress: a line every 10 s even when the fraction hardly moves.
    let h2 = Harness()
    let slow = h2.reporter(.lines(percentStep: 0.1, seconds: 10))
    for k in 1...60 { h2.now += 1; slow.update(Double(k) / 10_000, "step 1/2") }
    #expect(h2.lines.filter { !$0.isEmpty }.count == 6)
    // Unknown total: elapsed time only.
    #expect(ProgressReporter.plainLine(label: "calibrate", fraction: nil, elapsedSeconds: 75, detail: "S = 3.5") == "calibrate: 1:15 elapsed; S = 3.5")
}

@Test func silentModePrintsOnlyWarnings() {
    let h = Harness()
    let r = h.reporter(.silent)
    h.now += 5; r.update(0.5, "x")
    r.note("a note")
    r.warning("fault: potentiostat: timeout")
    r.finish()
    #expect(h.text == "fault: potentiostat: timeout\n")
}

@Test func abandonEndsTheLineWithoutClaimingDone() {
    let h = Harness()
    let r = h.reporter(.bar(columns: 80))
    h.now += 2; r.update(0.3, "")
    r.abandon()
    r.finish()   // ignored after abandon
    #expect(!h.text.contains("100 %") && h.text.hasSuffix("\n"))
}
