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
    if let Some(keys) = keys {
        assert_eq!(keys.len(), batch * length, "attention: key mask size");
    }
    let part = width * length;
    let at = |offset: usize| Part {
        example: 3 * part,
        offset,
    };
    let layout = Layout::new(spec, (length, length), [at(0), at(part), at(2 * part)]);
    let (x, mut tape) = qkv.split_tape();
    let x_data = host_data(&x);
    let (out, saved) = forward_pairs(&layout, batch, (&x_data, &x_data), keys, spec.dropout);
    let out = tensor_from_output(x.device(), out, (batch, width, 1, length));
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let dout = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dx = grads.get_or_alloc_mut(&x_ghost)?;
            let examples = dx.chunks_exact_mut(3 * part).map(|e| e.split_at_mut(part));
            let pairs = pair_grads(examples, &layout);
            backward_pairs(&layout, (&x_data, &x_data), &saved, &dout, pairs);
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// Cross-attention: the queries `q` `(batch, width, 1, queries)` of one sequence attend to
/// the keys and values `kv` `(batch, 2 * width, 1, keys)` of another (the keys in channels
/// `0..width`, the values after them, as PyTorch's `in_proj` makes them from its `key` and
/// `value`) → `(batch, width, 1, queries)`. Causal, query `i` sees keys `0..=i` (Keras'
/// causal mask). With `keys`, the memory's padding mask `(batch, keys)`, no query attends
/// to a padded key, as in [`attention`].
///
/// # Panics
/// If the inputs' channels are not `heads * key_dim` and twice that, or their batches
/// differ (the checker rules that out).
pub fn cross_attention<T: Tape<f32, Cpu>>(
    q: T4<T>,
    kv: T4<T>,
    spec: &AttentionSpec,
    keys_mask: Option<&[f32]>,
) -> T4<T> {
    let (batch, channels, one, queries) = *q.shape();
    let (kv_batch, kv_channels, kv_one, keys) = *kv.shape();
    let width = spec.heads * spec.key_dim;
    assert!(
        one == 1
            && kv_one == 1
            && channels == width
            && kv_channels == 2 * width
            && kv_batch == batch,
        "cross attention: queries {:?} and keys and values {:?} for {} heads of {}",
        q.shape(),
        kv.shape(),
        spec.heads,
        spec.key_dim
    );
    if let Some(mask) = keys_mask {
        assert_eq!(mask.len(), batch * keys, "cross attention: key mask size");
    }
    let (q_part, kv_part) = (width * queries, width * keys);
    let layout = Layout::new(
        spec,
        (queries, keys),
        [
            Part {
                example: q_part,
                offset: 0,
            },
            Part {
                example: 2 * kv_part,
                offset: 0,
            },
            Part {
                example: 2 * kv_part,
                offset: kv_part,
            },
        ],
    );
    let (q, q_tape) = q.split_tape();
    let (kv, kv_tape) = kv.split_tape();
    let mut tape = q_tape.merge(kv_tape);
    let (q_data, kv_data) = (host_data(&q), host_data(&kv));
    let (out, saved) = forward_pairs(&layout, batch, (&q_data, &kv_data), keys_mask, spec.dropout);
    let out = tensor_from_output(q.device(), out, (batch, width, 1, queries));
    if T::OWNS_TAPE {
        let (q_ghost, kv_ghost, out_ghost) = (q.ghost(), kv.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let dout = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            // Two inputs: their gradients are taken out of the store while the pairs add
            // into both, then put back.
            let mut dq = std::mem::take(&mut **grads.get_or_alloc_mut(&q_ghost)?);
            let mut dkv = std::mem::take(&mut **grads.get_or_alloc_mut(&kv_ghost)?);
            let examples = dq
                .chunks_exact_mut(q_part)
                .zip(dkv.chunks_exact_mut(2 * kv_part));
            let pairs = pair_grads(examples, &layout);
            backward_pairs(&layout, (&q_data, &kv_data), &saved, &dout, pairs);
            **grads.get_or_alloc_mut(&q_ghost)? = dq;
            **grads.get_or_alloc_mut(&kv_ghost)? = dkv;
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// Where the queries, the keys or the values sit in each example of their tensor: every
/// `example` values, from `offset`, one block per head.
#[derive(Clone, Copy, Debug)]
struct Part {
    example: usize,
    offset: usize,
}

/// How a call's (example, head) pairs find their operands.
#[derive(Clone, Copy, Debug)]
struct Layout {
    head: Head,
    heads: usize,
    /// The queries' part of the first tensor; the keys' and the values' of the second.
    q: Part,
    k: Part,
    v: Part,
}

impl Layout {
    fn new(spec: &AttentionSpec, (queries, keys): (usize, usize), [q, k, v]: [Part; 3]) -> Self {
        Layout {
            head: Head {
                key_dim: spec.key_dim,
                queries,
                keys,
                // As PyTorch's scaled_dot_product_attention computes it, in f32.
                scale: 1.0 / (spec.key_dim as f32).sqrt(),
                causal: spec.causal,
            },
            heads: spec.heads,
            q,
            k,
            v,
        }
    }

    /// One head's queries (and output), `key_dim x queries`.
    fn block_q(&self) -> usize {
        self.head.key_dim * self.head.queries
    }

    /// One head's keys (or values), `key_dim x keys`.
    fn block_k(&self) -> usize {
        self.head.key_dim * self.head.keys
    }

    /// The probabilities of one pair, `queries x keys`.
    fn plane(&self) -> usize {
        self.head.queries * self.head.keys
    }

    /// The operands of pair `pair` (example `pair / heads`, head `pair % heads`): the
    /// queries from `qs`, the keys and values from `kvs`.
    fn operands<'a>(&self, (qs, kvs): (&'a [f32], &'a [f32]), pair: usize) -> Qkv<'a> {
        let (b, h) = (pair / self.heads, pair % self.heads);
        let at = |data: &'a [f32], part: Part, block: usize| {
            &data[b * part.example + part.offset + h * block..][..block]
        };
        Qkv {
            q: at(qs, self.q, self.block_q()),
            k: at(kvs, self.k, self.block_k()),
            v: at(kvs, self.v, self.block_k()),
        }
    }
}

/// What the forward pass keeps for the backward one: every pair's probabilities, and
/// dropout's factors when it drops.
struct Saved {
    p: Vec<f32>,
    mask: Vec<f32>,
}

/// Every pair's forward pass, in parallel: the output `(batch, heads * key_dim, 1,
/// queries)` and what the backward pass needs.
fn forward_pairs(
    layout: &Layout,
    batch: usize,
    data: (&[f32], &[f32]),
    keys: Option<&[f32]>,
    dropout: Option<(f32, u64)>,
) -> (Vec<f32>, Saved) {
    let pairs = batch * layout.heads;
    let (plane, block) = (layout.plane(), layout.block_q());
    let mask = match dropout {
        Some((rate, seed)) if rate > 0.0 => dropout_factors(pairs, plane, rate, seed),
        _ => Vec::new(),
    };
    let mut p = vec![0.0; pairs * plane];
    let mut out = vec![0.0; pairs * block];
    let length = layout.head.keys;
    let pair_keys = |pair: usize| -> &[f32] {
        keys.map_or(&[], |k| &k[pair / layout.heads * length..][..length])
    };
    out.par_chunks_mut(block)
        .zip(p.par_chunks_mut(plane))
        .enumerate()
        .for_each(|(pair, (o, p))| {
            let mask = pair_mask(&mask, pair, plane);
            let x = layout.operands(data, pair);
            with_scratch([if mask.is_empty() { 0 } else { plane }], |[dropped]| {
                pair_forward(&layout.head, &x, pair_keys(pair), mask, p, dropped, o);
            });
        });
    (out, Saved { p, mask })
}

/// Every pair's backward pass, in parallel, from the output's gradient `dout`: each adds
/// into its own slices of the inputs' gradients, `grads` in pair order.
fn backward_pairs(
    layout: &Layout,
    data: (&[f32], &[f32]),
    saved: &Saved,
    dout: &[f32],
    grads: Vec<QkvGrad<'_>>,
) {
    let plane = layout.plane();
    grads
        .into_par_iter()
        .zip(dout.par_chunks(layout.block_q()))
        .enumerate()
        .for_each(|(pair, (mut g, dout))| {
            let mask = pair_mask(&saved.mask, pair, plane);
            let p = &saved.p[pair * plane..][..plane];
            let x = layout.operands(data, pair);
            let dropped = if mask.is_empty() { 0 } else { plane };
            with_scratch([dropped, plane], |[dropped, dp]| {
                pair_backward(&layout.head, &x, p, mask, dout, &mut g, dropped, dp);
            });
        });
}

/// The gradients of every pair's queries, keys and values, in pair order: disjoint slices of
/// the inputs' gradients, given per example as its queries' and its keys' and values' (the
/// keys' first).
fn pair_grads<'a>(
    examples: impl Iterator<Item = (&'a mut [f32], &'a mut [f32])>,
    layout: &Layout,
) -> Vec<QkvGrad<'a>> {
    let (block_q, block_k) = (layout.block_q(), layout.block_k());
    let mut all = Vec::new();
    for (q, kv) in examples {
        let (k, v) = kv.split_at_mut(kv.len() / 2);
        for ((dq, dk), dv) in q
            .chunks_exact_mut(block_q)
            .zip(k.chunks_exact_mut(block_k))
            .zip(v.chunks_exact_mut(block_k))
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
