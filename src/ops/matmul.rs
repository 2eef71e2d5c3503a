//! Matrix products for the per-sample kernels, single-threaded (parallelism comes from
//! splitting the batch). Large products go to `gemm::gemm`, or for the convolutions
//! ([`matmul_packed`]) to our blocked product ([`blocked`], in AVX-512 and AVX2 builds with
//! FMA) where the CPU has one; the skinny ones of a first conv
//! layer (few kernel taps, long rows of output positions), where gemm's packing costs more
//! than the arithmetic, go to two small kernels of ours.
//!
//! Everything here is `#[inline(always)]` so that it is compiled for AVX2 inside
//! [`crate::ops::cpu::simd::run`].

#[cfg(target_arch = "x86_64")]
mod blocked;

/// A view of a matrix in a slice: element `(i, j)` sits at `i * row_stride + j * col_stride`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) row_stride: usize,
    pub(crate) col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major matrix with `cols` columns.
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

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// Up to this output dimension the dot-product kernel beats gemm's packing.
const SMALL: usize = 64;
/// Up to this inner dimension the few-taps kernel runs, on CPUs without AVX-512 (and below
/// [`PACKED_TAPS`] on those with it). Sending 28..=64 to the `gemm` crate instead made Keras'
/// convnet 18% faster, but was reverted for moving ResNet-20's twin test (BENCHMARKS.md,
/// attempt 31); not tried again since the stride-1 input gradient became a conv (attempt
/// 35), with which the AVX-512 routing passes that test.
pub(crate) const TAPS: usize = 64;
/// From this inner dimension on, the convolutions' products go to the blocked product
/// ([`blocked`]) where the CPU has it, whatever the shape: with fused multiply-adds on 16
/// lanes it beats the few-taps kernel once the inner dimension fills a few steps (VAE's
/// transposed convs of 32-64 channels: epoch 4.0-4.3 s against 3.6 s). Below it, a first
/// layer's 9 or 25 taps stay with the few-taps kernel, which skips the packing.
pub(crate) const PACKED_TAPS: usize = 16;
/// Outputs computed together in registers.
const LANES: usize = 16;

/// `dst (m x n, row-major) = lhs (m x k) * rhs (k x n)`, or `+=` when `accumulate`.
///
/// # Panics
/// If a view is too short for its matrix: a bug in the caller's index arithmetic, checked here
/// because the raw-pointer `gemm` call relies on it.
#[inline(always)]
pub(crate) fn matmul(
    dims: (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    products(dims, dst, accumulate, lhs, rhs, false);
}

/// [`matmul`] for the convolutions' im2col products and a sequence's per-position layers
/// (one example's `units x length x features`), whose large ones go to our blocked product
/// ([`blocked`]) where the CPU has it. Attention's and the recurrent steps' products are
/// smaller, and there the `gemm` crate's kernels, which skip packing for small operands,
/// were faster: the char GPT's epoch took 9.6% longer with all of its products on ours
/// (BENCHMARKS.md, attempt 33), and 0.87x as long with only its per-position layers
/// (attempt 37).
#[inline(always)]
pub(crate) fn matmul_packed(
    dims: (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    products(dims, dst, accumulate, lhs, rhs, true);
}

#[inline(always)]
fn products(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
    packed: bool,
) {
    assert!(dst.len() >= m * n, "matmul: destination too short");
    assert!(
        lhs.fits(m, k) && rhs.fits(k, n),
        "matmul: operand too short"
    );
    let dst = &mut dst[..m * n];
    if m == 0 || n == 0 {
        return;
    }
    match route((n, k), &lhs, &rhs, packed) {
        Route::FewTaps => broadcast_rows((n, k), dst, accumulate, lhs, rhs),
        Route::Dots => dot_rows((n, k), dst, accumulate, lhs, rhs),
        Route::Gemm => gemm_call((m, n, k), (dst, n), accumulate, lhs, rhs, packed),
    }
}

/// Which kernel a product goes to.
#[derive(PartialEq)]
enum Route {
    FewTaps,
    Dots,
    /// The `gemm` crate, or the blocked product for [`matmul_packed`] where the CPU has it.
    Gemm,
}

#[inline(always)]
fn route((n, k): (usize, usize), lhs: &View<'_>, rhs: &View<'_>, packed: bool) -> Route {
    if k <= TAPS && rhs.col_stride == 1 && !(packed && k >= PACKED_TAPS && fused_product()) {
        Route::FewTaps
    } else if n <= SMALL && lhs.col_stride == 1 && rhs.row_stride == 1 {
        Route::Dots
    } else {
        Route::Gemm
    }
}

/// Whether [`matmul_packed`] sends these operands to the blocked product, where
/// [`packed_view`] with `lhs` packed beforehand gives its bits.
#[inline(always)]
pub(crate) fn packs_on_blocked((n, k): (usize, usize), lhs: &View<'_>, rhs: &View<'_>) -> bool {
    fused_product() && route((n, k), lhs, rhs, true) == Route::Gemm
}

/// Slices of one buffer at several offsets, the rows (or columns) of a matrix that is never
/// built: a stride-1 conv reads its zero-padded input under each kernel tap at the offset of
/// that tap, so the im2col matrix is the padded input itself, shifted (`conv2d::shifted`).
#[derive(Clone, Copy)]
pub(crate) struct Shifted<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) offsets: &'a [usize],
}

