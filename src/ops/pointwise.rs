//! Elementwise functions fused into one op on dfdx's tape: `y = f(x)` forward, and
//! `dx += dy * f'(x, y)` backward, each one pass over the data.
//!
//! The activations dfdx lacks (elu, selu, swish, softplus, hard sigmoid) would otherwise be
//! chains of five or six dfdx ops, each allocating a tensor and a gradient, and some (softplus
//! as `ln(1 + exp(x))`) overflow for large inputs where the formulas below do not. Each
//! element is computed on its own, so any split over threads gives the same bits.
//!
//! ReLU is here too, and the sum of two values of one shape ([`add`]): dfdx's are
//! single-threaded passes that copy their input first, and in a residual network they were a
//! tenth of the step (BENCHMARKS.md, attempt 44). Both give dfdx's bits.

use std::mem::MaybeUninit;

use dfdx::prelude::{Cpu, HasShape, Merge, PutTape, Shape, SplitTape, Tape, Tensor, TensorFromVec};
use rayon::prelude::*;

use super::cpu::math;
use super::cpu::simd::{avx2_or_portable, avx512_or_avx2_or_portable};
use super::storage;

/// Enough elements per rayon task to outweigh its scheduling cost.
const ELEMENTS_PER_TASK: usize = 1 << 14;

/// A function with its derivative, both in f32.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pointwise {
    /// `max(x, 0)`, slope 0 at 0 (dfdx's and PyTorch's).
    Relu,
    /// `x` above 0, else `alpha * (exp(x) - 1)`.
    Elu { alpha: f32 },
    /// `SELU_SCALE * elu(x, SELU_ALPHA)`.
    Selu,
    /// `x * sigmoid(x)`.
    Swish,
    /// `ln(1 + exp(x))`, as `max(x, 0) + ln(1 + exp(-|x|))`.
    Softplus,
    /// Keras 3's `relu6(x + 3) / 6`, i.e. `clip(x / 6 + 1/2, 0, 1)`.
    HardSigmoid,
    /// `x` above 0, else `alpha * x`; as dfdx's `leakyrelu` and PyTorch's, the slope at 0 is
    /// `alpha`. A fused op of ours because dfdx's is three single-threaded passes (a
    /// comparison, a scaled copy and a choice) each way.
    LeakyRelu { alpha: f32 },
    /// `x * Φ(x)`, the exact (erf) form: `0.5 x (1 + erf(x / √2))`, as PyTorch's `F.gelu`
    /// and Keras' `gelu(approximate = False)`.
    Gelu,
    /// The hyperbolic tangent: the C library's `tanhf` and `1 - y²`, dfdx's formulas and
    /// bits, in parallel (dfdx's pass is one thread's: a tenth of the MLP GAN's step).
    Tanh,
    /// `1 / (1 + exp(-x))` with the C library's `expf`, and `y (1 - y)`: dfdx's formulas
    /// and bits, in parallel.
    Sigmoid,
}

/// `1 / √(2π)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// Keras' (and PyTorch's) selu constants, from Klambauer et al. (2017).
pub const SELU_ALPHA: f32 = 1.673_263_2;
pub const SELU_SCALE: f32 = 1.050_701;

