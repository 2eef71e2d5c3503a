//! Batch normalisation on host data laid out `(batch, channels, positions)`: a flat batch is
//! `positions = 1`, an NCHW image `positions = height * width`.
//!
//! Each channel's sums run in a fixed order (batch, then position) in f64 whatever the thread
//! count, so results are bit-identical across thread counts. Work is cut by channel for the
//! sums (read-only) and by plane (one channel of one example) for the elementwise passes.

use rayon::prelude::*;

/// Enough elements per rayon task to outweigh its scheduling cost.
const ELEMENTS_PER_TASK: usize = 4096;

/// The layout of a batch: `batch` examples of `channels` planes of `positions` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub batch: usize,
    pub channels: usize,
    pub positions: usize,
}

impl Layout {
    /// Values per channel over the batch.
    pub fn per_channel(self) -> usize {
        self.batch * self.positions
    }

    /// Channel `c`'s values, plane by plane.
    fn planes(self, data: &[f32], c: usize) -> impl Iterator<Item = &[f32]> {
        let (cl, l) = (self.channels * self.positions, self.positions);
        (0..self.batch).map(move |n| &data[n * cl + c * l..][..l])
    }

    /// Planes per rayon task for the elementwise passes.
    fn min_planes(self) -> usize {
        (ELEMENTS_PER_TASK / self.positions.max(1)).max(1)
    }
}

/// Each channel's mean and biased variance (divided by the count, as both Keras and PyTorch
/// normalise with), computed in two passes in f64.
pub fn moments(layout: Layout, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let count = layout.per_channel() as f64;
    let per_channel: Vec<(f32, f32)> = (0..layout.channels)
        .into_par_iter()
        .map(|c| {
            let sum: f64 = layout.planes(x, c).flatten().map(|&v| f64::from(v)).sum();
            let mean = sum / count;
            let squares: f64 = layout
                .planes(x, c)
                .flatten()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum();
            (mean as f32, (squares / count) as f32)
        })
        .collect();
    per_channel.into_iter().unzip()
}

/// `1 / sqrt(var + epsilon)` per channel.
pub fn inverse_std(var: &[f32], epsilon: f32) -> Vec<f32> {
    var.iter().map(|&v| 1.0 / (v + epsilon).sqrt()).collect()
}

/// The per-channel affine map `y = x * a + b` that normalisation by `mean` and `inv_std` then
/// `gamma`, `beta` comes to.
fn affine(mean: &[f32], inv_std: &[f32], gamma: &[f32], beta: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let a: Vec<f32> = inv_std.iter().zip(gamma).map(|(s, g)| s * g).collect();
    let b = mean
        .iter()
        .zip(&a)
        .zip(beta)
        .map(|((m, a), b)| b - m * a)
        .collect();
    (a, b)
}

/// `gamma * (x - mean) * inv_std + beta`, into `out`.
pub fn normalize(
    layout: Layout,
    x: &[f32],
    stats: (&[f32], &[f32]),
    gamma: &[f32],
    beta: &[f32],
    out: &mut [f32],
) {
    let (a, b) = affine(stats.0, stats.1, gamma, beta);
    let l = layout.positions;
    out.par_chunks_mut(l)
        .zip(x.par_chunks(l))
        .enumerate()
        .with_min_len(layout.min_planes())
        .for_each(|(p, (out, x))| {
            let c = p % layout.channels;
            for (o, v) in out.iter_mut().zip(x) {
                *o = v * a[c] + b[c];
            }
        });
}

/// Gradients of one batch normalisation.
pub struct Grads {
    /// The input's, empty where nobody reads it.
    pub dx: Vec<f32>,
    pub dgamma: Vec<f32>,
    pub dbeta: Vec<f32>,
}

/// The backward pass for the output's gradient `dy`. With `batch_stats` (training), the mean
/// and variance were the batch's own and depend on `x`:
/// `dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat))`; otherwise (running
/// statistics) `dx = gamma * inv_std * dy`.
pub fn backward(
    layout: Layout,
    x: &[f32],
    stats: (&[f32], &[f32]),
    gamma: &[f32],
    dy: &[f32],
    batch_stats: bool,
    input_grad: bool,
) -> Grads {
    let (mean, inv_std) = stats;
    let sums: Vec<(f64, f64)> = (0..layout.channels)
        .into_par_iter()
        .map(|c| {
            let (m, s) = (f64::from(mean[c]), f64::from(inv_std[c]));
            layout
                .planes(x, c)
                .zip(layout.planes(dy, c))
                .flat_map(|(x, dy)| x.iter().zip(dy))
                .fold((0.0, 0.0), |(sdy, sdyx), (&x, &dy)| {
                    let (x, dy) = (f64::from(x), f64::from(dy));
                    (sdy + dy, sdyx + dy * (x - m) * s)
                })
        })
        .collect();
    let dbeta: Vec<f32> = sums.iter().map(|s| s.0 as f32).collect();
    let dgamma: Vec<f32> = sums.iter().map(|s| s.1 as f32).collect();
    let mut dx = Vec::new();
    if input_grad {
        let count = layout.per_channel() as f32;
        // dx = k * dy + u * (x - mean) + v per channel, the batch terms folded into u and v.
        let (mut k, mut u, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for c in 0..layout.channels {
            let kc = gamma[c] * inv_std[c];
            k.push(kc);
            if batch_stats {
                let (mdy, mdyx) = (dbeta[c] / count, dgamma[c] / count);
                // kc * xhat * mdyx = (x - mean) * kc * inv_std * mdyx
                u.push(-kc * inv_std[c] * mdyx);
                v.push(-kc * mdy);
            } else {
                u.push(0.0);
                v.push(0.0);
            }
        }
        dx = vec![0.0; x.len()];
        let l = layout.positions;
        dx.par_chunks_mut(l)
            .zip(x.par_chunks(l).zip(dy.par_chunks(l)))
            .enumerate()
            .with_min_len(layout.min_planes())
            .for_each(|(p, (dx, (x, dy)))| {
                let c = p % layout.channels;
                for ((d, x), dy) in dx.iter_mut().zip(x).zip(dy) {
                    *d = k[c] * dy + u[c] * (x - mean[c]) + v[c];
                }
            });
    }
    Grads { dx, dgamma, dbeta }
}
