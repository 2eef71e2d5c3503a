//! A safe, bounds-checked front to `gemm::gemm` for the small single-threaded matrix products
//! inside our per-sample kernels (parallelism comes from splitting the batch instead).

/// A row-major or transposed view of a matrix in a slice: element `(i, j)` sits at
/// `i * row_stride + j * col_stride`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) row_stride: usize,
    pub(crate) col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows x cols` matrix.
    pub(crate) fn rows(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub(crate) fn transposed(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: 1,
            col_stride: cols,
        }
    }

    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.data.len()
    }
}

/// `dst (m x n, row-major) = lhs (m x k) * rhs (k x n)`, or `+=` when `accumulate`.
///
/// # Panics
/// If a view is too short for its matrix: a bug in the caller's index arithmetic, checked here
/// because the raw-pointer `gemm` call below relies on it.
pub(crate) fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    assert!(dst.len() >= m * n, "matmul: destination too short");
    assert!(lhs.fits(m, k) && rhs.fits(k, n), "matmul: operand too short");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    // Strides of matrices held in memory never exceed `isize::MAX`.
    let s = |v: usize| v as isize;
    // SAFETY: the asserts above keep every element the call touches inside the three slices,
    // and `dst` does not alias the operands (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            s(n),
            accumulate,
            lhs.data.as_ptr(),
            s(lhs.col_stride),
            s(lhs.row_stride),
            rhs.data.as_ptr(),
            s(rhs.col_stride),
            s(rhs.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_match_the_definition() {
        // lhs 2x3, rhs given transposed (stored as 2x3, read as 3x2).
        let lhs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let rhs_t = [1.0, 0.0, -1.0, 2.0, 1.0, 0.5];
        let mut dst = [10.0; 4];
        matmul((2, 2, 3), &mut dst, false, View::rows(&lhs, 3), View::transposed(&rhs_t, 3));
        assert_eq!(dst, [-2.0, 5.5, -2.0, 16.0]);
        matmul((2, 2, 3), &mut dst, true, View::rows(&lhs, 3), View::transposed(&rhs_t, 3));
        assert_eq!(dst, [-4.0, 11.0, -4.0, 32.0]);
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let mut dst = [1.0; 4];
        matmul((2, 2, 0), &mut dst, false, View::rows(&[], 0), View::rows(&[], 2));
        assert_eq!(dst, [0.0; 4]);
    }
}
