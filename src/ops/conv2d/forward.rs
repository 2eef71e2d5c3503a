//! The conv2d forward kernel: per group of samples (`ConvPlan::group`), im2col side by side,
//! one matrix product into a scratch plane set, then per sample bias, ReLU and pooling while
//! the planes are in cache.

use std::borrow::Cow;

use rayon::prelude::*;

use super::avx512::{argmax_of_codes, codes_of_argmax, Avx512};
use super::plan::ConvPlan;
use super::shifted::ShiftedConv;
use crate::ops::cpu::scratch::{split_chunks, with_scratch};
use crate::ops::cpu::simd::avx2_or_portable;
use crate::ops::cpu::zeroed::zeroed;
use crate::ops::matmul::{matmul_packed, View};
use crate::ops::pool2d::{PoolKind, NO_ARGMAX};

/// What backward needs besides the input and weight; empty vectors where not needed.
pub(super) struct Saved {
    /// Per pooled output, the conv plane offset of its maximum, or `NO_ARGMAX` (portable path).
    pub(super) argmax: Vec<u32>,
    /// In place of `argmax` on the AVX-512 path: per sample and pooled position, per channel,
    /// which of the 2x2 window's positions is the maximum, or `WINDOW_NONE`.
    pub(super) codes: Vec<u8>,
    /// Per conv position, 1 where the ReLU passed its input.
    pub(super) mask: Vec<u8>,
}

impl Saved {
    /// The argmax in the portable kernels' format.
    pub(super) fn argmax(&self, plan: &ConvPlan) -> Cow<'_, [u32]> {
        if self.codes.is_empty() {
            return Cow::Borrowed(&self.argmax);
        }
        let out_sample = plan.out_ch * plan.out_plane();
        let mut argmax = vec![0; self.codes.len()];
        for (argmax, codes) in argmax
            .chunks_mut(out_sample)
            .zip(self.codes.chunks(out_sample))
        {
            argmax_of_codes(plan, codes, argmax);
        }
        Cow::Owned(argmax)
    }

    /// The window codes of the AVX-512 path.
    pub(super) fn codes(&self, plan: &ConvPlan) -> Cow<'_, [u8]> {
        if self.argmax.is_empty() {
            return Cow::Borrowed(&self.codes);
        }
        let out_sample = plan.out_ch * plan.out_plane();
        let mut codes = vec![0; self.argmax.len()];
        for (codes, argmax) in codes
            .chunks_mut(out_sample)
            .zip(self.argmax.chunks(out_sample))
        {
            codes_of_argmax(plan, argmax, codes);
        }
        Cow::Owned(codes)
    }
}

/// Runs the forward pass on host data, returning the output buffer (in `plan.out_shape()`,
/// or channels-last when the plan says so) and, when `save`, what backward needs.
pub(super) fn forward(
    plan: &ConvPlan,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    save: bool,
) -> (Vec<f32>, Saved) {
    forward_with(plan, x, w, b, save, Avx512::new(plan).as_ref())
}

/// [`forward`] on the AVX-512 path when `fast` is given, else on the portable one.
pub(super) fn forward_with(
    plan: &ConvPlan,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    save: bool,
    fast: Option<&Avx512>,
) -> (Vec<f32>, Saved) {
    if let Some(fast) = fast {
        let (mut out, saved) = forward_fast(plan, x, w, b, save, fast);
        if plan.channels_last && plan.pool.is_none() {
            // The kernels wrote NCHW (and the mask backward reads is NCHW).
            out = plan.reorder(&out, false);
        }
        return (out, saved);
    }
    let (n, o) = (plan.batch, plan.out_ch);
    let out_sample = o * plan.out_plane();
    let mut out = zeroed(n * out_sample);
    let argmax_len = if save && plan.saves_argmax() {
        out.len()
    } else {
        0
    };
    let mask_len = if save && plan.saves_mask() {
        n * o * plan.conv_plane()
    } else {
        0
    };
    let mut saved = Saved {
        argmax: vec![0; argmax_len],
        codes: Vec::new(),
        mask: vec![0; mask_len],
    };
    // Samples in groups multiplied together (`ConvPlan::group`); groups are independent, so
    // any split over threads gives the same result.
    let shifted = ShiftedConv::new(plan, Some(w));
    let group = shifted
        .as_ref()
        .map_or(plan.group(), |_| ShiftedConv::GROUP);
    let groups = n.div_ceil(group);
    let argmaxes = split_chunks(&mut saved.argmax, group * out_sample, groups);
    let masks = split_chunks(&mut saved.mask, group * o * plan.conv_plane(), groups);
    out.par_chunks_mut(group * out_sample)
        .zip(x.par_chunks(group * plan.in_sample()))
        .zip(argmaxes)
        .zip(masks)
        .for_each(|(((out, x), argmax), mask)| {
            group_forward(plan, shifted.as_ref(), x, w, b, out, argmax, mask);
        });
    if plan.channels_last {
        out = plan.reorder(&out, false);
    }
    (out, saved)
}

