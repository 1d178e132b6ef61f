import CSuiteSparse

/// A square sparse matrix with a fixed pattern in compressed-column form, factorised with
/// SuiteSparse KLU. The pattern is analysed once (`klu_analyze`, AMD ordering); each Newton
/// iteration refactorises with the same pivot order (`klu_refactor`) and falls back to a fresh
/// pivoting factorisation when the refactorisation reports trouble or a tiny pivot.
final class SparseLU {
    let n: Int
    /// Column pointers (n + 1) and row indices of the pattern.
    let columnStarts: [Int32]
    let rowIndices: [Int32]
    /// Values, aligned with `rowIndices`; callers fill them before `factor()`.
    var values: [Double]
    private var common = klu_common()
    private var symbolic: UnsafeMutablePointer<klu_symbolic>?
    private var numeric: UnsafeMutablePointer<klu_numeric>?
    /// Count of full pivoting factorisations (diagnostics).
    private(set) var fullFactorisations = 0

    init(n: Int, columnStarts: [Int32], rowIndices: [Int32]) throws {
        self.n = n
        self.columnStarts = columnStarts
        self.rowIndices = rowIndices
        self.values = [Double](repeating: 0, count: rowIndices.count)
        klu_defaults(&common)
        var ap = columnStarts, ai = rowIndices
        symbolic = klu_analyze(Int32(n), &ap, &ai, &common)
        guard symbolic != nil else { throw SolverError.linearAlgebra("klu_analyze failed (status \(common.status))") }
    }

    deinit {
        if numeric != nil { klu_free_numeric(&numeric, &common) }
        if symbolic != nil { klu_free_symbolic(&symbolic, &common) }
    }

    /// Factorises the current `values`.
    func factor() throws {
        var ap = columnStarts, ai = rowIndices
        if numeric != nil {
            let ok = values.withUnsafeMutableBufferPointer { ax in
                klu_refactor(&ap, &ai, ax.baseAddress, symbolic, numeric, &common)
            }
            if ok == 1 {
                klu_rcond(symbolic, numeric, &common)
                if common.rcond > 1e-13 { return }
            }
            klu_free_numeric(&numeric, &common)
        }
        numeric = values.withUnsafeMutableBufferPointer { ax in
            klu_factor(&ap, &ai, ax.baseAddress, symbolic, &common)
        }
        fullFactorisations += 1
        guard numeric != nil else {
            throw SolverError.linearAlgebra("klu_factor failed: singular Jacobian (status \(common.status))")
        }
    }

    /// Solves A x = b in place.
    func solve(_ b: inout [Double]) throws {
        let ok = b.withUnsafeMutableBufferPointer { bp in
            klu_solve(symbolic, numeric, Int32(n), 1, bp.baseAddress, &common)
        }
        guard ok == 1 else { throw SolverError.linearAlgebra("klu_solve failed (status \(common.status))") }
    }
}
