//! What the recurrent ops (`lstm`, `gru`) share: the tape glue around their host kernels,
//! and the sequence layouts. Each kernel runs every step of a (B, F, T) batch from a zero
//! state and keeps what its backpropagation through time needs.
//!
//! A [`Reading`] says which steps count and in which direction the cell runs. A masked step
//! is skipped as Keras skips it: the state goes on unchanged and the step's output is 0
//! (PyTorch's `pack_padded_sequence` gives the same numbers for padding at the end). A
//! reversed reading runs from the last step to the first, by reversing the input, the mask
//! and the output's steps around the same kernels, so they never see the direction.

use std::sync::Arc;

use rayon::prelude::*;

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape, Tensor};

use super::matmul::{matmul, View};
use super::{add_into, host_data, tensor_from_output, T4};

#[cfg(test)]
#[rustfmt::skip]
#[allow(clippy::unreadable_literal)]
pub(crate) mod reading_reference;
#[cfg(test)]
pub(crate) mod testing;

/// The sizes of a call.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub batch: usize,
    pub features: usize,
    pub units: usize,
    pub steps: usize,
}

impl Dims {
    /// The sizes of a call on examples `r` of this one's batch.
    fn of(self, r: &std::ops::Range<usize>) -> Self {
        Self {
            batch: r.len(),
            ..self
        }
    }
}

/// The parameters' host values, in PyTorch's layout: `w_ih` (G·U, F), `w_hh` (G·U, U), the
/// biases (G·U), for G gates.
#[derive(Clone, Copy)]
pub struct Weights<'a> {
    pub w_ih: &'a [f32],
    pub w_hh: &'a [f32],
    pub b_ih: &'a [f32],
    pub b_hh: &'a [f32],
}

/// A parameter: its tensor (which names its gradient) and its host values, which the
/// backward pass keeps as the forward pass saw them.
pub type Host<'a, S> = (&'a Tensor<S, f32, Cpu>, &'a Arc<Vec<f32>>);

/// The parameters under PyTorch's names: `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
/// `bias_hh_l0`.
#[derive(Clone, Copy)]
pub struct RecurrentParams<'a> {
    pub w_ih: Host<'a, (usize, usize)>,
    pub w_hh: Host<'a, (usize, usize)>,
    pub b_ih: Host<'a, (usize,)>,
    pub b_hh: Host<'a, (usize,)>,
}

/// Which steps of its sequences a recurrent op reads, and in which order.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading<'a> {
    /// The padding mask of `embedding(mask_zero = true)`, (B, T): 1 at a step the cell
    /// reads, 0 at one it skips.
    pub mask: Option<&'a [f32]>,
    /// From the last step to the first (the backward half of a bidirectional layer). The
    /// output keeps the input's order: step `t`'s output is the state after reading steps
    /// `T-1` down to `t`.
    pub reverse: bool,
}

/// A mask of a chunk's examples, (B, T), in the order the kernel runs the steps.
pub(crate) type Mask<'a> = Option<&'a [f32]>;

/// Whether example `b` skips step `t`.
#[inline(always)]
pub(crate) fn skipped(mask: Mask<'_>, steps: usize, b: usize, t: usize) -> bool {
    mask.is_some_and(|m| m[b * steps + t] == 0.0)
}

/// A recurrent cell's kernels.
pub(crate) trait Cell {
    /// Gates per unit: 4 for the LSTM, 3 for the GRU.
    const GATES: usize;
    /// What the forward pass keeps.
    type Saved: Send + Sync + 'static;
    fn forward(dims: Dims, w: Weights<'_>, x: &[f32], mask: Mask<'_>) -> Self::Saved;
    /// The hidden states `h_0 = 0, …, h_T`, ((T+1)·B, U).
    fn hidden(saved: &Self::Saved) -> &[f32];
    /// The gradients of the input (B, F, T), `w_ih`, `w_hh`, `b_ih`, `b_hh`. `dy` is 0 at
    /// the skipped steps of sequences.
    fn backward(
        dims: Dims,
        w: Weights<'_>,
        saved: &Self::Saved,
        dy: &[f32],
        sequences: bool,
        mask: Mask<'_>,
    ) -> [Vec<f32>; 5];
}

/// Each row of `steps` values in reverse order.
fn reverse_steps(v: &[f32], steps: usize) -> Vec<f32> {
    v.chunks_exact(steps)
        .flat_map(|row| row.iter().rev().copied())
        .collect()
}

/// The part of `mask` (B, T) for the examples `r`.
fn chunk_mask<'a>(
    mask: Option<&'a Arc<Vec<f32>>>,
    r: &std::ops::Range<usize>,
    steps: usize,
) -> Mask<'a> {
    mask.map(|m| &m[r.start * steps..r.end * steps])
}