impl Shifted<'_> {
    /// Whether every slice of `len` floats lies inside `data`.
    fn fits(&self, len: usize) -> bool {
        self.offsets.iter().all(|&o| o + len <= self.data.len())
    }
}

/// Where a product's left operand (`m x k`) comes from. Only the blocked product reads it.
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Lhs<'a> {
    /// A strided matrix, packed into panels block by block.
    View(View<'a>),
    /// Panels packed beforehand by `blocked::pack_whole` for these `m` and `k`
    /// ([`PackedLhs`]): a conv's weight, packed once for every sample's product. For a conv
    /// on 8x8 planes the packing took a fifth of the product's time when each sample
    /// repeated it.
    Packed(&'a [f32]),
}

/// Where a product's right operand (`k x n`) comes from, for the blocked product
/// (`blocked::Rhs`, which only x86-64 builds).
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Rhs<'a> {
    View(View<'a>),
    /// Row `kk` at `offsets[kk]`, read in place.
    Rows(Shifted<'a>),
    /// Column `j` at `offsets[j]`, packed by transposes, in [`Runs`].
    Cols(Shifted<'a>, Runs),
}

/// How the inner dimension of [`shifted_cols`]' columns is laid out: in runs of `len`
/// floats, run `r` of each column `r * stride` floats after its first. Several samples'
/// padded inputs one after another make one product of their weight gradient, so that the
/// gradient's blocks stay in cache over all of them instead of going out and back per
/// sample.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Runs {
    pub(crate) len: usize,
    pub(crate) stride: usize,
}

/// A left operand packed once for the blocked product's panels, for many products that read
/// it: a stride-1 conv's weight, which every sample's product multiplies
/// (`conv2d::shifted`).
pub(crate) struct PackedLhs {
    panels: Vec<f32>,
    m: usize,
    k: usize,
}

impl PackedLhs {
    /// Packs `lhs` (`m x k`).
    ///
    /// # Panics
    /// If `lhs` is too short for its matrix, or without [`shifted_products`].
    pub(crate) fn new((m, k): (usize, usize), lhs: View<'_>) -> Self {
        assert!(lhs.fits(m, k), "matmul: operand too short");
        assert!(
            shifted_products(),
            "matmul: packed operands need the blocked product"
        );
        #[cfg(target_arch = "x86_64")]
        let panels = blocked::pack_whole(lhs, (m, k));
        // Never reached: there is no blocked product off x86-64 (asserted above).
        #[cfg(not(target_arch = "x86_64"))]
        let panels = Vec::new();
        Self { panels, m, k }
    }

    /// The panels, for a product of this `m x k` left operand.
    ///
    /// # Panics
    /// If they were packed for another shape.
    fn operand(&self, (m, k): (usize, usize)) -> Lhs<'_> {
        assert!(
            (self.m, self.k) == (m, k),
            "matmul: the operand was packed for another shape"
        );
        Lhs::Packed(&self.panels)
    }
}

/// Whether [`shifted_rows`] and [`shifted_cols`] can run: they are the blocked product's,
/// and elsewhere the conv builds its im2col matrix instead.
#[inline(always)]
pub(crate) fn shifted_products() -> bool {
    fused_product()
}

/// `dst (m x n) = lhs (m x k) * rhs (k x n)` (or `+=` when `accumulate`), row `kk` of `rhs`
/// the `n` floats at `rows.data[rows.offsets[kk]..]`, read in place. Sums in the order of
/// [`matmul_packed`], so the bits are those of the same product on a built matrix.
///
/// # Panics
/// If an operand is too short, or without [`shifted_products`].
pub(crate) fn shifted_rows(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: &PackedLhs,
    rows: Shifted<'_>,
) {
    on_blocked(
        (m, n, k),
        dst,
        accumulate,
        lhs.operand((m, k)),
        Rhs::Rows(rows),
        rows.offsets.len() == k && rows.fits(n),
    );
}

/// `dst (m x n) = lhs (m x k) * rhs (k x n)` (or `+=` when `accumulate`) on the AVX-512
/// product with `lhs` packed beforehand: a sequence's per-position layer multiplies every
/// example by one weight, which the dense layers store `(in, out)`, so that packing it
/// reads one value at a time; packed once per call, not once per example. The bits of
/// [`matmul_packed`] on the same operands.
///
/// # Panics
/// If an operand is too short, or without [`shifted_products`].
pub(crate) fn packed_view(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: &PackedLhs,
    rhs: View<'_>,
) {
    on_blocked(
        (m, n, k),
        dst,
        accumulate,
        lhs.operand((m, k)),
        Rhs::View(rhs),
        rhs.fits(k, n),
    );
}

/// `dst (m x n) = lhs (m x k) * rhs (k x n)` (or `+=` when `accumulate`) on the blocked
/// product whatever the shape: the dense layer's products where there is no AVX-512
/// (`dense::blocked`). The bits of [`matmul_packed`] on the same operands.
///
/// # Panics
/// If an operand is too short, or without [`shifted_products`].
pub(crate) fn blocked_view(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    assert!(lhs.fits(m, k), "matmul: operand too short");
    on_blocked(
        (m, n, k),
        dst,
        accumulate,
        Lhs::View(lhs),
        Rhs::View(rhs),
        rhs.fits(k, n),
    );
}

/// [`shifted_rows`] with `rhs`'s columns in place: column `j` is the `k` floats at
/// `cols.data[cols.offsets[j]..]`, in `runs` (each run starting `runs.stride` floats after
/// the one before; `k` a whole number of runs).
///
/// # Panics
/// As [`shifted_rows`].
pub(crate) fn shifted_cols(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    cols: Shifted<'_>,
    runs: Runs,
) {
    assert!(lhs.fits(m, k), "matmul: operand too short");
    assert!(
        runs.len > 0 && k % runs.len == 0,
        "matmul: runs that do not tile the inner dimension"
    );
    let last = (k / runs.len).saturating_sub(1) * runs.stride;
    on_blocked(
        (m, n, k),
        dst,
        accumulate,
        Lhs::View(lhs),
        Rhs::Cols(cols, runs),
        cols.offsets.len() == n && cols.fits(last + runs.len),
    );
}

/// The blocked product on operands that only it reads: a packed `lhs`, or a shifted `rhs`.
#[inline(always)]
fn on_blocked(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: Lhs<'_>,
    rhs: Rhs<'_>,
    rhs_fits: bool,
) {
    assert!(dst.len() >= m * n, "matmul: destination too short");
    assert!(rhs_fits, "matmul: operand too short");
    assert!(
        shifted_products(),
        "matmul: packed and shifted operands need the blocked product"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let rhs = match rhs {
            Rhs::View(view) => blocked::Rhs::View(view),
            Rhs::Rows(rows) => blocked::Rhs::Rows(rows),
            Rhs::Cols(cols, runs) => blocked::Rhs::Cols(cols, runs),
        };
        // SAFETY: the CPU has the product's features (asserted), and the operands were
        // checked against their slices (a packed `lhs` by `PackedLhs`).
        unsafe { blocked_product((m, n, k), (dst, n), accumulate, lhs, rhs) };
    }
    // Never reached: there is no blocked product off x86-64 (asserted above).
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (lhs, rhs);
}

/// Whether `matmul_packed` has the blocked product (AVX-512 or AVX2, with FMA) to send work
/// to.
#[inline(always)]
fn fused_product() -> bool {
    #[cfg(target_arch = "x86_64")]
    return crate::ops::cpu::simd::avx512_kernels() || crate::ops::cpu::simd::avx2_product();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// The blocked product in the widest build the CPU runs.
///
/// # Safety
/// [`fused_product`] holds; `dst` holds the `m x n` matrix at its stride and the operands
/// their matrices (a packed `lhs` from `blocked::pack_whole` for these `m` and `k`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn blocked_product(
    dims: (usize, usize, usize),
    dst: (&mut [f32], usize),
    accumulate: bool,
    lhs: Lhs<'_>,
    rhs: blocked::Rhs<'_>,
) {
    if crate::ops::cpu::simd::avx512_kernels() {
        blocked::gemm(dims, dst, accumulate, lhs, rhs);
    } else {
        blocked::gemm_avx2(dims, dst, accumulate, lhs, rhs);
    }
}

/// `dst (m x n) = lhs (m x k) * rhs (k x n)` (or `+=` when `accumulate`) through `gemm`
/// whatever the shape, row `i` of `dst` starting at `i * dst_stride`: its fused multiply-add
/// kernels beat ours on attention's products (64 x 64 x 32), and the stride lets it write a
/// block of a larger matrix in place.
///
/// # Panics
/// If a view or `dst` is too short for its matrix, as [`matmul`].
#[inline(always)]
pub(crate) fn gemm_into(
    (m, n, k): (usize, usize, usize),
    (dst, dst_stride): (&mut [f32], usize),
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst_stride >= n && (m - 1) * dst_stride + n <= dst.len(),
        "matmul: destination too short"
    );
    assert!(
        lhs.fits(m, k) && rhs.fits(k, n),
        "matmul: operand too short"
    );
    gemm_call((m, n, k), (dst, dst_stride), accumulate, lhs, rhs, false);
}

