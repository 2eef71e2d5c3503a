//! Batch normalisation on host data laid out `(batch, channels, positions)`: a flat batch is
//! `positions = 1`, an NCHW image `positions = height * width`.
//!
//! Each channel's sums run in a fixed order (batch, then position) in f64 whatever the thread
//! count, so results are bit-identical across thread counts. Work is cut by channel for the
//! sums (read-only) and by plane (one channel of one example) for the elementwise passes.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::ops::cpu::simd::{avx2_or_portable, avx512_or_avx2_or_portable};

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
        (0..self.batch).map(move |n| self.plane(data, n, c))
    }

    /// Channel `c`'s values in example `n`.
    fn plane(self, data: &[f32], n: usize, c: usize) -> &[f32] {
        &data[(n * self.channels + c) * self.positions..][..self.positions]
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
    if layout.positions == 1 {
        return flat::moments(layout, x).into_iter().unzip();
    }
    let per_channel: Vec<(f32, f32)> = (0..layout.channels)
        .into_par_iter()
        .map(|c| channel_moments(layout, x, c))
        .collect();
    per_channel.into_iter().unzip()
}

avx512_or_avx2_or_portable!(
    fn channel_moments(layout: Layout, x: &[f32], c: usize) -> (f32, f32) => channel_moments_in
);

