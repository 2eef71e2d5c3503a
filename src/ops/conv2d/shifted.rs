//! A conv without im2col: the products read the zero-padded input in place.
//!
//! Pad a sample's planes to `hp x wp` (the output plus the kernel, less one) and number the
//! positions of each padded plane row by row. For a stride-1 conv the input under kernel tap
//! `(c, i, j)` for output `(y, x)` then sits at `c * hp * wp + i * wp + j + (y * wp + x)`: for
//! every tap, the same run of positions shifted by the tap's offset. Computing the outputs at
//! the padded width (`y * wp + x` for `x < wp`, the last `wp - W'` of each row thrown away),
//! the im2col matrix's row for a tap is one contiguous slice of the padded sample, and the
//! product reads it there ([`Shifted`]). What is copied per sample is the padded input (for a
//! residual block's 16 channels of 14x14, 16 KiB) instead of the `9 C` rows of im2col (113
//! KiB), which the product then copied again into its panels.
//!
//! The thrown-away columns are work too, and on small planes a large share of it. So a
//! stride-1 conv's rows share their zero columns: a window hanging past the right edge of row
//! `r` reads on into row `r + 1`, whose `L` leading zeros (the left padding) serve as row
//! `r`'s right padding. A row then needs `W + max(L, R)` columns instead of `W + L + R` (more
//! exactly, `max(W' + KW - 1 - L, L + W)`). For the DCGAN's 5x5 transposed conv on 7x7 planes
//! that is 9 columns instead of 11: 63 product columns, one tile's width, instead of 77, a
//! full tile and a thin one. Its forward pass took 0.77x as long (`timing_dcgan_layers`). The
//! columns kept read what they read before, so the bits do not change.
//!
//! A strided conv is made of stride-1 pieces: split each padded plane into its `SH x SW`
//! phases, phase `(a, b)` holding rows `a, a + SH, ...` and of those columns `b, b + SW, ...`.
//! Output `(y, x)` reads tap `(i, j)` at row `y + i / SH`, column `x + j / SW` of phase `(i %
//! SH, j % SW)`, so each tap is again one slice, of its phase plane, and a phase plane needs
//! `H' + (KH - 1) / SH` rows of `W' + (KW - 1) / SW` columns. The input is copied once into
//! this layout, where im2col copied it `KH * KW / (SH * SW)` times (six for a 5x5 stride-2
//! kernel).
//!
//! The three products of a conv take this form: forward, `z = W * shifted(x)`; the weight
//! gradient, `dW += dz * shifted(x)ᵀ` with `dz` widened to the padded width by zeros; and, for
//! a stride-1 conv, the input gradient, itself a stride-1 conv (`ConvPlan::input_grad_plan`).
//! Each element is summed in the order of the im2col product (taps ascending; positions
//! ascending, the zeros of the thrown-away columns adding nothing), so the results have the
//! same bits.
//!
//! Only the blocked product (AVX-512 or AVX2 with FMA) reads shifted operands
//! (`matmul::shifted_products`); elsewhere,
//! and for a first layer's few taps, the kernels build im2col columns as before (there,
//! samples with a large weight are multiplied side by side, `ConvPlan::group`). The
//! transposed conv runs on the same layouts: its input and weight gradients are a conv's
//! forward product and weight gradient, and at stride 1 its forward pass is a conv's input
//! gradient.

use super::plan::ConvPlan;
use crate::ops::matmul::{
    shifted_cols, shifted_products, shifted_rows, PackedLhs, Runs, Shifted, View, PACKED_TAPS,
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
    /// `(rows, columns)` step between windows.
    stride: (usize, usize),
    /// Phases per channel along each axis: the stride, or fewer where the kernel is smaller.
    phases: (usize, usize),
    /// A phase plane's columns, `W' + (KW - 1) / SW`: the product's row width.
    wp: usize,
    /// A phase plane's rows, `H' + (KH - 1) / SH`.
    hp: usize,
    /// Zeros after the last plane, `(KW - 1) / SW`: what the last row's thrown-away columns
    /// read past it.
    tail: usize,
    /// Per tap `(c, i, j)`, in the weight's order, where its slice starts in a padded sample.
    offsets: Vec<usize>,
    /// The weight `(O x patch)` packed once for every sample's [`Self::product`].
    weight: Option<PackedLhs>,
    /// The weight transposed (`patch x O`) and packed, for [`Self::input_grad`].
    weight_t: Option<PackedLhs>,
    /// Where each output channel's row starts in a widened `dz`, read in place as the rows
    /// of [`Self::input_grad`]'s product.
    dz_rows: Vec<usize>,
}

