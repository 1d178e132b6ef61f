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
    // KLU takes the pattern as non-const pointers: passing `&array` would copy the arrays on every
    // factorisation (callgrind: malloc + memmove per call), so the pattern is held in memory we own.
    private let patternColumns: UnsafeMutablePointer<Int32>
    private let patternRows: UnsafeMutablePointer<Int32>
    /// Count of full pivoting factorisations (diagnostics).
    private(set) var fullFactorisations = 0

    init(n: Int, columnStarts: [Int32], rowIndices: [Int32]) throws {
        self.n = n
        self.columnStarts = columnStarts
        self.rowIndices = rowIndices
        self.values = [Double](repeating: 0, count: rowIndices.count)
        patternColumns = .allocate(capacity: columnStarts.count)
        patternColumns.initialize(from: columnStarts, count: columnStarts.count)
        patternRows = .allocate(capacity: max(1, rowIndices.count))
        patternRows.initialize(from: rowIndices, count: rowIndices.count)
        klu_defaults(&common)
        symbolic = klu_analyze(Int32(n), patternColumns, patternRows, &common)
        guard symbolic != nil else {
            patternColumns.deallocate()
            patternRows.deallocate()
            throw SolverError.linearAlgebra("klu_analyze failed (status \(common.status))")
        }
    }

    deinit {
        if numeric != nil { klu_free_numeric(&numeric, &common) }
        if symbolic != nil { klu_free_symbolic(&symbolic, &common) }
        patternColumns.deallocate()
        patternRows.deallocate()
    }

    /// Factorises the current `values`.
    func factor() throws {
        try values.withUnsafeMutableBufferPointer { try factor($0) }
    }

    /// Factorises the values in `ax` (aligned with `rowIndices`).
    func factor(_ ax: UnsafeMutableBufferPointer<Double>) throws {
        if numeric != nil {
            if klu_refactor(patternColumns, patternRows, ax.baseAddress, symbolic, numeric, &common) == 1 {
                klu_rcond(symbolic, numeric, &common)
                if common.rcond > 1e-13 { return }
            }
            klu_free_numeric(&numeric, &common)
        }
        numeric = klu_factor(patternColumns, patternRows, ax.baseAddress, symbolic, &common)
        fullFactorisations += 1
        guard numeric != nil else {
            throw SolverError.linearAlgebra("klu_factor failed: singular Jacobian (status \(common.status))")
        }
    }

    /// Solves A x = b in place.
    func solve(_ b: inout [Double]) throws {
        try b.withUnsafeMutableBufferPointer { try solve($0) }
    }

    /// Solves A x = b in place (b has n values).
    func solve(_ b: UnsafeMutableBufferPointer<Double>) throws {
        guard klu_solve(symbolic, numeric, Int32(n), 1, b.baseAddress, &common) == 1 else {
            throw SolverError.linearAlgebra("klu_solve failed (status \(common.status))")
        }
    }
}