/// `1 / (1 + exp(-x))` without overflow for large negative `x`.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Pointwise {
    pub fn value(self, x: f32) -> f32 {
        match self {
            Pointwise::Relu => x.max(0.0),
            Pointwise::Elu { alpha } => elu(x, alpha),
            Pointwise::LeakyRelu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    x * alpha
                }
            }
            Pointwise::Selu => SELU_SCALE * elu(x, SELU_ALPHA),
            Pointwise::Swish => x * sigmoid(x),
            Pointwise::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Pointwise::HardSigmoid => (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Pointwise::Gelu => 0.5 * x * (1.0 + gelu_erf(x)),
            Pointwise::Tanh => x.tanh(),
            Pointwise::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        }
    }

    /// `f'(x)`, given `y = f(x)` where that is cheaper. At the kinks (elu's and selu's 0,
    /// hard sigmoid's ±3) it takes PyTorch's side: the left one for elu and selu, 0 for
    /// hard sigmoid.
    pub fn derivative(self, x: f32, y: f32) -> f32 {
        match self {
            // `y > 0` exactly where `x > 0` (a NaN gives 0 for both).
            Pointwise::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Pointwise::LeakyRelu { alpha } => {
                if x > 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
            Pointwise::Elu { alpha } => {
                if x > 0.0 {
                    1.0
                } else {
                    y + alpha
                }
            }
            Pointwise::Selu => {
                if x > 0.0 {
                    SELU_SCALE
                } else {
                    y + SELU_SCALE * SELU_ALPHA
                }
            }
            Pointwise::Swish => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            Pointwise::Softplus => sigmoid(x),
            Pointwise::HardSigmoid => {
                if x > -3.0 && x < 3.0 {
                    1.0 / 6.0
                } else {
                    0.0
                }
            }
            // Φ(x) + x φ(x), with φ(x) = exp(-x² / 2) / √(2π). (dfdx 0.13's `accurate_gelu`
            // leaves the 1/√2 of the chain rule out of the second term.)
            Pointwise::Gelu => gelu_derivative(x, 0.5 * (1.0 + gelu_erf(x))),
            // dfdx's `1 - y.powi(2)`: `powi(2)` is the one product `y * y`.
            Pointwise::Tanh => 1.0 - y * y,
            Pointwise::Sigmoid => y * (1.0 - y),
        }
    }

    /// Whether [`Self::derivative`] reads `x`, `y`: the op keeps only those for the
    /// backward pass.
    fn reads(self) -> (bool, bool) {
        match self {
            Pointwise::Relu | Pointwise::Tanh | Pointwise::Sigmoid => (false, true),
            Pointwise::Elu { .. } | Pointwise::Selu => (true, true),
            Pointwise::LeakyRelu { .. }
            | Pointwise::Swish
            | Pointwise::Softplus
            | Pointwise::HardSigmoid
            | Pointwise::Gelu => (true, false),
        }
    }
}

impl Pointwise {
    /// `f(x)` for each element, in parallel. The rectifiers, `tanh` and the sigmoid get loops
    /// of their own, with the function known at compile time, so that they vectorise: with
    /// the `match` inside the loop, ResNet-20's rectifiers ran one element at a time.
    fn values(self, x: &[f32]) -> Vec<f32> {
        match self {
            Pointwise::Relu => map(x, |x| Pointwise::Relu.value(x)),
            Pointwise::LeakyRelu { alpha } => map(x, |x| Pointwise::LeakyRelu { alpha }.value(x)),
            // Its own kernel, vectorised; `Φ` is dropped.
            Pointwise::Gelu => gelu_values(x).0,
            Pointwise::Tanh => map(x, |x| Pointwise::Tanh.value(x)),
            Pointwise::Sigmoid => map(x, |x| Pointwise::Sigmoid.value(x)),
            f => map(x, |x| f.value(x)),
        }
    }

    /// `dx += g * f'(x, y)` for each element, in parallel, the rectifiers vectorised as in
    /// [`Self::values`].
    fn add_grads(self, dx: &mut [f32], g: &[f32], x: &[f32], y: &[f32]) {
        match self {
            Pointwise::Relu => add_grads(dx, g, x, y, |x, y| Pointwise::Relu.derivative(x, y)),
            Pointwise::LeakyRelu { alpha } => add_grads(dx, g, x, y, |x, y| {
                Pointwise::LeakyRelu { alpha }.derivative(x, y)
            }),
            Pointwise::Tanh => add_grads(dx, g, x, y, |x, y| Pointwise::Tanh.derivative(x, y)),
            Pointwise::Sigmoid => {
                add_grads(dx, g, x, y, |x, y| Pointwise::Sigmoid.derivative(x, y));
            }
            f => add_grads(dx, g, x, y, |x, y| f.derivative(x, y)),
        }
    }
}

/// `f` of each element of `x`, in parallel, into a new buffer written once.
fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    out.spare_capacity_mut()[..x.len()]
        .par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(x.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|(out, x)| {
            for (out, &x) in out.iter_mut().zip(x) {
                out.write(f(x));
            }
        });
    // SAFETY: the chunks cover the first `x.len()` elements, and each was written.
    unsafe { out.set_len(x.len()) };
    out
}

