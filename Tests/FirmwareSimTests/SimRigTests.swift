import Foundation
import Rig
import Testing
@testable import FirmwareSim

// --realtime: the same rig on the wall clock; the camera waits for the real read-out.
@Test func rigRunsOnTheWallClock() throws {
    var c = SimConfiguration()
    c.noise = 0
    let rig = try SimRig(configuration: c, realtime: true)
    #expect(!rig.clock.isVirtual)
    let led = try rig.chip.requestOutput(offset: SimGPIOChip.ledOffset, consumer: "t", initialHigh: false)
    let trigger = try rig.chip.requestOutput(offset: SimGPIOChip.triggerOffset, consumer: "t", initialHigh: false)
    try rig.camera.configure(roi: SimCamera.defaultROI, exposureSeconds: 0.002)
    try rig.camera.start()
    let t = rig.clock.monotonicNanoseconds
    try led.set(true)
    try trigger.set(true)
    try trigger.set(false)
    rig.clock.sleep(untilNanoseconds: t + 5_000_000)     // a late wake-up only lengthens the LED's on-time
    try led.set(false)
    let f = try rig.camera.nextFrame(timeoutSeconds: 0.1)
    #expect(boxMean(f.pixels, x: 113...143, y: 121...135, black: rig.optics.blackLevelDN) > 1000)
    #expect(rig.clock.monotonicNanoseconds >= f.exposureEndNanoseconds)
    #expect(throws: CameraError.self) { _ = try rig.camera.nextFrame(timeoutSeconds: 0.01) }
}

// With a population the electrode potential is the population's capacity-weighted mean.
@Test func populationCarriesTheElectrodeCurrent() throws {
    var c = SimConfiguration()
    c.noise = 0
    c.populationCount = 3
    c.populationMedianMicrometres = 1.5
    let rig = try SimRig(configuration: c)
    let amps = rig.cell.oneCAmps / 3
    try rig.potentiostat.apply(.constantCurrent(amps: amps, voltageComplianceVolts: 2.5...4.4))
    wait(rig, untilSeconds: 120)
    let s = try rig.potentiostat.read()
    var phi = 0.0
    for (p, w) in zip(rig.cell.population, rig.cell.populationWeights) { phi += w * p.potentialVolts }
    #expect(abs(s.voltageVolts - (phi + amps * 20)) < 1e-9)
    #expect(abs(s.currentAmps - amps) < 1e-15)
    // Every particle passed the same charge per capacity.
    for p in rig.cell.population { #expect(abs(p.meanTheta - rig.cell.imaged.meanTheta) < 1e-6) }
}
