//! Pooling over one `(height, width)` plane, forward and backward. The fused conv2d epilogue
//! calls these on each conv output plane while it is still in cache; `pool2d` calls them on
//! the planes of its input.

use crate::ops::geometry::{Axis, Span};

/// Marks a pooled output whose gradient is zero (its ReLU was inactive).
pub(crate) const NO_ARGMAX: u32 = u32::MAX;

/// The windows of a pooling over planes of a fixed size, with spans precomputed.
#[derive(Clone, Debug)]
pub(crate) struct PoolPlan {
    pub(crate) h: Axis,
    pub(crate) w: Axis,
    rows: Vec<Span>,
    cols: Vec<Span>,
}

impl PoolPlan {
    pub(crate) fn new(h: Axis, w: Axis) -> Self {
        Self {
            rows: h.spans(),
            cols: w.spans(),
            h,
            w,
        }
    }

    #[inline(always)]
    pub(crate) fn in_plane(&self) -> usize {
        self.h.input * self.w.input
    }

    #[inline(always)]
    pub(crate) fn out_plane(&self) -> usize {
        self.h.output * self.w.output
    }

    /// Calls `f(output index, span of rows, span of cols)` for every output in order.
    #[inline(always)]
    fn each_window(&self, mut f: impl FnMut(usize, Span, Span)) {
        let mut q = 0;
        for &r in &self.rows {
            for &c in &self.cols {
                f(q, r, c);
                q += 1;
            }
        }
    }

    /// Max over each window of in-bounds inputs (padding never wins), writing the plane index
    /// of the first maximum in row-major window order to `argmax` when it is not empty.
    #[inline(always)]
    pub(crate) fn max_forward(&self, input: &[f32], out: &mut [f32], argmax: &mut [u32]) {
        if self.is_2x2_tiling() {
            return self.max_forward_2x2(input, out, argmax);
        }
        let width = self.w.input;
        let save = !argmax.is_empty();
        self.each_window(|q, r, c| {
            let mut best_at = r.first_input * width + c.first_input;
            let mut best = input[best_at];
            for ih in r.first_input..r.first_input + r.taps {
                let row = ih * width;
                for iw in c.first_input..c.first_input + c.taps {
                    let v = input[row + iw];
                    (best, best_at) = if v > best {
                        (v, row + iw)
                    } else {
                        (best, best_at)
                    };
                }
            }
            out[q] = best;
            if save {
                // Plane sizes are checked to fit in u32 when the op is planned.
                argmax[q] = best_at as u32;
            }
        });
    }

    /// Whether the windows are 2x2 with stride 2 and all inside the input: the common case,
    /// which has its own branch-free loop.
    #[inline(always)]
    pub(crate) fn is_2x2_tiling(&self) -> bool {
        let tiles = |a: &Axis| {
            a.window == 2 && a.stride == 2 && a.pad_before == 0 && 2 * a.output <= a.input
        };
        tiles(&self.h) && tiles(&self.w)
    }

    /// [`Self::max_forward`] for [`Self::is_2x2_tiling`] windows.
    #[inline(always)]
    fn max_forward_2x2(&self, input: &[f32], out: &mut [f32], argmax: &mut [u32]) {
        let (width, out_w) = (self.w.input, self.w.output);
        // Offsets in u32 (plane sizes are checked to fit), so that they vectorise 8 wide.
        let width32 = width as u32;
        for (qh, out) in out.chunks_exact_mut(out_w).enumerate() {
            let top_at = 2 * qh * width;
            let top = input[top_at..][..2 * out_w].chunks_exact(2);
            let bottom = input[top_at + width..][..2 * out_w].chunks_exact(2);
            let windows = out.iter_mut().zip(top.zip(bottom));
            // Two loops rather than a test inside one: a vectorised masked store into an
            // empty `argmax` would take a slow microcode path on its dangling address.
            if argmax.is_empty() {
                for (out, (t, b)) in windows {
                    *out = first_max_2x2(t, b, width32).0;
                }
            } else {
                let argmax = &mut argmax[qh * out_w..][..out_w];
                for ((out, (t, b)), (qw, at)) in windows.zip(argmax.iter_mut().enumerate()) {
                    let (best, offset) = first_max_2x2(t, b, width32);
                    *out = best;
                    *at = (top_at + 2 * qw) as u32 + offset;
                }
            }
        }
    }

