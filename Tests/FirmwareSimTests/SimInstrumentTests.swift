import Electrochemistry
import FirmwareSim
import Foundation
import InstrumentFiles
import ParticleModel
import Rig
import Testing

/// firmware-sim's instrument run by its own software: on its own drifting clock, it runs the steps on
/// the cell, raises its trigger-out at each step start, and writes an .mpt that EC-Lab's reader reads.
@Test func simInstrumentRunsOnItsOwnClockAndWritesAnMPT() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let proto = try ProtocolFile.parse(text: """
        [cell]
        active_mass_mg = 1.5
        [[steps]]
        do = "Rest for 10 seconds"
        [[steps]]
        do = "Charge at 1C for 20 seconds"
        """, path: "i.toml")
    let rig = try SimRig(configuration: SimConfiguration(), activeMassMilligrams: 1.5)
    var s = SimInstrumentSettings()
    s.startSeconds = 3
    s.driftPPM = -250
    s.recordPath = dir + "/i.mpt"
    let instrument = try SimInstrument(rig: rig, protocolFile: proto, settings: s)
    try instrument.start()
    let input = try rig.chip.requestInput(offset: SimGPIOChip.instrumentTriggerOffset, consumer: "test", settings: EdgeInputSettings(edge: .rising))
    let clock = try #require(rig.clock as? VirtualClock)
    // The rig sleeps in coarse jumps; the instrument still acts at its own moments.
    for _ in 0..<9 { clock.advance(bySeconds: 5) }
    try instrument.finish()
    #expect(instrument.finished)
    // Edges at 3 s and 3 s + 10 s × (1 − 250 ppm) of rig time, exactly as the wire reports them.
    var events = [EdgeEvent](repeating: EdgeEvent(), count: 8)
    let n = try input.readEdges(into: &events)
    #expect(n == 2)
    #expect(Array(events[0..<n].map(\.monotonicNanoseconds)) == instrument.triggerRigNanoseconds)
    #expect(instrument.triggerRigNanoseconds.first == rig.originNanoseconds + 3_000_000_000)
    #expect(instrument.triggerRigNanoseconds.last == rig.originNanoseconds + 3_000_000_000 + Int64((10 * (1 - 250e-6) * 1e9).rounded()))
    // The record: EC-Lab's GCPL columns, times on the instrument's clock, Ns and the charge current.
    let record = try InstrumentFile.read(path: dir + "/i.mpt")
    #expect(record.format == .ecLabText && record.rowCount == instrument.samples.count && record.rowCount > 30)
    let series = try record.echemSeries()
    #expect(series.stepStartSeconds.count == 2)
    #expect(abs(series.stepStartSeconds[1] - 10) < 2e-3)
    let charging = zip(series.stepIndex ?? [], series.currentAmps).filter { $0.0 == 1 }.map(\.1)
    let oneC = 1.5e-3 * 210e-3
    #expect(!charging.isEmpty && charging.allSatisfy { abs($0 / oneC - 1) < 0.02 })
    #expect(rig.cell.imaged.meanTheta < 0.95)   // the cell the camera images was charged
}

/// The instrument needs the virtual clock (it acts as the clock's advance observer).
@Test func simInstrumentRefusesTheWallClock() throws {
    let proto = try ProtocolFile.parse(text: "[cell]\nactive_mass_mg = 1.5\n[[steps]]\ndo = \"Rest for 1 second\"\n", path: "w.toml")
    let rig = try SimRig(configuration: SimConfiguration(), activeMassMilligrams: 1.5, realtime: true)
    #expect { try SimInstrument(rig: rig, protocolFile: proto, settings: SimInstrumentSettings()) } throws: { "\($0)".contains("virtual clock") }
}
