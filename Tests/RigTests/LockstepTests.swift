import Electrochemistry
import FirmwareSim
import Foundation
import Rig
import Testing

/// docs/architecture.md, Lockstep: in 10⁵ simulated frames the LED is on for the whole of every
/// exposure and off between frames, checked from the GPIO chip's own edge record.
@Test func ledCoversEveryExposureInHundredThousandFrames() throws {
    let text = protocolText(rate: 100, bin: 10, steps: ["Rest for 200 seconds", "Charge at 1C for 400 seconds", "Rest for 400 seconds"])
    let proto = try ProtocolFile.parse(text: text, path: "lockstep.toml")
    let (sim, hw) = try makeSimRig(protocolFile: proto)
    let led = SimGPIOChip.ledOffset, trig = SimGPIOChip.triggerOffset
    let exposureNs: Int64 = 2_500_000
    // Streaming check over the edge stream (the chip's log is a ring; the observer sees every edge).
    final class Check: @unchecked Sendable {
        var ledHigh = false, ledRoseAt: Int64 = 0, lastTrigger: Int64 = -1
        var triggers = 0, ledPulses = 0, violations: [String] = []
        var longestLedNs: Int64 = 0
    }
    let c = Check()
    sim.chip.addEdgeObserver { line, rising, t in
        if line == led {
            if rising { c.ledHigh = true; c.ledRoseAt = t; c.ledPulses += 1 } else {
                c.ledHigh = false
                c.longestLedNs = max(c.longestLedNs, t - c.ledRoseAt)
                if c.lastTrigger >= c.ledRoseAt, t < c.lastTrigger + exposureNs {
                    c.violations.append("LED off at \(t) before exposure end \(c.lastTrigger + exposureNs)")
                }
            }
        } else if line == trig, rising {
            c.triggers += 1
            c.lastTrigger = t
            if !c.ledHigh { c.violations.append("trigger at \(t) with the LED off") }
        }
    }
    let tmp = try TestDirectory(); defer { tmp.remove() }
    var options = RunOptions(outputDirectory: tmp.file("lockstep.operando"))
    options.roi = RegionOfInterest(x: 112, y: 112, width: 32, height: 32)
    let summary = try RunEngine(protocolFile: proto, hardware: hw, options: options).run()
    #expect(summary.completed)
    #expect(c.triggers >= 100_000, "\(c.triggers) triggers")
    #expect(c.ledPulses == c.triggers)          // one LED pulse per frame: off between frames
    #expect(c.violations.isEmpty, "\(c.violations.prefix(3))")
    #expect(c.longestLedNs <= 200_000 + exposureNs + 200_000 + 10_000)
    #expect(summary.lockstepViolations == 0 && summary.cameraFrames == summary.triggers)
    #expect(!sim.chip.value(ofLine: led))
    // Every recorded frame carries the step it was exposed in.
    let events = try readEvents(options.outputDirectory)
    let starts = events.filter { $0["event"] as? String == "step_started" }.map { ($0["step"] as! Int, $0["time_s"] as! Double) }
    #expect(starts.map(\.0) == [0, 1, 2])
    for row in try readCSV(options.outputDirectory + "/frames.csv") {
        let t = Double(row["t_start_s"]!)!, end = Double(row["t_end_s"]!)!
        let expected = starts.last { $0.1 <= t }!.0
        // Frames straddling a step change carry the step at their first trigger.
        if !starts.contains(where: { $0.1 > t && $0.1 < end }) {
            #expect(Int(row["step"]!) == expected, "frame at \(t) s")
        }
        #expect(Double(row["led_on_fraction"]!) == 1)
    }
    // The dataset keeps every edge's intended and actual time: LED on before the trigger, off after the
    // exposure counted from the actual trigger.
    let edges = try readCSV(options.outputDirectory + "/edges.csv")
    #expect(edges.count == c.triggers)
    for e in edges.prefix(20_000) {
        let on = Double(e["actual_led_on_us"]!)!, trig = Double(e["actual_trigger_us"]!)!, off = Double(e["actual_led_off_us"]!)!
        #expect(on <= trig && off >= trig + 2500)
    }
    let timing = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: options.outputDirectory + "/timing.json"))) as! [String: Any]
    #expect(timing["every_trigger_matched_one_frame"] as? Bool == true)
}
