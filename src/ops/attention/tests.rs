//! `attention` against an f64 reference written from the definition (causal or not, one to
//! three heads, with dropout's factors, with padded keys), its gradient against finite differences of that
//! reference, its dropout masks, and its results across thread counts bit for bit.

use dfdx::prelude::*;

use super::{attention, dropout_factors, AttentionSpec};
use crate::ops::reference::{
    assert_close, assert_gradient, backward_of_functional, finite_differences, functional, random,
    widen,
};

/// Output `(batch, width, length)` of projected `qkv` `(batch, 3 * width, length)`, with
/// dropout's factors `mask` (per pair, query, key) or none, and the keys `padding` (batch,
/// length) zeroes left out (none when empty; a query that sees no key gives zeros).
fn reference(
    qkv: &[f64],
    spec: &AttentionSpec,
    length: usize,
    mask: &[f32],
    padding: &[f32],
) -> Vec<f64> {
    let (heads, kd, t) = (spec.heads, spec.key_dim, length);
    let width = heads * kd;
    let batch = qkv.len() / (3 * width * t);
    let at = |b: usize, part: usize, c: usize, p: usize| qkv[((3 * b + part) * width + c) * t + p];
    let mut out = vec![0.0; batch * width * t];
    for b in 0..batch {
        for h in 0..heads {
            let pair = b * heads + h;
            for i in 0..t {
                let visible = if spec.causal { i + 1 } else { t };
                let seen: Vec<usize> = (0..visible)
                    .filter(|&j| padding.is_empty() || padding[b * t + j] != 0.0)
                    .collect();
                let scores: Vec<f64> = (0..visible)
                    .map(|j| {
                        let dot: f64 = (0..kd)
                            .map(|c| at(b, 0, h * kd + c, i) * at(b, 1, h * kd + c, j))
                            .sum();
                        dot / (kd as f64).sqrt()
                    })
                    .collect();
                let max = seen
                    .iter()
                    .map(|&j| scores[j])
                    .fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = seen.iter().map(|&j| (scores[j] - max).exp()).sum();
                for c in 0..kd {
                    out[(b * width + h * kd + c) * t + i] = seen
                        .iter()
                        .map(|&j| {
                            let factor = mask
                                .get((pair * t + i) * t + j)
                                .map_or(1.0, |&m| f64::from(m));
                            (scores[j] - max).exp() / total * factor * at(b, 2, h * kd + c, j)
                        })
                        .sum();
                }
            }
        }
    }
    out
}

fn spec(heads: usize, key_dim: usize, causal: bool, dropout: Option<(f32, u64)>) -> AttentionSpec {
    AttentionSpec {
        heads,
        key_dim,
        causal,
        dropout,
    }
}

/// The output and the input's gradient for the functional `Σ out · r`, with the keys
/// `padding` zeroes left out (none when empty).
fn run(
    qkv: &[f32],
    (spec, padding): (&AttentionSpec, &[f32]),
    batch: usize,
    length: usize,
    r: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let dev = Cpu::default();
    let width = spec.heads * spec.key_dim;
    let x = dev.tensor_from_vec(qkv.to_vec(), (batch, 3 * width, 1, length));
    let padding = (!padding.is_empty()).then_some(padding);
    let y = attention(x.leaky_trace(), spec, padding);
    let values = y.as_vec();
    let grads = backward_of_functional(y, r);
    (values, grads.get(&x).as_vec())
}

#[test]
fn output_and_gradient_match_the_definition() {
    check_against_the_definition(5, &[(1, 4), (2, 3), (3, 2)], &[false, true]);
}

/// Longer than a block of queries (`kernel::QUERY_BLOCK`), with a last block cut short.
#[test]
fn long_causal_sequences_match_the_definition() {
    check_against_the_definition(37, &[(2, 2)], &[true, false]);
}

/// A padding mask of two examples: every third position of the first, the first and last
/// two of the second (whose first query, when causal, then sees no key).
fn padding(length: usize) -> Vec<f32> {
    let first = (0..length).map(|j| f32::from(u8::from(j % 3 != 2)));
    let second = (0..length).map(|j| f32::from(u8::from(j != 0 && j + 2 < length)));
    first.chain(second).collect()
}

