//! The shape arithmetic of one conv2d call, checked once, and the im2col transforms that turn
//! a sample into one row per output position.

use crate::ops::cpu::scratch::samples_per_task;
use crate::ops::geometry::Axis;
use crate::ops::matmul::TAPS;
use crate::ops::pool2d::{PoolKind, PoolPlan};
use crate::ops::OpsError;

use super::Conv2dSpec;
use crate::ops::cpu::zeroed::zeroed;

/// Everything the kernels need to know about one call.
#[derive(Clone, Debug)]
pub(super) struct ConvPlan {
    pub(super) batch: usize,
    pub(super) in_ch: usize,
    pub(super) out_ch: usize,
    pub(super) kernel: (usize, usize),
    pub(super) h: Axis,
    pub(super) w: Axis,
    pub(super) relu: bool,
    /// The ReLU's slope below 0 (`Conv2dSpec::relu_slope`).
    pub(super) relu_slope: f32,
    pub(super) pool: Option<(PoolKind, PoolPlan)>,
    /// Whether the output (and so its gradient) is laid out channels-last, `(N, H', W', O)`,
    /// for a dense layer that reads it flattened (see [`super::conv2d_flat_channels_last`]).
    /// Kernels and saved state stay as they are; only the output's order changes.
    pub(super) channels_last: bool,
}

impl ConvPlan {
    pub(super) fn new(
        x: (usize, usize, usize, usize),
        w: (usize, usize, usize, usize),
        b: (usize,),
        spec: &Conv2dSpec,
    ) -> Result<Self, OpsError> {
        let (batch, in_ch, height, width) = x;
        let (out_ch, w_in, kh, kw) = w;
        let mismatch = |what, got: Vec<usize>, expected: String| OpsError::ShapeMismatch {
            op: "conv2d",
            what,
            got,
            expected,
        };
        if in_ch == 0 || out_ch == 0 {
            let expected = "at least one input and one output channel".to_string();
            return Err(mismatch("weight", vec![out_ch, w_in, kh, kw], expected));
        }
        if w_in != in_ch {
            let expected = format!("{in_ch} input channels");
            return Err(mismatch("weight", vec![out_ch, w_in, kh, kw], expected));
        }
        if b.0 != out_ch {
            return Err(mismatch("bias", vec![b.0], format!("length {out_ch}")));
        }
        let empty = || OpsError::EmptyOutput {
            op: "conv2d",
            input: (height, width),
            window: (kh, kw),
            stride: spec.stride,
        };
        let h = Axis::new(height, kh, spec.stride.0, spec.padding).ok_or_else(empty)?;
        let w = Axis::new(width, kw, spec.stride.1, spec.padding).ok_or_else(empty)?;
        let pool = match &spec.pool {
            Some(p) => Some((p.kind, p.plan("conv2d", (h.output, w.output))?)),
            None => None,
        };
        Ok(Self {
            batch,
            in_ch,
            out_ch,
            kernel: (kh, kw),
            h,
            w,
            relu: spec.relu,
            relu_slope: spec.relu_slope,
            pool,
            channels_last: false,
        })
    }

    /// The plan of the conv whose input gradient a transposed conv computes: for `x`
    /// (N, I, H, W), a weight (I, O, KH, KW) as PyTorch's `ConvTranspose2d` holds it, which
    /// is the conv weight `(out I, in O, KH, KW)`, and a bias (O). The conv's "input" is the
    /// transposed conv's output (O channels) and its "output" the transposed conv's input.
    pub(super) fn transposed(
        x: (usize, usize, usize, usize),
        w: (usize, usize, usize, usize),
        b: (usize,),
        spec: &super::transpose::Conv2dTransposeSpec,
    ) -> Result<Self, OpsError> {
        let (batch, in_ch, height, width) = x;
        let (w_in, out_ch, kh, kw) = w;
        let mismatch = |what, got: Vec<usize>, expected: String| OpsError::ShapeMismatch {
            op: "conv2d_transpose",
            what,
            got,
            expected,
        };
        if in_ch == 0 || out_ch == 0 || w_in != in_ch {
            let expected = format!("{in_ch} input channels and at least one output channel");
            return Err(mismatch("weight", vec![w_in, out_ch, kh, kw], expected));
        }
        if b.0 != out_ch {
            return Err(mismatch("bias", vec![b.0], format!("length {out_ch}")));
        }
        let empty = || OpsError::EmptyOutput {
            op: "conv2d_transpose",
            input: (height, width),
            window: (kh, kw),
            stride: spec.stride,
        };
        let axis = |len, k, s| Axis::transposed(len, k, s, spec.padding, spec.output_padding);
        let h = axis(height, kh, spec.stride.0).ok_or_else(empty)?;
        let w = axis(width, kw, spec.stride.1).ok_or_else(empty)?;
        Ok(Self {
            batch,
            in_ch: out_ch,
            out_ch: in_ch,
            kernel: (kh, kw),
            h,
            w,
            relu: false,
            relu_slope: 0.0,
            pool: None,
            channels_last: false,
        })
    }

