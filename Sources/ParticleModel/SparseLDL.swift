import CSuiteSparse
import Glibc

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
    /// Supernodes at least this wide are solved as dense blocks.
    static let denseSupernodeWidth = 4
    /// Supernodes of L for the solves: runs of consecutive columns s ..< e whose column j + 1 has
    /// column j's rows but j + 1 (so the run's block is dense). `supernodeStart[k] ..< supernodeStart[k + 1]`
    /// are supernode k's columns. Callgrind (issue 17): the solves were 36 % of the C/3 run's
    /// instructions, one sparse scatter or gather per entry of L; inside a supernode the entries
    /// are dense columns that share one row list, so they run as short dense loops on SIMD2 pairs.
    private let supernodeStart: [Int32]
    /// Per supernode of `denseSupernodeWidth` or more columns: where its dense copies start in `denseValues` (the
    /// w × w triangle column-major, then the m × w rectangle below it column-major) and in `denseRows`
    /// (the rectangle's m rows, ascending). -1 for single columns, which stay sparse.
    private let denseValueStart: [Int]
    private let denseRowStart: [Int]
    private let denseRows: [Int32]
    private var denseValues: [Double]
    /// The rectangle's gathered x (backward) or accumulated update (forward) of one supernode.
    private var denseWork: [Double]

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
        // Supernodes: column j + 1 continues column j's run when it is j's parent and has one row
        // fewer (a column's rows minus its parent are a subset of the parent's: equal counts, equal sets).
        var sn: [Int32] = []
        var j = 0
        while j < n {
            var e = j + 1
            while e < n && par[e - 1] == Int32(e) && count[e] == count[e - 1] - 1 { e += 1 }
            sn.append(Int32(j))
            j = e
        }
        sn.append(Int32(n))
        var valueStart: [Int] = [], rowStart: [Int] = [], dRows: [Int32] = []
        var values = 0, widest = 0
        for k in 0..<(sn.count - 1) {
            let s = Int(sn[k]), e = Int(sn[k + 1]), w = e - s
            // Narrow supernodes stay sparse: the dense form's gather, scatter and set-up cost more
            // than they save below four columns (callgrind on the default mesh).
            guard w >= Self.denseSupernodeWidth else { valueStart.append(-1); rowStart.append(-1); continue }
            let m = count[e - 1]
            valueStart.append(values)
            rowStart.append(dRows.count)
            for p in ls[e - 1]..<ls[e] { dRows.append(li[p]) }
            values += w * w + m * w
            widest = max(widest, m, w)
        }
        supernodeStart = sn
        denseValueStart = valueStart
        denseRowStart = rowStart
        denseRows = dRows
        denseValues = [Double](repeating: 0, count: max(1, values))
        denseWork = [Double](repeating: 0, count: max(1, widest))
        if getenv("OPERANDO_DEBUG_LDL") != nil {
            var hist: [Int: (Int, Int)] = [:]
            for k in 0..<(sn.count - 1) {
                let w = Int(sn[k + 1] - sn[k]); let nz = ls[Int(sn[k + 1])] - ls[Int(sn[k])]
                hist[w, default: (0, 0)].0 += 1; hist[w, default: (0, 0)].1 += nz
            }
            print("LDL n \(n) nnz \(ls[n]) supernodes \(sn.count - 1):", hist.sorted { $0.key < $1.key }.map { "w\($0.key):\($0.value.0)x nz\($0.value.1)" }.joined(separator: " "))
        }
    }

    /// Columns of L in dense supernodes (their entries are solved as dense blocks).
    var supernodalColumns: Int {
        var c = 0
        for k in 0..<(supernodeStart.count - 1) where denseValueStart[k] >= 0 { c += Int(supernodeStart[k + 1] - supernodeStart[k]) }
        return c
    }

    /// Entries of L below the diagonal that the solves treat as dense.
    var supernodalNonzeros: Int {
        var c = 0
        for k in 0..<(supernodeStart.count - 1) where denseValueStart[k] >= 0 {
            let s = Int(supernodeStart[k]), e = Int(supernodeStart[k + 1])
            c += lStart[e] - lStart[s]
        }
        return c
    }

    /// Copies the factor's supernode entries into their dense blocks (after each factorisation:
    /// one pass over L, a fraction of a solve).
    private func fillDenseBlocks() {
        let count = supernodeStart.count - 1
        supernodeStart.withUnsafeBufferPointer { sn in
        denseValueStart.withUnsafeBufferPointer { vs in
        lStart.withUnsafeBufferPointer { ls in
        lValue.withUnsafeBufferPointer { lx in
        denseValues.withUnsafeMutableBufferPointer { dv in
            for k in 0..<count where vs[k] >= 0 {
                let s = Int(sn[k]), e = Int(sn[k + 1]), w = e - s
                let m = ls[e] - ls[e - 1]
                let tri = vs[k], rect = tri + w * w
                for c in 0..<w {
                    // Column s + c: rows s + c + 1 ..< e (the triangle), then the m rectangle rows.
                    var p = ls[s + c]
                    for r in (c + 1)..<w { dv[tri + c * w + r] = lx[p]; p += 1 }
                    for q in 0..<m { dv[rect + c * m + q] = lx[p]; p += 1 }
                }
            }
        }}}}}
    }

    /// Nonzeros of L below the diagonal.
    var factorNonzeros: Int { lStart[n] }

    /// Factorises A = offDiagonal(values at the pattern's slots) + diag(diagonal) (diagonal in
    /// original order; the pattern's own diagonal slots are read as well). Returns false on a
    /// non-positive pivot.
    func factor(values: UnsafeBufferPointer<Double>, diagonalSlot: UnsafeBufferPointer<Int>,
                diagonal: UnsafeBufferPointer<Double>) -> Bool {
        let nn = n
        let ok = order.withUnsafeBufferPointer { order in
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
        if ok { fillDenseBlocks() }
        return ok
    }

    /// Solves A x = b in place (original order): L, D and Lᵀ, supernode by supernode (narrow ones
    /// column by column as sparse scatters and gathers, wide ones as dense blocks on SIMD2 pairs).
    func solve(_ b: UnsafeMutableBufferPointer<Double>) {
        let nn = n
        let supernodes = supernodeStart.count - 1
        order.withUnsafeBufferPointer { order in
        lStart.withUnsafeBufferPointer { ls in
        lRow.withUnsafeBufferPointer { li in
        lValue.withUnsafeBufferPointer { lx in
        d.withUnsafeBufferPointer { d in
        supernodeStart.withUnsafeBufferPointer { sn in
        denseValueStart.withUnsafeBufferPointer { vs in
        denseRowStart.withUnsafeBufferPointer { rs in
        denseRows.withUnsafeBufferPointer { dr in
        denseValues.withUnsafeBufferPointer { dv in
        denseWork.withUnsafeMutableBufferPointer { work in
        permuted.withUnsafeMutableBufferPointer { xb in
            let x = xb.baseAddress!, t = work.baseAddress!, dense = dv.baseAddress!
            for k in 0..<nn { x[k] = b[Int(order[k])] }
            // L y = b.
            var k = 0
            while k < supernodes {
                let s = Int(sn[k]), e = Int(sn[k &+ 1])
                let v = vs[k]
                if v < 0 {
                    for j in s..<e {
                        let xj = x[j]
                        var p = ls[j]
                        let end = ls[j &+ 1]
                        while p < end { x[Int(li[p])] -= lx[p] * xj; p &+= 1 }
                    }
                    k &+= 1
                    continue
                }
                let w = e &- s, m = ls[e] &- ls[e &- 1]
                let tri = dense + v, rect = tri + w &* w, rows = dr.baseAddress! + rs[k]
                let xs = x + s
                // Dense unit lower triangle: column c's rows c + 1 ..< w are contiguous.
                for c in 0..<(w &- 1) { axpy(xs + (c &+ 1), tri + (c &* w &+ c &+ 1), -xs[c], w &- c &- 1) }
                if m > 0 {
                    for q in 0..<m { t[q] = 0 }
                    var c = 0
                    while c &+ 1 < w {
                        axpy2(t, rect + c &* m, rect + (c &+ 1) &* m, xs[c], xs[c &+ 1], m)
                        c &+= 2
                    }
                    if c < w { axpy(t, rect + c &* m, xs[c], m) }
                    for q in 0..<m { x[Int(rows[q])] -= t[q] }
                }
                k &+= 1
            }
            for j in 0..<nn { x[j] /= d[j] }
            // Lᵀ x = y.
            k = supernodes &- 1
            while k >= 0 {
                let s = Int(sn[k]), e = Int(sn[k &+ 1])
                let v = vs[k]
                if v < 0 {
                    var j = e &- 1
                    while j >= s {
                        var acc = x[j]
                        var p = ls[j]
                        let end = ls[j &+ 1]
                        while p < end { acc -= lx[p] * x[Int(li[p])]; p &+= 1 }
                        x[j] = acc
                        j &-= 1
                    }
                    k &-= 1
                    continue
                }
                let w = e &- s, m = ls[e] &- ls[e &- 1]
                let tri = dense + v, rect = tri + w &* w, rows = dr.baseAddress! + rs[k]
                let xs = x + s
                if m > 0 {
                    for q in 0..<m { t[q] = x[Int(rows[q])] }
                    var c = 0
                    while c &+ 1 < w {
                        let (d0, d1) = dot2(rect + c &* m, rect + (c &+ 1) &* m, t, m)
                        xs[c] -= d0
                        xs[c &+ 1] -= d1
                        c &+= 2
                    }
                    if c < w { xs[c] -= dot(rect + c &* m, t, m) }
                }
                var c = w &- 2
                while c >= 0 {
                    xs[c] -= dot(tri + (c &* w &+ c &+ 1), xs + (c &+ 1), w &- c &- 1)
                    c &-= 1
                }
                k &-= 1
            }
            for k in 0..<nn { b[Int(order[k])] = x[k] }
        }}}}}}}}}}}}
    }
}