fn check_against_the_definition(length: usize, shapes: &[(usize, usize)], causals: &[bool]) {
    let batch = 2;
    let padded = padding(length);
    for &(heads, key_dim) in shapes {
        for &causal in causals {
            for (dropout, padding) in [
                (None, &[][..]),
                (Some((0.3, 11)), &[][..]),
                (None, &padded[..]),
                (Some((0.3, 11)), &padded[..]),
            ] {
                let s = spec(heads, key_dim, causal, dropout);
                let width = heads * key_dim;
                // Scaled up so that the softmax is far from uniform.
                let qkv: Vec<f32> = random(batch * 3 * width * length, 21)
                    .iter()
                    .map(|v| 2.0 * v)
                    .collect();
                let r = random(batch * width * length, 22);
                let mask = dropout.map_or_else(Vec::new, |(rate, seed)| {
                    dropout_factors(batch * heads, length * length, rate, seed)
                });
                let what = format!(
                    "{heads} heads of {key_dim}, causal {causal}, dropout {dropout:?}, padded {}",
                    !padding.is_empty()
                );
                let (y, dx) = run(&qkv, (&s, padding), batch, length, &r);
                let point = widen(&qkv);
                assert_close(
                    &format!("{what}: y"),
                    &y,
                    &reference(&point, &s, length, &mask, padding),
                    1e-5,
                );
                let fd = finite_differences(&point, 1e-6, |p| {
                    functional(&reference(p, &s, length, &mask, padding), &r)
                });
                assert_gradient(&format!("{what}: dx"), &dx, &fd, 1e-4);
            }
        }
    }
}

#[test]
fn causal_attention_does_not_look_ahead() {
    // Changing the last position changes no output before it.
    let (batch, heads, key_dim, length) = (1, 2, 2, 6);
    let s = spec(heads, key_dim, true, None);
    let width = heads * key_dim;
    let qkv = random(batch * 3 * width * length, 5);
    let mut later = qkv.clone();
    for (i, v) in later.iter_mut().enumerate() {
        if i % length == length - 1 {
            *v += 1.0;
        }
    }
    let r = random(batch * width * length, 6);
    let (a, _) = run(&qkv, (&s, &[]), batch, length, &r);
    let (b, _) = run(&later, (&s, &[]), batch, length, &r);
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        if i % length == length - 1 {
            assert_ne!(a, b, "the last position sees itself");
        } else {
            assert_eq!(a, b, "position {} sees the last one", i % length);
        }
    }
}

#[test]
fn dropout_masks_follow_the_seed_and_the_rate() {
    let (pairs, plane, rate) = (8, 64 * 64, 0.25);
    let mask = dropout_factors(pairs, plane, rate, 3);
    assert_eq!(
        mask,
        dropout_factors(pairs, plane, rate, 3),
        "the same seed"
    );
    assert_ne!(mask, dropout_factors(pairs, plane, rate, 4), "another seed");
    assert!(mask
        .iter()
        .all(|&m| m == 0.0 || (m - 4.0 / 3.0).abs() < 1e-6));
    let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / mask.len() as f64;
    // 32768 draws: the standard deviation of the fraction is 0.0024.
    assert!((dropped - 0.25).abs() < 0.01, "{dropped} dropped");
    // Each pair draws from its own stream.
    assert_ne!(mask[..plane], mask[plane..2 * plane]);
}

/// Enough pairs and positions for several tasks and for `gemm`: 1 and 3 threads give the
/// same bits, with dropout.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (batch, heads, key_dim, length) = (3, 4, 16, 70);
    let s = spec(heads, key_dim, true, Some((0.1, 9)));
    let width = heads * key_dim;
    let qkv = random(batch * 3 * width * length, 31);
    let r = random(batch * width * length, 32);
    let go = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let (y, dx) = run(&qkv, (&s, &[]), batch, length, &r);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            (bits(&y), bits(&dx))
        })
    };
    assert!(go(1) == go(3), "1 and 3 threads differ");
}

/// Cross-attention's output `(batch, width, queries)` from queries `q` `(batch, width,
/// queries)` and keys and values `kv` `(batch, 2 * width, keys)`, with dropout's factors
/// `mask` (per pair, query, key) or none, and the keys `padding` (batch, keys) zeroes left
/// out (none when empty; a query that sees no key gives zeros).
fn cross_reference(
    q: &[f64],
    kv: &[f64],
    spec: &AttentionSpec,
    (tq, tk): (usize, usize),
    (mask, padding): (&[f32], &[f32]),
) -> Vec<f64> {
    let (heads, kd) = (spec.heads, spec.key_dim);
    let width = heads * kd;
    let batch = q.len() / (width * tq);
    let query = |b: usize, c: usize, i: usize| q[(b * width + c) * tq + i];
    let kv_at =
        |b: usize, part: usize, c: usize, j: usize| kv[((2 * b + part) * width + c) * tk + j];
    let mut out = vec![0.0; batch * width * tq];
    for b in 0..batch {
        for h in 0..heads {
            let pair = b * heads + h;
            for i in 0..tq {
                let visible = if spec.causal { (i + 1).min(tk) } else { tk };
                let seen: Vec<usize> = (0..visible)
                    .filter(|&j| padding.is_empty() || padding[b * tk + j] != 0.0)
                    .collect();
                let scores: Vec<f64> = (0..visible)
                    .map(|j| {
                        let dot: f64 = (0..kd)
                            .map(|c| query(b, h * kd + c, i) * kv_at(b, 0, h * kd + c, j))
                            .sum();
                        dot / (kd as f64).sqrt()
                    })
                    .collect();
                let max = seen
                    .iter()
                    .map(|&j| scores[j])
                    .fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = seen.iter().map(|&j| (scores[j] - max).exp()).sum();
                for c in 0..kd {
                    out[(b * width + h * kd + c) * tq + i] = seen
                        .iter()
                        .map(|&j| {
                            let factor = mask
                                .get((pair * tq + i) * tk + j)
                                .map_or(1.0, |&m| f64::from(m));
                            (scores[j] - max).exp() / total * factor * kv_at(b, 1, h * kd + c, j)
                        })
                        .sum();
                }
            }
        }
    }
    out
}

