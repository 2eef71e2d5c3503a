//! The conv2d backward kernel. Per sample: rebuild the im2col rows, turn the output gradient
//! into a conv-plane gradient `dz` (through pooling and ReLU), then `dW += dz * cols`,
//! `db += Σ dz` and, when asked, `dx += col2im(dzᵀ * W)`.
//!
//! With max pooling and no input gradient `dz` has one non-zero per window, so `dW` is
//! accumulated directly from the saved argmaxes instead (a quarter of the work for 2x2
//! windows, and no `dz` plane to clear).

use rayon::prelude::*;

use super::forward::Saved;
use super::plan::ConvPlan;
use crate::ops::add_into;
use crate::ops::matmul::{matmul, View};
use crate::ops::pool2d::{PoolKind, PoolPlan, NO_ARGMAX};
use crate::ops::scratch::{samples_per_task, split_chunks, with_scratch};

/// The forward operands backward reads.
pub(super) struct Params<'a> {
    pub(super) x: &'a [f32],
    pub(super) w: &'a [f32],
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
    let n = plan.batch;
    let per_task = samples_per_task(n);
    let tasks = n.div_ceil(per_task);
    let dx_chunks = split_chunks(dx, per_task * plan.in_sample(), tasks);
    // Each task sums its samples in order; the task sums are then added in task order, so the
    // result does not depend on which thread ran what.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_chunks
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
                sample_backward(plan, &params, saved, grad_out, i, dx, &mut dw, &mut db);
            }
            (dw, db)
        })
        .collect();
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

#[allow(clippy::too_many_arguments)]
fn sample_backward(
    plan: &ConvPlan,
    params: &Params<'_>,
    saved: &Saved,
    grad_out: &[f32],
    i: usize,
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let (patch, conv_plane, o) = (plan.patch(), plan.conv_plane(), plan.out_ch);
    let out_sample = o * plan.out_plane();
    let g = &grad_out[i * out_sample..][..out_sample];
    let x = &params.x[i * plan.in_sample()..][..plan.in_sample()];
    let argmax = sample_of(&saved.argmax, i, out_sample);
    let mask = sample_of(&saved.mask, i, o * conv_plane);
    let sparse = plan.saves_argmax() && dx.is_empty();
    let dz_len = if sparse { 0 } else { o * conv_plane };
    let dcols_len = if dx.is_empty() { 0 } else { conv_plane * patch };
    with_scratch([conv_plane * patch, dz_len, dcols_len], |[cols, dz, dcols]| {
        plan.im2col(x, cols);
        if sparse {
            scatter_weight_grad(plan, cols, g, argmax, dw, db);
            return;
        }
        output_grad_to_conv(plan, g, argmax, mask, dz);
        for (ch, db) in db.iter_mut().enumerate() {
            *db += dz[ch * conv_plane..][..conv_plane].iter().sum::<f32>();
        }
        // dW (O x patch) += dz (O x P) * cols (P x patch)
        let dims = (o, patch, conv_plane);
        matmul(dims, dw, true, View::rows(dz, conv_plane), View::rows(cols, patch));
        if !dx.is_empty() {
            // dcols (P x patch) = dzᵀ (P x O) * W (O x patch)
            let dims = (conv_plane, patch, o);
            let (dz_t, w) = (View::transposed(dz, conv_plane), View::rows(params.w, patch));
            matmul(dims, dcols, false, dz_t, w);
            plan.col2im_add(dcols, dx);
        }
    });
}

/// `dW[o] += g * cols[argmax]` and `db[o] += g` for every pooled output whose max passed.
fn scatter_weight_grad(
    plan: &ConvPlan,
    cols: &[f32],
    g: &[f32],
    argmax: &[u32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let (patch, out_plane) = (plan.patch(), plan.out_plane());
    for ((dw, db), (g, argmax)) in dw
        .chunks_mut(patch)
        .zip(db.iter_mut())
        .zip(g.chunks(out_plane).zip(argmax.chunks(out_plane)))
    {
        for (&g, &at) in g.iter().zip(argmax) {
            if at == NO_ARGMAX {
                continue;
            }
            *db += g;
            let row = &cols[at as usize * patch..][..patch];
            for (d, c) in dw.iter_mut().zip(row) {
                *d += g * c;
            }
        }
    }
}

/// Writes the gradient with respect to the pre-activation conv output of one sample.
fn output_grad_to_conv(plan: &ConvPlan, g: &[f32], argmax: &[u32], mask: &[u8], dz: &mut [f32]) {
    let (conv_plane, out_plane) = (plan.conv_plane(), plan.out_plane());
    match &plan.pool {
        None => dz.copy_from_slice(g),
        Some((PoolKind::Max, _)) => {
            dz.fill(0.0);
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
            for (dz, g) in dz.chunks_mut(conv_plane).zip(g.chunks(out_plane)) {
                pool.avg_backward(g, dz);
            }
        }
    }
    if !mask.is_empty() {
        for (d, &m) in dz.iter_mut().zip(mask) {
            if m == 0 {
                *d = 0.0;
            }
        }
    }
}

fn sample_of<T>(buf: &[T], i: usize, len: usize) -> &[T] {
    if buf.is_empty() {
        buf
    } else {
        &buf[i * len..][..len]
    }
}
