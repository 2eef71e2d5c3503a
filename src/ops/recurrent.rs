//! What the recurrent ops (`lstm`, `gru`) share: the tape glue around their host kernels,
//! and the sequence layouts. Each kernel runs every step of a (B, F, T) batch from a zero
//! state and keeps what its backpropagation through time needs.

use std::sync::Arc;

use rayon::prelude::*;

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape, Tensor};

use super::matmul::{matmul, View};
use super::{add_into, host_data, tensor_from_output, T4};

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

/// A recurrent cell's kernels.
pub(crate) trait Cell {
    /// Gates per unit: 4 for the LSTM, 3 for the GRU.
    const GATES: usize;
    /// What the forward pass keeps.
    type Saved: Send + Sync + 'static;
    fn forward(dims: Dims, w: Weights<'_>, x: &[f32]) -> Self::Saved;
    /// The hidden states `h_0 = 0, …, h_T`, ((T+1)·B, U).
    fn hidden(saved: &Self::Saved) -> &[f32];
    /// The gradients of the input (B, F, T), `w_ih`, `w_hh`, `b_ih`, `b_hh`.
    fn backward(
        dims: Dims,
        w: Weights<'_>,
        saved: &Self::Saved,
        dy: &[f32],
        sequences: bool,
    ) -> [Vec<f32>; 5];
}

/// Runs `C` over `x`, sequences (B, F, 1, T): every step's hidden state (B, U, 1, T) with
/// `sequences`, else the last one (B, U, 1, 1).
pub(crate) fn recurrent<C: Cell, T: Tape<f32, Cpu>>(
    x: T4<T>,
    p: RecurrentParams<'_>,
    sequences: bool,
) -> T4<T> {
    let (batch, features, _, steps) = *x.shape();
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
    let x_host = host_data(&x);
    let per_example = features * steps;
    let saved: Vec<C::Saved> = chunks
        .par_iter()
        .map(|r| {
            let x = &x_host[r.start * per_example..r.end * per_example];
            C::forward(dims.of(r), weights, x)
        })
        .collect();
    let y: Vec<f32> = chunks
        .iter()
        .zip(&saved)
        .flat_map(|(r, saved)| output(dims.of(r), C::hidden(saved), sequences))
        .collect();
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
            let dy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
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
                    C::backward(dims.of(r), weights, saved, dy, sequences)
                })
                .collect();
            // The chunks' input gradients side by side, their weight gradients summed in
            // chunk order.
            let dx: Vec<f32> = parts.iter().flat_map(|p| p[0].iter().copied()).collect();
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
