//! Multi-head scaled dot-product attention over sequences, as one op on dfdx's tape: the core
//! of `nn.MultiheadAttention` between its input and output projections (which are
//! `ops::positionwise`).
//!
//! The input holds the projected queries, keys and values of each example, `(batch,
//! 3 * width, 1, length)` as PyTorch's `in_proj` makes them: channels `0..width` the queries,
//! then the keys, then the values, head `h` taking channels `h * key_dim..(h + 1) * key_dim`
//! of each. The output is `(batch, width, 1, length)`, the heads' outputs in the same order.
//! Each (example, head) pair is computed on its own (`kernel`), in parallel; every value is
//! summed by one task in a fixed order, so results do not depend on the thread count.
//!
//! The forward pass keeps each pair's probabilities (`heads * length²` values per example)
//! for the backward pass, and the dropout factors when it drops.

mod kernel;
#[cfg(test)]
mod tests;

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use kernel::{Head, Qkv, QkvGrad};

use super::cpu::scratch::with_scratch;
use super::cpu::simd::avx2_or_portable;
use super::{host_data, tensor_from_output, T4};

/// What a call sets besides the input.
#[derive(Clone, Copy, Debug)]
pub struct AttentionSpec {
    pub heads: usize,
    /// Channels per head; `heads * key_dim` is the width.
    pub key_dim: usize,
    /// Whether each position attends only to itself and the positions before it.
    pub causal: bool,
    /// Dropout on the attention probabilities, in training: the rate and the seed its masks
    /// are drawn from.
    pub dropout: Option<(f32, u64)>,
}

