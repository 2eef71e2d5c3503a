//! The conv2d backward kernel. Per sample: rebuild the im2col rows and turn the output
//! gradient into a conv-plane gradient `dz` (through pooling and ReLU), `db += Σ dz` and, when
//! asked, `dx += col2im(Wᵀ * dz)` (for a stride-1 conv, `dx += W' * im2col(dz)`, a conv:
//! [`ConvPlan::input_grad_plan`]); then per group of samples side by side
//! (`ConvPlan::group`), `dW += dz * cols`.
//!
//! With max pooling `dz` is sparse, but scattering it into a dense plane and taking vectorised
//! dot products is faster than gathering im2col entries per argmax.

use rayon::prelude::*;

use super::avx512::Avx512;
use super::forward::Saved;
use super::plan::ConvPlan;
use super::shifted::ShiftedConv;
use crate::ops::add_into;
use crate::ops::cpu::scratch::{samples_per_task, split_chunks, with_scratch};
use crate::ops::cpu::simd::avx2_or_portable;
use crate::ops::matmul::{matmul_packed, sum, View};
use crate::ops::pool2d::{PoolKind, PoolPlan, NO_ARGMAX};

/// The forward operands backward reads.
#[derive(Clone, Copy)]
pub(super) struct Params<'a> {
    pub(super) x: &'a [f32],
    pub(super) w: &'a [f32],
}

/// The conv that computes a stride-1 conv's input gradient ([`ConvPlan::input_grad_plan`])
/// and its weight.
pub(super) struct InputGradConv {
    plan: ConvPlan,
    weight: Vec<f32>,
    /// The dual conv's products without im2col, where they can run.
    shifted: Option<ShiftedConv>,
}

impl InputGradConv {
    pub(super) fn new(plan: &ConvPlan, w: &[f32]) -> Option<Self> {
        let dual = plan.input_grad_plan()?;
        let weight = plan.flipped_weight(w);
        Some(Self {
            shifted: ShiftedConv::new(&dual, Some(&weight)),
            weight,
            plan: dual,
        })
    }

    /// [`Self::new`] where the dual conv's products read `dz` in place.
    pub(super) fn shifted(plan: &ConvPlan, w: &[f32]) -> Option<Self> {
        Self::new(plan, w).filter(|dual| dual.shifted.is_some())
    }

    /// `dx (C x H*W) += W' * shifted(padded dz)` for one sample, with scratch `dcols`
    /// ([`Self::cols`]), summed from `dx`'s values as the im2col product does, so the bits
    /// are the same. False, with nothing done, where the dual conv builds im2col columns.
    pub(super) fn add_shifted(&self, dz: &[f32], dx: &mut [f32], dcols: &mut [f32]) -> bool {
        let Some(shifted) = &self.shifted else {
            return false;
        };
        let (padded, z) = dcols.split_at_mut(shifted.padded_len());
        let z = &mut z[..self.plan.out_ch * shifted.wide_plane()];
        shifted.pad(dz, padded);
        shifted.widen(dx, self.plan.out_ch, z);
        shifted.product(padded, z, true);
        shifted.narrow(z, self.plan.out_ch, dx);
        true
    }

    /// Scratch for one sample's im2col columns of `dz`, or without im2col its padded `dz`
    /// and the input gradient at the padded width.
    pub(super) fn cols(&self) -> usize {
        match &self.shifted {
            Some(s) => s.padded_len() + self.plan.out_ch * s.wide_plane(),
            None => self.plan.patch() * self.plan.conv_plane(),
        }
    }
}

/// The gradients backward adds into; `dx` is empty when the input needs none.
pub(super) struct Grads<'a> {
    pub(super) dx: &'a mut [f32],
    pub(super) dw: &'a mut [f32],
    pub(super) db: &'a mut [f32],
}

