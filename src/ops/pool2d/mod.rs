//! 2-D max and average pooling over NCHW activations, as an op on dfdx's tape.

mod kernel;
#[cfg(test)]
mod tests;

pub(crate) use kernel::{PoolPlan, NO_ARGMAX};

use dfdx::prelude::{HasShape, PutTape, SplitTape, Tape};
use rayon::prelude::*;

use super::cpu::scratch::{split_chunks, with_scratch};
use super::cpu::simd::avx2_or_portable;
use super::geometry::{Axis, Padding};
use super::{tensor_from_output, OpsError, T4};
use crate::ops::cpu::zeroed::zeroed;

/// Enough planes per rayon task to outweigh its scheduling cost.
const PLANES_PER_TASK: usize = 16;

/// Which reduction a pooling window applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// The maximum; backward routes the gradient to the first maximum in row-major order.
    Max,
    /// The mean of the in-bounds inputs (padding is not counted, as in Keras).
    Avg,
}

/// A pooling layer: window `size` and `stride` as `(height, width)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool2dSpec {
    pub kind: PoolKind,
    pub size: (usize, usize),
    pub stride: (usize, usize),
    pub padding: Padding,
}

impl Pool2dSpec {
    /// The windows of this pooling over planes of `in_hw`, or why there are none.
    pub(crate) fn plan(
        &self,
        op: &'static str,
        in_hw: (usize, usize),
    ) -> Result<PoolPlan, OpsError> {
        let empty = || OpsError::EmptyOutput {
            op,
            input: in_hw,
            window: self.size,
            stride: self.stride,
        };
        let h = Axis::new(in_hw.0, self.size.0, self.stride.0, self.padding).ok_or_else(empty)?;
        let w = Axis::new(in_hw.1, self.size.1, self.stride.1, self.padding).ok_or_else(empty)?;
        // Argmaxes are saved as u32 plane offsets, with u32::MAX reserved.
        if u32::try_from(in_hw.0 * in_hw.1).map_or(true, |n| n == u32::MAX) {
            return Err(OpsError::PlaneTooLarge { op, input: in_hw });
        }
        Ok(PoolPlan::new(h, w))
    }
}

/// Pools `x` (N, C, H, W) into (N, C, H', W').
///
/// # Panics
/// If the window leaves no output; the checker rules this out ([`try_pool2d`] reports it).
pub fn pool2d<T: Tape<f32, dfdx::prelude::Cpu>>(x: T4<T>, spec: &Pool2dSpec) -> T4<T> {
    try_pool2d(x, spec).unwrap_or_else(|e| panic!("{e}"))
}

/// [`pool2d`], reporting unusable shapes instead of panicking.
///
/// # Errors
/// [`OpsError::EmptyOutput`] when no window fits, [`OpsError::PlaneTooLarge`] for planes of
/// 2^32 elements or more.
pub fn try_pool2d<T: Tape<f32, dfdx::prelude::Cpu>>(
    x: T4<T>,
    spec: &Pool2dSpec,
) -> Result<T4<T>, OpsError> {
    let (n, c, h, w) = *x.shape();
    let plan = spec.plan("pool2d", (h, w))?;
    let (x, mut tape) = x.split_tape();
    let planes = n * c;
    let (in_plane, out_plane) = (plan.in_plane(), plan.out_plane());
    let mut out = zeroed(planes * out_plane);
    let save_argmax = T::OWNS_TAPE && spec.kind == PoolKind::Max;
    let mut argmax = vec![0u32; if save_argmax { out.len() } else { 0 }];

    // The input is read through a reused buffer: pooling commonly follows a large activation
    // and a fresh copy of it per call would cost page faults on every step.
    with_scratch([planes * in_plane], |[input]| {
        x.copy_into(input);
        // Planes are independent, so any split over threads gives the same result.
        out.par_chunks_mut(out_plane)
            .zip(input.par_chunks(in_plane))
            .zip(split_chunks(&mut argmax, out_plane, planes))
            .with_min_len(PLANES_PER_TASK)
            .for_each(|((out, input), argmax)| {
                plane_forward(&plan, spec.kind, input, out, argmax);
            });
    });

    let dev = x.device().clone();
    let out = tensor_from_output(&dev, out, (n, c, plan.h.output, plan.w.output));
    if T::OWNS_TAPE {
        let x_ghost = x.ghost();
        let out_ghost = out.ghost();
        let kind = spec.kind;
        tape.add_backward_op(move |grads| {
            let grad_out = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dx = grads.get_or_alloc_mut(&x_ghost)?;
            dx.par_chunks_mut(in_plane)
                .zip(grad_out.par_chunks(out_plane))
                .enumerate()
                .with_min_len(PLANES_PER_TASK)
                .for_each(|(p, (dx, g))| {
                    let argmax = match kind {
                        PoolKind::Max => &argmax[p * out_plane..][..out_plane],
                        PoolKind::Avg => &[],
                    };
                    plane_backward(&plan, kind, g, argmax, dx);
                });
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

avx2_or_portable!(
    fn plane_forward(
        plan: &PoolPlan,
        kind: PoolKind,
        input: &[f32],
        out: &mut [f32],
        argmax: &mut [u32],
    ) => plane_forward_in
);

#[inline(always)]
fn plane_forward_in(
    plan: &PoolPlan,
    kind: PoolKind,
    input: &[f32],
    out: &mut [f32],
    argmax: &mut [u32],
) {
    match kind {
        PoolKind::Max => plan.max_forward(input, out, argmax),
        PoolKind::Avg => plan.avg_forward(input, out),
    }
}

avx2_or_portable!(
    fn plane_backward(
        plan: &PoolPlan,
        kind: PoolKind,
        grad_out: &[f32],
        argmax: &[u32],
        dx: &mut [f32],
    ) => plane_backward_in
);

#[inline(always)]
fn plane_backward_in(
    plan: &PoolPlan,
    kind: PoolKind,
    grad_out: &[f32],
    argmax: &[u32],
    dx: &mut [f32],
) {
    match kind {
        PoolKind::Max => PoolPlan::max_backward(grad_out, argmax, dx),
        PoolKind::Avg => plan.avg_backward(grad_out, dx),
    }
}
