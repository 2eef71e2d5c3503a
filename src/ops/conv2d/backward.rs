//! The conv2d backward kernel. Per sample: rebuild the im2col rows, turn the output gradient
//! into a conv-plane gradient `dz` (through pooling and ReLU), then `dW += dz * cols`,
//! `db += Σ dz` and, when asked, `dx += col2im(dzᵀ * W)`.
//!
//! With max pooling `dz` is sparse, but scattering it into a dense plane and taking vectorised
//! dot products is faster than gathering im2col entries per argmax.

use rayon::prelude::*;

use super::avx512::Avx512;
use super::forward::Saved;
use super::plan::ConvPlan;
use crate::ops::add_into;
use crate::ops::cpu::scratch::{samples_per_task, split_chunks, with_scratch};
use crate::ops::cpu::simd::avx2_or_portable;
use crate::ops::matmul::{matmul, sum, View};
use crate::ops::pool2d::{PoolKind, PoolPlan, NO_ARGMAX};

/// The forward operands backward reads.
#[derive(Clone, Copy)]
pub(super) struct Params<'a> {
    pub(super) x: &'a [f32],
    pub(super) w: &'a [f32],
}

/// The gradients backward adds into; `dx` is empty when the input needs none.
pub(super) struct Grads<'a> {
    pub(super) dx: &'a mut [f32],
    pub(super) dw: &'a mut [f32],
    pub(super) db: &'a mut [f32],
}

/// Adds the gradients of `x` (when `dx` is not empty), `w` and `b` for the output gradient
/// `grad_out` into `dx`, `dw` and `db`.
pub(super) fn backward(
    plan: &ConvPlan,
    params: Params<'_>,
    saved: &Saved,
    grad_out: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let fast = Avx512::new(plan);
    let grads = Grads { dx, dw, db };
    backward_with(plan, params, saved, grad_out, grads, fast.as_ref());
}

/// [`backward`] on the AVX-512 path when `fast` is given and handles this call (no input
/// gradient, max pooling), else on the portable one.
pub(super) fn backward_with(
    plan: &ConvPlan,
    params: Params<'_>,
    saved: &Saved,
    grad_out: &[f32],
    Grads { dx, dw, db }: Grads<'_>,
    fast: Option<&Avx512>,
) {
    let n = plan.batch;
    let per_task = samples_per_task(n);
    let tasks = n.div_ceil(per_task);
    let fast = fast.filter(|_| dx.is_empty() && Avx512::has_backward(plan));
    // The AVX-512 kernel reads the gradient channels-last; the portable ones NCHW.
    let nchw;
    let grad_out = if plan.channels_last && fast.is_none() {
        nchw = plan.reorder(grad_out, true);
        &nchw[..]
    } else {
        grad_out
    };
    // Each task sums its samples in order; the task sums are then added in task order, so the
    // result does not depend on which thread ran what.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = if let Some(fast) = fast {
        let codes = saved.codes(plan);
        (0..tasks)
            .into_par_iter()
            .map(|t| {
                let (o, patch) = (plan.out_ch, plan.patch());
                let out_sample = o * plan.out_plane();
                let mut dwt = vec![0.0; patch * o];
                let mut db = vec![0.0; o];
                // A channels-last gradient needs no scratch to be transposed into.
                let scratch = if plan.channels_last { 0 } else { out_sample };
                with_scratch([scratch], |[cl_g]| {
                    for i in t * per_task..((t + 1) * per_task).min(n) {
                        let x = &params.x[i * plan.in_sample()..][..plan.in_sample()];
                        let g = &grad_out[i * out_sample..][..out_sample];
                        let codes = &codes[i * out_sample..][..out_sample];
                        let cl_g = (!plan.channels_last).then_some(&mut *cl_g);
                        fast.sample_backward(plan, x, g, codes, &mut dwt, &mut db, cl_g);
                    }
                });
                let mut dw = vec![0.0; o * patch];
                fast.transpose(&dwt, patch, o, &mut dw);
                (dw, db)
            })
            .collect()
    } else if !saved.codes.is_empty() {
        let portable = Saved {
            argmax: saved.argmax(plan).into_owned(),
            codes: Vec::new(),
            mask: saved.mask.clone(),
        };
        portable_partials(plan, &params, &portable, grad_out, dx)
    } else {
        portable_partials(plan, &params, saved, grad_out, dx)
    };
    let mut partials = partials.into_iter();
    if let Some((mut dw_sum, mut db_sum)) = partials.next() {
        for (pw, pb) in partials {
            add_into(&mut dw_sum, &pw);
            add_into(&mut db_sum, &pb);
        }
        add_into(dw, &dw_sum);
        add_into(db, &db_sum);
    }
}

