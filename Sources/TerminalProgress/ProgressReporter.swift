import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The one progress reporter of operando's long commands (simulate, analyse, calibrate, export, demo,
// run's status line). Its own small module so that its rendering is unit-tested without the
// executable, and so that no library (ParticleModel, Imaging, Dataset) learns about terminals: the
// libraries report fractions and lines through closures; only the command line decides how they
// look. Everything here writes to stderr (stdout is the command's result, e.g. its --json).

/// How progress is shown.
public enum ProgressMode: Sendable, Equatable {
    /// One line rewritten in place (`\r`, erase to end of line): a bar, percent, elapsed, ETA, detail.
    /// `columns` is the terminal's width; the line never wraps.
    case bar(columns: Int)
    /// Plain lines, one every `percentStep` of progress or `seconds` of wall time, whichever is first
    /// (for logs, pipes and CI, where `\r` makes a mess).
    case lines(percentStep: Double, seconds: Double)
    /// Nothing but warnings (`--quiet`).
    case silent

    /// The mode for stderr: a bar on a terminal (isatty(2)), plain lines every 10 % or 10 s otherwise,
    /// silent when `quiet`.
    public static func forStandardError(quiet: Bool) -> ProgressMode {
        if quiet { return .silent }
        if isatty(STDERR_FILENO) != 0 { return .bar(columns: terminalColumns()) }
        return .lines(percentStep: 0.1, seconds: 10)
    }

    /// The terminal's width (TIOCGWINSZ on stderr, else $COLUMNS, else 80).
    public static func terminalColumns() -> Int {
        var size = winsize()
        if isatty(STDERR_FILENO) != 0, ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 20 { return Int(size.ws_col) }
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c >= 20 { return c }
        return 80
    }
}

/// Progress of one long task on stderr. Thread-safe: libraries may report from worker threads.
///
/// - The percentage shown is floored and held at 99 % until `finish()`: a task is never claimed
///   done before it is (issue 16, simulate read "100 %" with 12,000 s to go).
/// - `fraction` may be nil when the total is unknown: the line then shows the detail and elapsed
///   time without a bar or ETA.
/// - `note` prints a line of its own (a stage, a result) above the bar; `warning` does so even when
///   silent.
public final class ProgressReporter: @unchecked Sendable {
    /// The task's name, first on every line (`simulate`, `analyse`); no other prefix is added.
    public let label: String
    public let mode: ProgressMode
    private let clock: @Sendable () -> Double
    private let output: @Sendable (String) -> Void
    private let lock = NSLock()
    private let startSeconds: Double
    private var lastDrawSeconds = -Double.infinity
    private var lastLineSeconds: Double
    /// Progress steps (of `percentStep`) already reported in line mode.
    private var lastLineBucket = 0
    private var barShown = false
    private var lastFraction: Double?
    private var lastDetail = ""
    private var finished = false
    /// Least time between two redraws of the bar, s (a redraw costs a write system call).
    public var barRedrawSeconds = 0.1

    /// - Parameters:
    ///   - clock: seconds on a monotonic clock (tests pass a fake).
    ///   - output: where text goes (the command line passes its stderr writer).
    public init(label: String, mode: ProgressMode, clock: @escaping @Sendable () -> Double = ProgressReporter.monotonicSeconds,
                output: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.mode = mode
        self.clock = clock
        self.output = output
        startSeconds = clock()
        lastLineSeconds = startSeconds
    }

    /// CLOCK_MONOTONIC in seconds.
    @Sendable public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Reports progress: `fraction` of the work done (0…1, nil when unknown) and a short detail
    /// (`step 2/3, model t 1:02:03`).
    public func update(_ fraction: Double?, _ detail: String = "") {
        lock.lock(); defer { lock.unlock() }
        guard !finished else { return }
        let f = fraction.flatMap { $0.isFinite ? min(1, max(0, $0)) : nil }
        lastFraction = f
        lastDetail = detail
        let now = clock()
        switch mode {
        case .silent: return
        case .bar(let columns):
            guard now - lastDrawSeconds >= barRedrawSeconds else { return }
            lastDrawSeconds = now
            output("\r" + Self.barLine(label: label, fraction: f, elapsedSeconds: now - startSeconds, detail: detail, columns: columns) + "\u{1B}[K")
            barShown = true
        case .lines(let step, let seconds):
            let bucket = f.map { Int(($0 / step + 1e-9).rounded(.down)) } ?? lastLineBucket
            guard bucket > lastLineBucket || now - lastLineSeconds >= seconds else { return }
            lastLineBucket = max(lastLineBucket, bucket)
            lastLineSeconds = now
            output(Self.plainLine(label: label, fraction: f, elapsedSeconds: now - startSeconds, detail: detail) + "\n")
        }
    }