    /// Zeroed buffers for the weight and bias gradients, or empty ones where they are
    /// skipped (`Conv2dSpec::weight_grad`): the backward kernels fill what is not empty.
    pub(super) fn param_grad_buffers(&self, wanted: bool) -> (Vec<f32>, Vec<f32>) {
        if wanted {
            (
                vec![0.0; self.out_ch * self.patch()],
                vec![0.0; self.out_ch],
            )
        } else {
            (Vec::new(), Vec::new())
        }
    }

    /// For a conv of stride 1, the conv that computes its input gradient: `dx = conv(dz,
    /// W')`, `W'` the weight with input and output channels swapped and the kernel turned
    /// 180 degrees ([`Self::flipped_weight`]), padded by `KH - 1 - pad` where the conv is
    /// padded by `pad`. Its products have `O * KH * KW` taps where `Wᵀ dz` has `O`, and it
    /// copies (im2col) instead of scattering sums (col2im): on ResNet-20's 3x3 convs of 16-64
    /// channels the scatter took a quarter of the step.
    ///
    /// `None` for strided convs: their input gradient would be a conv of a zero-filled
    /// upsampled `dz`, most of its products multiplying zeros.
    pub(super) fn input_grad_plan(&self) -> Option<ConvPlan> {
        if self.h.stride != 1 || self.w.stride != 1 {
            return None;
        }
        let dual = |a: &Axis| Axis {
            input: a.output,
            window: a.window,
            stride: 1,
            pad_before: a.window - 1 - a.pad_before,
            output: a.input,
        };
        Some(Self {
            batch: self.batch,
            in_ch: self.out_ch,
            out_ch: self.in_ch,
            kernel: self.kernel,
            h: dual(&self.h),
            w: dual(&self.w),
            relu: false,
            relu_slope: 0.0,
            pool: None,
            channels_last: false,
        })
    }

    /// The weight of [`Self::input_grad_plan`]'s conv, `(C, O, KH, KW)` from `w` `(O, C, KH,
    /// KW)`, each kernel turned 180 degrees.
    pub(super) fn flipped_weight(&self, w: &[f32]) -> Vec<f32> {
        let (kh, kw) = self.kernel;
        let (c_n, o_n) = (self.in_ch, self.out_ch);
        let mut out = vec![0.0; w.len()];
        for o in 0..o_n {
            for c in 0..c_n {
                for i in 0..kh {
                    for j in 0..kw {
                        let from = ((o * c_n + c) * kh + i) * kw + j;
                        let to = ((c * o_n + o) * kh + (kh - 1 - i)) * kw + (kw - 1 - j);
                        out[to] = w[from];
                    }
                }
            }
        }
        out
    }

    /// The number of kernel taps `C * KH * KW`: the weight's row length and the number of
    /// im2col rows.
    pub(super) fn patch(&self) -> usize {
        self.in_ch * self.kernel.0 * self.kernel.1
    }

    pub(super) fn in_sample(&self) -> usize {
        self.in_ch * self.h.input * self.w.input
    }

    /// Positions of the conv output in one plane (before pooling).
    pub(super) fn conv_plane(&self) -> usize {
        self.h.output * self.w.output
    }

    /// Positions of the op's output in one plane (after pooling).
    pub(super) fn out_plane(&self) -> usize {
        self.pool
            .as_ref()
            .map_or(self.conv_plane(), |(_, p)| p.out_plane())
    }

    pub(super) fn out_shape(&self) -> (usize, usize, usize, usize) {
        match &self.pool {
            Some((_, p)) => (self.batch, self.out_ch, p.h.output, p.w.output),
            None => (self.batch, self.out_ch, self.h.output, self.w.output),
        }
    }

    /// Whether forward saves a pooled argmax per output (max pooling).
    /// One sample's output `[channel][position]` as `[position][channel]` in `dst`, or the
    /// other way when `back` is set.
    pub(super) fn reorder_sample(&self, src: &[f32], dst: &mut [f32], back: bool) {
        let (o, plane) = (self.out_ch, self.out_plane());
        for c in 0..o {
            for q in 0..plane {
                let (nchw, cl) = (c * plane + q, q * o + c);
                if back {
                    dst[nchw] = src[cl];
                } else {
                    dst[cl] = src[nchw];
                }
            }
        }
    }

    /// [`Self::reorder_sample`] over a batch, in parallel over samples.
    pub(super) fn reorder(&self, src: &[f32], back: bool) -> Vec<f32> {
        use rayon::prelude::*;
        let sample = self.out_ch * self.out_plane();
        let mut dst = zeroed(src.len());
        dst.par_chunks_mut(sample)
            .zip(src.par_chunks(sample))
            .for_each(|(dst, src)| self.reorder_sample(src, dst, back));
        dst
    }

    pub(super) fn saves_argmax(&self) -> bool {
        matches!(self.pool, Some((PoolKind::Max, _)))
    }

    /// Whether forward saves a ReLU mask per conv position. Max pooling folds the mask into
    /// its argmax instead: `max(relu(z)) = relu(max(z))`.
    pub(super) fn saves_mask(&self) -> bool {
        self.relu && !self.saves_argmax()
    }