/// Adds the gradients of `x`, `w` and `b` for the output gradient `grad_out` into `dx`, `dw`
/// and `db`, each skipped where its slice is empty (`dw` and `db` are empty together).
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
    if dx.is_empty() && dw.is_empty() {
        return;
    }
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
        portable_partials(plan, &params, &portable, grad_out, dx, !dw.is_empty())
    } else {
        portable_partials(plan, &params, saved, grad_out, dx, !dw.is_empty())
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

/// Per task of the portable path, the sums of its samples' weight and bias gradients (empty
/// where `weight_grad` is false); the input gradient (when `dx` is not empty) goes straight
/// into `dx`. A task's samples are multiplied in groups (`ConvPlan::group`).
fn portable_partials(
    plan: &ConvPlan,
    params: &Params<'_>,
    saved: &Saved,
    grad_out: &[f32],
    dx: &mut [f32],
    weight_grad: bool,
) -> Vec<(Vec<f32>, Vec<f32>)> {
    let n = plan.batch;
    let per_task = samples_per_task(n);
    let tasks = n.div_ceil(per_task);
    let in_sample = plan.in_sample();
    let dual = if dx.is_empty() {
        None
    } else {
        InputGradConv::new(plan, params.w)
    };
    // Without a dual conv (strided), the input gradient's columns are scattered into the
    // padded layout where the products read in place.
    let shifted = ShiftedConv::new(plan, None).map(|s| match dual {
        None if !dx.is_empty() => s.with_input_grad(params.w),
        _ => s,
    });
    let group = shifted
        .as_ref()
        .map_or(plan.group(), |_| ShiftedConv::GROUP);
    let dx_chunks = split_chunks(dx, per_task * in_sample, tasks);
    dx_chunks
        .into_par_iter()
        .enumerate()
        .map(|(t, dx)| {
            let (mut dw, mut db) = plan.param_grad_buffers(weight_grad);
            let first = t * per_task;
            let last = (first + per_task).min(n);
            for s in (first..last).step_by(group) {
                let end = (s + group).min(last);
                let dx = if dx.is_empty() {
                    &mut []
                } else {
                    &mut dx[(s - first) * in_sample..(end - first) * in_sample]
                };
                let grads = Grads {
                    dx,
                    dw: &mut dw,
                    db: &mut db,
                };
                let convs = (shifted.as_ref(), dual.as_ref());
                group_backward(plan, params, saved, grad_out, s..end, grads, convs);
            }
            (dw, db)
        })
        .collect()
}

/// The gradients of samples `range`, added into `grads` (its `dx` is the group's own, or
/// empty).
fn group_backward(
    plan: &ConvPlan,
    params: &Params<'_>,
    saved: &Saved,
    grad_out: &[f32],
    range: std::ops::Range<usize>,
    Grads { dx, dw, db }: Grads<'_>,
    (shifted, dual): (Option<&ShiftedConv>, Option<&InputGradConv>),
) {
    let (patch, conv_plane, o) = (plan.patch(), plan.conv_plane(), plan.out_ch);
    let out_sample = o * plan.out_plane();
    let (first, end) = (range.start, range.end);
    let g = &grad_out[first * out_sample..end * out_sample];
    let x = &params.x[first * plan.in_sample()..end * plan.in_sample()];
    let argmax = group_of(&saved.argmax, range.clone(), out_sample);
    let mask = group_of(&saved.mask, range.clone(), o * conv_plane);
    let wide = range.len() * conv_plane;
    let dcols_len = match (dual, shifted) {
        _ if dx.is_empty() => 0,
        (Some(dual), _) => dual.cols(),
        (None, Some(s)) => s.input_grad_scratch().max(patch * conv_plane),
        (None, None) => patch * conv_plane,
    };
    // Without im2col, `cols` holds the padded sample and `dzs` its `dz` at the padded width.
    let (cols_len, dzs_len) = match shifted {
        Some(s) => (s.padded_len(), o * s.wide_plane()),
        None => (patch * wide, o * wide),
    };
    with_scratch(
        [cols_len, o * conv_plane + 1, dzs_len, dcols_len],
        |[cols, dz, dzs, dcols]| {
            let scratch = [cols, dz, dzs, dcols];
            let w = (params.w, dual);
            group_backward_kernel(plan, shifted, x, w, g, argmax, mask, dx, dw, db, scratch);
        },
    );
}

avx2_or_portable!(
    // The kernel entry takes its operands and scratch as plain slices, like the SIMD
    // helpers it inlines; a struct would only be unpacked again on the next line.
    #[allow(clippy::too_many_arguments)]
    fn group_backward_kernel(
        plan: &ConvPlan,
        shifted: Option<&ShiftedConv>,
        x: &[f32],
        w: (&[f32], Option<&InputGradConv>),
        g: &[f32],
        argmax: &[u32],
        mask: &[u8],
        dx: &mut [f32],
        dw: &mut [f32],
        db: &mut [f32],
        scratch: [&mut [f32]; 4],
    ) => group_backward_in
);

/// One group's backward with its scratch buffers: `cols` for the im2col columns side by side,
/// `dz` for one sample's conv-plane gradient, `dzs` for the group's side by side (`O x
/// wide`), `dcols` (empty without `dx`) for one sample's im2col-shaped input gradient, or
/// with `w.1` the im2col columns of its `dz`.
///
/// The input gradient is a product per sample. For a strided conv its inner dimension is the
/// output channels, often few enough for the few-taps kernel, which reads rows of `dz` and
/// wants them short (`ConvPlan::group`); for a stride-1 conv it is `O * KH * KW`.
#[allow(clippy::too_many_arguments)] // the kernel's slices, as in `group_backward_kernel`
#[inline(always)]
fn group_backward_in(
    plan: &ConvPlan,
    shifted: Option<&ShiftedConv>,
    x: &[f32],
    (w, dual): (&[f32], Option<&InputGradConv>),
    g: &[f32],
    argmax: &[u32],
    mask: &[u8],
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    [cols, dz, dzs, dcols]: [&mut [f32]; 4],
) {
    let (patch, conv_plane, o) = (plan.patch(), plan.conv_plane(), plan.out_ch);
    let (in_sample, out_sample) = (plan.in_sample(), o * plan.out_plane());
    let wide = x.len() / in_sample * conv_plane;
    if let Some(shifted) = shifted {
        // One sample (`ShiftedConv::new` takes no groups): the padded input in `cols`, `dz`
        // widened in `dzs`, and `dW += dzs * shifted(cols)ᵀ`.
        let weight_grad = !dw.is_empty();
        if weight_grad {
            shifted.pad(x, cols);
        }
        output_grad_to_conv(plan, g, argmax, mask, dz);
        for (db, dz) in db.iter_mut().zip(dz.chunks_exact(conv_plane)) {
            *db += sum(dz);
        }
        shifted.widen(&dz[..o * conv_plane], o, dzs);
        if !dx.is_empty() && !shifted.input_grad(dzs, dx, dcols) {
            sample_input_grad(plan, (w, dual), &dz[..o * conv_plane], dx, dcols);
        }
        if weight_grad {
            shifted.weight_grad(cols, dzs, dw);
        }
        return;
    }
    let weight_grad = !dw.is_empty();
    for (k, (x, g)) in x.chunks(in_sample).zip(g.chunks(out_sample)).enumerate() {
        if weight_grad {
            plan.im2col_strided(x, &mut cols[k * conv_plane..], wide);
        }
        let argmax = sample_of(argmax, k, out_sample);
        let mask = sample_of(mask, k, o * conv_plane);
        output_grad_to_conv(plan, g, argmax, mask, dz);
        for (ch, db) in db.iter_mut().enumerate() {
            let dz = &dz[ch * conv_plane..][..conv_plane];
            *db += sum(dz);
            dzs[ch * wide + k * conv_plane..][..conv_plane].copy_from_slice(dz);
        }
        if !dx.is_empty() {
            let dx = &mut dx[k * in_sample..][..in_sample];
            sample_input_grad(plan, (w, dual), &dz[..o * conv_plane], dx, dcols);
        }
    }
    if !weight_grad {
        return;
    }
    let (cols, dzs) = (&cols[..patch * wide], &dzs[..o * wide]);
    // dW (O x patch) += dzs (O x wide) * colsᵀ (wide x patch)
    let (dz_v, cols_t) = (View::rows(dzs, wide), View::transposed(cols, wide));
    matmul_packed((o, patch, wide), dw, true, dz_v, cols_t);
}

avx2_or_portable!(
    // A kernel of its own: inlined into `group_backward_in`, the few-taps product's
    // accumulators were left in memory and its loop ran scalar, 3x slower (attempt 32).
    fn sample_input_grad(
        plan: &ConvPlan,
        w: (&[f32], Option<&InputGradConv>),
        dz: &[f32],
        dx: &mut [f32],
        dcols: &mut [f32],
    ) => sample_input_grad_in
);

/// Adds one sample's input gradient to `dx`, with scratch `dcols`: `col2im(Wᵀ dz)`, or with
/// `dual` (stride 1) the conv `W' * im2col(dz)`.
#[inline(always)]
fn sample_input_grad_in(
    plan: &ConvPlan,
    (w, dual): (&[f32], Option<&InputGradConv>),
    dz: &[f32],
    dx: &mut [f32],
    dcols: &mut [f32],
) {
    if dual.is_some_and(|dual| dual.add_shifted(dz, dx, dcols)) {
        return;
    }
    if let Some(InputGradConv {
        plan: dual, weight, ..
    }) = dual
    {
        let (patch, plane) = (dual.patch(), dual.conv_plane());
        dual.im2col_strided(dz, dcols, plane);
        // dx (C x H*W) += W' (C x O*KH*KW) * cols (O*KH*KW x H*W)
        let (w, cols) = (
            View::rows(weight, patch),
            View::rows(&dcols[..patch * plane], plane),
        );
        matmul_packed((dual.out_ch, plane, patch), dx, true, w, cols);
        return;
    }
    let (patch, conv_plane, o) = (plan.patch(), plan.conv_plane(), plan.out_ch);
    // dcols (patch x P) = Wᵀ (patch x O) * dz (O x P)
    let dz = View::rows(dz, conv_plane);
    matmul_packed(
        (patch, conv_plane, o),
        dcols,
        false,
        View::transposed(w, patch),
        dz,
    );
    plan.col2im_add_strided(dcols, dx, conv_plane);
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
        let slope = plan.relu_slope;
        if slope == 0.0 {
            for (d, &m) in dz.iter_mut().zip(mask) {
                *d = if m == 0 { 0.0 } else { *d };
            }
        } else {
            // As the leaky ReLU op apart adds its gradient into a zeroed one (`0 + ...`), for
            // the same bits.
            for (d, &m) in dz.iter_mut().zip(mask) {
                *d = 0.0 + *d * if m == 0 { slope } else { 1.0 };
            }
        }
    }
}

/// Samples `range` of a saved per-sample buffer, or an empty slice if nothing is saved.
#[inline(always)]
fn group_of<T>(buf: &[T], range: std::ops::Range<usize>, len: usize) -> &[T] {
    if buf.is_empty() {
        buf
    } else {
        &buf[range.start * len..range.end * len]
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