    /// A line of its own (a stage, an analysis step); silent mode drops it.
    public func note(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        guard mode != .silent else { return }
        emitLine(text)
    }

    /// A line shown even in silent mode (a warning the user must see).
    public func warning(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        emitLine(text)
    }

    /// Erases the bar (if shown) so the caller can write a line of its own; the next update redraws it.
    public func clear() {
        lock.lock(); defer { lock.unlock() }
        if barShown { output("\r\u{1B}[K"); barShown = false }
        lastDrawSeconds = -Double.infinity
    }

    private func emitLine(_ text: String) {
        if barShown { output("\r\u{1B}[K"); barShown = false }
        output(text + "\n")
        // The bar comes back on the next update.
        lastDrawSeconds = -Double.infinity
    }

    /// Ends the task: on a terminal the bar is drawn at 100 % and the line ended; in line mode a last
    /// "100 %" line is printed when progress lines were shown. Idempotent.
    public func finish(_ detail: String? = nil) {
        lock.lock(); defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        let now = clock()
        let text = detail ?? lastDetail
        switch mode {
        case .silent: return
        case .bar(let columns):
            guard barShown || now - startSeconds >= 1 else { return }
            output("\r" + Self.barLine(label: label, fraction: 1, elapsedSeconds: now - startSeconds, detail: text, columns: columns,
                                       done: true) + "\u{1B}[K\n")
            barShown = false
        case .lines:
            guard lastLineBucket > 0 || now - startSeconds >= 1 else { return }
            output(Self.plainLine(label: label, fraction: 1, elapsedSeconds: now - startSeconds, detail: text, done: true) + "\n")
        }
    }

    /// Abandons the bar (an error follows): ends the rewritten line without claiming 100 %.
    public func abandon() {
        lock.lock(); defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        if barShown { output("\n"); barShown = false }
    }

    // MARK: rendering (pure, for tests)

    /// Percentage shown for `fraction`: floored, and at most 99 until `done`.
    public static func percent(_ fraction: Double, done: Bool = false) -> Int {
        if done { return 100 }
        return min(99, Int((min(1, max(0, fraction)) * 100).rounded(.down)))
    }

    /// Remaining time from the elapsed time and the fraction done (nil before 1 % or 1 s).
    public static func etaSeconds(fraction: Double, elapsedSeconds: Double) -> Double? {
        guard fraction >= 0.01, fraction < 1, elapsedSeconds >= 1 else { return nil }
        return elapsedSeconds * (1 - fraction) / fraction
    }

    /// `1:02:03` or `2:03` (minutes:seconds under an hour).
    public static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "–" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }

    /// The bar line, at most `columns − 1` characters (the last column is left free so no terminal
    /// wraps): `label [#####-----]  42 % 0:12 ETA 0:17 detail`; the detail is cut to fit.
    public static func barLine(label: String, fraction: Double?, elapsedSeconds: Double, detail: String, columns: Int,
                               done: Bool = false) -> String {
        let width = max(10, columns - 1)
        var head = label
        var tail = ""
        if let f = fraction {
            tail += String(format: " %3d %%", percent(f, done: done))
            tail += " " + clock(elapsedSeconds)
            if !done, let eta = etaSeconds(fraction: f, elapsedSeconds: elapsedSeconds) { tail += " ETA " + clock(eta) }
        } else {
            tail += " " + clock(elapsedSeconds)
        }
        if !detail.isEmpty { tail += " " + detail }
        if let f = fraction {
            // A bar of fixed size for the width (so it does not jump as the numbers change): 20
            // cells from 60 columns, 10 from 40, none below; the detail is cut first.
            let cells = width >= 59 ? 20 : (width >= 39 ? 10 : 0)
            if cells > 0 {
                let filled = done ? cells : min(cells - 1, Int(Double(cells) * min(1, max(0, f))))
                head += " [" + String(repeating: "#", count: filled) + String(repeating: "-", count: cells - filled) + "]"
            }
        }
        let line = head + tail
        return line.count <= width ? line : String(line.prefix(width))
    }

    /// A plain progress line: `label: 40 % after 0:12, ETA 0:18; detail`.
    public static func plainLine(label: String, fraction: Double?, elapsedSeconds: Double, detail: String, done: Bool = false) -> String {
        var line = label + ":"
        if let f = fraction {
            line += " \(percent(f, done: done)) % after \(clock(elapsedSeconds))"
            if !done, let eta = etaSeconds(fraction: f, elapsedSeconds: elapsedSeconds) { line += ", ETA \(clock(eta))" }
        } else {
            line += " \(clock(elapsedSeconds)) elapsed"
        }
        if !detail.isEmpty { line += "; " + detail }
        return line
    }
}