/// [`forward_with`] on the AVX-512 path, which writes every element of the output and the
/// window codes, so that they need not be zeroed first (which took a tenth of the op's time).
/// A pooled plan with `channels_last` gets its output as the kernels compute it; every other
/// plan gets NCHW.
fn forward_fast(
    plan: &ConvPlan,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    save: bool,
    fast: &Avx512,
) -> (Vec<f32>, Saved) {
    let (n, o) = (plan.batch, plan.out_ch);
    let out_sample = o * plan.out_plane();
    let len = n * out_sample;
    let mut out = Vec::with_capacity(len);
    let codes_len = if save && plan.saves_argmax() { len } else { 0 };
    let mut codes = Vec::with_capacity(codes_len);
    let mask_len = if save && plan.saves_mask() {
        n * o * plan.conv_plane()
    } else {
        0
    };
    let mut mask = vec![0; mask_len];
    let wt = fast.transpose_weight(plan, w);
    let code_chunks = split_chunks(&mut codes.spare_capacity_mut()[..codes_len], out_sample, n);
    let masks = split_chunks(&mut mask, o * plan.conv_plane(), n);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(out_sample)
        .zip(x.par_chunks(plan.in_sample()))
        .zip(code_chunks)
        .zip(masks)
        .for_each(|(((out, x), codes), mask)| {
            if plan.channels_last && plan.pool.is_some() {
                fast.sample_forward(plan, x, &wt, b, out, codes, mask, None);
            } else {
                with_scratch([out_sample], |[scratch]| {
                    fast.sample_forward(plan, x, &wt, b, out, codes, mask, Some(scratch));
                });
            }
        });
    // SAFETY: `sample_forward` wrote every element of each sample's output and codes chunk,
    // and the chunks cover the first `len` and `codes_len` elements.
    unsafe {
        out.set_len(len);
        codes.set_len(codes_len);
    }
    let saved = Saved {
        argmax: Vec::new(),
        codes,
        mask,
    };
    (out, saved)
}

#[allow(clippy::too_many_arguments)] // the kernel's slices, as in `group_forward_kernel`
fn group_forward(
    plan: &ConvPlan,
    shifted: Option<&ShiftedConv>,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    out: &mut [f32],
    argmax: &mut [u32],
    mask: &mut [u8],
) {
    let wide = x.len() / plan.in_sample() * plan.conv_plane();
    // Without im2col, `cols` holds the padded sample and `z` its planes at the padded width.
    let (cols, z) = match shifted {
        Some(s) => (s.padded_len(), plan.out_ch * s.wide_plane()),
        None => (plan.patch() * wide, plan.out_ch * wide),
    };
    with_scratch([cols, z], |[cols, z]| {
        group_forward_kernel(plan, shifted, x, w, b, out, argmax, mask, cols, z);
    });
}

avx2_or_portable!(
    // The kernel entry takes its operands and scratch as plain slices, like the SIMD
    // helpers it inlines; a struct would only be unpacked again on the next line.
    #[allow(clippy::too_many_arguments)]
    fn group_forward_kernel(
        plan: &ConvPlan,
        shifted: Option<&ShiftedConv>,
        x: &[f32],
        w: &[f32],
        b: &[f32],
        out: &mut [f32],
        argmax: &mut [u32],
        mask: &mut [u8],
        cols: &mut [f32],
        z: &mut [f32],
    ) => group_forward_in
);

/// [`group_forward`] with its scratch buffers: `cols` for the group's im2col columns side by
/// side, `z` for its conv planes (`O x wide`, sample `k`'s plane of channel `ch` at `ch *
/// wide + k * conv_plane`); or with `shifted` (one sample), `cols` for the padded sample and
/// `z` for the planes at the padded width.
#[allow(clippy::too_many_arguments)] // the kernel's slices, as in `group_forward_kernel`
#[inline(always)]
fn group_forward_in(
    plan: &ConvPlan,
    shifted: Option<&ShiftedConv>,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    out: &mut [f32],
    argmax: &mut [u32],
    mask: &mut [u8],
    cols: &mut [f32],
    z: &mut [f32],
) {
    let (patch, conv_plane, o) = (plan.patch(), plan.conv_plane(), plan.out_ch);
    let wide = x.len() / plan.in_sample() * conv_plane;
    if let Some(shifted) = shifted {
        shifted.pad(x, cols);
        shifted.product(cols, z, false);
        if plan.pool.is_none() {
            shifted.narrow(z, o, out);
            for (ch, &bias) in b.iter().enumerate() {
                let out = &mut out[ch * conv_plane..][..conv_plane];
                activate(out, bias, plan.rectifier(), plane_of(mask, ch, conv_plane));
            }
            return;
        }
        shifted.narrow_in_place(z, o);
        pool_planes(plan, b, z, wide, out, argmax, mask);
        return;
    }
    for (k, x) in x.chunks(plan.in_sample()).enumerate() {
        plan.im2col_strided(x, &mut cols[k * conv_plane..], wide);
    }
    // z (O x wide) = w (O x patch) * cols (patch x wide)
    let dims = (o, wide, patch);
    if wide == conv_plane && plan.pool.is_none() {
        // One sample, no pooling: its conv planes are its output, so the product goes there
        // and is activated in place, with no copy out of the scratch planes.
        matmul_packed(
            dims,
            out,
            false,
            View::rows(w, patch),
            View::rows(cols, wide),
        );
        for (ch, &bias) in b.iter().enumerate() {
            let out = &mut out[ch * conv_plane..][..conv_plane];
            activate(out, bias, plan.rectifier(), plane_of(mask, ch, conv_plane));
        }
        return;
    }
    matmul_packed(dims, z, false, View::rows(w, patch), View::rows(cols, wide));
    pool_planes(plan, b, z, wide, out, argmax, mask);
}