/// y[0 ..< m] += a[0 ..< m] · s, two lanes at a time.
@inline(__always)
private func axpy(_ y: UnsafeMutablePointer<Double>, _ a: UnsafePointer<Double>, _ s: Double, _ m: Int) {
    let sv = SIMD2<Double>(repeating: s)
    let yr = UnsafeMutableRawPointer(y), ar = UnsafeRawPointer(a)
    var q = 0
    while q &+ 2 <= m {
        let o = q &* 8
        let v = yr.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self) + ar.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self) * sv
        yr.storeBytes(of: v, toByteOffset: o, as: SIMD2<Double>.self)
        q &+= 2
    }
    if q < m { y[q] += a[q] * s }
}

/// a[0 ..< m] · t[0 ..< m], in two lanes (then summed).
@inline(__always)
private func dot(_ a: UnsafePointer<Double>, _ t: UnsafePointer<Double>, _ m: Int) -> Double {
    let ar = UnsafeRawPointer(a), tr = UnsafeRawPointer(t)
    var acc = SIMD2<Double>(repeating: 0)
    var q = 0
    while q &+ 2 <= m {
        let o = q &* 8
        acc += ar.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self) * tr.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self)
        q &+= 2
    }
    var sum = acc.x + acc.y
    if q < m { sum += a[q] * t[q] }
    return sum
}

