import Dataset
import Foundation
import Glibc

/// Wall and CPU time of each stage of `operando demo`, printed on stderr at the end and written as
/// `stage_times.json` beside the report. CPU time (user + system of the whole process) is given beside
/// wall time because on a shared machine wall time mostly measures the neighbours.
struct DemoStageTimes {
    /// One finished stage.
    struct Stage {
        var name: String
        var wallSeconds: Double
        var cpuSeconds: Double
    }

    private(set) var stages: [Stage] = []
    private var current: (name: String, wall: Double, cpu: Double)?
    private let startWall: Double
    private let startCPU: Double

    init() {
        startWall = Self.wallSeconds()
        startCPU = Self.cpuSeconds()
    }

    /// Ends the stage in progress (if any) and starts `name`.
    mutating func begin(_ name: String) {
        end()
        current = (name, Self.wallSeconds(), Self.cpuSeconds())
    }

    /// Ends the stage in progress.
    mutating func end() {
        guard let c = current else { return }
        stages.append(Stage(name: c.name, wallSeconds: Self.wallSeconds() - c.wall, cpuSeconds: Self.cpuSeconds() - c.cpu))
        current = nil
    }

    /// Wall seconds since `init`.
    var totalWallSeconds: Double { Self.wallSeconds() - startWall }
    /// CPU seconds (user + system, all threads) since `init`.
    var totalCPUSeconds: Double { Self.cpuSeconds() - startCPU }

    /// The table for stderr: one line per stage, then the total.
    var table: String {
        var s = "demo stage times (CPU = user + system of all threads; on a shared machine wall time also measures the neighbours):\n"
        func row(_ name: String, _ wall: Double, _ cpu: Double) -> String {
            "  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%8.1f %8.1f\n", wall, cpu)
        }
        s += "  " + "stage".padding(toLength: 16, withPad: " ", startingAt: 0) + "  wall s    CPU s\n"
        for st in stages { s += row(st.name, st.wallSeconds, st.cpuSeconds) }
        return s + row("total", totalWallSeconds, totalCPUSeconds)
    }

    /// `stage_times.json`: stages in order with wall and CPU seconds, and the totals.
    var json: JSONValue {
        .object([
            "stages": .array(stages.map {
                .object(["name": .string($0.name), "wall_s": .number(Self.rounded($0.wallSeconds)),
                         "cpu_s": .number(Self.rounded($0.cpuSeconds))])
            }),
            "total_wall_s": .number(Self.rounded(totalWallSeconds)),
            "total_cpu_s": .number(Self.rounded(totalCPUSeconds)),
            "cores": .number(Double(ProcessInfo.processInfo.activeProcessorCount)),
        ])
    }

    /// Writes `stage_times.json` into `directory` (durably, through the Dataset module's writers).
    func write(toDirectory directory: String) throws {
        let text = try JSONText.encode(json, pretty: true) + "\n"
        try DurableFile.write(Data(text.utf8), to: (directory as NSString).appendingPathComponent("stage_times.json"))
    }

    private static func rounded(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

    private static func wallSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    private static func cpuSeconds() -> Double {
        var u = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u) == 0 else { return .nan }
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) * 1e-6
            + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) * 1e-6
    }
}
