import CSuiteSparse

/// Sparse LDLᵀ of a symmetric matrix with a fixed pattern, no pivoting (up-looking, elimination
/// tree; T. Davis, *Direct Methods for Sparse Linear Systems*, ch. 4), AMD fill-reducing order.
///
/// Why not KLU for everything: in Kirchhoff form the θ-block of the Jacobian is
/// (diag(a) + K·diag(D)) = (diag(a/D) + K)·diag(D) with the constant symmetric stiffness K, so the
/// solver factorises the symmetric M-matrix diag(a/D) + K instead. Callgrind on the C/3 case
/// showed `klu_refactor` at 65 % of all instructions (2.3 M per refactorisation of a 574-unknown
/// system); LDLᵀ does half the arithmetic of LU, needs no scaling, pivot search or condition
/// estimate, and its loops are short and flat. A non-positive pivot (possible only if the
/// diagonal shift turns negative) is reported and the caller falls back to KLU.
final class SparseLDL {
    let n: Int
    /// Permutation: permuted index k is original index `order[k]`.
    let order: [Int32]
    // Permuted upper-triangle pattern of A by column: entries (i ≤ k) and the slot of their value in
    // the caller's value array; the diagonal is added separately.
    private let upperStart: [Int]
    private let upperRow: [Int32]
    private let upperSlot: [Int32]
    // Elimination tree and the factor L (pattern fixed at set-up, values filled by `factor`).
    private let parent: [Int32]
    private let lStart: [Int]
    /// Row k of L (columns i < k, in topological order) — constant for the pattern, so found once
    /// here instead of by an elimination-tree walk in every factorisation.
    private let rowPatternStart: [Int]
    private let rowPattern: [Int32]
    private let lRow: [Int32]
    private var lValue: [Double]
    private var d: [Double]
    // Work arrays.
    private var y: [Double]
    private var lCount: [Int32]
    private var permuted: [Double]

    /// - Parameters:
    ///   - columnStarts, rowIndices: a symmetric pattern in compressed columns (both triangles),
    ///     where column j's entries are the slots `columnStarts[j] ..< columnEnds[j]`.
    init(n: Int, columnStarts: [Int32], columnEnds: [Int], rowIndices: [Int32]) throws {
        self.n = n
        // AMD wants a clean pattern of exactly the symmetric matrix.
        var ap = [Int32](repeating: 0, count: n + 1)
        var ai: [Int32] = []
        ai.reserveCapacity(rowIndices.count)
        for j in 0..<n {
            for s in Int(columnStarts[j])..<columnEnds[j] { ai.append(rowIndices[s]) }
            ap[j + 1] = Int32(ai.count)
        }
        var p = [Int32](repeating: 0, count: n)
        let status = amd_order(Int32(n), ap, ai, &p, nil, nil)
        guard status == AMD_OK || status == AMD_OK_BUT_JUMBLED else {
            throw SolverError.linearAlgebra("amd_order failed (status \(status)) on the \(n)-node stiffness pattern")
        }
        order = p
        var inverse = [Int](repeating: 0, count: n)
        for k in 0..<n { inverse[Int(p[k])] = k }
        var starts = [Int](repeating: 0, count: n + 1)
        var rows: [Int32] = [], slots: [Int32] = []
        for k in 0..<n {
            let j = Int(p[k])
            for s in Int(columnStarts[j])..<columnEnds[j] {
                let i = inverse[Int(rowIndices[s])]
                if i < k { rows.append(Int32(i)); slots.append(Int32(s)) }
            }
            starts[k + 1] = rows.count
        }
        upperStart = starts
        upperRow = rows
        upperSlot = slots
        // Symbolic: elimination tree and column counts of L.
        var par = [Int32](repeating: -1, count: n)
        var fl = [Int32](repeating: 0, count: n)
        var count = [Int](repeating: 0, count: n)
        for k in 0..<n {
            fl[k] = Int32(k)
            for q in starts[k]..<starts[k + 1] {
                var i = Int(rows[q])
                while fl[i] != Int32(k) {
                    if par[i] == -1 { par[i] = Int32(k) }
                    count[i] += 1
                    fl[i] = Int32(k)
                    i = Int(par[i])
                }
            }
        }
        var ls = [Int](repeating: 0, count: n + 1)
        for k in 0..<n { ls[k + 1] = ls[k] + count[k] }
        parent = par
        lStart = ls
        // Row patterns, and L's row indices in the order the numeric phase appends them.
        var li = [Int32](repeating: 0, count: max(1, ls[n]))
        var fill = Array(ls.dropLast())
        var rps = [Int](repeating: 0, count: n + 1)
        var rp: [Int32] = []
        var stackBuffer = [Int32](repeating: 0, count: n)
        for k in 0..<n { fl[k] = -1 }
        for k in 0..<n {
            var top = n
            fl[k] = Int32(k)
            for q in starts[k]..<starts[k + 1] {
                var i = Int(rows[q])
                var len = 0
                while fl[i] != Int32(k) {
                    stackBuffer[len] = Int32(i)
                    len += 1
                    fl[i] = Int32(k)
                    i = Int(par[i])
                }
                while len > 0 { top -= 1; len -= 1; stackBuffer[top] = stackBuffer[len] }
            }
            for t in top..<n {
                let i = Int(stackBuffer[t])
                rp.append(Int32(i))
                li[fill[i]] = Int32(k)
                fill[i] += 1
            }
            rps[k + 1] = rp.count
        }
        rowPatternStart = rps
        rowPattern = rp
        lRow = li
        lValue = [Double](repeating: 0, count: max(1, ls[n]))
        d = [Double](repeating: 0, count: n)
        y = [Double](repeating: 0, count: n)
        lCount = [Int32](repeating: 0, count: n)
        permuted = [Double](repeating: 0, count: n)
    }