    /// Routes each output gradient to its saved argmax: `dx[argmax] += g`.
    #[inline(always)]
    pub(crate) fn max_backward(grad_out: &[f32], argmax: &[u32], dx: &mut [f32]) {
        for (&g, &at) in grad_out.iter().zip(argmax) {
            if at != NO_ARGMAX {
                dx[at as usize] += g;
            }
        }
    }

    /// Whether no input lies in two windows, so that a backward pass may store gradients
    /// instead of adding them.
    #[inline(always)]
    pub(crate) fn windows_are_disjoint(&self) -> bool {
        self.h.stride >= self.h.window && self.w.stride >= self.w.window
    }

    /// Mean over the in-bounds inputs of each window (Keras: padding is not counted).
    #[inline(always)]
    pub(crate) fn avg_forward(&self, input: &[f32], out: &mut [f32]) {
        let width = self.w.input;
        self.each_window(|q, r, c| {
            let mut sum = 0.0;
            for ih in r.first_input..r.first_input + r.taps {
                let row = &input[ih * width + c.first_input..][..c.taps];
                sum += row.iter().sum::<f32>();
            }
            out[q] = sum / (r.taps * c.taps) as f32;
        });
    }

    /// Spreads each output gradient evenly over its window's in-bounds inputs.
    #[inline(always)]
    pub(crate) fn avg_backward(&self, grad_out: &[f32], dx: &mut [f32]) {
        let width = self.w.input;
        self.each_window(|q, r, c| {
            let share = grad_out[q] / (r.taps * c.taps) as f32;
            for ih in r.first_input..r.first_input + r.taps {
                for v in &mut dx[ih * width + c.first_input..][..c.taps] {
                    *v += share;
                }
            }
        });
    }
}

/// The first maximum of a 2x2 window in row-major order and its offset from the top left,
/// as selects rather than branches.
#[inline(always)]
fn first_max_2x2(top: &[f32], bottom: &[f32], width: u32) -> (f32, u32) {
    let (mut best, mut at) = (top[0], 0);
    (best, at) = if top[1] > best {
        (top[1], 1)
    } else {
        (best, at)
    };
    (best, at) = if bottom[0] > best {
        (bottom[0], width)
    } else {
        (best, at)
    };
    if bottom[1] > best {
        (bottom[1], width + 1)
    } else {
        (best, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::geometry::Padding;

    fn plan(hw: (usize, usize), k: usize, s: usize, padding: Padding) -> PoolPlan {
        PoolPlan::new(
            Axis::new(hw.0, k, s, padding).unwrap(),
            Axis::new(hw.1, k, s, padding).unwrap(),
        )
    }

    #[test]
    fn max_takes_the_first_maximum_on_ties() {
        let p = plan((2, 2), 2, 2, Padding::Valid);
        let (mut out, mut arg) = ([0.0], [0]);
        p.max_forward(&[1.0, 3.0, 3.0, 2.0], &mut out, &mut arg);
        assert_eq!((out, arg), ([3.0], [1]));
    }

    #[test]
    fn max_with_same_padding_ignores_the_padding() {
        // 3x3 all negative, 2x2 windows stride 2: out 2x2, the last row/col windows are cut.
        let p = plan((3, 3), 2, 2, Padding::Same);
        let input = [-5.0, -4.0, -3.0, -2.0, -1.0, -6.0, -7.0, -8.0, -9.0];
        let (mut out, mut arg) = ([0.0; 4], [0; 4]);
        p.max_forward(&input, &mut out, &mut arg);
        assert_eq!(out, [-1.0, -3.0, -7.0, -9.0]);
        assert_eq!(arg, [4, 2, 6, 8]);
    }

    #[test]
    fn avg_with_same_padding_divides_by_in_bounds_count() {
        let p = plan((3, 3), 2, 2, Padding::Same);
        let input = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let mut out = [0.0; 4];
        p.avg_forward(&input, &mut out);
        assert_eq!(out, [3.0, 4.5, 7.5, 9.0]);
        let mut dx = [0.0; 9];
        p.avg_backward(&[4.0, 2.0, 2.0, 1.0], &mut dx);
        assert_eq!(dx, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn max_backward_skips_inactive_outputs() {
        // Overlapping windows add up at a shared maximum.
        let mut dx = [0.0; 9];
        let argmax = [4, NO_ARGMAX, 4, 0, 0, 0, 0, 0, 8];
        PoolPlan::max_backward(
            &[1.0, 9.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0],
            &argmax,
            &mut dx,
        );
        assert_eq!(dx, [0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 3.0]);
    }
}