impl ShiftedConv {
    /// The layout for `plan`, or `None` where the im2col kernels compute it (see the module
    /// documentation); with the weight `w` (`O x patch`) when the conv's [`Self::product`]
    /// will run, not only its weight gradient.
    pub(super) fn new(plan: &ConvPlan, w: Option<&[f32]>) -> Option<Self> {
        let (kh, kw) = plan.kernel;
        let usable = plan.patch() >= PACKED_TAPS && shifted_products();
        #[cfg(test)]
        let usable = usable && !IM2COL_ONLY.get();
        if !usable {
            return None;
        }
        let (sh, sw) = (plan.h.stride, plan.w.stride);
        let hp = plan.h.output + (kh - 1) / sh;
        let wp = if sw == 1 {
            // One run of zeros between rows serves as the right padding of one and the left
            // padding of the next (see the module documentation).
            (plan.w.output + kw - 1)
                .saturating_sub(plan.w.pad_before)
                .max(plan.w.pad_before + plan.w.input)
                .max(plan.w.output)
        } else {
            plan.w.output + (kw - 1) / sw
        };
        let phases = (sh.min(kh), sw.min(kw));
        let mut offsets = Vec::with_capacity(plan.patch());
        for c in 0..plan.in_ch {
            for i in 0..kh {
                for j in 0..kw {
                    let phase = (c * phases.0 + i % sh) * phases.1 + j % sw;
                    offsets.push(phase * hp * wp + i / sh * wp + j / sw);
                }
            }
        }
        let weight =
            w.map(|w| PackedLhs::new((plan.out_ch, plan.patch()), View::rows(w, plan.patch())));
        Some(Self {
            weight,
            weight_t: None,
            dz_rows: Vec::new(),
            in_ch: plan.in_ch,
            out_ch: plan.out_ch,
            input: (plan.h.input, plan.w.input),
            output: (plan.h.output, plan.w.output),
            pad: (plan.h.pad_before, plan.w.pad_before),
            stride: (sh, sw),
            phases,
            wp,
            hp,
            tail: (kw - 1) / sw,
            offsets,
        })
    }

    /// Samples per product: one, the padded sample being the product's operand. A large
    /// weight no longer wants samples side by side (`ConvPlan::group`) when it is packed once
    /// per call and the input is not copied per tap: the DCGAN's epoch took 0.72x as long
    /// one sample at a time (BENCHMARKS.md, attempt 46).
    pub(super) const GROUP: usize = 1;

    /// Floats of the phase planes of a padded sample.
    fn planes_len(&self) -> usize {
        self.in_ch * self.phases.0 * self.phases.1 * self.hp * self.wp
    }

    /// Floats of a padded sample: its phase planes, then the [`Self::tail`] of zeros.
    pub(super) fn padded_len(&self) -> usize {
        self.planes_len() + self.tail
    }

    /// Columns of the products: the output rows at the padded width.
    pub(super) fn wide_plane(&self) -> usize {
        self.output.0 * self.wp
    }

    /// Writes one input sample (`C x H x W`) into `xpad` (`padded_len`), every element: per
    /// channel and phase `(a, b)`, the padded input's rows `a, a + SH, ...` and of those the
    /// columns `b, b + SW, ...`.
    pub(super) fn pad(&self, x: &[f32], xpad: &mut [f32]) {
        let xpad = &mut xpad[..self.padded_len()];
        xpad.fill(0.0);
        let sw = self.stride.1;
        self.each_run(|at, from, len| {
            let dst = &mut xpad[at..][..len];
            match sw {
                1 => dst.copy_from_slice(&x[from..][..len]),
                2 => every_other(dst, &x[from..]),
                _ => {
                    for (d, s) in dst.iter_mut().zip(x[from..].iter().step_by(sw)) {
                        *d = *s;
                    }
                }
            }
        });
    }

