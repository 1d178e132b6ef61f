import Foundation
import Testing
@testable import Dataset

// echem.csv's per-half-cycle capacities and cycle number (issue 16 item 7), and the format's
// compatibility both ways: old files read in this version, and the old columns of a new file are
// where an old reader looks for them.

/// Feeds `HalfCycleCapacity` steps of (kind, signed mAh/g per sample, samples).
private func run(_ steps: [(String, Double, Int)]) -> [(kind: String, cycle: Int, charge: Double, discharge: Double)] {
    var h = HalfCycleCapacity()
    var rows: [(String, Int, Double, Double)] = []
    for (kind, dq, n) in steps {
        for _ in 0..<n {
            h.add(stepKind: kind, signedMilliampHoursPerGram: dq)
            rows.append((kind, h.cycle, h.chargeMilliampHoursPerGram, h.dischargeMilliampHoursPerGram))
        }
    }
    return rows.map { (kind: $0.0, cycle: $0.1, charge: $0.2, discharge: $0.3) }
}

@Test func chargeThenDischargeIsOneCycleAndTheNextChargeStartsTheNext() {
    // rest, CC charge (10 × 1 mAh/g), CV hold (+0.5 each, still the charge), rest, CC discharge
    // (8 × −1), CV hold at the bottom (−0.25 each, still the discharge), then a second charge.
    let steps: [(String, Double, Int)] = [("rest", 0, 2), ("charge", 1, 10), ("hold", 0.5, 4), ("rest", 0, 2), ("discharge", -1, 8),
                                          ("hold", -0.25, 4), ("charge", 1, 3)]
    let rows = run(steps)
    #expect(rows.prefix(2).allSatisfy { $0.cycle == 0 && $0.charge == 0 && $0.discharge == 0 })
    let endOfCharge = rows[17]
    #expect(endOfCharge.cycle == 0 && endOfCharge.charge == 12 && endOfCharge.discharge == 0)
    let endOfDischarge = rows[29]
    // The charge capacity is held through the discharge; the discharge counts up from 0, positive.
    #expect(endOfDischarge.cycle == 0 && endOfDischarge.charge == 12 && endOfDischarge.discharge == 9)
    let second = rows.suffix(3)
    #expect(second.map(\.cycle) == [1, 1, 1])
    #expect(second.map(\.charge) == [1, 2, 3])
    #expect(second.map(\.discharge) == [0, 0, 0])
    // The per-cycle maxima are the half-cycles' capacities (what `groupby("cycle").max()` reads).
    #expect(rows.filter { $0.cycle == 0 }.map(\.discharge).max() == 9)
    #expect(rows.filter { $0.cycle == 1 }.map(\.discharge).max() == 0)
}

@Test func aRunStartingWithADischargeHasItAsCycleZero() {
    let steps: [(String, Double, Int)] = [("discharge", -2, 3), ("charge", 1, 2), ("discharge", -1, 2)]
    let rows = run(steps)
    #expect(rows.map(\.cycle) == [0, 0, 0, 1, 1, 1, 1])
    #expect(rows[2].discharge == 6 && rows[2].charge == 0)
    #expect(rows[4].charge == 2 && rows[4].discharge == 0)
    #expect(rows[6].charge == 2 && rows[6].discharge == 2)
}

@Test func aLeadingHoldTakesItsCurrentsSignAndRestsNeverStartAHalfCycle() {
    var h = HalfCycleCapacity()
    h.add(stepKind: "rest", signedMilliampHoursPerGram: 0.001)
    #expect(h.direction == nil && h.chargeMilliampHoursPerGram == 0)
    h.add(stepKind: "hold", signedMilliampHoursPerGram: -0.5)
    #expect(h.direction == .discharge && h.dischargeMilliampHoursPerGram == 0.5)
    // A charge after it: a new cycle.
    h.add(stepKind: "charge", signedMilliampHoursPerGram: 1)
    #expect(h.cycle == 1 && h.chargeMilliampHoursPerGram == 1 && h.dischargeMilliampHoursPerGram == 0)
    // Charge, rest, charge: one half-cycle.
    h.add(stepKind: "rest", signedMilliampHoursPerGram: 0)
    h.add(stepKind: "charge", signedMilliampHoursPerGram: 1)
    #expect(h.cycle == 1 && h.chargeMilliampHoursPerGram == 2 && h.halfCycles == 2)
}

@Test func echemFilesOfFormat11StillReadAndNewFilesKeepTheOldColumnsFirst() throws {
    // A 1.1 file: no cycle or half-cycle columns.
    let old = "time_s,step,step_kind,voltage_V,current_A,capacity_mAh_per_g\n0,0,rest,3.7,0,0\n1,1,charge,3.8,0.0001,0.0185\n"
    let t = try CSVTable.parse(old, path: "old/echem.csv", required: ["time_s", "voltage_V", "current_A"])
    let rows = try t.rows.indices.map { try EchemRecord(t.row($0)) }
    #expect(rows.count == 2 && rows[1].capacityMilliampHoursPerGram == 0.0185)
    #expect(rows[1].cycle == -1 && rows[1].chargeCapacityMilliampHoursPerGram.isNaN && rows[1].dischargeCapacityMilliampHoursPerGram.isNaN)

    // A 1.2 row: the 1.1 columns first, in their order (a reader indexing them by position still works).
    #expect(Array(EchemRecord.columns.prefix(6)) == ["time_s", "step", "step_kind", "voltage_V", "current_A", "capacity_mAh_per_g"])
    #expect(Array(EchemRecord.columns.suffix(3)) == ["cycle", "charge_capacity_mAh_per_g", "discharge_capacity_mAh_per_g"])
    // Every column carries its unit or is a count/label.
    for c in EchemRecord.columns where !["step", "step_kind", "cycle"].contains(c) {
        #expect(c.hasSuffix("_s") || c.hasSuffix("_V") || c.hasSuffix("_A") || c.hasSuffix("_mAh_per_g"), "\(c)")
    }
    let r = EchemRecord(timeSeconds: 2, step: 1, stepKind: "charge", voltageVolts: 3.9, currentAmps: 1e-4, capacityMilliampHoursPerGram: 0.5,
                        cycle: 3, chargeCapacityMilliampHoursPerGram: 0.25, dischargeCapacityMilliampHoursPerGram: 0)
    let text = EchemRecord.columns.joined(separator: ",") + "\n" + r.fields.joined(separator: ",") + "\n"
    let back = try CSVTable.parse(text, path: "new/echem.csv", required: ["time_s", "voltage_V", "current_A"])
    #expect(try EchemRecord(back.row(0)) == r)
    #expect(DatasetFormat.version == "1.2")
}