/// Output rows computed together, sharing each load of `rhs`.
const ROWS: usize = 4;

/// Few taps, long rows: each output row is a sum of `k` scaled rows of `rhs`, computed
/// `ROWS x LANES` outputs at a time in registers. The last `n % LANES` columns go through the
/// same registers from a copy of `rhs`'s last columns padded with zeros, instead of a scalar
/// loop (an 11x11 conv plane, 121 = 7 x 16 + 9, left 7% of its outputs to it, which took a
/// third of the kernel's time).
/// Each output is summed in the same order either way (`kk` ascending, no fused multiply-add),
/// so the padding changes no bit.
#[inline(always)]
fn broadcast_rows(
    (n, k): (usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    let rs = rhs.row_stride;
    let full = n - n % LANES;
    let tail = n - full;
    let mut padded = [[0.0f32; LANES]; TAPS];
    for (kk, row) in padded.iter_mut().enumerate().take(k) {
        row[..tail].copy_from_slice(&rhs.data[kk * rs + full..][..tail]);
    }
    for (block, dst) in dst.chunks_mut(ROWS * n).enumerate() {
        let rows = dst.len() / n;
        // The block's coefficients, zero for rows past the end (computed, never stored).
        let mut a = [[0.0f32; TAPS]; ROWS];
        for (r, a) in a.iter_mut().enumerate().take(rows) {
            for (kk, a) in a.iter_mut().enumerate().take(k) {
                *a = lhs.at(block * ROWS + r, kk);
            }
        }
        let blocks = (0..full).step_by(LANES).map(|p0| (p0, LANES));
        for (p0, width) in blocks.chain((tail > 0).then_some((full, tail))) {
            let mut acc = [[0.0f32; LANES]; ROWS];
            if accumulate {
                for (r, acc) in acc.iter_mut().enumerate().take(rows) {
                    acc[..width].copy_from_slice(&dst[r * n + p0..][..width]);
                }
            }
            if width == LANES {
                scaled_rows(&mut acc, &a, k, |kk| lanes(&rhs.data[kk * rs + p0..]));
            } else {
                scaled_rows(&mut acc, &a, k, |kk| &padded[kk]);
            }
            for (r, acc) in acc.iter().enumerate().take(rows) {
                dst[r * n + p0..][..width].copy_from_slice(&acc[..width]);
            }
        }
    }
}

/// `acc[r] += Σ_kk a[r][kk] · b(kk)` for `kk` in `0..k`, ascending.
///
/// `b` gives whole arrays, copied into registers before the rows read them: handed slices,
/// LLVM kept each lane's sum apart and multiplied one float at a time (the VAE's last
/// transposed conv spent 6% of its epoch there; BENCHMARKS.md, attempt 64).
#[inline(always)]
fn scaled_rows<'b>(
    acc: &mut [[f32; LANES]; ROWS],
    a: &[[f32; TAPS]; ROWS],
    k: usize,
    b: impl Fn(usize) -> &'b [f32; LANES],
) {
    for kk in 0..k {
        let b: [f32; LANES] = *b(kk);
        for (acc, a) in acc.iter_mut().zip(a) {
            let a = a[kk];
            for l in 0..LANES {
                acc[l] += a * b[l];
            }
        }
    }
}

