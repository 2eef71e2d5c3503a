//! The blocked matrix product of the convolutions and per-position layers, with fused
//! multiply-adds, in an AVX-512 build ([`Avx512`], 16 lanes) and an AVX2 build ([`Avx2`], 8
//! lanes) of one generic code: the `gemm` crate's AVX-512 kernels need a nightly compiler,
//! so its stable build runs 8-wide AVX2, and it cannot read the operands that are never
//! built (a conv's padded input read in place, [`Rhs::Rows`] and [`Rhs::Cols`]).
//!
//! It is the usual blocked product (Goto's, as BLIS and OpenBLAS do it): the inner dimension
//! is cut into blocks of [`KC`], and for each block a slab of `rhs` ([`NC`] columns) and of
//! `lhs` ([`MC`] rows) are copied into packed panels, so that the register tile, [`MR`] rows by
//! [`Isa::NR`] columns of the result, reads both operands contiguously whatever their
//! strides: per step of the inner dimension it loads one row of the `rhs` panel ([`Isa::VECS`]
//! vectors: four of 16 on AVX-512, 24 accumulators of its 32 registers; two of 8 on AVX2, 12
//! of its 16) and broadcasts one value per row of the `lhs` panel. Tails are zero-padded in
//! the panels and masked at the store.
//!
//! Every result element is summed in one fixed order: the inner dimension ascending, one
//! fused multiply-add chain per block of [`KC`] starting from the stored value. The order
//! depends on `k` only, never on `m`, `n`, the operands' layout, the thread or the vector
//! width, so results are the same however a caller cuts its products, and the two builds
//! give the same bits.

use std::arch::x86_64::{
    __m256, __m256i, __m512, __mmask16, _mm256_cmpgt_epi32, _mm256_fmadd_ps, _mm256_loadu_ps,
    _mm256_maskload_ps, _mm256_maskstore_ps, _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi32,
    _mm256_setzero_ps, _mm256_storeu_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};
use std::cell::RefCell;

use super::{Lhs, Runs, Shifted, View};
use crate::ops::cpu::transpose::{transpose16_rows, transpose8_rows};

/// Rows of the register tile.
const MR: usize = 6;
/// The inner dimension per block. A tile's `rhs` panel (128 x 64 floats, 32 KiB, on
/// AVX-512) stays in L1 while every tile of the `lhs` block passes over it, each streaming
/// its own small panel (6 x 128 floats) from L2. At 256 the panel (64 KiB) overflowed L1 and
/// was read from L2 once per tile, a row per 24 multiply-adds: products of a long inner
/// dimension ran at 61 GFLOP/s on one core instead of 75 (`timing_products`, 64 x 128 x 768).
/// The block size changes no bit: each element's chain of multiply-adds goes on from the
/// stored value.
const KC: usize = 128;
/// Rows of `lhs` packed at a time: 96 x 128 floats (48 KiB), in L2 while every panel of the
/// `rhs` slab passes it.
const MC: usize = 96;
/// Columns of `rhs` packed at a time: 128 x 512 floats (256 KiB), in L2 beside the `lhs`
/// block.
const NC: usize = 512;

/// The vector instructions a build of the product uses.
///
/// # Safety
/// Every method needs the CPU features of its build; they are `#[inline(always)]` into the
/// `#[target_feature]` entry points ([`gemm`], [`gemm_avx2`]), which the callers guard.
pub(super) trait Isa: Copy {
    /// A vector of [`Self::LANES`] floats.
    type V: Copy;
    /// Which lanes of a vector are live.
    type Mask: Copy;
    const LANES: usize;
    /// Vectors per row of the register tile.
    const VECS: usize;
    /// Columns of the register tile, and of an `rhs` panel.
    const NR: usize = Self::LANES * Self::VECS;

