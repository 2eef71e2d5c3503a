//! Layer normalisation over the channels at each position of NCHW activations (a flat batch
//! is `(batch, features, 1, 1)`, a sequence `(batch, width, 1, length)`), as one op on dfdx's
//! tape: Keras' `LayerNormalization(axis = -1)` in channels-last terms. dfdx's `normalize`
//! followed by the scale and offset is a chain of a dozen ops with a tensor and a gradient
//! each; this is one pass forward and one backward, over examples in parallel.
//!
//! Every sum runs over channels in order within one example, and the parameters' gradients
//! are summed over examples in order, so results do not depend on the thread count.

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape};
use rayon::prelude::*;

use super::batch_norm::Channelwise;
use super::{add_into, host_data, tensor_from_output, T4};
use crate::ops::cpu::zeroed::zeroed;

/// What a call sets besides the input.
#[derive(Clone, Copy, Debug)]
pub struct LayerNormSpec<'a> {
    pub epsilon: f32,
    /// The scale, or none for 1 (`scale = false`).
    pub gamma: Option<Channelwise<'a>>,
    /// The offset, or none for 0 (`center = false`).
    pub beta: Option<Channelwise<'a>>,
}

/// `gamma * (x - mean) / sqrt(var + epsilon) + beta`, the mean and biased variance taken over
/// the channels at each position of each example.
pub fn layer_norm<T: Tape<f32, Cpu>>(x: T4<T>, spec: &LayerNormSpec<'_>) -> T4<T> {
    let (n, c, h, w) = *x.shape();
    let p = h * w;
    let (x, mut tape) = x.split_tape();
    let data = host_data(&x);
    let gamma = spec.gamma.map(|g| g.1.to_vec());
    let beta = spec.beta.map(|b| b.1.to_vec());
    let mut xhat = zeroed(data.len());
    let mut inv = vec![0.0; n * p];
    let mut out = zeroed(data.len());
    out.par_chunks_mut(c * p)
        .zip(xhat.par_chunks_mut(c * p))
        .zip(inv.par_chunks_mut(p))
        .zip(data.par_chunks(c * p))
        .for_each(|(((y, xhat), inv), x)| {
            normalize(x, (c, p), spec.epsilon, xhat, inv);
            for (ch, (y, xhat)) in y.chunks_exact_mut(p).zip(xhat.chunks_exact(p)).enumerate() {
                let g = gamma.as_ref().map_or(1.0, |g| g[ch]);
                let b = beta.as_ref().map_or(0.0, |b| b[ch]);
                for (y, &v) in y.iter_mut().zip(xhat) {
                    *y = v * g + b;
                }
            }
        });
    let out = tensor_from_output(x.device(), out, (n, c, h, w));
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        let gamma_ghost = spec.gamma.map(|g| g.0.ghost());
        let beta_ghost = spec.beta.map(|b| b.0.ghost());
        tape.add_backward_op(move |grads| {
            let dy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dx = grads.get_or_alloc_mut(&x_ghost)?;
            // Per example: the input's gradient, and its parts of gamma's and beta's.
            let parts: Vec<(Vec<f32>, Vec<f32>)> = dx
                .par_chunks_mut(c * p)
                .zip(dy.par_chunks(c * p))
                .zip(xhat.par_chunks(c * p).zip(inv.par_chunks(p)))
                .map(|((dx, dy), (xhat, inv))| {
                    backward(dx, dy, xhat, inv, (c, p), gamma.as_deref())
                })
                .collect();
            let mut dgamma = vec![0.0; c];
            let mut dbeta = vec![0.0; c];
            for (dg, db) in &parts {
                add_into(&mut dgamma, dg);
                add_into(&mut dbeta, db);
            }
            if let Some(ghost) = &gamma_ghost {
                add_into(grads.get_or_alloc_mut(ghost)?, &dgamma);
            }
            if let Some(ghost) = &beta_ghost {
                add_into(grads.get_or_alloc_mut(ghost)?, &dbeta);
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// One example `(channels, positions)`: `xhat = (x - mean) * inv` at each position, and
/// `inv = 1 / sqrt(var + epsilon)` per position.
fn normalize(x: &[f32], (c, p): (usize, usize), epsilon: f32, xhat: &mut [f32], inv: &mut [f32]) {
    let scale = 1.0 / c as f32;
    let mut mean = vec![0.0f32; p];
    for row in x.chunks_exact(p) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in &mut mean {
        *m *= scale;
    }
    inv.fill(0.0);
    for (row, centred) in x.chunks_exact(p).zip(xhat.chunks_exact_mut(p)) {
        for (((d, &v), &m), s) in centred.iter_mut().zip(row).zip(&mean).zip(inv.iter_mut()) {
            *d = v - m;
            *s += *d * *d;
        }
    }
    for s in inv.iter_mut() {
        *s = 1.0 / (*s * scale + epsilon).sqrt();
    }
    for row in xhat.chunks_exact_mut(p) {
        for (d, &s) in row.iter_mut().zip(inv.iter()) {
            *d *= s;
        }
    }
}

/// One example's backward pass: adds `inv * (g - mean(g) - xhat * mean(g * xhat))` to `dx`,
/// where `g = dy * gamma`, and returns its parts of gamma's and beta's gradients.
fn backward(
    dx: &mut [f32],
    dy: &[f32],
    xhat: &[f32],
    inv: &[f32],
    (c, p): (usize, usize),
    gamma: Option<&[f32]>,
) -> (Vec<f32>, Vec<f32>) {
    let scale = 1.0 / c as f32;
    let mut dgamma = vec![0.0; c];
    let mut dbeta = vec![0.0; c];
    let mut m1 = vec![0.0f32; p];
    let mut m2 = vec![0.0f32; p];
    for (ch, (dy, xhat)) in dy.chunks_exact(p).zip(xhat.chunks_exact(p)).enumerate() {
        let g = gamma.map_or(1.0, |g| g[ch]);
        for (((a, b), &d), &v) in m1.iter_mut().zip(m2.iter_mut()).zip(dy).zip(xhat) {
            *a += d * g;
            *b += d * g * v;
            dgamma[ch] += d * v;
            dbeta[ch] += d;
        }
    }
    for (ch, ((dx, dy), xhat)) in dx
        .chunks_exact_mut(p)
        .zip(dy.chunks_exact(p))
        .zip(xhat.chunks_exact(p))
        .enumerate()
    {
        let g = gamma.map_or(1.0, |g| g[ch]);
        for ((((dx, &d), &v), (&a, &b)), &s) in dx
            .iter_mut()
            .zip(dy)
            .zip(xhat)
            .zip(m1.iter().zip(&m2))
            .zip(inv)
        {
            *dx += s * (d * g - a * scale - v * b * scale);
        }
    }
    (dgamma, dbeta)
}
