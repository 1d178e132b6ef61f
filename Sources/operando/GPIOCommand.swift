import ArgumentParser
import Foundation
import Rig
import RigDrivers

/// `operando gpio`: which libgpiod backend this build uses, and a wiring check that prints every edge
/// on a line with the kernel's timestamp (what follow mode records), like `gpiomon`.
struct GPIOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpio",
        abstract: "Show the libgpiod backends; with --chip and --monitor, print the edges on an input line.",
        discussion: "Example: operando gpio --chip gpiochip0 --monitor GPIO17 --edge rising --bias pull-down --seconds 30 (docs/hardware-gpio.md)")

    @Option(help: "Chip name, path or number (gpiochip0, /dev/gpiochip0, 0).")
    var chip: String?

    @Option(help: "Force a backend: v1 or v2 (default: the build's choice, or $OPERANDO_GPIO_BACKEND).")
    var backend: String?

    @Option(help: "Input line to monitor: a name (GPIO17) or an offset (17).")
    var monitor: String?

    @Option(help: "Edges to report: rising, falling or both.")
    var edge: String = "rising"

    @Option(help: "Line bias: as-is, disabled, pull-down or pull-up.")
    var bias: String = "as-is"

    @Option(help: "Stop after this many seconds (0 < s ≤ 86400).")
    var seconds: Double = 10

    @Option(help: "Stop after this many edges (0: no limit).")
    var count: Int = 0

    func validate() throws {
        if EdgeDetection(rawValue: edge) == nil { throw ValidationError("--edge \(edge): expected rising, falling or both") }
        if LineBias(rawValue: bias) == nil { throw ValidationError("--bias \(bias): expected as-is, disabled, pull-down or pull-up") }
        if !(seconds > 0 && seconds <= 86_400) { throw ValidationError("--seconds \(seconds): expected 0 < s ≤ 86400") }
        if count < 0 { throw ValidationError("--count \(count): expected ≥ 0") }
        if monitor != nil && chip == nil { throw ValidationError("--monitor needs --chip") }
        if let b = backend, !["v1", "v2"].contains(b) { throw ValidationError("--backend \(b): expected v1 or v2") }
    }

    func run() throws {
        for line in GPIOBackend.report() { print(line) }
        guard let chipName = chip else { return }
        let forced: GPIOBackend? = backend.map { $0 == "v1" ? .v1 : .v2 }
        guard let lineName = monitor else {
            let c = try GPIOBackend.open(chipName, backend: forced)
            print("chip \(c.name): opened")
            return
        }
        let settings = EdgeInputSettings(edge: EdgeDetection(rawValue: edge)!, bias: LineBias(rawValue: bias)!)
        let (opened, input) = try TriggerInputConfiguration(chip: chipName, line: lineName, settings: settings,
                                                            consumer: "operando-gpio", backend: forced).open()
        let recorder = EdgeRecorder(input: input)
        try recorder.start()
        print("monotonic_ns,edge,line,global_seqno,line_seqno")
        let end = Date().addingTimeInterval(seconds)
        var edges: [EdgeEvent] = []
        var printed = 0
        while Date() < end && recorder.error == nil && (count == 0 || printed < count) {
            usleep(20_000)
            edges.removeAll(keepingCapacity: true)
            recorder.drain(into: &edges)
            for e in edges where count == 0 || printed < count {
                print("\(e.monotonicNanoseconds),\(e.kind == .rising ? "rising" : "falling"),\(e.lineOffset),\(e.globalSequence),\(e.lineSequence)")
                printed += 1
            }
        }
        recorder.stop()
        input.release()
        withExtendedLifetime(opened) {}
        FileHandle.standardError.write(Data("\(printed) edges; lost in the ring: \(recorder.overflowCount); dropped by the kernel (sequence gaps): \(recorder.kernelDroppedCount)\n".utf8))
        if let e = recorder.error { throw e }
    }
}
