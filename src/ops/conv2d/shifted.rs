//! A stride-1 conv without im2col: the products read the zero-padded input in place.
//!
//! Pad a sample's planes to `hp x wp` (the output plus the kernel, less one) and number the
//! positions of each padded plane row by row. The input under kernel tap `(c, i, j)` for
//! output `(y, x)` then sits at `c * hp * wp + i * wp + j + (y * wp + x)`: for every tap, the
//! same run of positions shifted by the tap's offset. Computing the outputs at the padded
//! width (`y * wp + x` for `x < wp`, the last `wp - W'` of each row thrown away), the im2col
//! matrix's row for a tap is one contiguous slice of the padded sample, and the product reads
//! it there ([`Shifted`]). What is copied per sample is the padded input (for a residual
//! block's 16 channels of 14x14, 16 KiB) instead of the `9 C` rows of im2col (113 KiB), which
//! the product then copied again into its panels.
//!
//! The three products of a conv take this form: forward, `z = W * shifted(x)`; the weight
//! gradient, `dW += dz * shifted(x)ᵀ` with `dz` widened to the padded width by zeros; and the
//! input gradient, itself a stride-1 conv (`ConvPlan::input_grad_plan`). Each element is
//! summed in the order of the im2col product (taps ascending; positions ascending, the zeros
//! of the thrown-away columns adding nothing), so the results have the same bits.
//!
//! Only the AVX-512 product reads shifted operands (`matmul::shifted_products`); elsewhere,
//! and for strided convs, for a first layer's few taps and for samples multiplied side by
//! side (`ConvPlan::group`), the kernels build im2col columns as before.

use super::plan::ConvPlan;
use crate::ops::matmul::{
    shifted_cols, shifted_products, shifted_rows, PackedLhs, Shifted, View, PACKED_TAPS,
};