/// Channel `c`'s mean and biased variance.
#[inline(always)]
fn channel_moments_in(layout: Layout, x: &[f32], c: usize) -> (f32, f32) {
    let count = layout.per_channel() as f64;
    // Lane sums (`lane_sum`), not one chain of f64 additions: they vectorise, and the chain's
    // latency made these two passes a tenth of ResNet-20's step.
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

/// `gamma * (x - mean) * inv_std + beta`, written into every element of `out`, through a
/// rectifier of slope `alpha` below 0 where `rectifier` is `Some(alpha)` (`super::rectify`).
pub fn normalize(
    layout: Layout,
    x: &[f32],
    stats: (&[f32], &[f32]),
    gamma: &[f32],
    beta: &[f32],
    out: &mut [MaybeUninit<f32>],
    rectifier: Option<f32>,
) {
    let (a, b) = affine(stats.0, stats.1, gamma, beta);
    let l = layout.positions;
    let planes = layout.min_planes();
    out.par_chunks_mut(planes * l)
        .zip(x.par_chunks(planes * l))
        .enumerate()
        .for_each(|(i, (out, x))| {
            normalize_planes(layout, x, (&a, &b), rectifier, i * planes, out);
        });
}

avx2_or_portable!(
    fn normalize_planes(
        layout: Layout,
        x: &[f32],
        affine: (&[f32], &[f32]),
        rectifier: Option<f32>,
        first_plane: usize,
        out: &mut [MaybeUninit<f32>],
    ) => normalize_planes_in
);

/// `out = x * a + b` (then the rectifier) over whole planes, the first of them plane
/// `first_plane` of the batch.
#[inline(always)]
fn normalize_planes_in(
    layout: Layout,
    x: &[f32],
    (a, b): (&[f32], &[f32]),
    rectifier: Option<f32>,
    first_plane: usize,
    out: &mut [MaybeUninit<f32>],
) {
    let l = layout.positions;
    for (p, (out, x)) in out.chunks_mut(l).zip(x.chunks(l)).enumerate() {
        let c = (first_plane + p) % layout.channels;
        let (a, b) = (a[c], b[c]);
        let values = out.iter_mut().zip(x);
        // Separate loops, so that each vectorises.
        match rectifier {
            None => values.for_each(|(o, v)| {
                o.write(v * a + b);
            }),
            Some(alpha) => values.for_each(|(o, v)| {
                o.write(super::rectify(v * a + b, alpha));
            }),
        }
    }
}

/// The gradient of a batch norm's output: `dy`, or with a fused rectifier of slope `alpha`
/// (above 0, or 0 for a ReLU) below 0, `dy * 1` where its output `y` is positive and
/// `dy * alpha` elsewhere. The rectifier's factor is applied as each pass reads `dy`, not in
/// a pass of its own.
#[derive(Clone, Copy)]
pub struct OutputGrad<'a> {
    pub dy: &'a [f32],
    pub rectified: Option<(f32, &'a [f32])>,
}

/// The rectifier's factor on one gradient value: `dy * 1` where `y > 0`, `dy * alpha`
/// elsewhere (a select the loops vectorise, where a branch on `y`'s sign was mispredicted
/// half the time).
#[inline(always)]
fn rectified(dy: f32, y: f32, alpha: f32) -> f32 {
    dy * if y > 0.0 { 1.0 } else { alpha }
}

/// The parameters' gradients of one batch normalisation.
pub struct Grads {
    pub dgamma: Vec<f32>,
    pub dbeta: Vec<f32>,
}

/// The backward pass for the output's gradient `grad`, adding the input's into `dx` where
/// someone reads it. With `batch_stats` (training), the mean
/// and variance were the batch's own and depend on `x`:
/// `dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat))`; otherwise (running
/// statistics) `dx = gamma * inv_std * dy`.
pub fn backward(
    layout: Layout,
    x: &[f32],
    stats: (&[f32], &[f32]),
    gamma: &[f32],
    grad: OutputGrad<'_>,
    batch_stats: bool,
    dx: Option<&mut [f32]>,
) -> Grads {
    let (mean, inv_std) = stats;
    let sums: Vec<(f64, f64)> = if layout.positions == 1 {
        flat::grad_sums(layout, x, grad, mean)
    } else {
        (0..layout.channels)
            .into_par_iter()
            .map(|c| {
                let mut scratch = vec![0.0; layout.positions];
                channel_grad_sums(layout, x, grad, c, f64::from(mean[c]), &mut scratch)
            })
            .collect()
    };
    let sums: Vec<(f64, f64)> = sums
        .into_iter()
        .zip(inv_std)
        .map(|((sdy, sdyx), &inv_std)| (sdy, sdyx * f64::from(inv_std)))
        .collect();
    let dbeta: Vec<f32> = sums.iter().map(|s| s.0 as f32).collect();
    let dgamma: Vec<f32> = sums.iter().map(|s| s.1 as f32).collect();
    if let Some(dx) = dx {
        let count = layout.per_channel() as f32;
        // dx = k * dy + u * (x - mean) + v per channel, the batch terms folded into u and v.
        let mut coefficients = Coefficients {
            mean,
            k: Vec::new(),
            u: Vec::new(),
            v: Vec::new(),
        };
        for c in 0..layout.channels {
            let kc = gamma[c] * inv_std[c];
            coefficients.k.push(kc);
            if batch_stats {
                let (mdy, mdyx) = (dbeta[c] / count, dgamma[c] / count);
                // kc * xhat * mdyx = (x - mean) * kc * inv_std * mdyx
                coefficients.u.push(-kc * inv_std[c] * mdyx);
                coefficients.v.push(-kc * mdy);
            } else {
                coefficients.u.push(0.0);
                coefficients.v.push(0.0);
            }
        }
        let l = layout.positions;
        let planes = layout.min_planes();
        dx.par_chunks_mut(planes * l)
            .enumerate()
            .for_each(|(i, dx)| {
                let first = i * planes * l;
                let range = first..first + dx.len();
                let grad = OutputGrad {
                    dy: &grad.dy[range.clone()],
                    rectified: grad.rectified.map(|(alpha, y)| (alpha, &y[range.clone()])),
                };
                let first_plane = i * planes;
                input_grad_planes(layout, &x[range], grad, &coefficients, first_plane, dx);
            });
    }
    Grads { dgamma, dbeta }
}

/// The per-channel terms of the input's gradient, `dx = k * dy + u * (x - mean) + v`.
struct Coefficients<'a> {
    mean: &'a [f32],
    k: Vec<f32>,
    u: Vec<f32>,
    v: Vec<f32>,
}

avx512_or_avx2_or_portable!(
    fn channel_grad_sums(
        layout: Layout,
        x: &[f32],
        grad: OutputGrad<'_>,
        c: usize,
        mean: f64,
        scratch: &mut [f32],
    ) -> (f64, f64) => channel_grad_sums_in
);

