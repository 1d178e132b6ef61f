import Foundation
import Rig
import RigDrivers
import Testing

/// libgpiod v1 on a machine without GPIO chips: a clear error naming the chip, never a crash.
@Test(arguments: ["gpiochip0", "/dev/gpiochip0", "no-such-chip"])
func gpiodWithoutChipSaysSo(chip: String) {
    do {
        _ = try GpiodChip(chip)
        // A machine with GPIO: the chip opened, which is also fine.
    } catch let e as GPIOError {
        guard case .chipUnavailable(let name, let reason) = e else { Issue.record("\(e)"); return }
        #expect(name == chip)
        #expect(!reason.isEmpty)
        #expect(e.description.hasPrefix("gpio chip \"\(chip)\":"))
        #expect(reason.contains("errno ENOENT 2"))   // the system's reason, by name and number
    } catch {
        Issue.record("unexpected \(error)")
    }
}

@Test func latencyHistogramPercentiles() {
    var h = LatencyHistogram()
    for us in 1...1000 { h.record(nanoseconds: Int64(us) * 1000 - 500) }
    #expect(h.count == 1000)
    #expect(h.percentileMicroseconds(0.5) == 500)
    #expect(h.percentileMicroseconds(0.99) == 990)
    #expect(abs(h.maxMicroseconds - 999.5) < 1e-9)
    h.record(nanoseconds: 50_000_000)       // 50 ms: coarse bucket
    #expect(h.percentileMicroseconds(1.0) == 50_100)   // upper edge of its 100 µs bucket
}

@Test func realClockLoopKeepsTimeOnThisMachine() throws {
    // 200 frames at 1 kHz on the real clock, SCHED_FIFO when permitted: the loop wakes in time for
    // nearly every frame (a loose bound: this is a shared VM; `make bench` reports the real figures).
    let (h, _, missed) = try LatencyProbe.measure(periodNanoseconds: 1_000_000, seconds: 0.2, priority: 80)
    // Loose bounds: CI may refuse SCHED_FIFO and runs other tests on both cores meanwhile.
    #expect(h.count == 200)
    #expect(missed <= 100)
    #expect(h.percentileMicroseconds(0.5) < 5000)
}