    /// Nonzeros of L below the diagonal.
    var factorNonzeros: Int { lStart[n] }

    /// Factorises A = offDiagonal(values at the pattern's slots) + diag(diagonal) (diagonal in
    /// original order; the pattern's own diagonal slots are read as well). Returns false on a
    /// non-positive pivot.
    func factor(values: UnsafeBufferPointer<Double>, diagonalSlot: UnsafeBufferPointer<Int>,
                diagonal: UnsafeBufferPointer<Double>) -> Bool {
        let nn = n
        return order.withUnsafeBufferPointer { order in
        upperStart.withUnsafeBufferPointer { us in
        upperRow.withUnsafeBufferPointer { ur in
        upperSlot.withUnsafeBufferPointer { uslot in
        rowPatternStart.withUnsafeBufferPointer { rps in
        rowPattern.withUnsafeBufferPointer { rp in
        lStart.withUnsafeBufferPointer { ls in
        lRow.withUnsafeBufferPointer { li in
        lValue.withUnsafeMutableBufferPointer { lx in
        d.withUnsafeMutableBufferPointer { d in
        y.withUnsafeMutableBufferPointer { y in
        lCount.withUnsafeMutableBufferPointer { filled in
            for k in 0..<nn { filled[k] = 0 }
            for k in 0..<nn {
                // Column k of the permuted upper triangle into y, then the sparse triangular solve
                // along row k's pattern (up-looking LDLᵀ).
                let j = Int(order[k])
                y[k] = values[diagonalSlot[j]] + diagonal[j]
                for q in us[k]..<us[k + 1] { y[Int(ur[q])] += values[Int(uslot[q])] }
                var dk = y[k]
                y[k] = 0
                for t in rps[k]..<rps[k + 1] {
                    let i = Int(rp[t])
                    let yi = y[i]
                    y[i] = 0
                    let start = ls[i], end = start &+ Int(filled[i])
                    // The factorisation's inner loop (callgrind: ~2/3 of it): a plain while loop
                    // with wrapping increments compiles without the range and overflow checks.
                    var p = start
                    while p < end { y[Int(li[p])] -= lx[p] * yi; p &+= 1 }
                    let lki = yi / d[i]
                    dk -= lki * yi
                    lx[end] = lki
                    filled[i] += 1
                }
                guard dk > 0, dk.isFinite else { return false }
                d[k] = dk
            }
            return true
        }}}}}}}}}}}}
    }

    /// Solves A x = b in place (original order).
    func solve(_ b: UnsafeMutableBufferPointer<Double>) {
        let nn = n
        order.withUnsafeBufferPointer { order in
        lStart.withUnsafeBufferPointer { ls in
        lRow.withUnsafeBufferPointer { li in
        lValue.withUnsafeBufferPointer { lx in
        d.withUnsafeBufferPointer { d in
        permuted.withUnsafeMutableBufferPointer { x in
            for k in 0..<nn { x[k] = b[Int(order[k])] }
            for j in 0..<nn {
                let xj = x[j]
                var p = ls[j]
                let end = ls[j &+ 1]
                while p < end { x[Int(li[p])] -= lx[p] * xj; p &+= 1 }
            }
            for j in 0..<nn { x[j] /= d[j] }
            var j = nn - 1
            while j >= 0 {
                var s = x[j]
                var p = ls[j]
                let end = ls[j &+ 1]
                while p < end { s -= lx[p] * x[Int(li[p])]; p &+= 1 }
                x[j] = s
                j -= 1
            }
            for k in 0..<nn { b[Int(order[k])] = x[k] }
        }}}}}}
    }
}
