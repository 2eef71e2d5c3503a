//! Upsampling and zero padding of NCHW images as one op on dfdx's tape: each output position
//! is a weighted sum of at most two input rows times two input columns, the same for every
//! plane. Nearest upsampling and zero padding take one tap (or none, in the padding);
//! bilinear upsampling two per axis.
//!
//! Bilinear is Keras' `UpSampling2D(interpolation = "bilinear")`, TensorFlow's
//! `resize(method = "bilinear")` with half-pixel centres: output `o` reads input
//! `(o + 0.5) / size - 0.5`, clamped at the edges. For upsampling that is also PyTorch's
//! `interpolate(mode = "bilinear", align_corners = False)`; `align_corners = True` differs.
//!
//! Planes are independent and each is summed in a fixed order, so the results do not depend
//! on the thread count.

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape};
use rayon::prelude::*;

use super::{host_data, tensor_from_output, T4};
use crate::ops::cpu::zeroed::zeroed;

/// Along one axis: for each output position, two (input index, weight) taps.
#[derive(Clone, Debug, PartialEq)]
struct AxisMap {
    input: usize,
    taps: Vec<[(usize, f32); 2]>,
}

/// No contribution: weight 0 on input 0 (every axis has an input 0).
const NONE: (usize, f32) = (0, 0.0);

impl AxisMap {
    fn nearest(input: usize, size: usize) -> Self {
        let taps = (0..input * size).map(|o| [(o / size, 1.0), NONE]).collect();
        AxisMap { input, taps }
    }

    /// TensorFlow's half-pixel bilinear weights (`compute_interpolation_weights`).
    fn bilinear(input: usize, size: usize) -> Self {
        let scale = 1.0 / size as f64;
        let last = input - 1;
        let taps = (0..input * size)
            .map(|o| {
                let at = (o as f64 + 0.5) * scale - 0.5;
                let floor = at.floor();
                let lerp = (at - floor) as f32;
                // Below 0 both taps are input 0; past the end both are the last.
                let lower = (floor.max(0.0) as usize).min(last);
                let upper = (at.ceil().max(0.0) as usize).min(last);
                [(lower, 1.0 - lerp), (upper, lerp)]
            })
            .collect();
        AxisMap { input, taps }
    }

    fn padded(input: usize, (before, after): (usize, usize)) -> Self {
        let taps = (0..before + input + after)
            .map(|o| {
                if (before..before + input).contains(&o) {
                    [(o - before, 1.0), NONE]
                } else {
                    [NONE, NONE]
                }
            })
            .collect();
        AxisMap { input, taps }
    }
}

/// Each `(h, w)` position repeated `size` times along that axis (nearest) or interpolated
/// between its neighbours (bilinear): (N, C, H, W) → (N, C, H·sh, W·sw).
pub fn upsample2d<T: Tape<f32, Cpu>>(x: T4<T>, size: (usize, usize), bilinear: bool) -> T4<T> {
    let (_, _, h, w) = *x.shape();
    let map = if bilinear {
        AxisMap::bilinear
    } else {
        AxisMap::nearest
    };
    resample(x, &map(h, size.0), &map(w, size.1))
}

/// Zeros around each plane: `((top, bottom), (left, right))`.
pub fn zeropad2d<T: Tape<f32, Cpu>>(x: T4<T>, pad: ((usize, usize), (usize, usize))) -> T4<T> {
    let (_, _, h, w) = *x.shape();
    resample(x, &AxisMap::padded(h, pad.0), &AxisMap::padded(w, pad.1))
}

fn resample<T: Tape<f32, Cpu>>(x: T4<T>, rows: &AxisMap, cols: &AxisMap) -> T4<T> {
    let (n, c, h, w) = *x.shape();
    debug_assert_eq!((rows.input, cols.input), (h, w));
    let (oh, ow) = (rows.taps.len(), cols.taps.len());
    let (x, mut tape) = x.split_tape();
    let x_data = host_data(&x);
    let mut out = zeroed(n * c * oh * ow);
    if h * w > 0 && oh * ow > 0 {
        out.par_chunks_mut(oh * ow)
            .zip(x_data.par_chunks(h * w))
            .for_each(|(y, x)| plane_forward(rows, cols, x, y));
    }
    let out = tensor_from_output(x.device(), out, (n, c, oh, ow));
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        let (rows, cols) = (rows.clone(), cols.clone());
        tape.add_backward_op(move |grads| {
            let g = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let dx = grads.get_or_alloc_mut(&x_ghost)?;
            if h * w > 0 && oh * ow > 0 {
                dx.par_chunks_mut(h * w)
                    .zip(g.par_chunks(oh * ow))
                    .for_each(|(dx, g)| plane_backward(&rows, &cols, g, dx));
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

fn plane_forward(rows: &AxisMap, cols: &AxisMap, x: &[f32], y: &mut [f32]) {
    let w = cols.input;
    for (y, row_taps) in y.chunks_mut(cols.taps.len()).zip(&rows.taps) {
        for (y, col_taps) in y.iter_mut().zip(&cols.taps) {
            let mut sum = 0.0;
            for &(r, rw) in row_taps {
                // A weight-0 tap adds nothing (and is skipped, so padding never reads).
                if rw == 0.0 {
                    continue;
                }
                let mut inner = 0.0;
                for &(c, cw) in col_taps {
                    if cw != 0.0 {
                        inner += cw * x[r * w + c];
                    }
                }
                sum += rw * inner;
            }
            *y = sum;
        }
    }
}

/// The adjoint of [`plane_forward`], added into `dx` in output order.
fn plane_backward(rows: &AxisMap, cols: &AxisMap, g: &[f32], dx: &mut [f32]) {
    let w = cols.input;
    for (g, row_taps) in g.chunks(cols.taps.len()).zip(&rows.taps) {
        for (&g, col_taps) in g.iter().zip(&cols.taps) {
            for &(r, rw) in row_taps {
                if rw == 0.0 {
                    continue;
                }
                let gr = rw * g;
                for &(c, cw) in col_taps {
                    if cw != 0.0 {
                        dx[r * w + c] += cw * gr;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "resample2d_tests.rs"]
mod tests;