/// Cross-attention's output and both inputs' gradients for the functional `Σ out · r`, the
/// keys `padding` (batch, keys) left out unless it is empty.
fn run_cross(
    (q, kv): (&[f32], &[f32]),
    (spec, padding): (&AttentionSpec, &[f32]),
    (batch, tq, tk): (usize, usize, usize),
    r: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let dev = Cpu::default();
    let width = spec.heads * spec.key_dim;
    let q = dev.tensor_from_vec(q.to_vec(), (batch, width, 1, tq));
    let kv = dev.tensor_from_vec(kv.to_vec(), (batch, 2 * width, 1, tk));
    let padding = (!padding.is_empty()).then_some(padding);
    let y = super::cross_attention(q.leaky_trace(), kv.leaky_trace(), spec, padding);
    let values = y.as_vec();
    let grads = backward_of_functional(y, r);
    (values, grads.get(&q).as_vec(), grads.get(&kv).as_vec())
}

/// Fewer keys than queries, more, and (longer than a block of queries) a causal mask that
/// the keys run out of; with and without dropout; with and without padded keys (the first
/// example's last two, the second's first, so that a causal first query sees no key).
#[test]
fn cross_attention_matches_the_definition() {
    let batch = 2;
    let cases = [(1, 3, 5, 3), (2, 2, 3, 7), (2, 3, 20, 11)];
    for ((heads, key_dim, tq, tk), padded) in
        cases.into_iter().flat_map(|c| [(c, false), (c, true)])
    {
        let padding: Vec<f32> = if padded {
            (0..batch * tk)
                .map(|i| match (i / tk, i % tk) {
                    (0, j) if j + 2 >= tk => 0.0,
                    (1, 0) => 0.0,
                    _ => 1.0,
                })
                .collect()
        } else {
            Vec::new()
        };
        for causal in [false, true] {
            for dropout in [None, Some((0.3, 5))] {
                let s = spec(heads, key_dim, causal, dropout);
                let width = heads * key_dim;
                let (nq, nkv) = (batch * width * tq, batch * 2 * width * tk);
                let all: Vec<f32> = random(nq + nkv, 41).iter().map(|v| 2.0 * v).collect();
                let (q, kv) = all.split_at(nq);
                let r = random(batch * width * tq, 42);
                let mask = dropout.map_or_else(Vec::new, |(rate, seed)| {
                    dropout_factors(batch * heads, tq * tk, rate, seed)
                });
                let what = format!(
                    "{heads} heads of {key_dim}, {tq} queries, {tk} keys, causal {causal}, dropout {dropout:?}, padded {padded}"
                );
                let (y, dq, dkv) = run_cross((q, kv), (&s, &padding), (batch, tq, tk), &r);
                let reference = |p: &[f64]| {
                    let (q, kv) = p.split_at(nq);
                    cross_reference(q, kv, &s, (tq, tk), (&mask, &padding))
                };
                let point = widen(&all);
                assert_close(&format!("{what}: y"), &y, &reference(&point), 1e-5);
                let fd = finite_differences(&point, 1e-6, |p| functional(&reference(p), &r));
                assert_gradient(&format!("{what}: dq"), &dq, &fd[..nq], 1e-4);
                assert_gradient(&format!("{what}: dkv"), &dkv, &fd[nq..], 1e-4);
            }
        }
    }
}

/// Self-attention is cross-attention of a sequence with itself: the same bits.
#[test]
fn cross_attention_of_a_sequence_with_itself_is_self_attention() {
    let (batch, heads, key_dim, t) = (2, 2, 4, 19);
    let s = spec(heads, key_dim, true, Some((0.2, 3)));
    let width = heads * key_dim;
    let qkv = random(batch * 3 * width * t, 51);
    let r = random(batch * width * t, 52);
    let (y, dqkv) = run(&qkv, (&s, &[]), batch, t, &r);
    let (mut q, mut kv) = (Vec::new(), Vec::new());
    for example in qkv.chunks_exact(3 * width * t) {
        q.extend_from_slice(&example[..width * t]);
        kv.extend_from_slice(&example[width * t..]);
    }
    let (y_cross, dq, dkv) = run_cross((&q, &kv), (&s, &[]), (batch, t, t), &r);
    assert_eq!(y, y_cross);
    let joined: Vec<f32> = dq
        .chunks_exact(width * t)
        .zip(dkv.chunks_exact(2 * width * t))
        .flat_map(|(q, kv)| q.iter().chain(kv).copied())
        .collect();
    assert_eq!(dqkv, joined);
}