/// Attention of `qkv` `(batch, 3 * width, 1, length)` → `(batch, width, 1, length)`. With
/// `keys`, the padding mask of `embedding(mask_zero = true)` `(batch, length)`, no query
/// attends to a padded key (PyTorch's `key_padding_mask`); a padded query still attends to
/// the others, and a query that sees no key but padding gives zeros.
///
/// # Panics
/// If the input's channels are not `3 * heads * key_dim` (the checker rules that out).
pub fn attention<T: Tape<f32, Cpu>>(
    qkv: T4<T>,
    spec: &AttentionSpec,
    keys: Option<&[f32]>,
) -> T4<T> {
    let (batch, channels, one, length) = *qkv.shape();
    let width = spec.heads * spec.key_dim;
    assert!(
        one == 1 && channels == 3 * width,
        "attention: input {:?} for {} heads of {}",
        qkv.shape(),
        spec.heads,
        spec.key_dim
    );
    let head = Head {
        key_dim: spec.key_dim,
        length,
        // As PyTorch's scaled_dot_product_attention computes it, in f32.
        scale: 1.0 / (spec.key_dim as f32).sqrt(),
        causal: spec.causal,
    };
    let pairs = batch * spec.heads;
    let plane = length * length;
    let (x, mut tape) = qkv.split_tape();
    let x_data = host_data(&x);
    let mask = match spec.dropout {
        Some((rate, seed)) if rate > 0.0 => dropout_factors(pairs, plane, rate, seed),
        _ => Vec::new(),
    };
    let mut p = vec![0.0; pairs * plane];
    let mut out = vec![0.0; batch * width * length];
    let (part, block) = (width * length, head.key_dim * length);
    let slice = |pair: usize| operands(&x_data, pair, spec.heads, part, block);
    if let Some(keys) = keys {
        assert_eq!(keys.len(), batch * length, "attention: key mask size");
    }
    let pair_keys = |pair: usize| -> &[f32] {
        keys.map_or(&[], |k| &k[pair / spec.heads * length..][..length])
    };
    out.par_chunks_mut(block)
        .zip(p.par_chunks_mut(plane))
        .enumerate()
        .for_each(|(pair, (o, p))| {
            let mask = pair_mask(&mask, pair, plane);
            with_scratch([if mask.is_empty() { 0 } else { plane }], |[dropped]| {
                pair_forward(&head, &slice(pair), pair_keys(pair), mask, p, dropped, o);
            });
        });
    let out = tensor_from_output(x.device(), out, (batch, width, 1, length));
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        let heads = spec.heads;
        tape.add_backward_op(move |grads| {
            let dout = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dx = grads.get_or_alloc_mut(&x_ghost)?;
            let slice = |pair: usize| operands(&x_data, pair, heads, part, block);
            pair_grads(dx, part, block)
                .into_par_iter()
                .zip(dout.par_chunks(block))
                .enumerate()
                .for_each(|(pair, (mut g, dout))| {
                    let mask = pair_mask(&mask, pair, plane);
                    let p = &p[pair * plane..][..plane];
                    let dropped = if mask.is_empty() { 0 } else { plane };
                    with_scratch([dropped, plane], |[dropped, dp]| {
                        pair_backward(&head, &slice(pair), p, mask, dout, &mut g, dropped, dp);
                    });
                });
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// The queries, keys and values of pair `pair` (example `pair / heads`, head `pair % heads`),
/// each a `block = key_dim * length` slice of `x`, whose examples each hold `3 * part`
/// values (`part = width * length`).
fn operands(x: &[f32], pair: usize, heads: usize, part: usize, block: usize) -> Qkv<'_> {
    let (b, h) = (pair / heads, pair % heads);
    let at = |which: usize| &x[(3 * b + which) * part + h * block..][..block];
    Qkv {
        q: at(0),
        k: at(1),
        v: at(2),
    }
}

/// The gradients of every pair's queries, keys and values, in pair order: disjoint slices of
/// the input's gradient `dx`, laid out as in [`operands`].
fn pair_grads(dx: &mut [f32], part: usize, block: usize) -> Vec<QkvGrad<'_>> {
    let mut all = Vec::new();
    for example in dx.chunks_exact_mut(3 * part) {
        let (q, rest) = example.split_at_mut(part);
        let (k, v) = rest.split_at_mut(part);
        for ((dq, dk), dv) in q
            .chunks_exact_mut(block)
            .zip(k.chunks_exact_mut(block))
            .zip(v.chunks_exact_mut(block))
        {
            all.push(QkvGrad { dq, dk, dv });
        }
    }
    all
}

/// Pair `pair`'s dropout factors, or none.
fn pair_mask(mask: &[f32], pair: usize, plane: usize) -> &[f32] {
    if mask.is_empty() {
        mask
    } else {
        &mask[pair * plane..][..plane]
    }
}

/// Dropout's factors, `0` (dropped, with probability `rate`) or `1 / (1 - rate)`, for each
/// probability of each pair. Pair `i` draws from stream `i` of a generator seeded with
/// `seed`, so the draws do not depend on how the pairs are shared among threads.
fn dropout_factors(pairs: usize, plane: usize, rate: f32, seed: u64) -> Vec<f32> {
    let keep = 1.0 / (1.0 - rate);
    let mut mask = vec![0.0; pairs * plane];
    mask.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(pair, mask)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(pair as u64);
            for m in mask {
                *m = if rng.gen::<f32>() < rate { 0.0 } else { keep };
            }
        });
    mask
}

avx2_or_portable!(
    fn pair_forward(
        head: &Head,
        x: &Qkv<'_>,
        keys: &[f32],
        mask: &[f32],
        p: &mut [f32],
        dropped: &mut [f32],
        o: &mut [f32],
    ) => kernel::forward
);

avx2_or_portable!(
    #[allow(clippy::too_many_arguments)] // the kernel's slices, as in `kernel::backward`
    fn pair_backward(
        head: &Head,
        x: &Qkv<'_>,
        p: &[f32],
        mask: &[f32],
        dout: &[f32],
        g: &mut QkvGrad<'_>,
        dropped: &mut [f32],
        dp: &mut [f32],
    ) => kernel::backward
);
