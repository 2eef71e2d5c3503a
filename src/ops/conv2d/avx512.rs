//! An AVX-512F + FMA path for the plans the tutorial uses: stride 1, no padding, a multiple of
//! 16 output channels, few taps, and either no pooling or 2x2/stride-2 max pooling. Other
//! plans, CPUs without AVX-512F and FMA, and backward passes that need the input gradient take
//! the portable kernels.
//!
//! The portable kernels go through im2col and a matrix product per sample. Here the conv is
//! computed channels-last in registers instead: for each output position one zmm per 16
//! output channels accumulates `x[position + tap] * w[tap][channels]` over the taps, with the
//! weight transposed once per call to `[tap][channel]`. Four positions share each weight load
//! (a 2x2 pooling window, or four neighbours along a row without pooling), so the max, its
//! argmax, the bias and the ReLU are all applied in registers; the sample is then transposed
//! from a channels-last scratch into the NCHW output.
//!
//! With max pooling, forward saves for backward not the portable kernels' argmax (a `u32`
//! conv-plane offset per output) but a quarter of the bytes: per output, channels-last, which
//! of the four window positions won, or [`WINDOW_NONE`] where the ReLU zeroed it. Both passes
//! are bound by memory traffic as much as by arithmetic.
//!
//! Backward (without an input gradient, with max pooling) runs the other way: for each pooled
//! output and each tap, a permute picks per channel the input under the tap at the window
//! position that won, and one masked FMA (live channels only) adds it times the output
//! gradient into per-tap accumulators that stay in registers over the whole sample. No dense
//! conv-plane gradient is built, and the zero gradients of the other three positions are never
//! multiplied.
//!
//! Results differ from the portable kernels' by rounding (fused multiply-adds, another
//! summation order), but every sum runs in a fixed order, so they are bit-identical across
//! runs and thread counts.

// The AVX-512 kernels are x86-64 only, but the code that plans and checks their work compiles
// everywhere so that it is type-checked on every target; off x86-64 it is never reached.
#![cfg_attr(
    not(target_arch = "x86_64"),
    allow(dead_code, unused_imports, unused_variables, unreachable_code)
)]

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use super::plan::ConvPlan;
use crate::ops::geometry::Axis;
use crate::ops::pool2d::{PoolKind, NO_ARGMAX};

/// The window code of a pooled output whose gradient is zero (its ReLU was inactive); others
/// are 0 to 3, the row-major position in the 2x2 window.
pub(super) const WINDOW_NONE: u8 = u8::MAX;

/// Above this many taps `C * KH * KW` the im2col product (and gemm) is left to do the work.
const MAX_TAPS: usize = 64;

/// Taps per backward pass over a sample: their accumulators (two zmm each for 32 channels)
/// stay in registers.
const TAP_GROUP: usize = 9;

/// Proof that the CPU has AVX-512F and FMA, and the tap offsets of a supported plan.
pub(super) struct Avx512 {
    /// Per kernel tap `(c, i, j)`, in the weight's order, its offset in an input sample.
    taps: Vec<usize>,
}

/// Whether the CPU has the features, unless `EXPR_PORTABLE` or `EXPR_CONV_PORTABLE` is set
/// (to compare paths).
fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        crate::ops::cpu::simd::avx512_kernels() && std::env::var_os("EXPR_CONV_PORTABLE").is_none()
    })
}

/// Whether this path computes `plan`.
fn supports(plan: &ConvPlan) -> bool {
    // Every window inside the input, one step apart.
    let dense = |a: &Axis| a.stride == 1 && a.pad_before == 0 && a.output + a.window == a.input + 1;
    let pool = match &plan.pool {
        None => true,
        Some((PoolKind::Max, pool)) => pool.is_2x2_tiling(),
        Some((PoolKind::Avg, _)) => false,
    };
    dense(&plan.h)
        && dense(&plan.w)
        && plan.out_ch.is_multiple_of(16)
        && plan.patch() <= MAX_TAPS
        && pool
        // Its kernels rectify as a ReLU does.
        && plan.relu_slope == 0.0
}

