@testable import Calibration
import Foundation
import ParticleModel
import Testing

/// The measured current becomes a few constant drive segments (noise merged, rest at open circuit).
@Test func measuredCurrentBecomesDriveSegments() {
    var rows: [EchemSample] = []
    for t in 0..<10 { rows.append(EchemSample(timeSeconds: Double(t), step: 0, stepKind: "rest", voltageVolts: 3.5, currentAmps: 1e-9)) }
    for t in 10..<20 { rows.append(EchemSample(timeSeconds: Double(t), step: 1, stepKind: "charge", voltageVolts: 3.8,
                                               currentAmps: 1.05e-4 * (1 + 1e-4 * Double(t % 3)))) }
    let segments = driveSegments(echem: rows, oneCAmps: 3.15e-4)
    #expect(segments.count == 2)
    #expect(segments[0].drive == .openCircuit && segments[0].endSeconds == 10)
    if case .current(let n) = segments[1].drive { #expect(abs(n - 1.0 / 3) < 1e-3) } else { Issue.record("\(segments[1])") }
}