    /// The inverse of [`Self::pad`] on the input's elements that the taps read: copies them
    /// from `xpad` back into `x`, leaving the others (none for a kernel at least as large as
    /// its stride) as they were.
    fn unpad(&self, xpad: &[f32], x: &mut [f32]) {
        let sw = self.stride.1;
        self.each_run(|at, to, len| {
            let src = &xpad[at..][..len];
            match sw {
                1 => x[to..][..len].copy_from_slice(src),
                2 => to_every_other(&mut x[to..], src),
                _ => {
                    for (d, s) in x[to..].iter_mut().step_by(sw).zip(src) {
                        *d = *s;
                    }
                }
            }
        });
    }

    /// Calls `f(at, from, len)` for each run of a phase plane row that holds input elements:
    /// `len` floats at `at` in a padded sample, the input's `from, from + SW, ...`.
    fn each_run(&self, mut f: impl FnMut(usize, usize, usize)) {
        let ((h, w), (top, left), wp) = (self.input, self.pad, self.wp);
        let ((sh, sw), (ph, pw)) = (self.stride, self.phases);
        let plane = self.hp * wp;
        for p in 0..self.in_ch * ph * pw {
            let (c, a, b) = (p / (ph * pw), p / pw % ph, p % pw);
            // The phase's columns `lo..hi` fall inside the input; the window may hang past it
            // on the right (`same` padding) or stop short of it (`valid` with a remainder).
            let lo = left.saturating_sub(b).div_ceil(sw).min(wp);
            let hi = (w + left).saturating_sub(b).div_ceil(sw).clamp(lo, wp);
            if lo == hi {
                continue;
            }
            for u in 0..self.hp {
                if let Some(r) = (sh * u + a).checked_sub(top).filter(|&r| r < h) {
                    let from = (c * h + r) * w + sw * lo + b - left;
                    f(p * plane + u * wp + lo, from, hi - lo);
                }
            }
        }
    }

    /// Prepares [`Self::input_grad`] for the weight `w` (`O x patch`), where its product has
    /// enough output channels to run on the blocked product; otherwise it stays unprepared.
    pub(super) fn with_input_grad(mut self, w: &[f32]) -> Self {
        let (patch, o) = (self.offsets.len(), self.out_ch);
        if o >= PACKED_TAPS {
            self.weight_t = Some(PackedLhs::new((patch, o), View::transposed(w, patch)));
            self.dz_rows = (0..o).map(|ch| ch * self.wide_plane()).collect();
        }
        self
    }

    /// Whether [`Self::with_input_grad`] prepared [`Self::input_grad`].
    pub(super) fn has_input_grad(&self) -> bool {
        self.weight_t.is_some()
    }

    /// Scratch floats for [`Self::input_grad`].
    pub(super) fn input_grad_scratch(&self) -> usize {
        self.offsets.len() * self.wide_plane() + self.padded_len()
    }

    /// `dx (C x H x W) += col2im(Wᵀ dzp)` for `dzp` (`O x wide_plane`) zero in the thrown-away
    /// columns ([`Self::widen`]), with `scratch` ([`Self::input_grad_scratch`]): the columns'
    /// rows are added at their taps' offsets into `dx` laid out as [`Self::pad`] lays out an
    /// input, each slice contiguous, then copied back. Each element sums its taps in
    /// ascending order onto `dx`'s value as col2im does, so the bits are the same. False,
    /// with nothing done, without [`Self::with_input_grad`].
    pub(super) fn input_grad(&self, dzp: &[f32], dx: &mut [f32], scratch: &mut [f32]) -> bool {
        let Some(wt) = &self.weight_t else {
            return false;
        };
        let (patch, wide) = (self.offsets.len(), self.wide_plane());
        let (dcols, dpad) = scratch.split_at_mut(patch * wide);
        let dcols = &mut dcols[..patch * wide];
        // dcols (patch x wide) = Wᵀ (patch x O) * dzp (O x wide)
        let rows = Shifted {
            data: &dzp[..self.out_ch * wide],
            offsets: &self.dz_rows,
        };
        shifted_rows((patch, wide, self.out_ch), dcols, false, wt, rows);
        self.pad(dx, dpad);
        for (&at, col) in self.offsets.iter().zip(dcols.chunks_exact(wide)) {
            for (d, c) in dpad[at..at + wide].iter_mut().zip(col) {
                *d += c;
            }
        }
        self.unpad(dpad, dx);
        true
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
        self.samples_weight_grad(1, xpad, dzp, dw);
    }