/// Per task of the portable path, the sums of its samples' weight and bias gradients; the
/// input gradient (when `dx` is not empty) goes straight into `dx`.
fn portable_partials(
    plan: &ConvPlan,
    params: &Params<'_>,
    saved: &Saved,
    grad_out: &[f32],
    dx: &mut [f32],
) -> Vec<(Vec<f32>, Vec<f32>)> {
    let n = plan.batch;
    let per_task = samples_per_task(n);
    let tasks = n.div_ceil(per_task);
    let dx_chunks = split_chunks(dx, per_task * plan.in_sample(), tasks);
    dx_chunks
        .into_par_iter()
        .enumerate()
        .map(|(t, dx)| {
            let mut dw = vec![0.0; plan.out_ch * plan.patch()];
            let mut db = vec![0.0; plan.out_ch];
            let first = t * per_task;
            for i in first..(first + per_task).min(n) {
                let dx = if dx.is_empty() {
                    &mut []
                } else {
                    &mut dx[(i - first) * plan.in_sample()..][..plan.in_sample()]
                };
                let grads = Grads {
                    dx,
                    dw: &mut dw,
                    db: &mut db,
                };
                sample_backward(plan, params, saved, grad_out, i, grads);
            }
            (dw, db)
        })
        .collect()
}

/// Sample `i`'s gradients, added into `grads` (its `dx` is the sample's own, or empty).
fn sample_backward(
    plan: &ConvPlan,
    params: &Params<'_>,
    saved: &Saved,
    grad_out: &[f32],
    i: usize,
    Grads { dx, dw, db }: Grads<'_>,
) {
    let (patch, conv_plane, o) = (plan.patch(), plan.conv_plane(), plan.out_ch);
    let out_sample = o * plan.out_plane();
    let g = &grad_out[i * out_sample..][..out_sample];
    let x = &params.x[i * plan.in_sample()..][..plan.in_sample()];
    let argmax = sample_of(&saved.argmax, i, out_sample);
    let mask = sample_of(&saved.mask, i, o * conv_plane);
    let dcols_len = if dx.is_empty() { 0 } else { conv_plane * patch };
    let dz_len = o * conv_plane + 1;
    with_scratch(
        [conv_plane * patch, dz_len, dcols_len],
        |[cols, dz, dcols]| {
            sample_backward_kernel(
                plan, x, params.w, g, argmax, mask, dx, dw, db, cols, dz, dcols,
            );
        },
    );
}

avx2_or_portable!(
    // The kernel entry takes its operands and scratch as plain slices, like the SIMD
    // helpers it inlines; a struct would only be unpacked again on the next line.
    #[allow(clippy::too_many_arguments)]
    fn sample_backward_kernel(
        plan: &ConvPlan,
        x: &[f32],
        w: &[f32],
        g: &[f32],
        argmax: &[u32],
        mask: &[u8],
        dx: &mut [f32],
        dw: &mut [f32],
        db: &mut [f32],
        cols: &mut [f32],
        dz: &mut [f32],
        dcols: &mut [f32],
    ) => sample_backward_in
);

