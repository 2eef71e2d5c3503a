//! The dense layer's AVX-512 kernels: register-tiled products with fused multiply-add.
//!
//! Every product is an outer-product loop: a tile of up to [`ROWS`] rows by 64 columns (four
//! 16-wide vectors) of the result stays in registers while the inner dimension runs, each step
//! broadcasting one value per row against four vectors of a contiguous row. That keeps 24
//! accumulators and 4 operands in the 32 vector registers and needs one load per two
//! multiply-adds.
//!
//! Each result element is summed by one call in a fixed order (the inner dimension ascending,
//! in blocks for the forward pass, over the range it is given), so results do not depend on
//! the thread count.
//!
//! Column and inner-dimension tails use masked loads and stores. A masked-off lane does not
//! touch memory, so operand pointers past a row's end are formed with `wrapping_add` and only
//! ever used with a mask that excludes them.

use std::arch::x86_64::{
    __m512, __mmask16, _mm512_add_ps, _mm512_fmadd_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_max_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm_prefetch,
    _MM_HINT_T0,
};

/// Rows of a register tile.
pub(super) const ROWS: usize = 6;
/// Columns of a register tile: four vectors of 16.
pub(super) const COLS: usize = 64;
const LANES: usize = 16;
/// The forward pass walks the inner dimension in blocks of this many, so a block of the
/// weight (128 x 64 floats, 32 KiB) stays in L1 while every row tile of a task uses it.
const K_BLOCK: usize = 128;
/// How far ahead the forward pass prefetches weight rows: about the memory latency's worth of
/// steps of the first row tile.
const PREFETCH_ROWS: usize = 16;

/// Calls a tile method monomorphised for `R = rows` (1 to [`ROWS`]), so that its
/// accumulators are registers.
macro_rules! by_rows {
    ($rows:expr, $tile:ident.$method:ident($($arg:expr),*)) => {
        match $rows {
            6 => $tile.$method::<6>($($arg),*),
            5 => $tile.$method::<5>($($arg),*),
            4 => $tile.$method::<4>($($arg),*),
            3 => $tile.$method::<3>($($arg),*),
            2 => $tile.$method::<2>($($arg),*),
            _ => $tile.$method::<1>($($arg),*),
        }
    };
}

/// The masks of the four vectors of the column tile starting at `j` in rows of `n`.
#[inline(always)]
fn col_masks(j: usize, n: usize) -> [__mmask16; 4] {
    std::array::from_fn(|v| lane_mask(n.saturating_sub(j + v * LANES)))
}

#[inline(always)]
fn lane_mask(left: usize) -> __mmask16 {
    if left >= LANES {
        0xFFFF
    } else {
        ((1u32 << left) - 1) as __mmask16
    }
}

/// Loads the four vectors of `p[j..j + 64]` under `masks`.
///
/// # Safety
/// Every lane enabled in `masks` must lie inside the allocation `p` points into.
#[inline(always)]
unsafe fn load4(p: *const f32, masks: [__mmask16; 4]) -> [__m512; 4] {
    std::array::from_fn(|v| _mm512_maskz_loadu_ps(masks[v], p.wrapping_add(v * LANES)))
}

/// # Safety
/// As [`load4`], for writes.
#[inline(always)]
unsafe fn store4(p: *mut f32, masks: [__mmask16; 4], acc: [__m512; 4]) {
    for v in 0..4 {
        _mm512_mask_storeu_ps(p.wrapping_add(v * LANES), masks[v], acc[v]);
    }
}

/// Stores `acc` at `p` under `masks`, or adds it to what `p` holds unless `overwrite`.
///
/// # Safety
/// As [`store4`]; without `overwrite` the lanes must also be initialised.
#[inline(always)]
unsafe fn put4(p: *mut f32, masks: [__mmask16; 4], acc: [__m512; 4], overwrite: bool) {
    if overwrite {
        store4(p, masks, acc);
    } else {
        let old = load4(p, masks);
        store4(
            p,
            masks,
            std::array::from_fn(|v| _mm512_add_ps(old[v], acc[v])),
        );
    }
}