impl Avx512 {
    /// The fast path for `plan`, or `None` where the portable kernels must run.
    pub(super) fn new(plan: &ConvPlan) -> Option<Self> {
        if !enabled() || !supports(plan) {
            return None;
        }
        let (kh, kw) = plan.kernel;
        let (height, width) = (plan.h.input, plan.w.input);
        let mut taps = Vec::with_capacity(plan.patch());
        for c in 0..plan.in_ch {
            for i in 0..kh {
                for j in 0..kw {
                    taps.push((c * height + i) * width + j);
                }
            }
        }
        Some(Self { taps })
    }

    /// The weight `[channel][tap]` as `[tap][channel]`.
    pub(super) fn transpose_weight(&self, plan: &ConvPlan, w: &[f32]) -> Vec<f32> {
        let mut wt = vec![0.0; w.len()];
        self.transpose(w, plan.out_ch, plan.patch(), &mut wt);
        wt
    }

    /// One sample's forward: writes every element of the output `out`, of the window codes
    /// (`[position][channel]`) when they are not empty, and of the ReLU mask when it is not
    /// empty. `wt` is from [`Self::transpose_weight`]. With a scratch `cl` (room for an output
    /// sample) the output is NCHW, computed into `cl` and transposed; without, it is written
    /// channels-last as the kernels compute it, which only a pooled plan does (its mask is
    /// empty).
    #[allow(clippy::too_many_arguments)] // kernel operands stay plain pointers and slices
    pub(super) fn sample_forward(
        &self,
        plan: &ConvPlan,
        x: &[f32],
        wt: &[f32],
        b: &[f32],
        out: &mut [MaybeUninit<f32>],
        codes: &mut [MaybeUninit<u8>],
        mask: &mut [u8],
        cl: Option<&mut [f32]>,
    ) {
        let (o, out_plane) = (plan.out_ch, plan.out_plane());
        let len = o * out_plane;
        let geo = self.geometry(plan);
        assert!(x.len() == plan.in_sample() && wt.len() == o * self.taps.len() && b.len() == o);
        assert!(out.len() == len && cl.as_ref().is_none_or(|cl| cl.len() == len));
        assert!(cl.is_some() || (plan.pool.is_some() && mask.is_empty()));
        assert!(codes.is_empty() || (plan.saves_argmax() && codes.len() == len));
        assert!(mask.is_empty() || (plan.saves_mask() && mask.len() == len));
        #[cfg(target_arch = "x86_64")]
        {
            let nchw = cl.map(<[f32]>::as_mut_ptr);
            let cl = nchw.unwrap_or(out.as_mut_ptr().cast());
            let (x, wt, b) = (x.as_ptr(), wt.as_ptr(), b.as_ptr());
            if plan.pool.is_some() {
                let at = if codes.is_empty() {
                    std::ptr::null_mut()
                } else {
                    codes.as_mut_ptr().cast::<u8>()
                };
                // SAFETY: `Avx512` is only built on CPUs with AVX-512F and FMA; the slices
                // have the lengths the kernel reads and writes (asserted above), and a
                // supported plan keeps every tap of every position inside the sample.
                unsafe { kernels::forward_pooled(&geo, x, wt, b, cl, at) };
            } else {
                // SAFETY: as above.
                unsafe { kernels::forward_plain(&geo, x, wt, b, cl) };
            }
            if nchw.is_some() {
                // SAFETY: as for `Self::transpose`, with both buffers `len` long; writing
                // through the pointer initialises `out`.
                unsafe { kernels::transpose(cl, out_plane, o, out.as_mut_ptr().cast()) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no AVX-512 path off x86-64");
        if !mask.is_empty() {
            // SAFETY: the kernel or the transpose above wrote all of `out`.
            let out = unsafe { &*(std::ptr::from_ref(out) as *const [f32]) };
            // ReLU passed exactly the positive outputs (and turned NaN into 0).
            for (m, &v) in mask.iter_mut().zip(out) {
                *m = u8::from(v > 0.0);
            }
        }
    }

    /// Whether [`Self::sample_backward`] handles `plan` without an input gradient: with max
    /// pooling (the argmax carries the ReLU).
    pub(super) fn has_backward(plan: &ConvPlan) -> bool {
        plan.saves_argmax()
    }

    /// Adds one sample's weight and bias gradients for the output gradient `g` to `dwt`
    /// (`[tap][channel]`) and `db`, with the sample's window `codes` from forward. `g` is NCHW
    /// and transposed into the scratch `cl_g` (room for an output sample), or channels-last
    /// already when `cl_g` is `None`.
    #[allow(clippy::too_many_arguments)] // kernel operands stay plain pointers and slices
    pub(super) fn sample_backward(
        &self,
        plan: &ConvPlan,
        x: &[f32],
        g: &[f32],
        codes: &[u8],
        dwt: &mut [f32],
        db: &mut [f32],
        cl_g: Option<&mut [f32]>,
    ) {
        let (o, out_plane) = (plan.out_ch, plan.out_plane());
        let len = o * out_plane;
        assert!(Self::has_backward(plan));
        assert!(x.len() == plan.in_sample() && g.len() == len && codes.len() == len);
        assert!(dwt.len() == o * self.taps.len() && db.len() == o);
        let cl_g = match cl_g {
            Some(cl_g) => {
                self.transpose(g, o, out_plane, cl_g);
                &*cl_g
            }
            None => g,
        };
        let geo = self.geometry(plan);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx512` is only built on CPUs with AVX-512F and FMA; the slices have the
        // lengths the kernel reads and writes (asserted above), and a supported plan keeps
        // every tap of every position inside the sample.
        unsafe {
            kernels::backward_pooled(
                &geo,
                x.as_ptr(),
                cl_g.as_ptr(),
                codes.as_ptr(),
                dwt.as_mut_ptr(),
                db.as_mut_ptr(),
            );
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no AVX-512 path off x86-64");
    }

    /// Writes the `rows x cols` row-major `src` as `cols x rows` row-major into `dst`, moving
    /// bits.
    #[allow(clippy::unused_self)] // a method so that only a CPU with AVX-512 can reach it
    pub(super) fn transpose<S: Word, D: Word>(
        &self,
        src: &[S],
        rows: usize,
        cols: usize,
        dst: &mut [D],
    ) {
        const { assert!(size_of::<S>() == 4 && size_of::<D>() == 4) };
        assert!(src.len() == rows * cols && dst.len() == rows * cols);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx512` is only built on CPUs with AVX-512F; both buffers hold `rows *
        // cols` 4-byte elements (asserted above), and any bits are valid `f32` and `u32`.
        unsafe {
            kernels::transpose(src.as_ptr().cast(), rows, cols, dst.as_mut_ptr().cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no AVX-512 path off x86-64");
    }

    fn geometry(&self, plan: &ConvPlan) -> Geometry<'_> {
        let (pool_h, pool_w) = plan
            .pool
            .as_ref()
            .map_or((0, 0), |(_, p)| (p.h.output, p.w.output));
        Geometry {
            taps: &self.taps,
            out_ch: plan.out_ch,
            in_w: plan.w.input,
            conv_h: plan.h.output,
            conv_w: plan.w.output,
            pool_h,
            pool_w,
            relu: plan.relu,
        }
    }
}

/// What the kernels need of a plan, in elements.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Geometry<'a> {
    taps: &'a [usize],
    out_ch: usize,
    in_w: usize,
    conv_h: usize,
    conv_w: usize,
    /// Pooled outputs per column and row (0 without pooling).
    pool_h: usize,
    pool_w: usize,
    relu: bool,
}

/// The conv-plane offsets of the four positions of pooled output `q`'s 2x2 window, row-major.
fn window_offsets(plan: &ConvPlan, q: usize) -> [u32; 4] {
    let (pool_w, conv_w) = plan
        .pool
        .as_ref()
        .map_or((1, 1), |(_, p)| (p.w.output, plan.w.output));
    let first = 2 * (q / pool_w) * conv_w + 2 * (q % pool_w);
    [first, first + 1, first + conv_w, first + conv_w + 1].map(|at| at as u32)
}

/// The portable argmax (`[channel][position]` conv-plane offsets) of one sample's window
/// `codes` (`[position][channel]`).
pub(super) fn argmax_of_codes(plan: &ConvPlan, codes: &[u8], argmax: &mut [u32]) {
    let (o, out_plane) = (plan.out_ch, plan.out_plane());
    for (q, codes) in codes[..o * out_plane].chunks_exact(o).enumerate() {
        let offsets = window_offsets(plan, q);
        for (c, &code) in codes.iter().enumerate() {
            argmax[c * out_plane + q] = match code {
                WINDOW_NONE => NO_ARGMAX,
                k => offsets[usize::from(k)],
            };
        }
    }
}

/// The window codes of one sample's portable `argmax`: the inverse of [`argmax_of_codes`].
pub(super) fn codes_of_argmax(plan: &ConvPlan, argmax: &[u32], codes: &mut [u8]) {
    let (o, out_plane) = (plan.out_ch, plan.out_plane());
    for (q, codes) in codes[..o * out_plane].chunks_exact_mut(o).enumerate() {
        let offsets = window_offsets(plan, q);
        for (c, code) in codes.iter_mut().enumerate() {
            let at = argmax[c * out_plane + q];
            *code = match offsets.iter().position(|&o| o == at) {
                Some(k) => k as u8,
                None => WINDOW_NONE,
            };
        }
    }
}

/// The 4-byte element types [`Avx512::transpose`] moves as bits.
pub(super) trait Word: Copy {}
impl Word for f32 {}
impl Word for u32 {}

#[cfg(target_arch = "x86_64")]
// Indexed loops over small arrays of registers read as the math they compute.
#[allow(clippy::needless_range_loop)]
mod kernels {
    #[allow(clippy::wildcard_imports)] // the intrinsics, by their Intel names
    use std::arch::x86_64::*;

    use super::{Geometry, TAP_GROUP, WINDOW_NONE};

    /// The conv of `NP` positions (input offsets `ins`) for `16 * NB` channels, the weight
    /// `wt` already offset to the first of them.
    ///
    /// # Safety
    /// Every `ins[k] + tap` must be in `x`, and `wt` must hold `taps.len()` rows of `out_ch`
    /// channels from which `16 * NB` are read.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    unsafe fn conv_block<const NP: usize, const NB: usize>(
        taps: &[usize],
        out_ch: usize,
        x: *const f32,
        ins: [usize; NP],
        wt: *const f32,
    ) -> [[__m512; NB]; NP] {
        let mut acc = [[_mm512_setzero_ps(); NB]; NP];
        for (t, &tap) in taps.iter().enumerate() {
            let w = wt.add(t * out_ch);
            let mut wv = [_mm512_setzero_ps(); NB];
            for (j, wv) in wv.iter_mut().enumerate() {
                *wv = _mm512_loadu_ps(w.add(16 * j));
            }
            for k in 0..NP {
                let xb = _mm512_set1_ps(*x.add(ins[k] + tap));
                for j in 0..NB {
                    acc[k][j] = _mm512_fmadd_ps(xb, wv[j], acc[k][j]);
                }
            }
        }
        acc
    }

    /// Forward with 2x2 max pooling into `out` (pooled positions x channels), with the
    /// window codes into `at` unless it is null.
    ///
    /// # Safety
    /// The CPU has AVX-512F and FMA; `x` holds a sample of a supported plan, `wt` its
    /// `[tap][channel]` weight, `b` the bias, `out` (and `at`) `pool_h * pool_w * out_ch`
    /// elements.
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn forward_pooled(
        geo: &Geometry<'_>,
        x: *const f32,
        wt: *const f32,
        b: *const f32,
        out: *mut f32,
        at: *mut u8,
    ) {
        for ph in 0..geo.pool_h {
            // Two windows at a time: 16 accumulators for 32 channels hide the FMA latency.
            let mut pw = 0;
            while pw + 2 <= geo.pool_w {
                pooled_windows::<8>(geo, x, wt, b, ph, pw, out, at);
                pw += 2;
            }
            if pw < geo.pool_w {
                pooled_windows::<4>(geo, x, wt, b, ph, pw, out, at);
            }
        }
    }

    /// The `NP / 4` windows from `(ph, pw)` along the row, for all channels.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)] // kernel operands stay plain pointers and slices
    unsafe fn pooled_windows<const NP: usize>(
        geo: &Geometry<'_>,
        x: *const f32,
        wt: *const f32,
        b: *const f32,
        ph: usize,
        pw: usize,
        out: *mut f32,
        at: *mut u8,
    ) {
        // Position k is (row k % 4 / 2, column k % 2) of window k / 4.
        let mut ins = [0; NP];
        for (k, at) in ins.iter_mut().enumerate() {
            *at = (2 * ph + k % 4 / 2) * geo.in_w + 2 * (pw + k / 4) + k % 2;
        }
        let mut cb = 0;
        while cb + 32 <= geo.out_ch {
            pooled_block::<NP, 2>(geo, x, wt, b, ins, ph, pw, cb, out, at);
            cb += 32;
        }
        if cb < geo.out_ch {
            pooled_block::<NP, 1>(geo, x, wt, b, ins, ph, pw, cb, out, at);
        }
    }

    /// [`pooled_windows`] for channels `cb..cb + 16 * NB`.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)] // kernel operands stay plain pointers and slices
    unsafe fn pooled_block<const NP: usize, const NB: usize>(
        geo: &Geometry<'_>,
        x: *const f32,
        wt: *const f32,
        b: *const f32,
        ins: [usize; NP],
        ph: usize,
        pw: usize,
        cb: usize,
        out: *mut f32,
        at: *mut u8,
    ) {
        let acc = conv_block::<NP, NB>(geo.taps, geo.out_ch, x, ins, wt.add(cb));
        let zero = _mm512_setzero_ps();
        for win in 0..NP / 4 {
            let p = (ph * geo.pool_w + pw + win) * geo.out_ch + cb;
            for j in 0..NB {
                // The first maximum in row-major window order, as in the portable kernel.
                let mut best = acc[4 * win][j];
                let mut arg = _mm512_setzero_si512();
                for k in 1..4 {
                    let v = acc[4 * win + k][j];
                    let more = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best);
                    best = _mm512_mask_mov_ps(best, more, v);
                    arg = _mm512_mask_mov_epi32(arg, more, _mm512_set1_epi32(k as i32));
                }
                // Bias and ReLU after the max, as in the portable kernel.
                let mut v = _mm512_add_ps(best, _mm512_loadu_ps(b.add(cb + 16 * j)));
                if at.is_null() {
                    if geo.relu {
                        v = _mm512_max_ps(v, zero);
                    }
                } else {
                    if geo.relu {
                        let off = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(v, zero);
                        v = _mm512_mask_mov_ps(v, off, zero);
                        let none = _mm512_set1_epi32(i32::from(WINDOW_NONE));
                        arg = _mm512_mask_mov_epi32(arg, off, none);
                    }
                    // One byte per channel.
                    _mm_storeu_si128(at.add(p + 16 * j).cast(), _mm512_cvtepi32_epi8(arg));
                }
                _mm512_storeu_ps(out.add(p + 16 * j), v);
            }
        }
    }

    /// Forward without pooling into `out` (conv positions x channels).
    ///
    /// # Safety
    /// As [`forward_pooled`], with `out` holding `conv_h * conv_w * out_ch` elements.
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn forward_plain(
        geo: &Geometry<'_>,
        x: *const f32,
        wt: *const f32,
        b: *const f32,
        out: *mut f32,
    ) {
        for oh in 0..geo.conv_h {
            let mut ow = 0;
            while ow + 8 <= geo.conv_w {
                plain_positions::<8>(geo, x, wt, b, oh, ow, out);
                ow += 8;
            }
            if ow + 4 <= geo.conv_w {
                plain_positions::<4>(geo, x, wt, b, oh, ow, out);
                ow += 4;
            }
            while ow < geo.conv_w {
                plain_positions::<1>(geo, x, wt, b, oh, ow, out);
                ow += 1;
            }
        }
    }

    /// Conv positions `(oh, ow..ow + NP)` for all channels.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    unsafe fn plain_positions<const NP: usize>(
        geo: &Geometry<'_>,
        x: *const f32,
        wt: *const f32,
        b: *const f32,
        oh: usize,
        ow: usize,
        out: *mut f32,
    ) {
        let o = geo.out_ch;
        let mut ins = [0; NP];
        for (k, at) in ins.iter_mut().enumerate() {
            *at = oh * geo.in_w + ow + k;
        }
        let out = out.add((oh * geo.conv_w + ow) * o);
        let mut cb = 0;
        while cb + 32 <= o {
            plain_block::<NP, 2>(geo, x, wt, b, ins, cb, out.add(cb));
            cb += 32;
        }
        if cb < o {
            plain_block::<NP, 1>(geo, x, wt, b, ins, cb, out.add(cb));
        }
    }

    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    unsafe fn plain_block<const NP: usize, const NB: usize>(
        geo: &Geometry<'_>,
        x: *const f32,
        wt: *const f32,
        b: *const f32,
        ins: [usize; NP],
        cb: usize,
        out: *mut f32,
    ) {
        let acc = conv_block::<NP, NB>(geo.taps, geo.out_ch, x, ins, wt.add(cb));
        for j in 0..NB {
            let bias = _mm512_loadu_ps(b.add(cb + 16 * j));
            for (k, acc) in acc.iter().enumerate() {
                let mut v = _mm512_add_ps(acc[j], bias);
                if geo.relu {
                    // NaN becomes 0, as `f32::max` in the portable kernel.
                    v = _mm512_max_ps(v, _mm512_setzero_ps());
                }
                _mm512_storeu_ps(out.add(k * geo.out_ch + 16 * j), v);
            }
        }
    }

