//! The kernels of one (example, head) pair on host data: scaled dot-product attention over
//! sequences held channels-first, `q` and the output each `key_dim x queries`, `k` and `v`
//! each `key_dim x keys`, row-major (the rows of one head in a `(channels, length)`
//! sequence). Self-attention has as many keys as queries; cross-attention's keys and values
//! come from another sequence, of any length.
//!
//! Forward: `S = scale · qᵀk` (queries x keys, query positions by key positions), `P` its
//! row-wise softmax over the keys a query may see, `P'` = `P` with dropout, `o = v · P'ᵀ`.
//! Backward, from `do`: `dv = do · P'`, `dP' = doᵀ · v`, `dP = dP' ⊙ mask`,
//! `dS = P ⊙ (dP - rowsum(P ⊙ dP))`, `dq = scale · k · dSᵀ`, `dk = scale · q · dS`.

use crate::ops::cpu::math;
use crate::ops::matmul::{gemm_into, sum, View};

/// The sizes and settings every pair shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub(crate) key_dim: usize,
    /// Query positions.
    pub(crate) queries: usize,
    /// Key (and value) positions.
    pub(crate) keys: usize,
    /// `1 / sqrt(key_dim)`.
    pub(crate) scale: f32,
    /// Whether query `i` sees only keys `0..=i` (Keras' causal mask, lower triangular also
    /// when the keys are another sequence's).
    pub(crate) causal: bool,
}

impl Head {
    /// The keys query `i` sees.
    #[inline(always)]
    fn visible(&self, i: usize) -> usize {
        if self.causal {
            (i + 1).min(self.keys)
        } else {
            self.keys
        }
    }
}

/// One pair's operands.
pub(crate) struct Qkv<'a> {
    pub(crate) q: &'a [f32],
    pub(crate) k: &'a [f32],
    pub(crate) v: &'a [f32],
}

/// Query positions per block of a causal pass: a block's queries see the keys up to its
/// last one, so the products skip the keys no query of the block sees (at length 64, 62% of
/// the work). Cut by shape alone, so sums do not change with anything else.
const QUERY_BLOCK: usize = 16;

/// The blocks of query positions `(first, end, keys they see)`: one block of all of them
/// unless causal.
fn blocks(h: Head) -> impl Iterator<Item = (usize, usize, usize)> {
    let t = h.queries;
    let size = if h.causal { QUERY_BLOCK } else { t.max(1) };
    (0..t).step_by(size).map(move |i0| {
        let i1 = (i0 + size).min(t);
        (i0, i1, if h.causal { i1.min(h.keys) } else { h.keys })
    })
}

/// Columns `first..` of a `rows x cols` row-major matrix `data` with row stride `stride`.
fn cols_from(data: &[f32], first: usize, stride: usize) -> View<'_> {
    View {
        data: &data[first..],
        row_stride: stride,
        col_stride: 1,
    }
}

/// The transpose of [`cols_from`]: element `(i, j)` is `data[j * stride + first + i]`.
fn cols_from_transposed(data: &[f32], first: usize, stride: usize) -> View<'_> {
    View {
        data: &data[first..],
        row_stride: 1,
        col_stride: stride,
    }
}

/// Forward: writes the probabilities `p` (queries x keys, zero where masked) and the
/// output `o`. `padding` holds the padding mask of the example's keys (1 at a token, 0 at
/// padding, which no query attends to), or is empty; `mask` holds dropout's factors (0 or
/// `1 / (1 - rate)`) per probability, or is empty; `dropped` is scratch of `p`'s size where
/// it is not. The backward pass needs no key mask: a padded key's probability is 0, and so
/// are its gradients.
#[inline(always)]
pub(crate) fn forward(
    h: &Head,
    x: &Qkv<'_>,
    padding: &[f32],
    mask: &[f32],
    p: &mut [f32],
    dropped: &mut [f32],
    o: &mut [f32],
) {
    let (tq, tk, kd) = (h.queries, h.keys, h.key_dim);
    for (i0, i1, keys) in blocks(*h) {
        let rows = i1 - i0;
        // S = qᵀ k for the block's queries and the keys they see.
        gemm_into(
            (rows, keys, kd),
            (&mut p[i0 * tk..], tk),
            false,
            cols_from_transposed(x.q, i0, tq),
            View::rows(x.k, tk),
        );
        for (i, row) in p[i0 * tk..i1 * tk].chunks_exact_mut(tk).enumerate() {
            softmax_row(row, h.visible(i0 + i), h.scale, padding);
        }
        let weights = apply_mask(
            &p[i0 * tk..i1 * tk],
            mask_rows(mask, i0, i1, tk),
            scratch_rows(dropped, i0, i1, tk),
        );
        // o[:, i0..i1] = v[:, ..keys] · P'[i0..i1, ..keys]ᵀ
        gemm_into(
            (kd, rows, keys),
            (&mut o[i0..], tq),
            false,
            View::rows(x.v, tk),
            cols_from_transposed(weights, 0, tk),
        );
    }
}

/// Rows `i0..i1` of dropout's factors, or none.
fn mask_rows(mask: &[f32], i0: usize, i1: usize, t: usize) -> &[f32] {
    if mask.is_empty() {
        mask
    } else {
        &mask[i0 * t..i1 * t]
    }
}

