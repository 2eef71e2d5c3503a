//! The shape arithmetic of one conv2d call, checked once, and the im2col transforms that turn
//! a sample into one row per output position.

use crate::ops::geometry::{Axis, Span};
use crate::ops::pool2d::{PoolKind, PoolPlan};
use crate::ops::OpsError;

use super::Conv2dSpec;

/// Everything the kernels need to know about one call.
#[derive(Clone, Debug)]
pub(super) struct ConvPlan {
    pub(super) batch: usize,
    pub(super) in_ch: usize,
    pub(super) out_ch: usize,
    pub(super) kernel: (usize, usize),
    pub(super) h: Axis,
    pub(super) w: Axis,
    rows: Vec<Span>,
    cols: Vec<Span>,
    pub(super) relu: bool,
    pub(super) pool: Option<(PoolKind, PoolPlan)>,
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
            rows: h.spans(),
            cols: w.spans(),
            h,
            w,
            relu: spec.relu,
            pool,
        })
    }

    /// The length of one im2col row: `C * KH * KW`, the weight's row length.
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
    pub(super) fn saves_argmax(&self) -> bool {
        matches!(self.pool, Some((PoolKind::Max, _)))
    }

    /// Whether forward saves a ReLU mask per conv position. Max pooling folds the mask into
    /// its argmax instead: `max(relu(z)) = relu(max(z))`.
    pub(super) fn saves_mask(&self) -> bool {
        self.relu && !self.saves_argmax()
    }

    /// Calls `f(row, offset in x plane, offset in row, taps)` for every in-bounds run of
    /// kernel taps along the width, where `row` is the im2col row (output position) and the
    /// offsets skip the channel, which the caller adds.
    fn each_run(&self, mut f: impl FnMut(usize, usize, usize, usize)) {
        let kw = self.kernel.1;
        let width = self.w.input;
        let mut p = 0;
        for r in &self.rows {
            for c in &self.cols {
                for t in 0..r.taps {
                    let x_at = (r.first_input + t) * width + c.first_input;
                    let k_at = (r.first_tap + t) * kw + c.first_tap;
                    f(p, x_at, k_at, c.taps);
                }
                p += 1;
            }
        }
    }

    /// Whether some window reaches into the padding, so that im2col rows need zeroing.
    fn padded(&self) -> bool {
        self.rows.iter().any(|r| r.taps < self.kernel.0)
            || self.cols.iter().any(|c| c.taps < self.kernel.1)
    }

    /// Writes one sample's patches as rows of `cols` (`conv_plane x patch`, row-major), in the
    /// weight's `(C, KH, KW)` order so that `conv = cols * weightᵀ`.
    pub(super) fn im2col(&self, x: &[f32], cols: &mut [f32]) {
        if self.padded() {
            cols.fill(0.0);
        }
        let (patch, in_plane, k_plane) = (self.patch(), self.h.input * self.w.input, self.kernel.0 * self.kernel.1);
        self.each_run(|p, x_at, k_at, taps| {
            let row = &mut cols[p * patch..][..patch];
            for ch in 0..self.in_ch {
                row[ch * k_plane + k_at..][..taps]
                    .copy_from_slice(&x[ch * in_plane + x_at..][..taps]);
            }
        });
    }

    /// The adjoint of [`Self::im2col`]: adds each row of `cols` back onto the sample `dx`.
    pub(super) fn col2im_add(&self, cols: &[f32], dx: &mut [f32]) {
        let (patch, in_plane, k_plane) = (self.patch(), self.h.input * self.w.input, self.kernel.0 * self.kernel.1);
        self.each_run(|p, x_at, k_at, taps| {
            let row = &cols[p * patch..][..patch];
            for ch in 0..self.in_ch {
                let src = &row[ch * k_plane + k_at..][..taps];
                for (d, s) in dx[ch * in_plane + x_at..][..taps].iter_mut().zip(src) {
                    *d += s;
                }
            }
        });
    }
}