/// y[0 ..< m] += a[0 ..< m] · s + b[0 ..< m] · u (two columns of a block: one pass over y).
@inline(__always)
private func axpy2(_ y: UnsafeMutablePointer<Double>, _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>,
                   _ s: Double, _ u: Double, _ m: Int) {
    let sv = SIMD2<Double>(repeating: s), uv = SIMD2<Double>(repeating: u)
    let yr = UnsafeMutableRawPointer(y), ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b)
    var q = 0
    while q &+ 2 <= m {
        let o = q &* 8
        let v = yr.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self)
            + ar.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self) * sv
            + br.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self) * uv
        yr.storeBytes(of: v, toByteOffset: o, as: SIMD2<Double>.self)
        q &+= 2
    }
    if q < m { y[q] += a[q] * s + b[q] * u }
}

/// (a · t, b · t) over [0, m): two columns of a block against one gathered vector.
@inline(__always)
private func dot2(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ t: UnsafePointer<Double>, _ m: Int) -> (Double, Double) {
    let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b), tr = UnsafeRawPointer(t)
    var accA = SIMD2<Double>(repeating: 0), accB = SIMD2<Double>(repeating: 0)
    var q = 0
    while q &+ 2 <= m {
        let o = q &* 8
        let tv = tr.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self)
        accA += ar.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self) * tv
        accB += br.loadUnaligned(fromByteOffset: o, as: SIMD2<Double>.self) * tv
        q &+= 2
    }
    var sa = accA.x + accA.y, sb = accB.x + accB.y
    if q < m { sa += a[q] * t[q]; sb += b[q] * t[q] }
    return (sa, sb)
}