#[cfg(test)]
thread_local! {
    /// Set by tests on their own thread to compute with im2col, for comparison.
    pub(super) static IM2COL_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The padded layout of one conv's input, and each tap's offset in it.
pub(super) struct ShiftedConv {
    in_ch: usize,
    out_ch: usize,
    /// Input plane `(rows, columns)`.
    input: (usize, usize),
    /// Output plane `(rows, columns)`.
    output: (usize, usize),
    /// Zero rows and columns before the input's.
    pad: (usize, usize),
    /// The padded plane's columns, `W' + KW - 1`; it has `H' + KH - 1` rows.
    wp: usize,
    hp: usize,
    /// Per tap `(c, i, j)`, in the weight's order, where its slice starts in a padded sample.
    offsets: Vec<usize>,
    /// The weight `(O x patch)` packed once for every sample's [`Self::product`].
    weight: Option<PackedLhs>,
}

impl ShiftedConv {
    /// The layout for `plan`, or `None` where the im2col kernels compute it (see the module
    /// documentation); with the weight `w` (`O x patch`) when the conv's [`Self::product`]
    /// will run, not only its weight gradient.
    pub(super) fn new(plan: &ConvPlan, w: Option<&[f32]>) -> Option<Self> {
        let (kh, kw) = plan.kernel;
        let usable = plan.h.stride == 1
            && plan.w.stride == 1
            && plan.patch() >= PACKED_TAPS
            && plan.group() == 1
            && shifted_products();
        #[cfg(test)]
        let usable = usable && !IM2COL_ONLY.get();
        if !usable {
            return None;
        }
        let (hp, wp) = (plan.h.output + kh - 1, plan.w.output + kw - 1);
        let mut offsets = Vec::with_capacity(plan.patch());
        for c in 0..plan.in_ch {
            for i in 0..kh {
                for j in 0..kw {
                    offsets.push(c * hp * wp + i * wp + j);
                }
            }
        }
        let weight =
            w.map(|w| PackedLhs::new((plan.out_ch, plan.patch()), View::rows(w, plan.patch())));
        Some(Self {
            weight,
            in_ch: plan.in_ch,
            out_ch: plan.out_ch,
            input: (plan.h.input, plan.w.input),
            output: (plan.h.output, plan.w.output),
            pad: (plan.h.pad_before, plan.w.pad_before),
            wp,
            hp,
            offsets,
        })
    }

    /// Floats of a padded sample: its planes, then `KW - 1` zeros that the last row's
    /// thrown-away columns read past the last plane.
    pub(super) fn padded_len(&self) -> usize {
        let kw = self.wp + 1 - self.output.1;
        self.in_ch * self.hp * self.wp + kw - 1
    }

    /// Columns of the products: the output rows at the padded width.
    pub(super) fn wide_plane(&self) -> usize {
        self.output.0 * self.wp
    }

    /// Writes one input sample (`C x H x W`) into `xpad` (`padded_len`), every element.
    pub(super) fn pad(&self, x: &[f32], xpad: &mut [f32]) {
        let ((h, w), (top, left), wp) = (self.input, self.pad, self.wp);
        let plane = self.hp * wp;
        for (c, padded) in xpad[..self.in_ch * plane]
            .chunks_exact_mut(plane)
            .enumerate()
        {
            let x = &x[c * h * w..][..h * w];
            for (r, row) in padded.chunks_exact_mut(wp).enumerate() {
                let Some(src) = r.checked_sub(top).filter(|&r| r < h) else {
                    row.fill(0.0);
                    continue;
                };
                // The window may hang past the input on the right (`same` padding) or stop
                // short of it (`valid` with a remainder): copy what fits.
                let len = w.min(wp - left);
                row[..left].fill(0.0);
                row[left..left + len].copy_from_slice(&x[src * w..][..len]);
                row[left + len..].fill(0.0);
            }
        }
        xpad[self.in_ch * plane..self.padded_len()].fill(0.0);
    }

    /// `z (O x wide_plane) = w (O x patch) * shifted(xpad)`, or `+=` when `accumulate`, with
    /// the weight given to [`Self::new`].
    ///
    /// # Panics
    /// If [`Self::new`] had no weight.
    pub(super) fn product(&self, xpad: &[f32], z: &mut [f32], accumulate: bool) {
        let (o, patch, wide) = (self.out_ch, self.offsets.len(), self.wide_plane());
        let rows = Shifted {
            data: &xpad[..self.padded_len()],
            offsets: &self.offsets,
        };
        let w = self
            .weight
            .as_ref()
            .unwrap_or_else(|| unreachable!("a conv's product has its weight"));
        shifted_rows((o, wide, patch), z, accumulate, w, rows);
    }

    /// `dw (O x patch) += dzp (O x wide_plane) * shifted(xpad)ᵀ`, `dzp` zero in the thrown-away
    /// columns ([`Self::widen`]).
    pub(super) fn weight_grad(&self, xpad: &[f32], dzp: &[f32], dw: &mut [f32]) {
        let (o, patch, wide) = (self.out_ch, self.offsets.len(), self.wide_plane());
        let cols = Shifted {
            data: &xpad[..self.padded_len()],
            offsets: &self.offsets,
        };
        shifted_cols((o, patch, wide), dw, true, View::rows(dzp, wide), cols);
    }

    /// Copies `planes` planes of the output's shape (`H' x W'` each) into `wide` at the padded
    /// width, the thrown-away columns zero.
    pub(super) fn widen(&self, src: &[f32], planes: usize, wide: &mut [f32]) {
        let ((h, w), wp) = (self.output, self.wp);
        for (src, dst) in src
            .chunks_exact(h * w)
            .zip(wide.chunks_exact_mut(h * wp))
            .take(planes)
        {
            for (src, dst) in src.chunks_exact(w).zip(dst.chunks_exact_mut(wp)) {
                dst[..w].copy_from_slice(src);
                dst[w..].fill(0.0);
            }
        }
    }

    /// The output's planes out of the padded width: `planes` planes from `wide` into `dst`.
    pub(super) fn narrow(&self, wide: &[f32], planes: usize, dst: &mut [f32]) {
        let ((h, w), wp) = (self.output, self.wp);
        for (src, dst) in wide
            .chunks_exact(h * wp)
            .zip(dst.chunks_exact_mut(h * w))
            .take(planes)
        {
            for (src, dst) in src.chunks_exact(wp).zip(dst.chunks_exact_mut(w)) {
                dst.copy_from_slice(&src[..w]);
            }
        }
    }

    /// [`Self::narrow`] in place: the planes move to the front of `buf`, as the im2col
    /// product leaves them.
    pub(super) fn narrow_in_place(&self, buf: &mut [f32], planes: usize) {
        let ((h, w), wp) = (self.output, self.wp);
        // Each row moves towards the front, so rows in order never overwrite one not yet
        // moved.
        for row in 0..planes * h {
            buf.copy_within(row * wp..row * wp + w, row * w);
        }
    }
}