/// `dx += g * d(x, y)` for each element, in parallel.
fn add_grads(dx: &mut [f32], g: &[f32], x: &[f32], y: &[f32], d: impl Fn(f32, f32) -> f32 + Sync) {
    const N: usize = ELEMENTS_PER_TASK;
    dx.par_chunks_mut(N)
        .zip(g.par_chunks(N))
        .zip(x.par_chunks(N).zip(y.par_chunks(N)))
        .for_each(|((dx, g), (x, y))| {
            for (((dx, &g), &x), &y) in dx.iter_mut().zip(g).zip(x).zip(y) {
                *dx += g * d(x, y);
            }
        });
}

/// `erf(x / √2)`, GELU's costly part: [`math::erf`], which vectorises (`libm`'s `erff`, one
/// element at a time, made GELU cost more than the dense layers around it in the char GPT).
#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    math::erf(x * std::f32::consts::FRAC_1_SQRT_2)
}

/// GELU's `Φ(x) + x φ(x)` given `cdf = Φ(x)`, with `φ(x) = exp(-x² / 2) / √(2π)`. (dfdx 0.13's
/// `accurate_gelu` leaves the 1/√2 of the chain rule out of the second term.)
#[inline(always)]
fn gelu_derivative(x: f32, cdf: f32) -> f32 {
    let pdf = math::exp(-0.5 * x * x) * FRAC_1_SQRT_2PI;
    cdf + x * pdf
}

/// GELU of each element, in parallel, and `Φ(x)` beside it for the backward pass, so that
/// `erff` runs once per element, not twice (it was a tenth of the char GPT's step).
fn gelu_values(x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut out, mut cdf) = (Vec::with_capacity(x.len()), Vec::with_capacity(x.len()));
    out.spare_capacity_mut()[..x.len()]
        .par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(cdf.spare_capacity_mut()[..x.len()].par_chunks_mut(ELEMENTS_PER_TASK))
        .zip(x.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|((out, cdf), x)| gelu_chunk(out, cdf, x));
    // SAFETY: the chunks cover the first `x.len()` elements of both, and each was written.
    unsafe {
        out.set_len(x.len());
        cdf.set_len(x.len());
    }
    (out, cdf)
}

avx512_or_avx2_or_portable!(
    /// GELU and `Φ` of one chunk.
    fn gelu_chunk(out: &mut [MaybeUninit<f32>], cdf: &mut [MaybeUninit<f32>], x: &[f32])
        => gelu_chunk_in
);

/// Elements per block of [`gelu_chunk`]: a block whose `x / √2` all lie where `erf` is its
/// first range alone computes only that range.
const GELU_BLOCK: usize = 16;

#[inline(always)]
fn gelu_chunk_in(out: &mut [MaybeUninit<f32>], cdf: &mut [MaybeUninit<f32>], x: &[f32]) {
    // The expressions of `value` and `derivative`, so the bits are theirs.
    let write = |out: &mut MaybeUninit<f32>, cdf: &mut MaybeUninit<f32>, x: f32, e: f32| {
        out.write(0.5 * x * (1.0 + e));
        cdf.write(0.5 * (1.0 + e));
    };
    let near_zero = ERF_NEAR_ZERO_BITS;
    let blocks = out
        .chunks_mut(GELU_BLOCK)
        .zip(cdf.chunks_mut(GELU_BLOCK))
        .zip(x.chunks(GELU_BLOCK));
    for ((out, cdf), x) in blocks {
        let mut u = [0.0f32; GELU_BLOCK];
        for (u, &x) in u.iter_mut().zip(x) {
            *u = x * std::f32::consts::FRAC_1_SQRT_2;
        }
        // The largest |u| by its bits (an integer maximum vectorises; NaN's bits are above
        // every number's, so a NaN takes the full path).
        let largest = u.iter().fold(0u32, |m, u| m.max(u.to_bits() & 0x7fff_ffff));
        if largest < near_zero {
            for (((out, cdf), &x), &u) in out.iter_mut().zip(cdf.iter_mut()).zip(x).zip(&u) {
                write(out, cdf, x, math::erf_near_zero(u));
            }
        } else {
            for (((out, cdf), &x), &u) in out.iter_mut().zip(cdf.iter_mut()).zip(x).zip(&u) {
                write(out, cdf, x, math::erf(u));
            }
        }
    }
}

/// [`math::ERF_NEAR_ZERO`]'s bits: below them a positive float is below it.
const ERF_NEAR_ZERO_BITS: u32 = math::ERF_NEAR_ZERO.to_bits();