/// One sample's backward with its scratch buffers: `cols` for im2col, `dz` for the conv-plane
/// gradient, `dcols` (empty without `dx`) for the im2col-shaped input gradient.
#[allow(clippy::too_many_arguments)] // the kernel's slices, as in `sample_backward_kernel`
#[inline(always)]
fn sample_backward_in(
    plan: &ConvPlan,
    x: &[f32],
    w: &[f32],
    g: &[f32],
    argmax: &[u32],
    mask: &[u8],
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    cols: &mut [f32],
    dz: &mut [f32],
    dcols: &mut [f32],
) {
    let (patch, conv_plane, o) = (plan.patch(), plan.conv_plane(), plan.out_ch);
    plan.im2col(x, cols);
    output_grad_to_conv(plan, g, argmax, mask, dz);
    let dz = &dz[..o * conv_plane];
    for (ch, db) in db.iter_mut().enumerate() {
        *db += sum(&dz[ch * conv_plane..][..conv_plane]);
    }
    // dW (O x patch) += dz (O x P) * colsᵀ (P x patch)
    let dims = (o, patch, conv_plane);
    let (dz_v, cols_t) = (
        View::rows(dz, conv_plane),
        View::transposed(cols, conv_plane),
    );
    matmul(dims, dw, true, dz_v, cols_t);
    if !dx.is_empty() {
        // dcols (patch x P) = Wᵀ (patch x O) * dz (O x P)
        let dims = (patch, conv_plane, o);
        matmul(dims, dcols, false, View::transposed(w, patch), dz_v);
        plan.col2im_add(dcols, dx);
    }
}

/// Writes the gradient with respect to the pre-activation conv output of one sample.
#[inline(always)]
///
/// `dz` has one spare element past the conv planes, which ends up holding garbage.
fn output_grad_to_conv(plan: &ConvPlan, g: &[f32], argmax: &[u32], mask: &[u8], dz: &mut [f32]) {
    let (conv_plane, out_plane) = (plan.conv_plane(), plan.out_plane());
    match &plan.pool {
        None => dz[..g.len()].copy_from_slice(g),
        Some((PoolKind::Max, pool)) if pool.windows_are_disjoint() => {
            // Each position gets at most one gradient, so they are stored, and those of
            // inactive outputs go to a spare slot past the planes: a branch on activity
            // would be mispredicted half the time under ReLU.
            dz.fill(0.0);
            let spare = dz.len() - 1;
            for (ch, (g, argmax)) in g
                .chunks(out_plane)
                .zip(argmax.chunks(out_plane))
                .enumerate()
            {
                for (&g, &at) in g.iter().zip(argmax) {
                    dz[if at == NO_ARGMAX {
                        spare
                    } else {
                        ch * conv_plane + at as usize
                    }] = g;
                }
            }
        }
        Some((PoolKind::Max, _)) => {
            dz.fill(0.0);
            let dz = &mut dz[..plan.out_ch * conv_plane];
            // A masked ReLU is already folded into the argmax.
            for ((dz, g), argmax) in dz
                .chunks_mut(conv_plane)
                .zip(g.chunks(out_plane))
                .zip(argmax.chunks(out_plane))
            {
                PoolPlan::max_backward(g, argmax, dz);
            }
        }
        Some((PoolKind::Avg, pool)) => {
            dz.fill(0.0);
            let dz = &mut dz[..plan.out_ch * conv_plane];
            for (dz, g) in dz.chunks_mut(conv_plane).zip(g.chunks(out_plane)) {
                pool.avg_backward(g, dz);
            }
        }
    }
    if !mask.is_empty() {
        for (d, &m) in dz.iter_mut().zip(mask) {
            *d = if m == 0 { 0.0 } else { *d };
        }
    }
}

#[inline(always)]
fn sample_of<T>(buf: &[T], i: usize, len: usize) -> &[T] {
    if buf.is_empty() {
        buf
    } else {
        &buf[i * len..][..len]
    }
}