/// Channel `c`'s `sum(dy)` and `sum(dy * (x - mean))`, in f64 over [`LANES`] lanes, plane by
/// plane; `scratch` holds a plane of the rectified gradient.
#[inline(always)]
fn channel_grad_sums_in(
    layout: Layout,
    x: &[f32],
    grad: OutputGrad<'_>,
    c: usize,
    m: f64,
    scratch: &mut [f32],
) -> (f64, f64) {
    let (mut sdy, mut sdyx) = ([0.0; LANES], [0.0; LANES]);
    for (n, (x, dy)) in layout
        .planes(x, c)
        .zip(layout.planes(grad.dy, c))
        .enumerate()
    {
        let dy = match grad.rectified {
            None => dy,
            Some((alpha, y)) => {
                let y = layout.plane(y, n, c);
                for ((s, &d), &y) in scratch.iter_mut().zip(dy).zip(y) {
                    *s = rectified(d, y, alpha);
                }
                &scratch[..dy.len()]
            }
        };
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
    (sdy.iter().sum::<f64>(), sdyx.iter().sum::<f64>())
}

avx2_or_portable!(
    fn input_grad_planes(
        layout: Layout,
        x: &[f32],
        grad: OutputGrad<'_>,
        coefficients: &Coefficients<'_>,
        first_plane: usize,
        dx: &mut [f32],
    ) => input_grad_planes_in
);

/// `dx += k * dy + u * (x - mean) + v` over whole planes, the first of them plane
/// `first_plane` of the batch.
#[inline(always)]
fn input_grad_planes_in(
    layout: Layout,
    x: &[f32],
    grad: OutputGrad<'_>,
    Coefficients { mean, k, u, v }: &Coefficients<'_>,
    first_plane: usize,
    dx: &mut [f32],
) {
    let l = layout.positions;
    for (p, (dx, (x, dy))) in dx
        .chunks_mut(l)
        .zip(x.chunks(l).zip(grad.dy.chunks(l)))
        .enumerate()
    {
        let c = (first_plane + p) % layout.channels;
        let (k, u, v, mean) = (k[c], u[c], v[c], mean[c]);
        match grad.rectified {
            None => {
                for ((d, x), dy) in dx.iter_mut().zip(x).zip(dy) {
                    *d += k * dy + u * (x - mean) + v;
                }
            }
            Some((alpha, y)) => {
                let y = &y[p * l..][..l];
                for (((d, x), &dy), &y) in dx.iter_mut().zip(x).zip(dy).zip(y) {
                    *d += k * rectified(dy, y, alpha) + u * (x - mean) + v;
                }
            }
        }
    }
}

/// The sums of a flat batch (one value per channel and example, after a dense layer), down
/// the rows: a task takes a block of channels and reads each example's values of them
/// contiguously, where the per-channel kernels read one value per example, a row apart
/// (12,544 channels apart after the DCGAN's first layer, 5% of its step). Each channel's
/// sums are those of the per-channel kernels to the bit: a plane of one value goes into
/// lane 0 as `0.0 + term`, in example order, the other lanes stay 0 ([`lanes_total`]).
mod flat {
    use rayon::prelude::*;

    use super::{rectified, Layout, OutputGrad, LANES};

    /// Channels per task: their f64 sums stay in L1.
    const BLOCK: usize = 256;

    /// The total of [`LANES`] lanes of which lane 0 holds `lane0`, added as the per-channel
    /// kernels add them.
    fn lanes_total(lane0: f64) -> f64 {
        let mut lanes = [0.0; LANES];
        lanes[0] = lane0;
        lanes.iter().sum()
    }

    /// Block `i`'s values of each example, in order.
    fn rows(layout: Layout, data: &[f32], i: usize, width: usize) -> impl Iterator<Item = &[f32]> {
        (0..layout.batch).map(move |n| &data[n * layout.channels + i * BLOCK..][..width])
    }

    /// Each channel's mean and biased variance, as `channel_moments`.
    pub(super) fn moments(layout: Layout, x: &[f32]) -> Vec<(f32, f32)> {
        let count = layout.per_channel() as f64;
        let mut out = vec![(0.0, 0.0); layout.channels];
        out.par_chunks_mut(BLOCK).enumerate().for_each(|(i, out)| {
            let mut sum = vec![0.0f64; out.len()];
            for row in rows(layout, x, i, out.len()) {
                for (s, &v) in sum.iter_mut().zip(row) {
                    *s += 0.0 + f64::from(v);
                }
            }
            let mean: Vec<f64> = sum.iter().map(|&s| lanes_total(s) / count).collect();
            let mut squares = vec![0.0f64; out.len()];
            for row in rows(layout, x, i, out.len()) {
                for ((s, &v), &m) in squares.iter_mut().zip(row).zip(&mean) {
                    let d = f64::from(v) - m;
                    *s += 0.0 + d * d;
                }
            }
            for ((o, &m), &s) in out.iter_mut().zip(&mean).zip(&squares) {
                *o = (m as f32, (lanes_total(s) / count) as f32);
            }
        });
        out
    }

    /// Each channel's `sum(dy)` and `sum(dy * (x - mean))`, as `channel_grad_sums`.
    pub(super) fn grad_sums(
        layout: Layout,
        x: &[f32],
        grad: OutputGrad<'_>,
        mean: &[f32],
    ) -> Vec<(f64, f64)> {
        let mut out = vec![(0.0, 0.0); layout.channels];
        out.par_chunks_mut(BLOCK).enumerate().for_each(|(i, out)| {
            let width = out.len();
            let mean: Vec<f64> = mean[i * BLOCK..][..width]
                .iter()
                .map(|&m| f64::from(m))
                .collect();
            let (mut sdy, mut sdyx) = (vec![0.0f64; width], vec![0.0f64; width]);
            let mut rectified_row = vec![0.0f32; width];
            let dys = rows(layout, grad.dy, i, width);
            for (n, (x, dy)) in rows(layout, x, i, width).zip(dys).enumerate() {
                let dy = match grad.rectified {
                    None => dy,
                    Some((alpha, y)) => {
                        let y = &y[n * layout.channels + i * BLOCK..][..width];
                        for ((r, &d), &y) in rectified_row.iter_mut().zip(dy).zip(y) {
                            *r = rectified(d, y, alpha);
                        }
                        &rectified_row
                    }
                };
                for ((((a, b), &x), &dy), &m) in
                    sdy.iter_mut().zip(&mut sdyx).zip(x).zip(dy).zip(&mean)
                {
                    *a += 0.0 + f64::from(dy);
                    *b += 0.0 + f64::from(dy) * (f64::from(x) - m);
                }
            }
            for ((o, &a), &b) in out.iter_mut().zip(&sdy).zip(&sdyx) {
                *o = (lanes_total(a), lanes_total(b));
            }
        });
        out
    }
}

#[cfg(test)]
mod flat_tests {
    use super::*;

    /// Values in about [-1, 1] from `seed`, with exact zeros among them.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| {
                let h = (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 2001;
                h as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn flat_sums_give_the_bits_of_the_per_channel_kernels() {
        // More channels than a block, and a last block cut short.
        let layout = Layout {
            batch: 37,
            channels: 600,
            positions: 1,
        };
        let len = layout.batch * layout.channels;
        let (x, dy, y) = (values(len, 1), values(len, 2), values(len, 3));
        let per_channel: Vec<(f32, f32)> = (0..layout.channels)
            .map(|c| channel_moments(layout, &x, c))
            .collect();
        assert!(flat::moments(layout, &x) == per_channel, "moments");
        let mean: Vec<f32> = per_channel.iter().map(|m| m.0).collect();
        for rectified in [None, Some((0.2, &y[..]))] {
            let grad = OutputGrad { dy: &dy, rectified };
            let want: Vec<(f64, f64)> = (0..layout.channels)
                .map(|c| {
                    let mut scratch = [0.0];
                    channel_grad_sums(layout, &x, grad, c, f64::from(mean[c]), &mut scratch)
                })
                .collect();
            let got = flat::grad_sums(layout, &x, grad, &mean);
            assert!(
                got == want,
                "gradient sums, rectifier {:?}",
                rectified.map(|r| r.0)
            );
        }
    }
}