    /// The fused ReLU as its slope below 0, if there is one.
    pub(super) fn rectifier(&self) -> Option<f32> {
        self.relu.then_some(self.relu_slope)
    }

    /// How many samples' im2col columns one matrix product takes side by side, `cols` being
    /// `patch x (group * conv_plane)`, where the conv builds them (without the products that
    /// read the input in place, `shifted::ShiftedConv`, which take one sample).
    ///
    /// One sample at a time, a large weight is re-read whole for each: its gradient (3 MB for
    /// DCGAN's 256→128 5x5 transposed conv) takes a rank-49 update per sample from memory,
    /// and the product re-packs it. Side by side, a group shares one pass, worth the copies
    /// into and out of the layout where the weight outgrows L2 (a tenth off DCGAN's step),
    /// not below (VAE's 576 x 64 weight ran 8% slower grouped). Groups hold up to about 8 MB
    /// of columns, never past a task's samples (`samples_per_task`). A first layer's few
    /// taps (at most `matmul::TAPS`) stay one at a time: the few-taps kernel reads rows of
    /// the columns and wants them short. The group depends on the shapes only, never on the
    /// thread count, so the products' sums are the same in any run (BENCHMARKS.md, attempt
    /// 32).
    pub(super) fn group(&self) -> usize {
        const GROUP_FLOATS: usize = 1 << 21;
        const LARGE_WEIGHT: usize = 1 << 17;
        if self.patch() <= TAPS || self.patch() * self.out_ch < LARGE_WEIGHT {
            return 1;
        }
        let per_sample = (self.patch() * self.conv_plane()).max(1);
        (GROUP_FLOATS / per_sample).clamp(1, samples_per_task(self.batch))
    }

    /// Calls `f(offset in cols, offset of the input row or None in the padding, run)` for
    /// every kernel tap and output row, tap rows `row_stride` apart in `cols`; `f` copies or
    /// adds the run of that row.
    #[inline(always)]
    fn each_row(&self, row_stride: usize, mut f: impl FnMut(usize, Option<usize>, Run)) {
        let (kh, kw) = self.kernel;
        let (in_plane, width, out_w) = (self.h.input * self.w.input, self.w.input, self.w.output);
        for ch in 0..self.in_ch {
            for i in 0..kh {
                let (oh_lo, oh_hi) = self.h.outputs_reading(i);
                for j in 0..kw {
                    let (lo, hi) = self.w.outputs_reading(j);
                    let row = ((ch * kh + i) * kw + j) * row_stride;
                    let run = Run {
                        lo,
                        hi,
                        width: out_w,
                        first: (lo * self.w.stride + j).saturating_sub(self.w.pad_before),
                        stride: self.w.stride,
                    };
                    for oh in 0..self.h.output {
                        let x_row = (oh_lo..oh_hi).contains(&oh).then(|| {
                            ch * in_plane + (oh * self.h.stride + i - self.h.pad_before) * width
                        });
                        f(row + oh * out_w, x_row, run);
                    }
                }
            }
        }
    }

    /// Writes one sample's taps as rows of `cols` (`patch x conv_plane`, row-major): row
    /// `(c, i, j)` holds the input under kernel tap `(c, i, j)` for every output position, so
    /// that `conv = weight * cols` and each row is filled by contiguous copies when the stride
    /// is 1.
    ///
    /// The rows may be those of a wider matrix, `row_stride` apart: a group's sample `s`
    /// writes from `cols[s * conv_plane..]` with `row_stride = group * conv_plane`.
    #[inline(always)]
    pub(super) fn im2col_strided(&self, x: &[f32], cols: &mut [f32], row_stride: usize) {
        self.each_row(row_stride, |at, x_row, run| {
            let dst = &mut cols[at..][..run.width];
            let Some(x_row) = x_row else {
                dst.fill(0.0);
                return;
            };
            dst[..run.lo].fill(0.0);
            dst[run.hi..].fill(0.0);
            let dst = &mut dst[run.lo..run.hi];
            let src = &x[x_row + run.first..];
            if run.stride == 1 {
                dst.copy_from_slice(&src[..dst.len()]);
            } else {
                for (d, s) in dst.iter_mut().zip(src.iter().step_by(run.stride)) {
                    *d = *s;
                }
            }
        });
    }

    /// The adjoint of [`Self::im2col_strided`]: adds each row of `cols` (`row_stride` apart)
    /// back onto the sample `dx`.
    #[inline(always)]
    pub(super) fn col2im_add_strided(&self, cols: &[f32], dx: &mut [f32], row_stride: usize) {
        self.each_row(row_stride, |at, x_row, run| {
            let Some(x_row) = x_row else {
                return;
            };
            let src = &cols[at + run.lo..at + run.hi];
            let dst = &mut dx[x_row + run.first..];
            for (d, s) in dst.iter_mut().step_by(run.stride).zip(src) {
                *d += s;
            }
        });
    }
}

/// The in-bounds outputs `lo..hi` of one output row for one kernel column, reading inputs
/// `first, first + stride, ...` of the input row.
#[derive(Clone, Copy)]
struct Run {
    lo: usize,
    hi: usize,
    width: usize,
    first: usize,
    stride: usize,
}
