//! The matrix product on CPUs with AVX-512F and FMA, in place of the `gemm` crate (whose
//! AVX-512 kernels need a nightly compiler, so its stable build runs 8-wide AVX2).
//!
//! It is the usual blocked product (Goto's, as BLIS and OpenBLAS do it): the inner dimension
//! is cut into blocks of [`KC`], and for each block a slab of `rhs` ([`NC`] columns) and of
//! `lhs` ([`MC`] rows) are copied into packed panels, so that the register tile, [`MR`] rows by
//! [`NR`] columns of the result in 24 registers, reads both operands contiguously whatever
//! their strides: per step of the inner dimension it loads one 64-wide row of the `rhs` panel
//! (four vectors) and broadcasts one value per row of the `lhs` panel, for 24 fused
//! multiply-adds. Tails are zero-padded in the panels and masked at the store.
//!
//! Every result element is summed in one fixed order: the inner dimension ascending, one
//! fused multiply-add chain per block of [`KC`] starting from the stored value. The order
//! depends on `k` only, never on `m`, `n`, the operands' layout or the thread, so results are
//! the same however a caller cuts its products.

use std::arch::x86_64::{
    __m512, __mmask16, _mm512_fmadd_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
    _mm512_set1_ps, _mm512_setzero_ps,
};
use std::cell::RefCell;

use super::{Lhs, Runs, Shifted, View};
use crate::ops::cpu::transpose::transpose16_rows;

/// Rows of the register tile.
const MR: usize = 6;
/// Columns of the register tile: four vectors of 16.
const NR: usize = 64;
const LANES: usize = 16;
/// The inner dimension per block. A tile's `rhs` panel (128 x 64 floats, 32 KiB) stays in
/// L1 while every tile of the `lhs` block passes over it, each streaming its own small panel
/// (6 x 128 floats) from L2. At 256 the panel (64 KiB) overflowed L1 and was read from L2 once
/// per tile, a row per 24 multiply-adds: products of a long inner dimension ran at 61 GFLOP/s
/// on one core instead of 75 (`timing_products`, 64 x 128 x 768). The block size changes no
/// bit: each element's chain of multiply-adds goes on from the stored value.
const KC: usize = 128;
/// Rows of `lhs` packed at a time: 96 x 128 floats (48 KiB), in L2 while every panel of the
/// `rhs` slab passes it.
const MC: usize = 96;
/// Columns of `rhs` packed at a time: 128 x 512 floats (256 KiB), in L2 beside the `lhs`
/// block.
const NC: usize = 512;

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
/// starting at `i * dst_stride`.
///
/// # Safety
/// The CPU must support AVX-512F and FMA (`simd::avx512_kernels`); `dst` must hold the
/// `m x n` matrix at that stride, and the operands their matrices (the caller checks both;
/// a packed `lhs` must come from [`pack_whole`] for these `m` and `k`).
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn gemm(
    (m, n, k): (usize, usize, usize),
    (dst, dst_stride): (&mut [f32], usize),
    accumulate: bool,
    lhs: Lhs<'_>,
    rhs: Rhs<'_>,
) {
    let a_len = MC.div_ceil(MR) * MR * KC;
    let b_len = NC.div_ceil(NR) * NR * KC;
    PACKS.with(|cell| {
        let mut fresh = Vec::new();
        let mut lent = cell.try_borrow_mut();
        let buf = match &mut lent {
            Ok(buf) => &mut **buf,
            Err(_) => &mut fresh,
        };
        if buf.len() < a_len + b_len {
            buf.resize(a_len + b_len, 0.0);
        }
        let (packed_a, packed_b) = buf.split_at_mut(a_len);
        for j0 in (0..n).step_by(NC) {
            let nc = NC.min(n - j0);
            for k0 in (0..k).step_by(KC) {
                let kc = KC.min(k - k0);
                match rhs {
                    Rhs::View(view) => pack_rhs(view, (k0, kc), (j0, nc), packed_b),
                    Rhs::Cols(cols, runs) => pack_cols(cols, runs, (k0, kc), (j0, nc), packed_b),
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
                    for jr in (0..nc).step_by(NR) {
                        let masks = col_masks(nc - jr);
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
                                    tile.run_rows(rows, b);
                                }
                                _ => tile.run_rows(rows, Packed(packed_b.as_ptr().add(jr * kc))),
                            }
                        }
                    }
                }
            }
        }
    });
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