/// `y (m x n) = relu?(x[.., kbeg..kend] · w[kbeg..kend, ..] + b)` for the rows of `x` and `y`
/// given (`y` holds exactly those rows); without a bias the sums start from zero.
///
/// # Safety
/// The CPU must support AVX-512F and FMA; `x` must hold `y.len() / n` rows of `k`, `w` `k`
/// rows of `n`, and `b` be empty or of length `n`.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn forward(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
    (k, n): (usize, usize),
    (kbeg, kend): (usize, usize),
    relu: bool,
) {
    let m = y.len() / n;
    assert!(x.len() >= m * k && w.len() >= k * n && (b.is_empty() || b.len() == n));
    assert!(kbeg <= kend && kend <= k);
    let mut k0 = kbeg;
    while k0 < kend || (kend == kbeg && k0 == kbeg) {
        let k1 = (k0 + K_BLOCK).min(kend);
        let (first, last) = (k0 == kbeg, k1 == kend);
        let mut r = 0;
        while r < m {
            let rows = (m - r).min(ROWS);
            let mut j = 0;
            while j < n {
                let tile = Tile {
                    prefetch: r == 0,
                    x: x.as_ptr().add(r * k),
                    y: y.as_mut_ptr().add(r * n + j),
                    w: w.as_ptr().wrapping_add(j),
                    b: if b.is_empty() {
                        None
                    } else {
                        Some(b.as_ptr().add(j))
                    },
                    masks: col_masks(j, n),
                    k,
                    n,
                };
                by_rows!(rows, tile.forward(k0, k1, first, last && relu));
                j += COLS;
            }
            r += rows;
        }
        if k1 == kend {
            break;
        }
        k0 = k1;
    }
}

/// One forward register tile: rows of `x` from `x`, results at `y`, the weight's columns from
/// `w` (the start of row 0 of the tile's columns).
struct Tile {
    /// Whether to prefetch the weight rows ahead (for the block's first row tile).
    prefetch: bool,
    x: *const f32,
    y: *mut f32,
    w: *const f32,
    b: Option<*const f32>,
    masks: [__mmask16; 4],
    k: usize,
    n: usize,
}

impl Tile {
    /// Adds `x[.., k0..k1] · w[k0..k1, ..]` to the tile; the first block starts from the bias
    /// (or zero) instead of the stored partial sums, the last one applies the ReLU when asked.
    #[inline(always)]
    unsafe fn forward<const R: usize>(&self, k0: usize, k1: usize, first: bool, relu: bool) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = match (first, self.b) {
                (false, _) => load4(self.y.add(i * self.n), self.masks),
                (true, Some(b)) => load4(b, self.masks),
                (true, None) => [_mm512_setzero_ps(); 4],
            };
        }
        for kk in k0..k1 {
            // The weight rows a few steps ahead, so that the first tile of a block, which
            // brings them into L1 for the others, does not wait for them.
            if self.prefetch {
                let ahead = self.w.wrapping_add((kk + PREFETCH_ROWS) * self.n);
                for v in 0..4 {
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(v * LANES).cast::<i8>());
                }
            }
            let wv = load4(self.w.wrapping_add(kk * self.n), self.masks);
            for (i, a) in acc.iter_mut().enumerate() {
                let xb = _mm512_set1_ps(*self.x.add(i * self.k + kk));
                for v in 0..4 {
                    a[v] = _mm512_fmadd_ps(xb, wv[v], a[v]);
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            let out = if relu {
                a.map(|v| _mm512_max_ps(v, _mm512_setzero_ps()))
            } else {
                *a
            };
            store4(self.y.add(i * self.n), self.masks, out);
        }
    }
}

/// `dw[k0..k1, ..] += x[.., k0..k1]ᵀ · g`, or `=` when `overwrite`, for `m` rows: each
/// weight-gradient element sums the batch in row order.
///
/// # Safety
/// The CPU must support AVX-512F and FMA; `x` is `m x k`, `g` `m x n`; `dw` points to a
/// `k x n` matrix whose rows `k0..k1` nothing else accesses during the call, initialised
/// unless `overwrite`.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn weight_grad(
    x: &[f32],
    g: &[f32],
    dw: *mut f32,
    (m, k, n): (usize, usize, usize),
    (k0, k1): (usize, usize),
    overwrite: bool,
) {
    assert!(x.len() >= m * k && g.len() >= m * n && k0 <= k1 && k1 <= k);
    let mut kt = k0;
    while kt < k1 {
        let rows = (k1 - kt).min(ROWS);
        let mut j = 0;
        while j < n {
            let t = GradTile {
                x: x.as_ptr().add(kt),
                g: g.as_ptr().wrapping_add(j),
                dw: dw.add(kt * n + j),
                masks: col_masks(j, n),
                m,
                k,
                n,
                overwrite,
            };
            by_rows!(rows, t.weight_grad());
            j += COLS;
        }
        kt += rows;
    }
}

