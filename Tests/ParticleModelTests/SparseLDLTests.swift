import Foundation
import Testing
@testable import ParticleModel

/// The 5-point Laplacian of an m × m grid plus a diagonal shift, as a full-pattern CSC (both
/// triangles) with its diagonal slots: the kind of matrix the solver factorises (K + diag(a/Φ')).
private func gridLaplacian(_ m: Int) -> (starts: [Int32], ends: [Int], rows: [Int32], values: [Double], diagonal: [Int]) {
    var starts: [Int32] = [0], ends: [Int] = [], rows: [Int32] = [], values: [Double] = [], diagonal: [Int] = []
    for j in 0..<(m * m) {
        let x = j % m, y = j / m
        var entries: [(Int, Double)] = [(j, 4)]
        if x > 0 { entries.append((j - 1, -1)) }
        if x < m - 1 { entries.append((j + 1, -1)) }
        if y > 0 { entries.append((j - m, -1)) }
        if y < m - 1 { entries.append((j + m, -1)) }
        for (i, v) in entries.sorted(by: { $0.0 < $1.0 }) {
            if i == j { diagonal.append(rows.count) }
            rows.append(Int32(i))
            values.append(v)
        }
        ends.append(rows.count)
        starts.append(Int32(rows.count))
    }
    return (starts, ends, rows, values, diagonal)
}

@Test func ldlSolvesTheShiftedGridLaplacianToRoundOff() throws {
    let m = 12, n = m * m
    let a = gridLaplacian(m)
    let ldl = try SparseLDL(n: n, columnStarts: a.starts, columnEnds: a.ends, rowIndices: a.rows)
    let shift = (0..<n).map { 0.01 + Double($0 % 5) * 0.3 }
    let ok = a.values.withUnsafeBufferPointer { v in
        a.diagonal.withUnsafeBufferPointer { d in shift.withUnsafeBufferPointer { s in ldl.factor(values: v, diagonalSlot: d, diagonal: s) } }
    }
    #expect(ok)
    let xTrue = (0..<n).map { sin(Double($0)) }
    // b = (A + diag(shift)) xTrue
    var b = [Double](repeating: 0, count: n)
    for j in 0..<n {
        for s in Int(a.starts[j])..<a.ends[j] { b[Int(a.rows[s])] += a.values[s] * xTrue[j] }
        b[j] += shift[j] * xTrue[j]
    }
    b.withUnsafeMutableBufferPointer { ldl.solve($0) }
    let worst = zip(b, xTrue).map { abs($0 - $1) }.max()!
    #expect(worst < 1e-12, "worst error \(worst)")
    #expect(ldl.factorNonzeros > 0 && ldl.factorNonzeros < n * n / 4)
}

@Test func ldlReportsAnIndefiniteMatrixInsteadOfFactorising() throws {
    // A negative shift larger than the Laplacian's smallest eigenvalue makes the matrix indefinite:
    // the solver must learn that (and fall back to KLU), not get a wrong factor.
    let m = 6, n = m * m
    let a = gridLaplacian(m)
    let ldl = try SparseLDL(n: n, columnStarts: a.starts, columnEnds: a.ends, rowIndices: a.rows)
    let shift = [Double](repeating: -3, count: n)
    let ok = a.values.withUnsafeBufferPointer { v in
        a.diagonal.withUnsafeBufferPointer { d in shift.withUnsafeBufferPointer { s in ldl.factor(values: v, diagonalSlot: d, diagonal: s) } }
    }
    #expect(!ok)
}