avx512_or_avx2_or_portable!(
    /// `dx += g * GELU'(x)` for one chunk, given `Φ(x)`.
    fn gelu_grads_chunk(dx: &mut [f32], g: &[f32], x: &[f32], cdf: &[f32]) => gelu_grads_chunk_in
);

#[inline(always)]
fn gelu_grads_chunk_in(dx: &mut [f32], g: &[f32], x: &[f32], cdf: &[f32]) {
    for (((dx, &g), &x), &cdf) in dx.iter_mut().zip(g).zip(x).zip(cdf) {
        *dx += g * gelu_derivative(x, cdf);
    }
}

/// `exp_m1` keeps elu accurate for small negative inputs.
fn elu(x: f32, alpha: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        alpha * x.exp_m1()
    }
}

/// `f(x)` elementwise, with its backward pass on the tape.
pub fn pointwise<S: Shape, T: Tape<f32, Cpu>>(
    x: Tensor<S, f32, Cpu, T>,
    f: Pointwise,
) -> Tensor<S, f32, Cpu, T> {
    let (x, mut tape) = x.split_tape();
    if f == Pointwise::Gelu && T::OWNS_TAPE {
        return gelu(x, tape);
    }
    let out = f.values(storage(&x));
    let out = x
        .device()
        .try_tensor_from_vec(out, *x.shape())
        .unwrap_or_else(|_| unreachable!("the output has the input's size"));
    if T::OWNS_TAPE {
        // What the derivative reads is kept as a clone, which shares the tensor's storage.
        let (reads_x, reads_y) = f.reads();
        let input = reads_x.then(|| x.clone());
        let output = reads_y.then(|| out.clone());
        let x_ghost = x.ghost();
        let out_ghost = out.ghost();
        tape.add_backward_op(move |grads| {
            let grad_out = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dx = grads.get_or_alloc_mut(&x_ghost)?;
            // What the derivative does not read is not kept: the output gradient stands in
            // for it, so that one loop serves every function.
            let x = input.as_ref().map_or(&grad_out[..], |x| storage(x));
            let y = output.as_ref().map_or(&grad_out[..], |y| storage(y));
            f.add_grads(dx, &grad_out, x, y);
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// [`pointwise`] for GELU, which keeps `Φ(x)` for its backward pass.
fn gelu<S: Shape, T: Tape<f32, Cpu>>(
    x: Tensor<S, f32, Cpu>,
    mut tape: T,
) -> Tensor<S, f32, Cpu, T> {
    let (out, cdf) = gelu_values(storage(&x));
    let out = x
        .device()
        .try_tensor_from_vec(out, *x.shape())
        .unwrap_or_else(|_| unreachable!("the output has the input's size"));
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let grad_out = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dx = grads.get_or_alloc_mut(&x_ghost)?;
            let n = ELEMENTS_PER_TASK;
            dx.par_chunks_mut(n)
                .zip(grad_out.par_chunks(n))
                .zip(storage(&x).par_chunks(n).zip(cdf.par_chunks(n)))
                .for_each(|((dx, g), (x, cdf))| gelu_grads_chunk(dx, g, x, cdf));
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// `a + b` for two tensors of one shape, with its backward pass (`da += dy`, `db += dy`):
/// dfdx's sum, in parallel and without copying an input.
///
/// # Panics
/// If the shapes differ; the checker rules this out.
pub fn add<S: Shape, T: Tape<f32, Cpu> + Merge<T>>(
    a: Tensor<S, f32, Cpu, T>,
    b: Tensor<S, f32, Cpu, T>,
) -> Tensor<S, f32, Cpu, T> {
    sum_of(a, b, false)
}

/// `relu(a + b)`, the end of a residual block, in one pass each way: the bits of [`add`]
/// then a ReLU ([`pointwise`]).
///
/// # Panics
/// If the shapes differ; the checker rules this out.
pub fn add_relu<S: Shape, T: Tape<f32, Cpu> + Merge<T>>(
    a: Tensor<S, f32, Cpu, T>,
    b: Tensor<S, f32, Cpu, T>,
) -> Tensor<S, f32, Cpu, T> {
    sum_of(a, b, true)
}

fn sum_of<S: Shape, T: Tape<f32, Cpu> + Merge<T>>(
    a: Tensor<S, f32, Cpu, T>,
    b: Tensor<S, f32, Cpu, T>,
    relu: bool,
) -> Tensor<S, f32, Cpu, T> {
    assert_eq!(
        a.shape().concrete(),
        b.shape().concrete(),
        "add: shapes differ"
    );
    let (a, a_tape) = a.split_tape();
    let (b, b_tape) = b.split_tape();
    let mut tape = a_tape.merge(b_tape);
    let (a_data, b_data) = (storage(&a), storage(&b));
    let mut out = Vec::with_capacity(a_data.len());
    out.spare_capacity_mut()[..a_data.len()]
        .par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(a_data.par_chunks(ELEMENTS_PER_TASK))
        .zip(b_data.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|((out, a), b)| sum_chunk(out, a, b, relu));
    // SAFETY: the chunks cover the first `a_data.len()` elements, and each was written.
    unsafe { out.set_len(a_data.len()) };
    let out = a
        .device()
        .try_tensor_from_vec(out, *a.shape())
        .unwrap_or_else(|_| unreachable!("the output has the inputs' size"));
    if T::OWNS_TAPE {
        let (a_ghost, b_ghost, out_ghost) = (a.ghost(), b.ghost(), out.ghost());
        let rectified = relu.then(|| out.clone());
        tape.add_backward_op(move |grads| {
            let mut grad_out = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            if let Some(y) = &rectified {
                grad_out
                    .par_chunks_mut(ELEMENTS_PER_TASK)
                    .zip(storage(y).par_chunks(ELEMENTS_PER_TASK))
                    .for_each(|(g, y)| relu_grad_chunk(g, y));
            }
            for ghost in [&a_ghost, &b_ghost] {
                accumulate(grads.get_or_alloc_mut(ghost)?, &grad_out);
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// `x` under a new id, for a second reader of one value (dfdx's binary ops cannot take one
/// id as both operands): the storage is shared, not copied, and the new id's gradient is
/// added back into `x`'s in parallel (`dx += dy`), the bits of dfdx's `x * 1.0`.
pub fn fork<S: Shape, T: Tape<f32, Cpu>>(x: Tensor<S, f32, Cpu, T>) -> Tensor<S, f32, Cpu, T> {
    let (x, mut tape) = x.split_tape();
    let out = x.alias();
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let grad_out = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            accumulate(grads.get_or_alloc_mut(&x_ghost)?, &grad_out);
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// `d += g` for each element, in parallel: a gradient flowing back unchanged.
fn accumulate(d: &mut [f32], g: &[f32]) {
    d.par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(g.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|(d, g)| accumulate_chunk(d, g));
}

// The loops of `add`, `add_relu` and `accumulate`, one chunk each, in builds for the wider
// vectors. A chunk loop over plain slices vectorises; rayon's element-by-element iterators
// did not, and a ReLU's derivative taken by a branch on the sign was mispredicted half the
// time.
avx2_or_portable!(
    fn sum_chunk(out: &mut [MaybeUninit<f32>], a: &[f32], b: &[f32], relu: bool) => sum_chunk_in
);
avx2_or_portable!(fn relu_grad_chunk(g: &mut [f32], y: &[f32]) => relu_grad_chunk_in);
avx2_or_portable!(fn accumulate_chunk(d: &mut [f32], g: &[f32]) => accumulate_chunk_in);

/// `out = a + b`, or with `relu` the sum's ReLU ([`Pointwise::value`]'s bits).
#[inline(always)]
fn sum_chunk_in(out: &mut [MaybeUninit<f32>], a: &[f32], b: &[f32], relu: bool) {
    let sums = out.iter_mut().zip(a).zip(b);
    if relu {
        sums.for_each(|((o, &a), &b)| {
            o.write(Pointwise::Relu.value(a + b));
        });
    } else {
        sums.for_each(|((o, &a), &b)| {
            o.write(a + b);
        });
    }
}

/// The sum's gradient as the separate ReLU leaves it, added into zeros:
/// `g = 0 + g * relu'(y)`.
#[inline(always)]
fn relu_grad_chunk_in(g: &mut [f32], y: &[f32]) {
    for (g, &y) in g.iter_mut().zip(y) {
        *g = 0.0 + *g * Pointwise::Relu.derivative(y, y);
    }
}

#[inline(always)]
fn accumulate_chunk_in(d: &mut [f32], g: &[f32]) {
    for (d, &g) in d.iter_mut().zip(g) {
        *d += g;
    }
}