    /// Adds the weight and bias gradients of one sample with 2x2 max pooling: `g` and `at`
    /// are the output gradient and window codes as pooled positions x channels, `dwt` is
    /// `[tap][channel]`.
    ///
    /// # Safety
    /// The CPU has AVX-512F and FMA; `x` holds a sample of a supported plan with pooling,
    /// `g` and `at` `pool_h * pool_w * out_ch` elements, `dwt` `taps.len() * out_ch` and `db`
    /// `out_ch`.
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn backward_pooled(
        geo: &Geometry<'_>,
        x: *const f32,
        g: *const f32,
        at: *const u8,
        dwt: *mut f32,
        db: *mut f32,
    ) {
        let o = geo.out_ch;
        for t0 in (0..geo.taps.len()).step_by(TAP_GROUP) {
            let mut cb = 0;
            while cb + 32 <= o {
                backward_block::<2>(geo, x, g, at, dwt, db, cb, t0);
                cb += 32;
            }
            if cb < o {
                backward_block::<1>(geo, x, g, at, dwt, db, cb, t0);
            }
        }
    }

    /// [`backward_pooled`] for channels `cb..cb + 16 * NB` and taps `t0..t0 + TAP_GROUP`,
    /// adding the bias gradient along with the first group.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)] // kernel operands stay plain pointers and slices
    unsafe fn backward_block<const NB: usize>(
        geo: &Geometry<'_>,
        x: *const f32,
        g: *const f32,
        at: *const u8,
        dwt: *mut f32,
        db: *mut f32,
        cb: usize,
        t0: usize,
    ) {
        let o = geo.out_ch;
        let n = TAP_GROUP.min(geo.taps.len() - t0);
        let mut taps = [0; TAP_GROUP];
        taps[..n].copy_from_slice(&geo.taps[t0..t0 + n]);
        let zero = _mm512_setzero_ps();
        let mut acc = [[zero; NB]; TAP_GROUP];
        for (t, acc) in acc.iter_mut().enumerate().take(n) {
            for (j, acc) in acc.iter_mut().enumerate() {
                *acc = _mm512_loadu_ps(dwt.add((t0 + t) * o + cb + 16 * j));
            }
        }
        let mut dbv = [zero; NB];
        let none = _mm512_set1_epi32(i32::from(WINDOW_NONE));
        for ph in 0..geo.pool_h {
            for pw in 0..geo.pool_w {
                let in0 = x.add(2 * ph * geo.in_w + 2 * pw);
                let p = (ph * geo.pool_w + pw) * o + cb;
                let mut gv = [zero; NB];
                let mut code = [none; NB];
                let mut live = [0; NB];
                for j in 0..NB {
                    gv[j] = _mm512_loadu_ps(g.add(p + 16 * j));
                    code[j] = _mm512_cvtepu8_epi32(_mm_loadu_si128(at.add(p + 16 * j).cast()));
                    live[j] = _mm512_cmpneq_epi32_mask(code[j], none);
                    dbv[j] = _mm512_mask_add_ps(dbv[j], live[j], dbv[j], gv[j]);
                }
                for t in 0..TAP_GROUP {
                    if t < n {
                        // The tap's input under the window's four positions, [x00, x01, x10,
                        // x11], and per channel the one under its maximum.
                        let at = in0.add(taps[t]);
                        let top = _mm_load_sd(at.cast());
                        let window = _mm_loadh_pd(top, at.add(geo.in_w).cast());
                        let window = _mm512_castps128_ps512(_mm_castpd_ps(window));
                        for j in 0..NB {
                            // Lanes past the four (indexed by WINDOW_NONE) are not live.
                            let under = _mm512_permutexvar_ps(code[j], window);
                            acc[t][j] = _mm512_mask3_fmadd_ps(under, gv[j], acc[t][j], live[j]);
                        }
                    }
                }
            }
        }
        for (t, acc) in acc.iter().enumerate().take(n) {
            for (j, acc) in acc.iter().enumerate() {
                _mm512_storeu_ps(dwt.add((t0 + t) * o + cb + 16 * j), *acc);
            }
        }
        if t0 == 0 {
            for (j, dbv) in dbv.iter().enumerate() {
                let db = db.add(cb + 16 * j);
                _mm512_storeu_ps(db, _mm512_add_ps(_mm512_loadu_ps(db), *dbv));
            }
        }
    }