/// Copies `rhs[k0..k0 + kc, j0..j0 + nc]` into panels of [`NR`] columns, each `kc` rows of
/// `NR` values (`packed[jr * kc + kk * NR + c]` for the panel at column `jr`), columns past
/// the end zero.
#[inline(always)]
fn pack_rhs(rhs: View<'_>, (k0, kc): (usize, usize), (j0, nc): (usize, usize), packed: &mut [f32]) {
    for jr in (0..nc).step_by(NR) {
        let cols = NR.min(nc - jr);
        let panel = &mut packed[jr * kc..][..kc * NR];
        if rhs.col_stride == 1 {
            for (kk, row) in panel.chunks_exact_mut(NR).enumerate() {
                let src = &rhs.data[(k0 + kk) * rhs.row_stride + j0 + jr..][..cols];
                row[..cols].copy_from_slice(src);
                // Zeros up to the last vector a tile reads (`Tile::run_rows`).
                row[cols..cols.next_multiple_of(LANES)].fill(0.0);
            }
        } else if rhs.row_stride == 1 {
            // Column-major (a transposed view): transposed in registers. Copied value by
            // value, the columns cost the conv's weight gradient more than its arithmetic.
            let first = (j0 + jr) * rhs.col_stride + k0;
            transpose_columns(rhs.data, |c| first + c * rhs.col_stride, (kc, cols), panel);
        } else {
            // Any other strides: read each column along.
            for c in 0..NR {
                if c < cols {
                    let col = &rhs.data[(j0 + jr + c) * rhs.col_stride + k0 * rhs.row_stride..];
                    for kk in 0..kc {
                        panel[kk * NR + c] = col[kk * rhs.row_stride];
                    }
                } else {
                    (0..kc).for_each(|kk| panel[kk * NR + c] = 0.0);
                }
            }
        }
    }
}

/// [`pack_rhs`] for [`Rhs::Cols`]: column `j` at `data[offsets[j]..]`, transposed into the
/// panels 16 x 16 at a time, a piece per run that the block's steps fall in.
#[inline(always)]
fn pack_cols(
    cols: Shifted<'_>,
    runs: Runs,
    (k0, kc): (usize, usize),
    (j0, nc): (usize, usize),
    packed: &mut [f32],
) {
    for jr in (0..nc).step_by(NR) {
        let width = NR.min(nc - jr);
        let panel = &mut packed[jr * kc..][..kc * NR];
        let starts = &cols.offsets[j0 + jr..][..width];
        let mut kk = 0;
        while kk < kc {
            let (run, within) = ((k0 + kk) / runs.len, (k0 + kk) % runs.len);
            let len = (runs.len - within).min(kc - kk);
            let first = run * runs.stride + within;
            let piece = &mut panel[kk * NR..];
            transpose_columns(cols.data, |c| starts[c] + first, (len, width), piece);
            kk += len;
        }
    }
}