/// Bias, ReLU and pooling from a group's conv planes `z` (`O x wide`) into its output, with
/// what backward needs.
#[inline(always)]
fn pool_planes(
    plan: &ConvPlan,
    b: &[f32],
    z: &mut [f32],
    wide: usize,
    out: &mut [f32],
    argmax: &mut [u32],
    mask: &mut [u8],
) {
    let (conv_plane, o) = (plan.conv_plane(), plan.out_ch);
    let (out_plane, out_sample) = (plan.out_plane(), o * plan.out_plane());
    for (k, out) in out.chunks_mut(out_sample).enumerate() {
        let argmax = plane_of(argmax, k, out_sample);
        let mask = plane_of(mask, k, o * conv_plane);
        for (ch, &bias) in b.iter().enumerate() {
            let z = &mut z[ch * wide + k * conv_plane..][..conv_plane];
            let out = &mut out[ch * out_plane..][..out_plane];
            let mask = plane_of(mask, ch, conv_plane);
            match &plan.pool {
                None => {
                    out.copy_from_slice(z);
                    activate(out, bias, plan.rectifier(), mask);
                }
                Some((PoolKind::Avg, pool)) => {
                    activate(z, bias, plan.rectifier(), mask);
                    pool.avg_forward(z, out);
                }
                Some((PoolKind::Max, pool)) => {
                    // The bias is constant over the plane and ReLU is monotonic, so both are
                    // applied after pooling, to a quarter of the values for 2x2 windows.
                    let argmax = plane_of(argmax, ch, out_plane);
                    pool.max_forward(z, out, argmax);
                    // Separate loops: a vectorised masked store into an empty `argmax` would
                    // take a slow microcode path on its dangling address.
                    if !plan.relu || argmax.is_empty() {
                        activate(out, bias, plan.rectifier(), &mut []);
                    } else {
                        for (v, at) in out.iter_mut().zip(argmax) {
                            *v += bias;
                            if *v <= 0.0 {
                                *v = 0.0;
                                *at = NO_ARGMAX;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The slice of plane (or sample) `ch` of `plane` elements in a buffer, or an empty slice if
/// nothing is saved.
#[inline(always)]
fn plane_of<T>(buf: &mut [T], ch: usize, plane: usize) -> &mut [T] {
    if buf.is_empty() {
        buf
    } else {
        &mut buf[ch * plane..][..plane]
    }
}

/// Adds the bias and applies the ReLU of slope `rectifier` below 0 in place, recording its
/// mask (1 where the input is positive) when `mask` is not empty. A leaky ReLU gives the bits
/// of `ops::pointwise`'s.
#[inline(always)]
fn activate(plane: &mut [f32], bias: f32, rectifier: Option<f32>, mask: &mut [u8]) {
    let Some(slope) = rectifier else {
        for v in plane {
            *v += bias;
        }
        return;
    };
    // Each case a loop of its own, so that each vectorises.
    let leaky = |a: f32| if a > 0.0 { a } else { a * slope };
    match (slope == 0.0, mask.is_empty()) {
        (true, true) => plane.iter_mut().for_each(|v| *v = (*v + bias).max(0.0)),
        (true, false) => {
            for (v, m) in plane.iter_mut().zip(mask) {
                let a = *v + bias;
                *m = u8::from(a > 0.0);
                *v = if a > 0.0 { a } else { 0.0 };
            }
        }
        (false, true) => plane.iter_mut().for_each(|v| *v = leaky(*v + bias)),
        (false, false) => {
            for (v, m) in plane.iter_mut().zip(mask) {
                let a = *v + bias;
                *m = u8::from(a > 0.0);
                *v = leaky(a);
            }
        }
    }
}