/// The first [`LANES`] floats of `v`, as an array.
#[inline(always)]
fn lanes(v: &[f32]) -> &[f32; LANES] {
    v[..LANES].try_into().expect("a slice of LANES floats")
}

/// Few outputs per row, long inner dimension: each output is a dot product of a row of `lhs`
/// and a row of `rhsᵀ`.
#[inline(always)]
fn dot_rows(
    (n, k): (usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    for (i, row) in dst.chunks_exact_mut(n).enumerate() {
        let a = &lhs.data[i * lhs.row_stride..][..k];
        for (j, out) in row.iter_mut().enumerate() {
            let sum = dot(a, &rhs.data[j * rhs.col_stride..][..k]);
            *out = if accumulate { *out + sum } else { sum };
        }
    }
}

/// `Σ a·b` in `LANES` partial sums folded in a fixed order (vectorisable, and deterministic).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_tail, b_tail) = (a_chunks.remainder(), b_chunks.remainder());
    for (a, b) in a_chunks.zip(b_chunks) {
        for ((acc, a), b) in acc.iter_mut().zip(a).zip(b) {
            *acc += a * b;
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for (a, b) in a_tail.iter().zip(b_tail) {
        sum += a * b;
    }
    sum
}

/// `Σ v` in `LANES` partial sums folded in a fixed order: a plain running sum cannot be
/// vectorised (float addition is not reassociated) and would cost a dependent add per value.
#[inline(always)]
pub(crate) fn sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (acc, c) in acc.iter_mut().zip(c) {
            *acc += c;
        }
    }
    acc.iter().sum::<f32>() + tail.iter().sum::<f32>()
}

