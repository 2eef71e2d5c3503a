//! The transposed convolution (Keras' `Conv2DTranspose`, PyTorch's `ConvTranspose2d`) as an op
//! on dfdx's tape.
//!
//! A transposed conv is the input gradient of a conv, so it runs on the conv's own plan
//! ([`ConvPlan::transposed`]), im2col and matrix products with the roles swapped: the conv's
//! "input" is our output and its "output" our input. Per sample, with `W` the weight as a
//! `(I, O·KH·KW)` matrix and `x` the input as `(I, H·W)`:
//!
//! - forward: `y = col2im(Wᵀ x) + b`, the conv's input-gradient computation;
//! - input gradient: `dx = W im2col(dy)`, a conv of `dy`;
//! - weight gradient: `dW = x im2col(dy)ᵀ`, the conv's weight gradient with `x` for `dz`;
//! - bias gradient: the sum of each output plane of `dy`.
//!
//! Where the CPU has the blocked product (`matmul::blocked`) and the kernel has 16 taps or more, the products read
//! padded operands in place (`conv2d::shifted`), a sample at a time: the gradients read `dy`'s
//! phase planes, and at stride 1 the forward pass is the conv `y = W' * shifted(x)`, `W'` the
//! weight flipped (`ConvPlan::input_grad_plan`). Elsewhere samples are multiplied in groups
//! side by side (`ConvPlan::group`): per sample, a 7x7 input makes products too thin for
//! gemm. Groups run in parallel; weight and bias gradients are
//! summed per task of a fixed number of samples and the task sums added in task order, so
//! the results do not depend on the thread count (as for conv2d).

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape};
use rayon::prelude::*;

use super::backward::InputGradConv;
use super::group::{add_apart, side_by_side};
use super::plan::ConvPlan;
use super::shifted::ShiftedConv;
use crate::ops::cpu::scratch::{samples_per_task, split_chunks, with_scratch};
use crate::ops::cpu::simd::avx2_or_portable;
use crate::ops::cpu::zeroed::zeroed;
use crate::ops::geometry::Padding;
use crate::ops::matmul::{matmul_packed, sum, View, TAPS};
use crate::ops::{add_into, storage, tensor_from_output, Bias1, OpsError, Weight4, T4};

/// A transposed convolution layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conv2dTransposeSpec {
    /// `(height, width)` step between the input's positions in the output.
    pub stride: (usize, usize),
    pub padding: Padding,
    /// Keras' `output_padding` (the same on both axes), `None` for Keras' default (see
    /// `Axis::transposed` for the lengths either gives).
    pub output_padding: Option<usize>,
    /// Whether the input needs a gradient.
    pub input_grad: bool,
}

/// The transposed convolution of `x` (N, I, H, W) with `w` (I, O, KH, KW), PyTorch's
/// `ConvTranspose2d` layout, plus `b` (O), giving (N, O, H', W') with Keras' output lengths and
/// placement (`Axis::transposed`).
///
/// # Panics
/// If the shapes do not fit together; the checker rules this out ([`try_conv2d_transpose`]
/// reports it).
pub fn conv2d_transpose<T: Tape<f32, Cpu>>(
    x: T4<T>,
    w: &Weight4,
    b: &Bias1,
    spec: &Conv2dTransposeSpec,
) -> T4<T> {
    try_conv2d_transpose(x, w, b, spec).unwrap_or_else(|e| panic!("{e}"))
}