    /// Transposes the `rows x cols` row-major `src` into `dst`, 16 x 16 blocks at a time.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `src` and `dst` hold `rows * cols` elements.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose(src: *const f32, rows: usize, cols: usize, dst: *mut f32) {
        let lanes = |n: usize| ((1u32 << n) - 1) as __mmask16;
        for r0 in (0..rows).step_by(16) {
            let nr = 16.min(rows - r0);
            for c0 in (0..cols).step_by(16) {
                let nc = 16.min(cols - c0);
                let from = src.add(r0 * cols + c0);
                let to = dst.add(c0 * rows + r0);
                let mut v = [_mm512_setzero_ps(); 16];
                // Unrolled loops with tests, not loops up to `nr` and `nc`: `v` stays in
                // registers.
                if nr == 16 && nc == 16 {
                    for (i, v) in v.iter_mut().enumerate() {
                        *v = _mm512_loadu_ps(from.add(i * cols));
                    }
                    transpose_16x16(&mut v);
                    for (j, v) in v.iter().enumerate() {
                        _mm512_storeu_ps(to.add(j * rows), *v);
                    }
                } else {
                    for (i, v) in v.iter_mut().enumerate() {
                        if i < nr {
                            *v = _mm512_maskz_loadu_ps(lanes(nc), from.add(i * cols));
                        }
                    }
                    transpose_16x16(&mut v);
                    for (j, v) in v.iter().enumerate() {
                        if j < nc {
                            _mm512_mask_storeu_ps(to.add(j * rows), lanes(nr), *v);
                        }
                    }
                }
            }
        }
    }

    /// Transposes 16 rows of 16 in registers.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn transpose_16x16(r: &mut [__m512; 16]) {
        // Rows (2i, 2i + 1) interleaved within each 128-bit lane.
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        // u[4i + m], lane l: rows 4i..4i + 4 of column 4l + m.
        let mut u = [_mm512_setzero_ps(); 16];
        for i in 0..4 {
            let [a, b, c, d] = [0, 1, 2, 3].map(|k| _mm512_castps_pd(t[4 * i + k]));
            u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
            u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
            u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
            u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
        }
        // Column 4l + m takes lane l of u[m], u[4 + m], u[8 + m], u[12 + m].
        for m in 0..4 {
            let (a, b, c, d) = (u[m], u[4 + m], u[8 + m], u[12 + m]);
            let s0 = _mm512_shuffle_f32x4::<0x44>(a, b);
            let s1 = _mm512_shuffle_f32x4::<0xEE>(a, b);
            let s2 = _mm512_shuffle_f32x4::<0x44>(c, d);
            let s3 = _mm512_shuffle_f32x4::<0xEE>(c, d);
            r[m] = _mm512_shuffle_f32x4::<0x88>(s0, s2);
            r[4 + m] = _mm512_shuffle_f32x4::<0xDD>(s0, s2);
            r[8 + m] = _mm512_shuffle_f32x4::<0x88>(s1, s3);
            r[12 + m] = _mm512_shuffle_f32x4::<0xDD>(s1, s3);
        }
    }
}