fn gemm_call(
    (m, n, k): (usize, usize, usize),
    (dst, dst_stride): (&mut [f32], usize),
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
    packed: bool,
) {
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_stride).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = packed; // only the blocked product packs
    #[cfg(target_arch = "x86_64")]
    if packed && fused_product() {
        // SAFETY: the CPU has the product's features, and `matmul` and `gemm_into` checked
        // the matrices against their slices.
        unsafe {
            blocked_product(
                (m, n, k),
                (dst, dst_stride),
                accumulate,
                Lhs::View(lhs),
                blocked::Rhs::View(rhs),
            );
        };
        return;
    }
    // Strides of matrices held in memory never exceed `isize::MAX`.
    let s = |v: usize| v as isize;
    // SAFETY: `matmul` and `gemm_into` checked that every element the call touches lies
    // inside the three slices, and `dst` does not alias the operands (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            s(dst_stride),
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
    use crate::ops::reference::random;

    fn naive(m: usize, n: usize, k: usize, lhs: View<'_>, rhs: View<'_>) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|kk| f64::from(lhs.at(i, kk)) * f64::from(rhs.at(kk, j)))
                    .sum();
            }
        }
        out
    }

    #[test]
    fn every_kernel_matches_the_definition() {
        // (m, n, k) picked to reach each kernel: few taps, few outputs, and gemm.
        for (m, n, k) in [
            (5, 37, 9),
            (3, 16, 1),
            (4, 9, 70),
            (2, 3, 100),
            (6, 70, 80),
            (7, 121, 64),
            (1, 1, 1),
        ] {
            let (a, b) = (random(m * k, 1), random(k * n, 2));
            for (lhs, rhs) in [
                (View::rows(&a, k), View::rows(&b, n)),
                (View::rows(&a, k), View::transposed(&b, k)),
                (View::transposed(&a, m), View::rows(&b, n)),
            ] {
                let want = naive(m, n, k, lhs, rhs);
                let mut dst = vec![0.5; m * n];
                matmul((m, n, k), &mut dst, false, lhs, rhs);
                for (g, w) in dst.iter().zip(&want) {
                    assert!(
                        (f64::from(*g) - w).abs() < 1e-5 * (1.0 + w.abs()),
                        "{m}x{n}x{k}: {g} vs {w}"
                    );
                }
                matmul((m, n, k), &mut dst, true, lhs, rhs);
                for (g, w) in dst.iter().zip(&want) {
                    assert!(
                        (f64::from(*g) - 2.0 * w).abs() < 1e-5 * (1.0 + w.abs()),
                        "{m}x{n}x{k} accumulated"
                    );
                }
            }
        }
    }

    /// The few-taps kernel (inner dimension up to `TAPS`) sums each output in one order, `kk`
    /// ascending in f32, in its 16-wide blocks and in the padded last block alike (`n` not a
    /// multiple of 16: an 11x11 or 13x13 conv plane), so it gives the bits of a plain loop;
    /// accumulating starts from what `dst` held.
    #[test]
    fn the_few_taps_kernel_gives_the_bits_of_a_plain_loop_past_the_last_full_block() {
        for (m, n, k) in [
            (7, 121, 27),
            (5, 169, 9),
            (3, 9, 27),
            (9, 33, 7),
            (4, 16, 3),
        ] {
            let (a, b) = (random(m * k, 5), random(k * n, 6));
            let (lhs, rhs) = (View::transposed(&a, m), View::rows(&b, n));
            for accumulate in [false, true] {
                let start = random(m * n, 7);
                let mut dst = start.clone();
                matmul((m, n, k), &mut dst, accumulate, lhs, rhs);
                for i in 0..m {
                    for j in 0..n {
                        let mut want = if accumulate { start[i * n + j] } else { 0.0 };
                        for kk in 0..k {
                            want += lhs.at(i, kk) * rhs.at(kk, j);
                        }
                        assert_eq!(
                            dst[i * n + j].to_bits(),
                            want.to_bits(),
                            "{m}x{n}x{k} at ({i}, {j}), accumulate {accumulate}"
                        );
                    }
                }
            }
        }
    }

    /// `packed_view` gives `matmul_packed`'s bits wherever `packs_on_blocked` says it
    /// would take the blocked product, a transposed (`(in, out)`) weight included.
    #[test]
    fn a_weight_packed_once_gives_the_bits_of_matmul_packed() {
        if !shifted_products() {
            return;
        }
        for (m, n, k) in [(70, 9, 20), (384, 64, 128), (5, 200, 300)] {
            let (a, b, start) = (random(m * k, 1), random(k * n, 2), random(m * n, 3));
            for lhs in [View::rows(&a, k), View::transposed(&a, m)] {
                let rhs = View::rows(&b, n);
                assert!(packs_on_blocked((n, k), &lhs, &rhs), "{m}x{n}x{k}");
                let packed = PackedLhs::new((m, k), lhs);
                for accumulate in [false, true] {
                    let (mut want, mut got) = (start.clone(), start.clone());
                    matmul_packed((m, n, k), &mut want, accumulate, lhs, rhs);
                    packed_view((m, n, k), &mut got, accumulate, &packed, rhs);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert!(bits(&want) == bits(&got), "{m}x{n}x{k}");
                }
            }
        }
        // A few taps stay on their own kernel, which packs nothing.
        let a = [0.0; 8];
        assert!(!packs_on_blocked(
            (9, 8),
            &View::rows(&a, 8),
            &View::rows(&a, 9)
        ));
    }

    /// A block written in place in a wider matrix: every element of the block as the
    /// definition says (added when accumulating), nothing outside it touched.
    #[test]
    fn gemm_into_writes_a_block_of_a_wider_matrix() {
        let (m, n, k, stride) = (5, 7, 9, 11);
        let (a, b) = (random(m * k, 3), random(k * n, 4));
        let (lhs, rhs) = (View::transposed(&a, m), View::rows(&b, n));
        let want = naive(m, n, k, lhs, rhs);
        for accumulate in [false, true] {
            let mut dst = vec![0.5; m * stride];
            gemm_into((m, n, k), (&mut dst, stride), accumulate, lhs, rhs);
            for i in 0..m {
                for j in 0..stride {
                    let got = f64::from(dst[i * stride + j]);
                    let w = match (j < n, accumulate) {
                        (false, _) => 0.5,
                        (true, false) => want[i * n + j],
                        (true, true) => 0.5 + want[i * n + j],
                    };
                    assert!(
                        (got - w).abs() < 1e-5,
                        "({i}, {j}), accumulate {accumulate}"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let mut dst = [1.0; 4];
        matmul(
            (2, 2, 0),
            &mut dst,
            false,
            View::rows(&[], 0),
            View::rows(&[], 2),
        );
        assert_eq!(dst, [0.0; 4]);
    }

    /// Operands read in place at offsets give the bits of the same product on the matrix
    /// built from them, rows or columns, past the product's block sizes and with overlapping
    /// slices (as a conv's taps overlap), from zero and accumulated.
    #[test]
    fn shifted_operands_give_the_bits_of_the_built_matrix() {
        if !shifted_products() {
            return;
        }
        for (m, n, k) in [(1, 1, 1), (16, 224, 144), (7, 600, 300), (100, 70, 9)] {
            let data = random(3 * (n + k) + 1000, 11);
            let lhs = random(m * k, 12);
            let start = random(m * n, 13);
            // Overlapping slices at scattered offsets.
            let offsets = |count: usize, len: usize| -> Vec<usize> {
                let room = data.len() - len;
                (0..count).map(|i| (i * 37 + i * i * 11) % room).collect()
            };
            let row_offsets = offsets(k, n);
            let col_offsets = offsets(n, k);
            let rows: Vec<f32> = row_offsets
                .iter()
                .flat_map(|&o| data[o..][..n].to_vec())
                .collect();
            let cols: Vec<f32> = col_offsets
                .iter()
                .flat_map(|&o| data[o..][..k].to_vec())
                .collect();
            for accumulate in [false, true] {
                let built = |rhs: View<'_>| {
                    let mut dst = start.clone();
                    matmul_packed((m, n, k), &mut dst, accumulate, View::rows(&lhs, k), rhs);
                    dst
                };
                let mut by_rows = start.clone();
                let shifted = Shifted {
                    data: &data,
                    offsets: &row_offsets,
                };
                shifted_rows(
                    (m, n, k),
                    &mut by_rows,
                    accumulate,
                    &PackedLhs::new((m, k), View::rows(&lhs, k)),
                    shifted,
                );
                let mut by_cols = start.clone();
                let shifted = Shifted {
                    data: &data,
                    offsets: &col_offsets,
                };
                shifted_cols(
                    (m, n, k),
                    &mut by_cols,
                    accumulate,
                    View::rows(&lhs, k),
                    shifted,
                    Runs { len: k, stride: 0 },
                );
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                if k >= PACKED_TAPS {
                    assert_eq!(
                        bits(&by_rows),
                        bits(&built(View::rows(&rows, n))),
                        "{m}x{n}x{k}"
                    );
                    let cols_view = View::transposed(&cols, k);
                    assert_eq!(bits(&by_cols), bits(&built(cols_view)), "{m}x{n}x{k}");
                }
                let want = naive(m, n, k, View::rows(&lhs, k), View::rows(&rows, n));
                for (i, (&got, want)) in by_rows.iter().zip(want).enumerate() {
                    let want = want + if accumulate { f64::from(start[i]) } else { 0.0 };
                    assert!((f64::from(got) - want).abs() < 1e-4 * (1.0 + want.abs()));
                }
            }
        }
    }

    /// Columns in runs (several samples' padded inputs one after another) give the bits of
    /// the product on the matrix built from them, and of the runs multiplied one at a time
    /// and added in turn: with runs shorter than the product's block, longer, and of a
    /// length that leaves a piece of a 16-step transpose.
    #[test]
    fn columns_in_runs_give_the_bits_of_one_product_per_run() {
        if !shifted_products() {
            return;
        }
        for (m, n, run, count) in [(16, 80, 63, 5), (7, 130, 200, 3), (20, 16, 16, 9)] {
            let stride = run + 29;
            let k = run * count;
            let data = random(stride * count + n * 3 + 40, 21);
            let offsets: Vec<usize> = (0..n).map(|j| (j * 3 + j * j) % 40).collect();
            let lhs = random(m * k, 22);
            let start = random(m * n, 23);
            let cols = Shifted {
                data: &data,
                offsets: &offsets,
            };
            let mut together = start.clone();
            let runs = Runs { len: run, stride };
            shifted_cols(
                (m, n, k),
                &mut together,
                true,
                View::rows(&lhs, k),
                cols,
                runs,
            );
            // The built `k x n` matrix.
            let built: Vec<f32> = (0..k)
                .flat_map(|kk| {
                    let (r, within) = (kk / run, kk % run);
                    offsets.iter().map(move |&o| (r, within, o))
                })
                .map(|(r, within, o)| data[r * stride + o + within])
                .collect();
            let mut want = start.clone();
            matmul_packed(
                (m, n, k),
                &mut want,
                true,
                View::rows(&lhs, k),
                View::rows(&built, n),
            );
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&together),
                bits(&want),
                "{m}x{n}, {count} runs of {run}"
            );
            let mut apart = start.clone();
            for r in 0..count {
                let lhs_run: Vec<f32> = lhs
                    .chunks_exact(k)
                    .flat_map(|row| row[r * run..][..run].to_vec())
                    .collect();
                let cols = Shifted {
                    data: &data[r * stride..],
                    offsets: &offsets,
                };
                let lhs_run = View::rows(&lhs_run, run);
                shifted_cols(
                    (m, n, run),
                    &mut apart,
                    true,
                    lhs_run,
                    cols,
                    Runs {
                        len: run,
                        stride: 0,
                    },
                );
            }
            assert_eq!(
                bits(&together),
                bits(&apart),
                "{m}x{n}, {count} runs of {run}"
            );
        }
    }

    #[test]
    fn a_shifted_slice_past_the_buffer_is_refused() {
        if !shifted_products() {
            return;
        }
        let data = [1.0; 10];
        let refused = std::panic::catch_unwind(|| {
            let mut dst = [0.0; 4];
            let rows = Shifted {
                data: &data,
                offsets: &[0, 7],
            };
            let lhs = PackedLhs::new((1, 2), View::rows(&[1.0, 1.0], 2));
            shifted_rows((1, 4, 2), &mut dst, false, &lhs, rows);
        });
        let message = refused.expect_err("a slice past the buffer");
        let message = message.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(message.contains("operand too short"), "{message}");
    }
}