/// [`conv2d_transpose`], reporting unusable shapes instead of panicking.
///
/// # Errors
/// [`OpsError::ShapeMismatch`] when the weight's input channels differ from the input's or the
/// bias length from the weight's output channels; [`OpsError::EmptyOutput`] for a zero size or
/// an `output_padding` not below the stride.
pub fn try_conv2d_transpose<T: Tape<f32, Cpu>>(
    x: T4<T>,
    w: &Weight4,
    b: &Bias1,
    spec: &Conv2dTransposeSpec,
) -> Result<T4<T>, OpsError> {
    let plan = ConvPlan::transposed(*x.shape(), *w.shape(), *b.shape(), spec)?;
    let (x, mut tape) = x.split_tape();
    let out = forward(&plan, storage(&x), storage(w), storage(b));
    let shape = (plan.batch, plan.in_ch, plan.h.input, plan.w.input);
    let out = tensor_from_output(x.device(), out, shape);
    if T::OWNS_TAPE {
        let (x_ghost, w_ghost, b_ghost) = (x.ghost(), w.ghost(), b.ghost());
        let out_ghost = out.ghost();
        let input_grad = spec.input_grad;
        // Read in place by the backward pass: a clone of a tensor shares its storage.
        let (x_kept, w_kept) = (x.clone(), w.clone());
        tape.add_backward_op(move |grads| {
            let grad_out = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let (x_data, w_data) = (storage(&x_kept), storage(&w_kept));
            let mut dw = vec![0.0; w_data.len()];
            let mut db = vec![0.0; plan.in_ch];
            let mut no_dx = [];
            let dx = if input_grad {
                &mut grads.get_or_alloc_mut(&x_ghost)?[..]
            } else {
                &mut no_dx[..]
            };
            backward(&plan, x_data, w_data, &grad_out, dx, &mut dw, &mut db);
            add_into(grads.get_or_alloc_mut(&w_ghost)?, &dw);
            add_into(grads.get_or_alloc_mut(&b_ghost)?, &db);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// The output (N, O, H', W') on host data.
fn forward(plan: &ConvPlan, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    // In the plan's terms: our output sample is the conv's input sample, our input sample
    // its output planes.
    let (y_sample, x_sample) = (plan.in_sample(), plan.out_ch * plan.conv_plane());
    // The product's inner dimension is our input channels: few of them go to the few-taps
    // kernel, which wants one sample at a time (`ConvPlan::group`).
    let group = if plan.out_ch <= TAPS { 1 } else { plan.group() };
    let mut out = zeroed(plan.batch * y_sample);
    if let Some(dual) = InputGradConv::shifted(plan, w) {
        // Stride 1: the conv's input gradient is a conv, `y = b + W' * shifted(padded x)`,
        // read in place instead of scattered by col2im.
        let plane = plan.h.input * plan.w.input;
        out.par_chunks_mut(y_sample)
            .zip(x.par_chunks(x_sample))
            .for_each(|(y, x)| {
                for (y, &b) in y.chunks_mut(plane).zip(b) {
                    y.fill(b);
                }
                with_scratch([dual.cols()], |[dcols]| dual.add_shifted(x, y, dcols));
            });
        return out;
    }
    let shifted = ShiftedConv::new(plan, None).map(|s| s.with_input_grad(w));
    if let Some(shifted) = shifted.filter(ShiftedConv::has_input_grad) {
        // Strided: `y = b + col2im(Wᵀ x)`, the columns added into `y`'s phase planes, where
        // each tap's row is one slice.
        let (plane, wide) = (plan.h.input * plan.w.input, shifted.wide_plane());
        let scratch = [plan.out_ch * wide, shifted.input_grad_scratch()];
        out.par_chunks_mut(y_sample)
            .zip(x.par_chunks(x_sample))
            .for_each(|(y, x)| {
                for (y, &b) in y.chunks_mut(plane).zip(b) {
                    y.fill(b);
                }
                with_scratch(scratch, |[xw, cols]| {
                    shifted.widen(x, plan.out_ch, xw);
                    shifted.input_grad(xw, y, cols);
                });
            });
        return out;
    }
    // Samples are independent, so any split over threads gives the same result.
    out.par_chunks_mut(group * y_sample)
        .zip(x.par_chunks(group * x_sample))
        .for_each(|(y, x)| {
            let wide = x.len() / plan.out_ch;
            with_scratch([plan.patch() * wide, x.len()], |[cols, xs]| {
                group_forward(plan, x, w, b, y, cols, xs);
            });
        });
    out
}

avx2_or_portable!(
    fn group_forward(
        plan: &ConvPlan,
        x: &[f32],
        w: &[f32],
        b: &[f32],
        y: &mut [f32],
        cols: &mut [f32],
        xs: &mut [f32],
    ) => group_forward_in
);

/// One group of samples (see `ConvPlan::group`): `x` and `y` hold its samples, `cols` and `xs`
/// are scratch for its columns and its input side by side.
#[inline(always)]
fn group_forward_in(
    plan: &ConvPlan,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    y: &mut [f32],
    cols: &mut [f32],
    xs: &mut [f32],
) {
    let (patch, positions, i) = (plan.patch(), plan.conv_plane(), plan.out_ch);
    let wide = x.len() / i;
    // One sample is its own side-by-side layout.
    let xs = if wide == positions {
        x
    } else {
        side_by_side(x, (i, positions), xs);
        &xs[..x.len()]
    };
    // cols (patch x wide) = Wᵀ (patch x I) * xs (I x wide)
    matmul_packed(
        (patch, wide, i),
        cols,
        false,
        View::transposed(w, patch),
        View::rows(xs, wide),
    );
    let plane = plan.h.input * plan.w.input;
    for (k, y) in y.chunks_mut(plan.in_sample()).enumerate() {
        for (y, &b) in y.chunks_mut(plane).zip(b) {
            y.fill(b);
        }
        plan.col2im_add_strided(&cols[k * positions..], y, wide);
    }
}

/// Adds the gradients of `x` (when `dx` is not empty), `w` and `b` for the output gradient
/// `grad_out`.
fn backward(
    plan: &ConvPlan,
    x: &[f32],
    w: &[f32],
    grad_out: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let n = plan.batch;
    let per_task = samples_per_task(n);
    let tasks = n.div_ceil(per_task);
    let (y_sample, x_sample) = (plan.in_sample(), plan.out_ch * plan.conv_plane());
    let shifted = ShiftedConv::new(plan, (!dx.is_empty()).then_some(w));
    let one_product = in_one_product(w.len());
    let group = shifted
        .as_ref()
        .map_or(plan.group(), |_| ShiftedConv::GROUP);
    let dx_chunks = split_chunks(dx, per_task * x_sample, tasks);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_chunks
        .into_par_iter()
        .enumerate()
        .map(|(t, dx)| {
            let mut dw = vec![0.0; w.len()];
            let mut db = vec![0.0; plan.in_ch];
            let first = t * per_task;
            let last = (first + per_task).min(n);
            if let Some(shifted) = &shifted {
                let (x, g) = (&x[first * x_sample..], &grad_out[first * y_sample..]);
                let grads = (dx, &mut dw[..], &mut db[..]);
                let g = &g[..(last - first) * y_sample];
                shifted_backward(plan, shifted, (x, g), one_product, grads);
                return (dw, db);
            }
            let wide = group * plan.conv_plane();
            with_scratch(
                [plan.patch() * wide, group * x_sample, group * x_sample],
                |[cols, xs, dxs]| {
                    for s in (first..last).step_by(group) {
                        let end = (s + group).min(last);
                        let dx = if dx.is_empty() {
                            &mut []
                        } else {
                            &mut dx[(s - first) * x_sample..(end - first) * x_sample]
                        };
                        let x = &x[s * x_sample..end * x_sample];
                        let g = &grad_out[s * y_sample..end * y_sample];
                        let scratch = [&mut *cols, &mut *xs, &mut *dxs];
                        group_backward(plan, x, w, g, dx, &mut dw, &mut db, scratch);
                    }
                },
            );
            (dw, db)
        })
        .collect();
    // Task sums in task order.
    for (pw, pb) in partials {
        add_into(dw, &pw);
        add_into(db, &pb);
    }
}

/// Weights of at least this many floats (1 MiB, most of a core's L2 here) have their
/// gradient summed over a task's samples in one product. A smaller gradient stays in cache
/// anyway, and there one product per sample was faster: the VAE's epoch took 1.04-1.08x as
/// long with every weight's in one product (BENCHMARKS.md, attempt 55).
const ONE_PRODUCT_FROM: usize = 1 << 18;

#[cfg(test)]
thread_local! {
    /// Set by tests on their own thread to take every weight's gradient in one product.
    pub(super) static ONE_PRODUCT_ALWAYS: std::cell::Cell<bool> =
        const { std::cell::Cell::new(false) };
}

/// Whether [`shifted_backward`] takes the gradient of a weight of `len` floats over a
/// task's samples in one product.
fn in_one_product(len: usize) -> bool {
    #[cfg(test)]
    if ONE_PRODUCT_ALWAYS.get() {
        return true;
    }
    len >= ONE_PRODUCT_FROM
}

/// The gradients of the samples of `g` without im2col: each sample's `dy` padded once and
/// read in place by `dx += W * shifted(dy)`, and `dW += x * shifted(dy)ᵀ` (`conv2d::shifted`),
/// for a large weight all the samples in one product: the DCGAN's first transposed conv has
/// a 3.2 MB weight, which a product per sample read and wrote from L3 once per sample.
fn shifted_backward(
    plan: &ConvPlan,
    shifted: &ShiftedConv,
    (x, g): (&[f32], &[f32]),
    one_product: bool,
    (dx, dw, db): (&mut [f32], &mut [f32], &mut [f32]),
) {
    let (i, y_sample) = (plan.out_ch, plan.in_sample());
    let x_sample = i * plan.conv_plane();
    let plane = plan.h.input * plan.w.input;
    let wide = i * shifted.wide_plane();
    let samples = g.len() / y_sample;
    let together = if one_product { samples } else { 1 };
    let padded_len = shifted.padded_len();
    with_scratch(
        [together * padded_len, together * wide, wide],
        |[padded, xs, z]| {
            for (k, g) in g.chunks_exact(y_sample).enumerate() {
                for (db, g) in db.iter_mut().zip(g.chunks(plane)) {
                    *db += sum(g);
                }
                let padded = &mut padded[k % together * padded_len..][..padded_len];
                shifted.pad(g, padded);
                if !dx.is_empty() {
                    // Summed from dx's values, as the im2col product does.
                    let dx = &mut dx[k * x_sample..][..x_sample];
                    shifted.widen(dx, i, z);
                    shifted.product(padded, z, true);
                    shifted.narrow(z, i, dx);
                }
                if together == 1 {
                    shifted.widen(&x[k * x_sample..][..x_sample], i, z);
                    shifted.weight_grad(padded, z, dw);
                }
            }
            if together > 1 {
                shifted.widen_samples(&x[..samples * x_sample], (samples, i), xs);
                shifted.samples_weight_grad(samples, padded, xs, dw);
            }
        },
    );
}

avx2_or_portable!(
    // The operands and scratch as plain slices, like conv2d's kernels.
    #[allow(clippy::too_many_arguments)]
    fn group_backward(
        plan: &ConvPlan,
        x: &[f32],
        w: &[f32],
        g: &[f32],
        dx: &mut [f32],
        dw: &mut [f32],
        db: &mut [f32],
        scratch: [&mut [f32]; 3],
    ) => group_backward_in
);

/// One group's gradients, with scratch for its columns (`cols`), its input side by side
/// (`xs`) and its input gradient side by side (`dxs`).
#[allow(clippy::too_many_arguments)] // as `group_backward`
#[inline(always)]
fn group_backward_in(
    plan: &ConvPlan,
    x: &[f32],
    w: &[f32],
    g: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    [cols, xs, dxs]: [&mut [f32]; 3],
) {
    let (patch, positions, i) = (plan.patch(), plan.conv_plane(), plan.out_ch);
    let wide = x.len() / i;
    let plane = plan.h.input * plan.w.input;
    for (k, g) in g.chunks(plan.in_sample()).enumerate() {
        for (db, g) in db.iter_mut().zip(g.chunks(plane)) {
            *db += sum(g);
        }
        plan.im2col_strided(g, &mut cols[k * positions..], wide);
    }
    let cols = &cols[..patch * wide];
    // One sample is its own side-by-side layout, and its gradient adds straight into `dx`.
    let one = wide == positions;
    let xs = if one {
        x
    } else {
        side_by_side(x, (i, positions), xs);
        &xs[..x.len()]
    };
    // dW (I x patch) += xs (I x wide) * colsᵀ (wide x patch)
    let cols_t = View::transposed(cols, wide);
    matmul_packed((i, patch, wide), dw, true, View::rows(xs, wide), cols_t);
    if !dx.is_empty() {
        // dxs (I x wide) = W (I x patch) * cols (patch x wide)
        let (w, cols) = (View::rows(w, patch), View::rows(cols, wide));
        if one {
            matmul_packed((i, wide, patch), dx, true, w, cols);
        } else {
            let dxs = &mut dxs[..x.len()];
            matmul_packed((i, wide, patch), dxs, false, w, cols);
            add_apart(dxs, (i, positions), dx);
        }
    }
}

#[cfg(test)]
#[path = "transpose_tests.rs"]
mod tests;
