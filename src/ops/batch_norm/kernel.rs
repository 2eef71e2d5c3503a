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

/// Independent f64 accumulators per sum: a fixed order (element `i` into lane `i % LANES`,
/// then the lanes in order), so the result does not depend on threads, while the lanes' add
/// chains run side by side instead of one long dependency chain.
const LANES: usize = 8;

/// `sum(f(v))` over `values`, in f64 over [`LANES`] lanes.
#[inline]
fn lane_sum(values: &[f32], f: impl Fn(f64) -> f64) -> [f64; LANES] {
    let mut acc = [0.0f64; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(f64::from(v));
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += f(f64::from(v));
    }
    acc
}

fn add_lanes(total: &mut [f64; LANES], part: [f64; LANES]) {
    for (t, p) in total.iter_mut().zip(part) {
        *t += p;
    }
}

/// Each channel's mean and biased variance (divided by the count, as both Keras and PyTorch
/// normalise with), computed in two passes in f64.
pub fn moments(layout: Layout, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let count = layout.per_channel() as f64;
    let per_channel: Vec<(f32, f32)> = (0..layout.channels)
        .into_par_iter()
        .map(|c| {
            // Lane sums (`lane_sum`), not one chain of f64 additions: they vectorise, and
            // the chain's latency made these two passes a tenth of ResNet-20's step.
            let mut sum = [0.0; LANES];
            for plane in layout.planes(x, c) {
                add_lanes(&mut sum, lane_sum(plane, |v| v));
            }
            let mean = sum.iter().sum::<f64>() / count;
            let mut squares = [0.0; LANES];
            for plane in layout.planes(x, c) {
                add_lanes(&mut squares, lane_sum(plane, |v| (v - mean) * (v - mean)));
            }
            let squares = squares.iter().sum::<f64>();
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

/// `gamma * (x - mean) * inv_std + beta`, into `out`, through `then` where given.
pub fn normalize(
    layout: Layout,
    x: &[f32],
    stats: (&[f32], &[f32]),
    gamma: &[f32],
    beta: &[f32],
    out: &mut [f32],
    then: Option<&(impl Fn(f32) -> f32 + Sync)>,
) {
    let (a, b) = affine(stats.0, stats.1, gamma, beta);
    let l = layout.positions;
    out.par_chunks_mut(l)
        .zip(x.par_chunks(l))
        .enumerate()
        .with_min_len(layout.min_planes())
        .for_each(|(p, (out, x))| {
            let c = p % layout.channels;
            let (a, b) = (a[c], b[c]);
            match then {
                // Two loops, so that each vectorises.
                None => out.iter_mut().zip(x).for_each(|(o, v)| *o = v * a + b),
                Some(f) => out.iter_mut().zip(x).for_each(|(o, v)| *o = f(v * a + b)),
            }
        });
}

/// `dy *= 1` where the rectified output `y` is positive, `*= alpha` elsewhere: the gradient
/// through a rectifier of slope `alpha` (above 0, or 0 for a ReLU) below 0.
pub fn rectifier_grad(alpha: f32, y: &[f32], dy: &mut [f32]) {
    dy.par_iter_mut()
        .zip(y.par_iter())
        .with_min_len(1 << 14)
        .for_each(|(d, &y)| *d *= if y > 0.0 { 1.0 } else { alpha });
}

/// The parameters' gradients of one batch normalisation.
pub struct Grads {
    pub dgamma: Vec<f32>,
    pub dbeta: Vec<f32>,
}

/// The backward pass for the output's gradient `dy`, adding the input's into `dx` where
/// someone reads it. With `batch_stats` (training), the mean
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
    dx: Option<&mut [f32]>,
) -> Grads {
    let (mean, inv_std) = stats;
    let sums: Vec<(f64, f64)> = (0..layout.channels)
        .into_par_iter()
        .map(|c| {
            let (m, s) = (f64::from(mean[c]), f64::from(inv_std[c]));
            let (mut sdy, mut sdyx) = ([0.0; LANES], [0.0; LANES]);
            for (x, dy) in layout.planes(x, c).zip(layout.planes(dy, c)) {
                add_lanes(&mut sdy, lane_sum(dy, |v| v));
                let mut chunks = x.chunks_exact(LANES).zip(dy.chunks_exact(LANES));
                let mut acc = [0.0f64; LANES];
                for (x, dy) in &mut chunks {
                    for ((a, &x), &dy) in acc.iter_mut().zip(x).zip(dy) {
                        *a += f64::from(dy) * (f64::from(x) - m);
                    }
                }
                let tail = x.len() - x.len() % LANES;
                for ((a, &x), &dy) in acc.iter_mut().zip(&x[tail..]).zip(&dy[tail..]) {
                    *a += f64::from(dy) * (f64::from(x) - m);
                }
                add_lanes(&mut sdyx, acc);
            }
            (sdy.iter().sum::<f64>(), sdyx.iter().sum::<f64>() * s)
        })
        .collect();
    let dbeta: Vec<f32> = sums.iter().map(|s| s.0 as f32).collect();
    let dgamma: Vec<f32> = sums.iter().map(|s| s.1 as f32).collect();
    if let Some(dx) = dx {
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
        let l = layout.positions;
        dx.par_chunks_mut(l)
            .zip(x.par_chunks(l).zip(dy.par_chunks(l)))
            .enumerate()
            .with_min_len(layout.min_planes())
            .for_each(|(p, (dx, (x, dy)))| {
                let c = p % layout.channels;
                for ((d, x), dy) in dx.iter_mut().zip(x).zip(dy) {
                    *d += k[c] * dy + u[c] * (x - mean[c]) + v[c];
                }
            });
    }
    Grads { dgamma, dbeta }
}
