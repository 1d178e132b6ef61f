import Foundation
import ParticleModel
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

// With a population the electrode is an equipotential: the particles share one potential, their
// currents add up to the galvanostat's, and at open circuit they exchange lithium among themselves.
@Test func populationCarriesTheElectrodeCurrent() throws {
    var c = SimConfiguration()
    c.noise = 0
    c.populationCount = 4
    c.populationMedianMicrometres = 1.5
    c.populationLogSigma = 0.5
    let rig = try SimRig(configuration: c)
    let amps = rig.cell.oneCAmps / 3
    try rig.potentiostat.apply(.constantCurrent(amps: amps, voltageComplianceVolts: 2.5...4.4))
    wait(rig, untilSeconds: 600)
    let s = try rig.potentiostat.read()
    let phi = rig.cell.population[0].potentialVolts
    for p in rig.cell.population + [rig.cell.imaged] { #expect(abs(p.potentialVolts - phi) < 1e-12) }
    #expect(abs(s.voltageVolts - (phi + amps * 20)) < 1e-9)
    #expect(abs(s.currentAmps - amps) < 1e-15)
    // The charge passed is the galvanostat's: 10 min at C/3.
    let expectedDrop = 600.0 / 3 / 3600 * 210 / 275
    #expect(abs((0.95 - rig.cell.meanTheta) - expectedDrop) < 2e-4, "Δθ \(0.95 - rig.cell.meanTheta) vs \(expectedDrop)")
    // Particles of different sizes took different shares.
    let thetas = rig.cell.population.map(\.meanTheta)
    #expect(thetas.max()! - thetas.min()! > 1e-3)
    #expect(rig.cell.imaged.meanTheta < 0.95)
    // Open circuit: no net current, the charge stays, the particles relax towards one another.
    try rig.potentiostat.apply(.openCircuit)
    let mean = rig.cell.meanTheta
    wait(rig, untilSeconds: 2400)
    let rest = try rig.potentiostat.read()
    #expect(rest.currentAmps == 0)
    #expect(abs(rig.cell.meanTheta - mean) < 2e-4)
    let after = rig.cell.population.map(\.meanTheta)
    #expect(after.max()! - after.min()! < thetas.max()! - thetas.min()!)
}

// The camera images the model's θ field: during a C/3 charge the rim delithiates first and shows a
// higher total contrast than the core (seed Fig. 2B), and the centre's contrast is A·(θ0 − θ_centre)
// (seed Eq. 17).
@Test func framesShowTheModelsThetaFieldDuringACharge() throws {
    let (rig, led, trigger) = try quietRig {
        $0.driftNanometresPerMinute = 0
        $0.driftWalkNanometresPerSqrtMinute = 0
    }
    let black = rig.optics.blackLevelDN + rig.optics.darkCurrentElectronsPerSecond * 0.002 / rig.optics.gainElectronsPerDN
    let first = try expose(rig, led, trigger, ledOn: -200_000, ledOff: 2_500_000)
    try rig.potentiostat.apply(.constantCurrent(amps: rig.cell.oneCAmps / 3, voltageComplianceVolts: 2.5...4.4))
    wait(rig, untilSeconds: 900)
    let later = try expose(rig, led, trigger, ledOn: -200_000, ledOff: 2_500_000)
    func contrast(x: ClosedRange<Int>, y: ClosedRange<Int>) -> Double {
        boxMean(later.pixels, x: x, y: y, black: black) / boxMean(first.pixels, x: x, y: y, black: black) - 1
    }
    let centre = contrast(x: 126...130, y: 126...130)
    let rim = contrast(x: 89...93, y: 126...130)          // 1.2 µm left of the centre, 0.3 µm inside the edge
    #expect(rim > centre + 0.02, "rim \(rim), centre \(centre)")
    let sampler = rig.cell.imaged.sampler(points: [Point2(0, 0)])
    var theta: [Float] = [0]
    rig.cell.imaged.sample(sampler, into: &theta)
    #expect(abs(centre - (1 / 0.95) * (0.95 - Double(theta[0]))) < 0.01, "centre contrast \(centre), θ_centre \(theta[0])")
}