struct GradTile {
    /// Column `kt` of row 0 of `x`.
    x: *const f32,
    /// Column `j` of row 0 of `g`.
    g: *const f32,
    dw: *mut f32,
    masks: [__mmask16; 4],
    m: usize,
    k: usize,
    n: usize,
    /// Store the sums instead of adding them to what `dw` holds.
    overwrite: bool,
}

impl GradTile {
    #[inline(always)]
    unsafe fn weight_grad<const R: usize>(&self) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for r in 0..self.m {
            let gv = load4(self.g.wrapping_add(r * self.n), self.masks);
            for (i, a) in acc.iter_mut().enumerate() {
                let xb = _mm512_set1_ps(*self.x.add(r * self.k + i));
                for v in 0..4 {
                    a[v] = _mm512_fmadd_ps(xb, gv[v], a[v]);
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            put4(self.dw.add(i * self.n), self.masks, *a, self.overwrite);
        }
    }
}

/// `dx[.., k0..k1] += g · w[k0..k1, ..]ᵀ`, or `=` when `overwrite`, given `wt`: those rows of
/// the weight transposed, `n` rows of `k1 - k0` that start `stride` apart (from
/// [`transpose_rows`]). Each element sums the weight's columns in order.
///
/// # Safety
/// The CPU must support AVX-512F and FMA; `g` is `m x n`; `wt` is as above; `dx` points to
/// an `m x k` matrix whose columns `k0..k1` nothing else accesses during the call,
/// initialised unless `overwrite`.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn input_grad(
    g: &[f32],
    (wt, stride): (*const f32, usize),
    dx: *mut f32,
    (m, k, n): (usize, usize, usize),
    (k0, k1): (usize, usize),
    overwrite: bool,
) {
    let width = k1 - k0;
    assert!(g.len() >= m * n && k1 <= k && stride >= width);
    let mut r = 0;
    while r < m {
        let rows = (m - r).min(ROWS);
        let mut j = 0;
        while j < width {
            let t = InputTile {
                g: g.as_ptr().add(r * n),
                wt: wt.wrapping_add(j),
                wt_stride: stride,
                dx: dx.add(r * k + k0 + j),
                masks: col_masks(j, width),
                k,
                n,
                overwrite,
            };
            by_rows!(rows, t.input_grad());
            j += COLS;
        }
        r += rows;
    }
}

struct InputTile {
    g: *const f32,
    wt: *const f32,
    wt_stride: usize,
    dx: *mut f32,
    masks: [__mmask16; 4],
    /// The row stride of `dx`.
    k: usize,
    n: usize,
    /// Store the sums instead of adding them to what `dx` holds.
    overwrite: bool,
}

impl InputTile {
    #[inline(always)]
    unsafe fn input_grad<const R: usize>(&self) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for c in 0..self.n {
            let wv = load4(self.wt.wrapping_add(c * self.wt_stride), self.masks);
            for (i, a) in acc.iter_mut().enumerate() {
                let gb = _mm512_set1_ps(*self.g.add(i * self.n + c));
                for v in 0..4 {
                    a[v] = _mm512_fmadd_ps(gb, wv[v], a[v]);
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            put4(self.dx.add(i * self.k), self.masks, *a, self.overwrite);
        }
    }
}

/// Writes rows `k0..k1` of `w (k x n)` transposed: `n` rows of `k1 - k0` at `wt`, `stride`
/// apart. Reads the rows in order (whole cache lines) and writes 16-float runs.
///
/// # Safety
/// The CPU must support AVX-512F; `w` holds rows `k0..k1` of `n`; `wt` points to room for
/// `n` rows of `stride >= k1 - k0` floats (possibly uninitialised).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn transpose_rows(
    w: &[f32],
    n: usize,
    (k0, k1): (usize, usize),
    wt: *mut f32,
    stride: usize,
) {
    assert!(w.len() >= k1 * n && k0 <= k1 && stride >= k1 - k0);
    let mut kb = k0;
    while kb < k1 {
        let mut cb = 0;
        while cb < n {
            let dst = wt.add(cb * stride + (kb - k0));
            if kb + LANES <= k1 && cb + LANES <= n {
                crate::ops::cpu::transpose::transpose16(
                    w.as_ptr().add(kb * n + cb),
                    n,
                    dst,
                    stride,
                );
            } else {
                for c in 0..(n - cb).min(LANES) {
                    for kk in 0..(k1 - kb).min(LANES) {
                        dst.add(c * stride + kk).write(w[(kb + kk) * n + cb + c]);
                    }
                }
            }
            cb += LANES;
        }
        kb += LANES;
    }
}