/// Rows `i0..i1` of a scratch buffer, or none when there is none (no dropout).
fn scratch_rows(buf: &mut [f32], i0: usize, i1: usize, t: usize) -> &mut [f32] {
    if buf.is_empty() {
        buf
    } else {
        &mut buf[i0 * t..i1 * t]
    }
}

/// `row[..visible] = softmax(scale · row[..visible])`, the rest zero; with `keys` (not
/// empty), over the visible keys it keeps only, and all zero when it keeps none of them.
#[inline(always)]
fn softmax_row(row: &mut [f32], visible: usize, scale: f32, keys: &[f32]) {
    let (seen, hidden) = row.split_at_mut(visible);
    hidden.fill(0.0);
    if !keys.is_empty() {
        return masked_softmax_row(seen, scale, &keys[..visible]);
    }
    let max = seen.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) * scale;
    // `exp` in a loop of its own and the total in fixed partial sums, so that both
    // vectorise (the C library's `expf` was a call per value, and a running total a chain).
    for v in seen.iter_mut() {
        *v = math::exp(*v * scale - max);
    }
    let inv = 1.0 / sum(seen);
    for v in seen {
        *v *= inv;
    }
}

/// `softmax(scale · row)` over the positions `keys` keeps, 0 at the others; all 0 when it
/// keeps none (PyTorch's `key_padding_mask` gives NaN there, Keras a uniform row).
#[inline(always)]
fn masked_softmax_row(row: &mut [f32], scale: f32, keys: &[f32]) {
    let kept = || row.iter().zip(keys).filter(|(_, &k)| k != 0.0);
    let Some(max) = kept().map(|(&v, _)| v).reduce(f32::max) else {
        row.fill(0.0);
        return;
    };
    let max = max * scale;
    for (v, &k) in row.iter_mut().zip(keys) {
        let e = math::exp(*v * scale - max);
        *v = if k == 0.0 { 0.0 } else { e };
    }
    let inv = 1.0 / sum(row);
    for v in row {
        *v *= inv;
    }
}

/// `p ⊙ mask` in `out`, or `p` itself without a mask.
#[inline(always)]
fn apply_mask<'a>(p: &'a [f32], mask: &[f32], out: &'a mut [f32]) -> &'a [f32] {
    if mask.is_empty() {
        return p;
    }
    for ((o, p), m) in out.iter_mut().zip(p).zip(mask) {
        *o = p * m;
    }
    out
}

/// The gradients one pair adds into its inputs'.
pub(crate) struct QkvGrad<'a> {
    pub(crate) dq: &'a mut [f32],
    pub(crate) dk: &'a mut [f32],
    pub(crate) dv: &'a mut [f32],
}

/// Backward: adds the pair's gradients into `g` from the output's `dout`, the saved
/// probabilities `p` and dropout's `mask` (empty without). `dropped` and `dp` are scratch of
/// `p`'s size.
#[allow(clippy::too_many_arguments)] // the kernel's slices, as in `ops::conv2d`
#[inline(always)]
pub(crate) fn backward(
    h: &Head,
    x: &Qkv<'_>,
    p: &[f32],
    mask: &[f32],
    dout: &[f32],
    g: &mut QkvGrad<'_>,
    dropped: &mut [f32],
    dp: &mut [f32],
) {
    let (tq, tk, kd) = (h.queries, h.keys, h.key_dim);
    for (i0, i1, keys) in blocks(*h) {
        let rows = i1 - i0;
        let (p, mask) = (&p[i0 * tk..i1 * tk], mask_rows(mask, i0, i1, tk));
        let weights = apply_mask(p, mask, scratch_rows(dropped, i0, i1, tk));
        let dp = &mut dp[i0 * tk..i1 * tk];
        // dv[:, ..keys] += do[:, i0..i1] · P'[i0..i1, ..keys]
        gemm_into(
            (kd, keys, rows),
            (g.dv, tk),
            true,
            cols_from(dout, i0, tq),
            View::rows(weights, tk),
        );
        // dP' = do[:, i0..i1]ᵀ · v[:, ..keys]
        gemm_into(
            (rows, keys, kd),
            (dp, tk),
            false,
            cols_from_transposed(dout, i0, tq),
            View::rows(x.v, tk),
        );
        // dS, scaled, in place of dP' (dP = dP' ⊙ mask).
        for (i, (ds, p)) in dp.chunks_exact_mut(tk).zip(p.chunks_exact(tk)).enumerate() {
            let visible = h.visible(i0 + i);
            if !mask.is_empty() {
                for (d, m) in ds[..visible].iter_mut().zip(&mask[i * tk..]) {
                    *d *= m;
                }
            }
            let dot: f32 = ds[..visible]
                .iter()
                .zip(&p[..visible])
                .map(|(d, p)| d * p)
                .sum();
            for (d, p) in ds[..visible].iter_mut().zip(&p[..visible]) {
                *d = p * (*d - dot) * h.scale;
            }
            ds[visible..].fill(0.0);
        }
        let ds = &*dp;
        // dq[:, i0..i1] += k[:, ..keys] · dS[i0..i1, ..keys]ᵀ
        gemm_into(
            (kd, rows, keys),
            (&mut g.dq[i0..], tq),
            true,
            View::rows(x.k, tk),
            cols_from_transposed(ds, 0, tk),
        );
        // dk[:, ..keys] += q[:, i0..i1] · dS[i0..i1, ..keys]
        gemm_into(
            (kd, keys, rows),
            (g.dk, tk),
            true,
            cols_from(x.q, i0, tq),
            View::rows(ds, tk),
        );
    }
}