    /// The first `left` lanes (all of them from [`Self::LANES`] on).
    fn mask(left: usize) -> Self::Mask;
    fn is_full(mask: Self::Mask) -> bool;
    fn is_empty(mask: Self::Mask) -> bool;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(v: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    /// The live lanes from `p`, zero elsewhere; the others are not read.
    unsafe fn load_masked(mask: Self::Mask, p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Stores the live lanes only.
    unsafe fn store_masked(p: *mut f32, mask: Self::Mask, v: Self::V);
    /// `a * b + c`, rounded once.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Writes the `LANES x LANES` block whose row `i` starts at `row(i)` transposed: row `j`
    /// of `dst` (at `j * dst_stride`) holds element `j` of every row.
    unsafe fn transpose(row: impl Fn(usize) -> *const f32, dst: *mut f32, dst_stride: usize);
}

/// AVX-512F with FMA: 16 lanes, masks in mask registers.
#[derive(Clone, Copy)]
pub(super) struct Avx512;

impl Isa for Avx512 {
    type V = __m512;
    type Mask = __mmask16;
    const LANES: usize = 16;
    const VECS: usize = 4;

    #[inline(always)]
    fn mask(left: usize) -> __mmask16 {
        if left >= 16 {
            0xFFFF
        } else {
            ((1u32 << left) - 1) as __mmask16
        }
    }
    #[inline(always)]
    fn is_full(mask: __mmask16) -> bool {
        mask == 0xFFFF
    }
    #[inline(always)]
    fn is_empty(mask: __mmask16) -> bool {
        mask == 0
    }
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        _mm512_setzero_ps()
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> __m512 {
        _mm512_set1_ps(v)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        _mm512_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn load_masked(mask: __mmask16, p: *const f32) -> __m512 {
        _mm512_maskz_loadu_ps(mask, p)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        _mm512_storeu_ps(p, v);
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, mask: __mmask16, v: __m512) {
        _mm512_mask_storeu_ps(p, mask, v);
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn transpose(row: impl Fn(usize) -> *const f32, dst: *mut f32, dst_stride: usize) {
        transpose16_rows(row, dst, dst_stride);
    }
}

/// AVX2 with FMA: 8 lanes, masks as vectors of all-ones or zero lanes (`vmaskmovps`, which
/// does not read or write the others).
#[derive(Clone, Copy)]
pub(super) struct Avx2;

impl Isa for Avx2 {
    type V = __m256;
    type Mask = (usize, __m256i);
    const LANES: usize = 8;
    const VECS: usize = 2;

    #[inline(always)]
    fn mask(left: usize) -> (usize, __m256i) {
        let live = left.min(8);
        // SAFETY: plain AVX integer arithmetic on registers; the build has AVX2.
        let lanes = unsafe {
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(live as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        };
        (live, lanes)
    }
    #[inline(always)]
    fn is_full(mask: (usize, __m256i)) -> bool {
        mask.0 == 8
    }
    #[inline(always)]
    fn is_empty(mask: (usize, __m256i)) -> bool {
        mask.0 == 0
    }
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        _mm256_setzero_ps()
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> __m256 {
        _mm256_set1_ps(v)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        _mm256_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn load_masked(mask: (usize, __m256i), p: *const f32) -> __m256 {
        _mm256_maskload_ps(p, mask.1)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        _mm256_storeu_ps(p, v);
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, mask: (usize, __m256i), v: __m256) {
        _mm256_maskstore_ps(p, mask.1, v);
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn transpose(row: impl Fn(usize) -> *const f32, dst: *mut f32, dst_stride: usize) {
        transpose8_rows(row, dst, dst_stride);
    }
}

thread_local! {
    /// The packed panels, reused from call to call (the callers' own scratch is lent out
    /// while they multiply).
    static PACKS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Where a product's right operand (`k x n`) comes from.
#[derive(Clone, Copy)]
pub(crate) enum Rhs<'a> {
    /// A strided matrix, packed into panels block by block.
    View(View<'a>),
    /// Row `kk` is `n` floats at `data[offsets[kk]..]`, read in place by the tiles with no
    /// packing: a stride-1 conv's padded input under each kernel tap, which is small enough
    /// to stay in L1 while the tiles pass over it.
    Rows(Shifted<'a>),
    /// Column `j` is `k` floats at `data[offsets[j]..]`, in [`Runs`], packed by transposes:
    /// the same rows read as the columns of the conv's weight gradient.
    Cols(Shifted<'a>, Runs),
}

/// `lhs (m x k)` as the panels [`gemm`] reads: for each block of [`KC`] steps starting at
/// `k0`, every row's panels from `k0 * m.next_multiple_of(MR)` on, as [`pack_lhs`] lays out
/// one block of rows.
pub(super) fn pack_whole(lhs: View<'_>, (m, k): (usize, usize)) -> Vec<f32> {
    let rows = m.next_multiple_of(MR);
    let mut packed = vec![0.0; rows * k];
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        for i0 in (0..m).step_by(MC) {
            let mc = MC.min(m - i0);
            pack_lhs(lhs, (i0, mc), (k0, kc), &mut packed[k0 * rows + i0 * kc..]);
        }
    }
    packed
}

/// `dst (m x n) = lhs (m x k) * rhs (k x n)`, or `+=` when `accumulate`, row `i` of `dst`
/// starting at `i * dst_stride`, on AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F and FMA (`simd::avx512_kernels`); `dst` must hold the
/// `m x n` matrix at that stride, and the operands their matrices (the caller checks both;
/// a packed `lhs` must come from [`pack_whole`] for these `m` and `k`).
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn gemm(
    dims: (usize, usize, usize),
    dst: (&mut [f32], usize),
    accumulate: bool,
    lhs: Lhs<'_>,
    rhs: Rhs<'_>,
) {
    blocked::<Avx512>(dims, dst, accumulate, lhs, rhs);
}

/// [`gemm`] on AVX2: the same sums in the same order, so the same bits.
///
/// # Safety
/// As [`gemm`], with AVX2 and FMA for AVX-512F (`simd::avx2_product`).
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gemm_avx2(
    dims: (usize, usize, usize),
    dst: (&mut [f32], usize),
    accumulate: bool,
    lhs: Lhs<'_>,
    rhs: Rhs<'_>,
) {
    blocked::<Avx2>(dims, dst, accumulate, lhs, rhs);
}

/// The product for the vector instructions of `I`.
///
/// # Safety
/// As [`gemm`], for the features of `I`.
#[inline(always)]
unsafe fn blocked<I: Isa>(
    (m, n, k): (usize, usize, usize),
    (dst, dst_stride): (&mut [f32], usize),
    accumulate: bool,
    lhs: Lhs<'_>,
    rhs: Rhs<'_>,
) {
    let a_len = MC.div_ceil(MR) * MR * KC;
    let b_len = NC.div_ceil(I::NR) * I::NR * KC;
    // Taken out of the thread's slot, not borrowed in a closure: a closure is compiled
    // without the entry point's target features, and with it every intrinsic below was a
    // call. A product nested in another (none is) would find the slot empty and allocate.
    let mut buf = PACKS.with(RefCell::take);
    if buf.len() < a_len + b_len {
        buf.resize(a_len + b_len, 0.0);
    }
    {
        let (packed_a, packed_b) = buf.split_at_mut(a_len);
        for j0 in (0..n).step_by(NC) {
            let nc = NC.min(n - j0);
            for k0 in (0..k).step_by(KC) {
                let kc = KC.min(k - k0);
                match rhs {
                    Rhs::View(view) => pack_rhs::<I>(view, (k0, kc), (j0, nc), packed_b),
                    Rhs::Cols(cols, runs) => {
                        pack_cols::<I>(cols, runs, (k0, kc), (j0, nc), packed_b);
                    }
                    Rhs::Rows(_) => {}
                }
                let load = accumulate || k0 > 0;
                for i0 in (0..m).step_by(MC) {
                    let mc = MC.min(m - i0);
                    let a = match lhs {
                        Lhs::View(view) => {
                            pack_lhs(view, (i0, mc), (k0, kc), packed_a);
                            packed_a.as_ptr()
                        }
                        Lhs::Packed(panels) => {
                            panels.as_ptr().add(k0 * m.next_multiple_of(MR) + i0 * kc)
                        }
                    };
                    for jr in (0..nc).step_by(I::NR) {
                        let masks = col_masks::<I>(nc - jr);
                        for ir in (0..mc).step_by(MR) {
                            let at = (i0 + ir) * dst_stride + j0 + jr;
                            let tile = Tile {
                                a: a.add(ir * kc),
                                kc,
                                dst: dst.as_mut_ptr().add(at),
                                dst_stride,
                                masks,
                                load,
                            };
                            let rows = mc - ir;
                            match rhs {
                                Rhs::Rows(shifted) => {
                                    let b = InPlace {
                                        data: shifted.data.as_ptr().add(j0 + jr),
                                        offsets: shifted.offsets.as_ptr().add(k0),
                                        masks,
                                    };
                                    tile.run_rows::<I>(rows, b);
                                }
                                _ => {
                                    let b = Packed(packed_b.as_ptr().add(jr * kc));
                                    tile.run_rows::<I>(rows, b);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    PACKS.with(|cell| cell.replace(buf));
}

/// Copies `lhs[i0..i0 + mc, k0..k0 + kc]` into panels of [`MR`] rows, each `kc` steps of
/// `MR` values (`packed[(ir * kc) + kk * MR + r]` for the tile at row `ir`), rows past the
/// end zero.
#[inline(always)]
fn pack_lhs(lhs: View<'_>, (i0, mc): (usize, usize), (k0, kc): (usize, usize), packed: &mut [f32]) {
    for ir in (0..mc).step_by(MR) {
        let rows = MR.min(mc - ir);
        let panel = &mut packed[ir * kc..][..kc * MR];
        if lhs.col_stride == 1 {
            // Row-major: read each row along, write it down the panel.
            for r in 0..MR {
                if r < rows {
                    let row = &lhs.data[(i0 + ir + r) * lhs.row_stride + k0..][..kc];
                    for (kk, &v) in row.iter().enumerate() {
                        panel[kk * MR + r] = v;
                    }
                } else {
                    (0..kc).for_each(|kk| panel[kk * MR + r] = 0.0);
                }
            }
        } else {
            for (kk, step) in panel.chunks_exact_mut(MR).enumerate() {
                for (r, v) in step.iter_mut().enumerate() {
                    *v = if r < rows {
                        lhs.at(i0 + ir + r, k0 + kk)
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// Copies `rhs[k0..k0 + kc, j0..j0 + nc]` into panels of [`Isa::NR`] columns, each `kc`
/// rows of `NR` values (`packed[jr * kc + kk * NR + c]` for the panel at column `jr`),
/// columns past the end zero.
#[inline(always)]
fn pack_rhs<I: Isa>(
    rhs: View<'_>,
    (k0, kc): (usize, usize),
    (j0, nc): (usize, usize),
    packed: &mut [f32],
) {
    let nr = I::NR;
    for jr in (0..nc).step_by(nr) {
        let cols = nr.min(nc - jr);
        let panel = &mut packed[jr * kc..][..kc * nr];
        if rhs.col_stride == 1 {
            for (kk, row) in panel.chunks_exact_mut(nr).enumerate() {
                let src = &rhs.data[(k0 + kk) * rhs.row_stride + j0 + jr..][..cols];
                row[..cols].copy_from_slice(src);
                // Zeros up to the last vector a tile reads (`Tile::run_rows`).
                row[cols..cols.next_multiple_of(I::LANES)].fill(0.0);
            }
        } else if rhs.row_stride == 1 {
            // Column-major (a transposed view): transposed in registers. Copied value by
            // value, the columns cost the conv's weight gradient more than its arithmetic.
            let first = (j0 + jr) * rhs.col_stride + k0;
            transpose_columns::<I>(rhs.data, |c| first + c * rhs.col_stride, (kc, cols), panel);
        } else {
            // Any other strides: read each column along.
            for c in 0..nr {
                if c < cols {
                    let col = &rhs.data[(j0 + jr + c) * rhs.col_stride + k0 * rhs.row_stride..];
                    for kk in 0..kc {
                        panel[kk * nr + c] = col[kk * rhs.row_stride];
                    }
                } else {
                    (0..kc).for_each(|kk| panel[kk * nr + c] = 0.0);
                }
            }
        }
    }
}

/// [`pack_rhs`] for [`Rhs::Cols`]: column `j` at `data[offsets[j]..]`, transposed into the
/// panels a square of vectors at a time, a piece per run that the block's steps fall in.
#[inline(always)]
fn pack_cols<I: Isa>(
    cols: Shifted<'_>,
    runs: Runs,
    (k0, kc): (usize, usize),
    (j0, nc): (usize, usize),
    packed: &mut [f32],
) {
    for jr in (0..nc).step_by(I::NR) {
        let width = I::NR.min(nc - jr);
        let panel = &mut packed[jr * kc..][..kc * I::NR];
        let starts = &cols.offsets[j0 + jr..][..width];
        let mut kk = 0;
        while kk < kc {
            let (run, within) = ((k0 + kk) / runs.len, (k0 + kk) % runs.len);
            let len = (runs.len - within).min(kc - kk);
            let first = run * runs.stride + within;
            let piece = &mut panel[kk * I::NR..];
            transpose_columns::<I>(cols.data, |c| starts[c] + first, (len, width), piece);
            kk += len;
        }
    }
}

/// Writes `width` columns of `kc` floats, column `c` at `data[start(c)..]`, as the rows of a
/// panel (`panel[kk * NR + c]`), columns past `width` zero: squares of `LANES x LANES` in
/// registers, the edges one by one.
#[inline(always)]
fn transpose_columns<I: Isa>(
    data: &[f32],
    start: impl Fn(usize) -> usize,
    (kc, width): (usize, usize),
    panel: &mut [f32],
) {
    let (lanes, nr) = (I::LANES, I::NR);
    for kb in (0..kc).step_by(lanes) {
        // Only the vectors a tile reads (`Tile::run_rows`).
        for cb in (0..width.next_multiple_of(lanes)).step_by(lanes) {
            let dst = &mut panel[kb * nr + cb..];
            if kb + lanes <= kc && cb + lanes <= width {
                let rows: [&[f32]; 16] = std::array::from_fn(|c| {
                    if c < lanes {
                        &data[start(cb + c) + kb..][..lanes]
                    } else {
                        &[]
                    }
                });
                assert!(dst.len() > (lanes - 1) * nr + lanes - 1);
                // SAFETY: the features of `I` (the caller's contract); each row holds `lanes`
                // floats and the panel `lanes` rows (the slices and the assert).
                unsafe {
                    I::transpose(|c| rows[c].as_ptr(), dst.as_mut_ptr(), nr);
                }
                continue;
            }
            for kk in 0..lanes.min(kc - kb) {
                for c in 0..lanes {
                    dst[kk * nr + c] = if cb + c < width {
                        data[start(cb + c) + kb + kk]
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// The masks of the tile's vectors when `left` columns remain (at most four vectors).
#[inline(always)]
fn col_masks<I: Isa>(left: usize) -> [I::Mask; 4] {
    std::array::from_fn(|v| I::mask(left.saturating_sub(v * I::LANES)))
}

/// One register tile: the packed `lhs` panel `a` (`kc` steps of [`MR`]) against `kc` rows of
/// `rhs` ([`PanelRows`]), its results at `dst`.
struct Tile<M> {
    a: *const f32,
    kc: usize,
    dst: *mut f32,
    dst_stride: usize,
    masks: [M; 4],
    /// Whether the sums start from what `dst` holds (else from zero).
    load: bool,
}

/// The `rhs` rows a tile reads: each `kc` step, [`Isa::NR`] floats from [`PanelRows::row`].
trait PanelRows<I: Isa>: Copy {
    /// Where row `kk` starts.
    ///
    /// # Safety
    /// `kk` is below the tile's `kc`.
    unsafe fn row(self, kk: usize) -> *const f32;
    /// Vector `v` of row `row`: all of it from a zero-padded panel, only the tile's live
    /// columns of a row read in place.
    ///
    /// # Safety
    /// The features of `I`; `row` from [`PanelRows::row`].
    unsafe fn load(self, row: *const f32, v: usize) -> I::V;
}

/// A packed panel: rows of [`Isa::NR`] one after another, zero past the matrix.
#[derive(Clone, Copy)]
struct Packed(*const f32);

impl<I: Isa> PanelRows<I> for Packed {
    #[inline(always)]
    unsafe fn row(self, kk: usize) -> *const f32 {
        self.0.add(kk * I::NR)
    }

    #[inline(always)]
    unsafe fn load(self, row: *const f32, v: usize) -> I::V {
        I::load(row.add(v * I::LANES))
    }
}

/// Rows of [`Rhs::Rows`] read in place: row `kk` at `data + offsets[kk]`.
#[derive(Clone, Copy)]
struct InPlace<M> {
    data: *const f32,
    offsets: *const usize,
    masks: [M; 4],
}

impl<I: Isa> PanelRows<I> for InPlace<I::Mask> {
    #[inline(always)]
    unsafe fn row(self, kk: usize) -> *const f32 {
        self.data.add(*self.offsets.add(kk))
    }

    #[inline(always)]
    unsafe fn load(self, row: *const f32, v: usize) -> I::V {
        // A masked-off lane is not read, so a vector past the row's end only forms its
        // address.
        I::load_masked(self.masks[v], row.wrapping_add(v * I::LANES))
    }
}

impl<M: Copy> Tile<M> {
    /// The tile for its first `rows` rows (at most [`MR`]) and the vectors its live columns
    /// need (`self.masks`): a product 144 columns wide computes 9 vectors, not 12.
    ///
    /// # Safety
    /// As [`Self::run`].
    #[inline(always)]
    unsafe fn run_rows<I: Isa<Mask = M>>(&self, rows: usize, b: impl PanelRows<I>) {
        let vectors = self.masks[..I::VECS]
            .iter()
            .take_while(|&&m| !I::is_empty(m))
            .count();
        match vectors {
            1 => self.run_vectors::<I, 1>(rows, b),
            2 => self.run_vectors::<I, 2>(rows, b),
            3 => self.run_vectors::<I, 3>(rows, b),
            _ => self.run_vectors::<I, 4>(rows, b),
        }
    }

    #[inline(always)]
    unsafe fn run_vectors<I: Isa<Mask = M>, const V: usize>(
        &self,
        rows: usize,
        b: impl PanelRows<I>,
    ) {
        match rows {
            1 => self.run::<I, 1, V>(b),
            2 => self.run::<I, 2, V>(b),
            3 => self.run::<I, 3, V>(b),
            4 => self.run::<I, 4, V>(b),
            5 => self.run::<I, 5, V>(b),
            _ => self.run::<I, 6, V>(b),
        }
    }

    /// The tile for its first `R` rows and `V` vectors of columns.
    ///
    /// # Safety
    /// The features of `I`; the panels hold `kc` steps; `dst` holds `R` rows of the lanes
    /// the masks enable, all within the first `V` vectors.
    #[inline(always)]
    unsafe fn run<I: Isa<Mask = M>, const R: usize, const V: usize>(&self, b: impl PanelRows<I>) {
        let mut acc = [[I::zero(); V]; R];
        if self.load {
            for (r, acc) in acc.iter_mut().enumerate() {
                let row = self.dst.add(r * self.dst_stride);
                *acc = std::array::from_fn(|v| {
                    let p = row.wrapping_add(v * I::LANES);
                    if I::is_full(self.masks[v]) {
                        I::load(p)
                    } else {
                        I::load_masked(self.masks[v], p)
                    }
                });
            }
        }
        for kk in 0..self.kc {
            let row = b.row(kk);
            let bv: [I::V; V] = std::array::from_fn(|v| b.load(row, v));
            let a = self.a.add(kk * MR);
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = I::splat(*a.add(r));
                for v in 0..V {
                    acc[v] = I::fmadd(av, bv[v], acc[v]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let row = self.dst.add(r * self.dst_stride);
            for (v, (&mask, &acc)) in self.masks.iter().zip(acc).enumerate() {
                let p = row.wrapping_add(v * I::LANES);
                if I::is_full(mask) {
                    I::store(p, acc);
                } else {
                    I::store_masked(p, mask, acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::reference::random;

    use crate::ops::reference::builds;

    /// The product on the AVX-512 build (`wide`) or the AVX2 one.
    ///
    /// # Safety
    /// As [`gemm`]; the CPU runs the build (`builds`).
    unsafe fn build_product(
        wide: bool,
        dims: (usize, usize, usize),
        dst: (&mut [f32], usize),
        accumulate: bool,
        lhs: Lhs<'_>,
        rhs: Rhs<'_>,
    ) {
        if wide {
            gemm(dims, dst, accumulate, lhs, rhs);
        } else {
            gemm_avx2(dims, dst, accumulate, lhs, rhs);
        }
    }

    fn product(
        wide: bool,
        (m, n, k): (usize, usize, usize),
        accumulate: bool,
        lhs: View<'_>,
        rhs: View<'_>,
        start: &[f32],
    ) -> Vec<f32> {
        let mut dst = start.to_vec();
        // SAFETY: the caller took `wide` from `builds`; `dst` is `m x n`.
        unsafe {
            build_product(
                wide,
                (m, n, k),
                (&mut dst, n),
                accumulate,
                Lhs::View(lhs),
                Rhs::View(rhs),
            );
        };
        dst
    }

    /// Past every block size (rows past `MC`, columns past `NC`, inner dimension past `KC`),
    /// with tails in each, in every layout of the operands: the definition, to f32's rounding
    /// of sums of `k` terms.
    #[test]
    fn matches_the_definition_across_blocks_and_layouts() {
        for (wide, (m, n, k)) in builds().into_iter().flat_map(|wide| {
            [
                (1, 1, 1),
                (7, 65, 3),
                (MC + 5, NC + 70, KC + 9),
                (13, 130, 600),
            ]
            .map(|dims| (wide, dims))
        }) {
            let (a, b) = (random(m * k, 1), random(k * n, 2));
            let start = random(m * n, 3);
            let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
            for (lhs, rhs) in [
                (View::rows(&a, k), View::rows(&b, n)),
                (View::transposed(&at, m), View::transposed(&bt, k)),
            ] {
                for accumulate in [false, true] {
                    let got = product(wide, (m, n, k), accumulate, lhs, rhs, &start);
                    for i in 0..m {
                        for j in 0..n {
                            let mut want = if accumulate {
                                f64::from(start[i * n + j])
                            } else {
                                0.0
                            };
                            for kk in 0..k {
                                want += f64::from(a[i * k + kk]) * f64::from(b[kk * n + j]);
                            }
                            let got = f64::from(got[i * n + j]);
                            assert!(
                                (got - want).abs() < 1e-5 * (k as f64).sqrt() * (1.0 + want.abs()),
                                "{m}x{n}x{k} at ({i}, {j}), AVX-512 {wide}: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Each element is summed in an order fixed by `k` alone: a product cut into row and
    /// column pieces, as callers cut by samples and threads, gives the same bits as whole.
    #[test]
    fn any_cut_of_the_product_gives_the_same_bits() {
        for wide in builds() {
            cut_gives_the_same_bits(wide);
        }
    }

    fn cut_gives_the_same_bits(wide: bool) {
        let (m, n, k) = (MC + 11, NC + 33, 2 * KC + 5);
        let (a, b) = (random(m * k, 4), random(k * n, 5));
        let whole = product(
            wide,
            (m, n, k),
            false,
            View::rows(&a, k),
            View::rows(&b, n),
            &vec![0.0; m * n],
        );
        let (rows, cols) = (7, 100);
        let mut cut = vec![0.0; m * n];
        for i0 in (0..m).step_by(rows) {
            for j0 in (0..n).step_by(cols) {
                let (mi, nj) = (rows.min(m - i0), cols.min(n - j0));
                let lhs = View::rows(&a[i0 * k..], k);
                let rhs = View::rows(&b[j0..], n);
                // SAFETY: as in `product`; the block lies inside `cut`.
                unsafe {
                    build_product(
                        wide,
                        (mi, nj, k),
                        (&mut cut[i0 * n + j0..], n),
                        false,
                        Lhs::View(lhs),
                        Rhs::View(rhs),
                    );
                }
            }
        }
        assert!(whole
            .iter()
            .zip(&cut)
            .all(|(w, c)| w.to_bits() == c.to_bits()));
    }

    /// An operand packed once (`pack_whole`) gives the bits of the same operand packed by
    /// the product, past every block size and with tails.
    #[test]
    fn a_packed_lhs_gives_the_bits_of_a_view() {
        for (wide, (m, n, k)) in builds().into_iter().flat_map(|wide| {
            [
                (1, 1, 1),
                (13, 70, 300),
                (2 * MC + 5, 3, KC * 2 + 7),
                (64, 80, 576),
            ]
            .map(|dims| (wide, dims))
        }) {
            let a = random(m * k, 1);
            let b = random(k * n, 2);
            let start = random(m * n, 3);
            for accumulate in [false, true] {
                let view = product(
                    wide,
                    (m, n, k),
                    accumulate,
                    View::rows(&a, k),
                    View::rows(&b, n),
                    &start,
                );
                let panels = pack_whole(View::rows(&a, k), (m, k));
                let mut packed = start.clone();
                // SAFETY: as in `product`; `panels` was packed for `m` and `k`.
                unsafe {
                    build_product(
                        wide,
                        (m, n, k),
                        (&mut packed, n),
                        accumulate,
                        Lhs::Packed(&panels),
                        Rhs::View(View::rows(&b, n)),
                    );
                }
                assert!(
                    view.iter()
                        .zip(&packed)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{m}x{n}x{k}, accumulate {accumulate}, AVX-512 {wide}"
                );
            }
        }
    }

    /// The AVX2 build gives the bits of the AVX-512 one on every kind of operand: views in
    /// both layouts, a packed `lhs`, rows read in place and columns in runs, with tails of
    /// rows and columns and more than one block of the inner dimension.
    #[test]
    fn the_avx2_build_gives_the_bits_of_the_avx512_build() {
        if builds() != [true, false] {
            return;
        }
        let (m, n, k) = (MC + 7, 2 * 64 + 21, KC + 37);
        let a = random(m * k, 6);
        let data = random(k * n + 64, 7);
        let start = random(m * n, 8);
        // Row `kk` at `3 * kk`: rows overlap, as a padded input's taps do.
        let row_offsets: Vec<usize> = (0..k).map(|kk| 3 * kk).collect();
        // Column `j` at `j`, in runs of `k / 5` (k is a multiple of 5 here), 40 apart.
        let runs = Runs {
            len: k / 5,
            stride: k / 5 + 40,
        };
        assert_eq!(k % 5, 0);
        let col_offsets: Vec<usize> = (0..n).collect();
        let packed = pack_whole(View::rows(&a, k), (m, k));
        let each = |wide: bool, rhs: Rhs<'_>, lhs: Lhs<'_>| {
            let mut dst = start.clone();
            // SAFETY: both builds run here (`builds`); the operands hold their matrices.
            unsafe { build_product(wide, (m, n, k), (&mut dst, n), true, lhs, rhs) };
            dst.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        let rows = Shifted {
            data: &data,
            offsets: &row_offsets,
        };
        let cols = Shifted {
            data: &data,
            offsets: &col_offsets,
        };
        let cases: [(&str, Rhs<'_>, Lhs<'_>); 4] = [
            (
                "view",
                Rhs::View(View::rows(&data, n)),
                Lhs::View(View::rows(&a, k)),
            ),
            (
                "transposed view",
                Rhs::View(View::transposed(&data, k)),
                Lhs::Packed(&packed),
            ),
            ("rows in place", Rhs::Rows(rows), Lhs::Packed(&packed)),
            (
                "columns in runs",
                Rhs::Cols(cols, runs),
                Lhs::View(View::rows(&a, k)),
            ),
        ];
        for (what, rhs, lhs) in cases {
            assert!(each(true, rhs, lhs) == each(false, rhs, lhs), "{what}");
        }
    }

    fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut t = vec![0.0; v.len()];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = v[i * cols + j];
            }
        }
        t
    }
}