    /// [`Self::weight_grad`] of `samples` samples in one product: `xpads` their padded
    /// inputs one after another (`padded_len` each), `dzps` ([`Self::widen_samples`]) their
    /// `dz`s at the padded width, row `ch` holding each sample's plane `ch` in turn. Each
    /// element sums the samples in order, as one product per sample added in turn does, so the
    /// bits are the same; but a large gradient's blocks stay in cache over all of them.
    pub(super) fn samples_weight_grad(
        &self,
        samples: usize,
        xpads: &[f32],
        dzps: &[f32],
        dw: &mut [f32],
    ) {
        let (o, patch, wide) = (self.out_ch, self.offsets.len(), self.wide_plane());
        let cols = Shifted {
            data: &xpads[..samples * self.padded_len()],
            offsets: &self.offsets,
        };
        let runs = Runs {
            len: wide,
            stride: self.padded_len(),
        };
        let k = samples * wide;
        shifted_cols((o, patch, k), dw, true, View::rows(dzps, k), cols, runs);
    }

    /// [`Self::widen`] for [`Self::samples_weight_grad`]: `src` holds `samples` samples of
    /// `planes` planes each, and `wide`'s row `p` gets plane `p` of each sample in turn.
    pub(super) fn widen_samples(
        &self,
        src: &[f32],
        (samples, planes): (usize, usize),
        wide: &mut [f32],
    ) {
        let (plane, wide_plane) = (self.output.0 * self.output.1, self.wide_plane());
        for (s, src) in src.chunks_exact(planes * plane).take(samples).enumerate() {
            for (p, src) in src.chunks_exact(plane).enumerate() {
                self.widen(src, 1, &mut wide[(p * samples + s) * wide_plane..]);
            }
        }
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

/// `dst[i] = src[2 i]`: a stride-2 conv's phase row. Read in pairs, which the compiler
/// turns into shuffles of whole vectors, where `step_by(2)` copied one float at a time
/// (BENCHMARKS.md, attempt 63).
fn every_other(dst: &mut [f32], src: &[f32]) {
    let pairs = dst.len().min(src.len() / 2);
    let (head, tail) = dst.split_at_mut(pairs);
    for (d, p) in head.iter_mut().zip(src.chunks_exact(2)) {
        *d = p[0];
    }
    for (d, s) in tail.iter_mut().zip(src[2 * pairs..].iter().step_by(2)) {
        *d = *s;
    }
}

/// `dst[2 i] = src[i]`, the inverse of [`every_other`], leaving `dst`'s odd elements.
fn to_every_other(dst: &mut [f32], src: &[f32]) {
    let pairs = src.len().min(dst.len() / 2);
    for (p, s) in dst.chunks_exact_mut(2).zip(&src[..pairs]) {
        p[0] = *s;
    }
    for (d, s) in dst[2 * pairs..].iter_mut().step_by(2).zip(&src[pairs..]) {
        *d = *s;
    }
}

#[cfg(test)]
mod every_other_tests {
    use super::{every_other, to_every_other};

    /// Both give what `step_by(2)` gives, for every length of row and of what follows it
    /// (an odd remainder included).
    #[test]
    fn every_other_is_step_by_two() {
        for len in 0..20usize {
            for extra in 0..3 {
                let n = (2 * len).saturating_sub(1) + extra;
                let src: Vec<f32> = (0..n).map(|i| i as f32 + 0.5).collect();
                let mut dst = vec![-1.0; len];
                every_other(&mut dst, &src);
                let want: Vec<f32> = src.iter().step_by(2).take(len).copied().collect();
                assert_eq!(dst, want, "every_other, len {len}, source {n}");

                let row: Vec<f32> = (0..len).map(|i| i as f32 * 3.0).collect();
                let mut got = src.clone();
                to_every_other(&mut got, &row);
                let mut want = src.clone();
                for (d, s) in want.iter_mut().step_by(2).zip(&row) {
                    *d = *s;
                }
                assert_eq!(got, want, "to_every_other, len {len}, destination {n}");
            }
        }
    }
}
