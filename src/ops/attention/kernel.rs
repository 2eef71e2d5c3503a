//! The kernels of one (example, head) pair on host data: scaled dot-product attention over a
//! sequence held channels-first, `q`, `k`, `v` and the output each `key_dim x length`
//! row-major (the rows of one head in a `(channels, length)` sequence).
//!
//! Forward: `S = scale · qᵀk` (length x length, query positions by key positions), `P` its
//! row-wise softmax over the keys a query may see, `P'` = `P` with dropout, `o = v · P'ᵀ`.
//! Backward, from `do`: `dv = do · P'`, `dP' = doᵀ · v`, `dP = dP' ⊙ mask`,
//! `dS = P ⊙ (dP - rowsum(P ⊙ dP))`, `dq = scale · k · dSᵀ`, `dk = scale · q · dS`.

use crate::ops::matmul::{matmul, View};

/// The sizes and settings every pair shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub(crate) key_dim: usize,
    pub(crate) length: usize,
    /// `1 / sqrt(key_dim)`.
    pub(crate) scale: f32,
    /// Whether query `i` sees only keys `0..=i`.
    pub(crate) causal: bool,
}

impl Head {
    /// The keys query `i` sees.
    #[inline(always)]
    fn visible(&self, i: usize) -> usize {
        if self.causal {
            i + 1
        } else {
            self.length
        }
    }
}

/// One pair's operands.
pub(crate) struct Qkv<'a> {
    pub(crate) q: &'a [f32],
    pub(crate) k: &'a [f32],
    pub(crate) v: &'a [f32],
}

/// Forward: writes the probabilities `p` (length x length, zero where masked) and the
/// output `o`. `mask` holds dropout's factors (0 or `1 / (1 - rate)`) per probability, or is
/// empty; `dropped` is scratch of `p`'s size where it is not.
#[inline(always)]
pub(crate) fn forward(
    h: &Head,
    x: &Qkv<'_>,
    mask: &[f32],
    p: &mut [f32],
    dropped: &mut [f32],
    o: &mut [f32],
) {
    let t = h.length;
    matmul(
        (t, t, h.key_dim),
        p,
        false,
        View::transposed(x.q, t),
        View::rows(x.k, t),
    );
    for (i, row) in p.chunks_exact_mut(t).enumerate() {
        softmax_row(row, h.visible(i), h.scale);
    }
    let weights = apply_mask(p, mask, dropped);
    matmul(
        (h.key_dim, t, t),
        o,
        false,
        View::rows(x.v, t),
        View::transposed(weights, t),
    );
}

/// `row[..visible] = softmax(scale · row[..visible])`, the rest zero.
#[inline(always)]
fn softmax_row(row: &mut [f32], visible: usize, scale: f32) {
    let (seen, hidden) = row.split_at_mut(visible);
    let max = seen.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) * scale;
    let mut total = 0.0;
    for v in seen.iter_mut() {
        *v = (*v * scale - max).exp();
        total += *v;
    }
    let inv = 1.0 / total;
    for v in seen {
        *v *= inv;
    }
    hidden.fill(0.0);
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
    let (t, kd) = (h.length, h.key_dim);
    let weights = apply_mask(p, mask, dropped);
    matmul(
        (kd, t, t),
        g.dv,
        true,
        View::rows(dout, t),
        View::rows(weights, t),
    );
    matmul(
        (t, t, kd),
        dp,
        false,
        View::transposed(dout, t),
        View::rows(x.v, t),
    );
    if !mask.is_empty() {
        for (d, m) in dp.iter_mut().zip(mask) {
            *d *= m;
        }
    }
    // dS, scaled, in place of dP.
    for (i, (ds, p)) in dp.chunks_exact_mut(t).zip(p.chunks_exact(t)).enumerate() {
        let visible = h.visible(i);
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
    matmul(
        (kd, t, t),
        g.dq,
        true,
        View::rows(x.k, t),
        View::transposed(ds, t),
    );
    matmul(
        (kd, t, t),
        g.dk,
        true,
        View::rows(x.q, t),
        View::rows(ds, t),
    );
}