/// Writes `width` columns of `kc` floats, column `c` at `data[start(c)..]`, as the rows of a
/// panel (`panel[kk * NR + c]`), columns past `width` zero: 16 x 16 blocks in registers, the
/// edges one by one.
#[inline(always)]
fn transpose_columns(
    data: &[f32],
    start: impl Fn(usize) -> usize,
    (kc, width): (usize, usize),
    panel: &mut [f32],
) {
    for kb in (0..kc).step_by(LANES) {
        // Only the vectors a tile reads (`Tile::run_rows`).
        for cb in (0..width.next_multiple_of(LANES)).step_by(LANES) {
            let dst = &mut panel[kb * NR + cb..];
            if kb + LANES <= kc && cb + LANES <= width {
                let rows: [&[f32]; LANES] =
                    std::array::from_fn(|c| &data[start(cb + c) + kb..][..LANES]);
                assert!(dst.len() > 15 * NR + 15);
                // SAFETY: AVX-512F (the caller's contract); each row holds 16 floats and the
                // panel 16 rows (the slices and the assert).
                unsafe {
                    transpose16_rows(|c| rows[c].as_ptr(), dst.as_mut_ptr(), NR);
                }
                continue;
            }
            for kk in 0..LANES.min(kc - kb) {
                for c in 0..LANES {
                    dst[kk * NR + c] = if cb + c < width {
                        data[start(cb + c) + kb + kk]
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// The masks of the tile's four vectors when `left` columns remain.
#[inline(always)]
fn col_masks(left: usize) -> [__mmask16; 4] {
    std::array::from_fn(|v| {
        let left = left.saturating_sub(v * LANES);
        if left >= LANES {
            0xFFFF
        } else {
            ((1u32 << left) - 1) as __mmask16
        }
    })
}

/// One register tile: the packed `lhs` panel `a` (`kc` steps of [`MR`]) against `kc` rows of
/// `rhs` ([`PanelRows`]), its results at `dst`.
struct Tile {
    a: *const f32,
    kc: usize,
    dst: *mut f32,
    dst_stride: usize,
    masks: [__mmask16; 4],
    /// Whether the sums start from what `dst` holds (else from zero).
    load: bool,
}

/// The `rhs` rows a tile reads: each `kc` step, [`NR`] floats from [`PanelRows::row`].
trait PanelRows: Copy {
    /// Where row `kk` starts.
    ///
    /// # Safety
    /// `kk` is below the tile's `kc`.
    unsafe fn row(self, kk: usize) -> *const f32;
    /// The lanes of vector `v` to read: all of a zero-padded panel, only the tile's live
    /// columns of a row read in place.
    fn mask(self, v: usize) -> __mmask16;
}

/// A packed panel: rows of [`NR`] one after another, zero past the matrix.
#[derive(Clone, Copy)]
struct Packed(*const f32);

impl PanelRows for Packed {
    #[inline(always)]
    unsafe fn row(self, kk: usize) -> *const f32 {
        self.0.add(kk * NR)
    }

    #[inline(always)]
    fn mask(self, _: usize) -> __mmask16 {
        0xFFFF
    }
}

/// Rows of [`Rhs::Rows`] read in place: row `kk` at `data + offsets[kk]`.
#[derive(Clone, Copy)]
struct InPlace {
    data: *const f32,
    offsets: *const usize,
    masks: [__mmask16; 4],
}

impl PanelRows for InPlace {
    #[inline(always)]
    unsafe fn row(self, kk: usize) -> *const f32 {
        self.data.add(*self.offsets.add(kk))
    }

    #[inline(always)]
    fn mask(self, v: usize) -> __mmask16 {
        self.masks[v]
    }
}

impl Tile {
    /// The tile for its first `rows` rows (at most [`MR`]) and the vectors its live columns
    /// need (`self.masks`): a product 144 columns wide computes 9 vectors, not 12.
    ///
    /// # Safety
    /// As [`Self::run`].
    #[inline(always)]
    unsafe fn run_rows(&self, rows: usize, b: impl PanelRows) {
        match self.masks.iter().take_while(|&&m| m != 0).count() {
            1 => self.run_vectors::<1>(rows, b),
            2 => self.run_vectors::<2>(rows, b),
            3 => self.run_vectors::<3>(rows, b),
            _ => self.run_vectors::<4>(rows, b),
        }
    }

    #[inline(always)]
    unsafe fn run_vectors<const V: usize>(&self, rows: usize, b: impl PanelRows) {
        match rows {
            1 => self.run::<1, V>(b),
            2 => self.run::<2, V>(b),
            3 => self.run::<3, V>(b),
            4 => self.run::<4, V>(b),
            5 => self.run::<5, V>(b),
            _ => self.run::<6, V>(b),
        }
    }

    /// The tile for its first `R` rows and `V` vectors of columns.
    ///
    /// # Safety
    /// AVX-512F and FMA; the panels hold `kc` steps; `dst` holds `R` rows of the lanes the
    /// masks enable, all within the first `V` vectors.
    #[inline(always)]
    unsafe fn run<const R: usize, const V: usize>(&self, b: impl PanelRows) {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        if self.load {
            for (r, acc) in acc.iter_mut().enumerate() {
                let row = self.dst.add(r * self.dst_stride);
                *acc = std::array::from_fn(|v| {
                    _mm512_maskz_loadu_ps(self.masks[v], row.wrapping_add(v * LANES))
                });
            }
        }
        for kk in 0..self.kc {
            let row = b.row(kk);
            // A masked-off lane is not read, so a vector past the row's end only forms its
            // address.
            let bv: [__m512; V] = std::array::from_fn(|v| {
                _mm512_maskz_loadu_ps(b.mask(v), row.wrapping_add(v * LANES))
            });
            let a = self.a.add(kk * MR);
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a.add(r));
                for v in 0..V {
                    acc[v] = _mm512_fmadd_ps(av, bv[v], acc[v]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let row = self.dst.add(r * self.dst_stride);
            for (v, (&mask, &acc)) in self.masks.iter().zip(acc).enumerate() {
                _mm512_mask_storeu_ps(row.wrapping_add(v * LANES), mask, acc);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::reference::random;

    fn product(
        (m, n, k): (usize, usize, usize),
        accumulate: bool,
        lhs: View<'_>,
        rhs: View<'_>,
        start: &[f32],
    ) -> Vec<f32> {
        let mut dst = start.to_vec();
        // SAFETY: checked by the caller's `avx512_kernels`; `dst` is `m x n`.
        unsafe {
            gemm(
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
        if !crate::ops::cpu::simd::avx512_kernels() {
            return;
        }
        for (m, n, k) in [
            (1, 1, 1),
            (7, 65, 3),
            (MC + 5, NC + 70, KC + 9),
            (13, 130, 600),
        ] {
            let (a, b) = (random(m * k, 1), random(k * n, 2));
            let start = random(m * n, 3);
            let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
            for (lhs, rhs) in [
                (View::rows(&a, k), View::rows(&b, n)),
                (View::transposed(&at, m), View::transposed(&bt, k)),
            ] {
                for accumulate in [false, true] {
                    let got = product((m, n, k), accumulate, lhs, rhs, &start);
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
                                "{m}x{n}x{k} at ({i}, {j}): {got} vs {want}"
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
        if !crate::ops::cpu::simd::avx512_kernels() {
            return;
        }
        let (m, n, k) = (MC + 11, NC + 33, 2 * KC + 5);
        let (a, b) = (random(m * k, 4), random(k * n, 5));
        let whole = product(
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
                    gemm(
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
        if !crate::ops::cpu::simd::avx512_kernels() {
            return;
        }
        for (m, n, k) in [
            (1, 1, 1),
            (13, 70, 300),
            (2 * MC + 5, 3, KC * 2 + 7),
            (64, 80, 576),
        ] {
            let a = random(m * k, 1);
            let b = random(k * n, 2);
            let start = random(m * n, 3);
            for accumulate in [false, true] {
                let view = product(
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
                    gemm(
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
                    "{m}x{n}x{k}, accumulate {accumulate}"
                );
            }
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