/// Zeroes the skipped steps of `y`, laid out (B, U, T).
fn zero_skipped(y: &mut [f32], mask: &[f32], units: usize, steps: usize) {
    for (b, rows) in y.chunks_exact_mut(units * steps).enumerate() {
        let keep = &mask[b * steps..][..steps];
        for row in rows.chunks_exact_mut(steps) {
            for (v, &k) in row.iter_mut().zip(keep) {
                if k == 0.0 {
                    *v = 0.0;
                }
            }
        }
    }
}

/// Runs `C` over `x`, sequences (B, F, 1, T), as `reading` says: every step's hidden state
/// (B, U, 1, T) with `sequences`, else the last one (B, U, 1, 1).
pub(crate) fn recurrent<C: Cell, T: Tape<f32, Cpu>>(
    x: T4<T>,
    p: RecurrentParams<'_>,
    sequences: bool,
    reading: Reading<'_>,
) -> T4<T> {
    let (batch, features, _, steps) = *x.shape();
    let reverse = reading.reverse;
    // In the order the kernels run the steps.
    let mask: Option<Arc<Vec<f32>>> = reading.mask.map(|m| {
        assert_eq!(m.len(), batch * steps, "recurrent: mask size");
        Arc::new(if reverse {
            reverse_steps(m, steps)
        } else {
            m.to_vec()
        })
    });
    let dims = Dims {
        batch,
        features,
        units: p.b_ih.1.len() / C::GATES,
        steps,
    };
    let (x, mut tape) = x.split_tape();
    let weights = Weights {
        w_ih: p.w_ih.1,
        w_hh: p.w_hh.1,
        b_ih: p.b_ih.1,
        b_hh: p.b_hh.1,
    };
    let chunks = chunks(batch);
    let mut x_host = host_data(&x);
    if reverse {
        x_host = reverse_steps(&x_host, steps);
    }
    let per_example = features * steps;
    let saved: Vec<C::Saved> = chunks
        .par_iter()
        .map(|r| {
            let x = &x_host[r.start * per_example..r.end * per_example];
            C::forward(dims.of(r), weights, x, chunk_mask(mask.as_ref(), r, steps))
        })
        .collect();
    let mut y: Vec<f32> = chunks
        .iter()
        .zip(&saved)
        .flat_map(|(r, saved)| output(dims.of(r), C::hidden(saved), sequences))
        .collect();
    if sequences {
        if let Some(mask) = &mask {
            zero_skipped(&mut y, mask, dims.units, steps);
        }
        if reverse {
            y = reverse_steps(&y, steps);
        }
    }
    let out_steps = if sequences { steps } else { 1 };
    let out = tensor_from_output(x.device(), y, (batch, dims.units, 1, out_steps));
    if T::OWNS_TAPE {
        let x_ghost = x.ghost();
        let out_ghost = out.ghost();
        let ghosts = (
            p.w_ih.0.ghost(),
            p.w_hh.0.ghost(),
            p.b_ih.0.ghost(),
            p.b_hh.0.ghost(),
        );
        let values = [p.w_ih.1, p.w_hh.1, p.b_ih.1, p.b_hh.1].map(Arc::clone);
        tape.add_backward_op(move |grads| {
            let mut dy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            if sequences {
                if reverse {
                    dy = reverse_steps(&dy, steps);
                }
                // The skipped steps' outputs are constants.
                if let Some(mask) = &mask {
                    zero_skipped(&mut dy, mask, dims.units, steps);
                }
            }
            let [w_ih, w_hh, b_ih, b_hh] = &values;
            let weights = Weights {
                w_ih,
                w_hh,
                b_ih,
                b_hh,
            };
            let per_example = dims.units * out_steps;
            let parts: Vec<[Vec<f32>; 5]> = chunks
                .par_iter()
                .zip(&saved)
                .map(|(r, saved)| {
                    let dy = &dy[r.start * per_example..r.end * per_example];
                    let mask = chunk_mask(mask.as_ref(), r, steps);
                    C::backward(dims.of(r), weights, saved, dy, sequences, mask)
                })
                .collect();
            // The chunks' input gradients side by side, their weight gradients summed in
            // chunk order.
            let mut dx: Vec<f32> = parts.iter().flat_map(|p| p[0].iter().copied()).collect();
            if reverse {
                dx = reverse_steps(&dx, steps);
            }
            add_into(grads.get_or_alloc_mut(&x_ghost)?, &dx);
            for [_, dw_ih, dw_hh, db_ih, db_hh] in &parts {
                add_into(grads.get_or_alloc_mut(&ghosts.0)?, dw_ih);
                add_into(grads.get_or_alloc_mut(&ghosts.1)?, dw_hh);
                add_into(grads.get_or_alloc_mut(&ghosts.2)?, db_ih);
                add_into(grads.get_or_alloc_mut(&ghosts.3)?, db_hh);
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// At most this many examples run their steps together: a larger batch is cut into chunks
/// of nearly equal size that run in parallel (batch 50 into 25 and 25). The steps of one
/// example depend only on its own rows, so only the weight gradients' sums see the cut, and
/// the cut depends on the batch size alone, never on the thread count.
const CHUNK: usize = 32;

/// The examples of each chunk (see [`CHUNK`]).
fn chunks(batch: usize) -> Vec<std::ops::Range<usize>> {
    let n = batch.div_ceil(CHUNK).max(1);
    let (base, extra) = (batch / n, batch % n);
    let mut start = 0;
    (0..n)
        .map(|i| {
            let len = base + usize::from(i < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// The layer's output from the hidden states `h` ((T+1)·B, U): every step's laid out
/// (B, U, T) with `sequences`, else the last one (B, U).
fn output(dims: Dims, h: &[f32], sequences: bool) -> Vec<f32> {
    let Dims {
        batch,
        units,
        steps,
        ..
    } = dims;
    let step = batch * units;
    if !sequences {
        return h[steps * step..].to_vec();
    }
    let mut y = vec![0.0; batch * units * steps];
    for t in 0..steps {
        for (k, &v) in h[(t + 1) * step..][..step].iter().enumerate() {
            y[k * steps + t] = v;
        }
    }
    y
}

/// The gradient `dy` of [`output`]'s layout at step `t`, unit `k` of the batch (`b·U + u`).
#[inline(always)]
pub(crate) fn upstream(dims: Dims, dy: &[f32], sequences: bool, t: usize, k: usize) -> f32 {
    if sequences {
        dy[k * dims.steps + t]
    } else if t + 1 == dims.steps {
        dy[k]
    } else {
        0.0
    }
}

/// `x` (B, F, T) as time-major rows (T·B, F).
pub(crate) fn time_major(dims: Dims, x: &[f32]) -> Vec<f32> {
    let Dims {
        batch,
        features,
        steps,
        ..
    } = dims;
    let mut xs = vec![0.0; x.len()];
    for b in 0..batch {
        for f in 0..features {
            for t in 0..steps {
                xs[(t * batch + b) * features + f] = x[(b * features + f) * steps + t];
            }
        }
    }
    xs
}

/// `dxs`, time-major rows (T·B, F), into `dx` laid out (B, F, T).
#[inline(always)]
fn scatter_time_major(dims: Dims, dxs: &[f32], dx: &mut [f32]) {
    let Dims {
        batch,
        features,
        steps,
        ..
    } = dims;
    for t in 0..steps {
        for b in 0..batch {
            let src = &dxs[(t * batch + b) * features..][..features];
            for (f, &v) in src.iter().enumerate() {
                dx[(b * features + f) * steps + t] = v;
            }
        }
    }
}

/// The column sums of `rows` (n, width) added into `sums` (width).
#[inline(always)]
fn add_column_sums(rows: &[f32], sums: &mut [f32]) {
    for row in rows.chunks_exact(sums.len()) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}

/// The pre-activation gradients of every step's gates, (T·B, G·U), from the input's side
/// (`from_input`) and from the hidden state's (`from_hidden`; the same for the LSTM).
pub(crate) struct GateGrads<'a> {
    pub from_input: &'a [f32],
    pub from_hidden: &'a [f32],
}

/// What backpropagation through time ends with, once every step's gate gradients `d` are
/// known: those of `w_hh` (each step's against `h_{t-1}`, `h` holding `h_0 = 0, …`), `w_ih`
/// (against the time-major input `xs`), the biases, and the input (B, F, T), all summed over
/// the steps in one product each.
#[inline(always)]
pub(crate) fn finish_gradients(
    dims: Dims,
    (d, xs, h, w_ih): (GateGrads<'_>, &[f32], &[f32], &[f32]),
    [dx, dw_ih, dw_hh, db_ih, db_hh]: [&mut [f32]; 5],
) {
    let Dims {
        batch,
        features,
        units,
        steps,
    } = dims;
    let gates = db_ih.len();
    let rows = steps * batch;
    matmul(
        (gates, units, rows),
        dw_hh,
        false,
        View::transposed(d.from_hidden, gates),
        View::rows(&h[..rows * units], units),
    );
    matmul(
        (gates, features, rows),
        dw_ih,
        false,
        View::transposed(d.from_input, gates),
        View::rows(xs, features),
    );
    add_column_sums(d.from_input, db_ih);
    add_column_sums(d.from_hidden, db_hh);
    let mut dxs = vec![0.0; rows * features];
    matmul(
        (rows, features, gates),
        &mut dxs,
        false,
        View::rows(d.from_input, gates),
        View::rows(w_ih, features),
    );
    scatter_time_major(dims, &dxs, dx);
}
