//! What the recurrent ops (`lstm`, `gru`) share: the tape glue around their host kernels,
//! and the sequence layouts. Each kernel runs every step of a (B, F, T) batch from a given
//! state or from zeros, and keeps what its backpropagation through time needs.
//!
//! A [`Reading`] says which steps count and in which direction the cell runs. A masked step
//! is skipped as Keras skips it: the state goes on unchanged and the step's output is 0
//! (PyTorch's `pack_padded_sequence` gives the same numbers for padding at the end). A
//! reversed reading runs from the last step to the first, by reversing the input, the mask
//! and the output's steps around the same kernels, so they never see the direction.

use std::sync::Arc;

use rayon::prelude::*;

use dfdx::prelude::{Cpu, HasShape, NoneTape, PutTape, SplitTape, Tape, Tensor};

use super::matmul::{matmul, View};
use super::{add_into, host_data, tensor_from_output, T2, T4};

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

/// A chunk's rows of each of the state's tensors, (B, U) each: `[h, c]` for the LSTM, `[h]`
/// for the GRU, or none at all (an empty slice).
pub(crate) type States<'a> = &'a [&'a [f32]];

/// The gradients a chunk's backpropagation through time starts from.
#[derive(Clone, Copy)]
pub(crate) struct Upstream<'a> {
    /// The output's, in [`output`]'s layout: 0 at the skipped steps of sequences.
    pub dy: &'a [f32],
    pub sequences: bool,
    pub mask: Mask<'a>,
    /// The last state's, when the op returns it (else empty).
    pub last: States<'a>,
}

/// A chunk's gradients: those of the input (B, F, T), `w_ih`, `w_hh`, `b_ih`, `b_hh`, and
/// those of the initial state's tensors when the forward pass started from one (else none).
pub(crate) type ChunkGrads = ([Vec<f32>; 5], Vec<Vec<f32>>);

/// A recurrent cell's kernels.
pub(crate) trait Cell: 'static {
    /// Gates per unit: 4 for the LSTM, 3 for the GRU.
    const GATES: usize;
    /// The state's tensors: 2 for the LSTM (`h`, `c`), 1 for the GRU (`h`).
    const STATES: usize;
    /// What the forward pass keeps.
    type Saved: Send + Sync + 'static;
    /// Runs every step from the state `initial`, or from zeros when it is empty.
    fn forward(
        dims: Dims,
        w: Weights<'_>,
        x: &[f32],
        mask: Mask<'_>,
        initial: States<'_>,
    ) -> Self::Saved;
    /// The states before and after each step, the hidden one first: `h_0, …, h_T` (then
    /// `c_0, …, c_T`), ((T+1)·B, U) each.
    fn states(saved: &Self::Saved) -> Vec<&[f32]>;
    /// Backpropagation through time from `up`.
    fn backward(dims: Dims, w: Weights<'_>, saved: &Self::Saved, up: Upstream<'_>) -> ChunkGrads;
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

/// The rows of each of `states` ((B, U) each) for the examples `r`.
fn chunk_rows<'a>(
    states: &'a [Vec<f32>],
    r: &std::ops::Range<usize>,
    units: usize,
) -> Vec<&'a [f32]> {
    states
        .iter()
        .map(|s| &s[r.start * units..r.end * units])
        .collect()
}

/// The parts of chunks, side by side.
fn side_by_side<'a>(parts: impl Iterator<Item = &'a [f32]>) -> Vec<f32> {
    parts.flat_map(|p| p.iter().copied()).collect()
}

/// The initial state's tensors, their tapes merged into `tape`.
fn split_states<T: Tape<f32, Cpu>>(
    states: Option<Vec<T2<T>>>,
    mut tape: T,
) -> (Vec<T2<NoneTape>>, T) {
    let mut split = Vec::new();
    for state in states.into_iter().flatten() {
        let (state, state_tape) = state.split_tape();
        tape = tape.merge(state_tape);
        split.push(state);
    }
    (split, tape)
}

/// What the backward pass keeps of the forward pass.
struct Forward<C: Cell> {
    dims: Dims,
    sequences: bool,
    reverse: bool,
    /// The mask in the order the kernels run the steps.
    mask: Option<Arc<Vec<f32>>>,
    chunks: Vec<std::ops::Range<usize>>,
    saved: Vec<C::Saved>,
    /// The parameters' values `w_ih`, `w_hh`, `b_ih`, `b_hh`, as the forward pass saw them.
    values: [Arc<Vec<f32>>; 4],
}

impl<C: Cell> Forward<C> {
    /// The output from the chunks' hidden states: (B, U, T) with sequences, else (B, U).
    fn output(&self) -> Vec<f32> {
        let Dims { units, steps, .. } = self.dims;
        let mut y: Vec<f32> = self
            .chunks
            .iter()
            .zip(&self.saved)
            .flat_map(|(r, saved)| output(self.dims.of(r), C::states(saved)[0], self.sequences))
            .collect();
        if self.sequences {
            if let Some(mask) = &self.mask {
                zero_skipped(&mut y, mask, units, steps);
            }
            if self.reverse {
                y = reverse_steps(&y, steps);
            }
        }
        y
    }

    /// The state's tensor `i` after the last step each example reads, (B, U). A skipped step
    /// keeps the state, so an example whose last steps are padding gives its last real step's.
    fn last(&self, i: usize) -> Vec<f32> {
        let Dims { units, steps, .. } = self.dims;
        let per_chunk = self.chunks.iter().zip(&self.saved).map(|(r, saved)| {
            let state: &[f32] = C::states(saved)[i];
            &state[steps * r.len() * units..]
        });
        side_by_side(per_chunk)
    }

    /// Each chunk's gradients from those of the output, `dy` in its layout, and of the last
    /// state, `dlast` (B, U) each (none when the op does not return it).
    fn backward(&self, mut dy: Vec<f32>, dlast: &[Vec<f32>]) -> Vec<ChunkGrads> {
        let Dims { units, steps, .. } = self.dims;
        if self.sequences {
            if self.reverse {
                dy = reverse_steps(&dy, steps);
            }
            // The skipped steps' outputs are constants.
            if let Some(mask) = &self.mask {
                zero_skipped(&mut dy, mask, units, steps);
            }
        }
        let [w_ih, w_hh, b_ih, b_hh] = &self.values;
        let weights = Weights {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        };
        let per_example = units * if self.sequences { steps } else { 1 };
        self.chunks
            .par_iter()
            .zip(&self.saved)
            .map(|(r, saved)| {
                let last = chunk_rows(dlast, r, units);
                let up = Upstream {
                    dy: &dy[r.start * per_example..r.end * per_example],
                    sequences: self.sequences,
                    mask: chunk_mask(self.mask.as_ref(), r, steps),
                    last: &last,
                };
                C::backward(self.dims.of(r), weights, saved, up)
            })
            .collect()
    }
}

/// The mask of `reading`, (B, T), in the order the kernels run the steps.
fn kernel_mask(reading: Reading<'_>, batch: usize, steps: usize) -> Option<Arc<Vec<f32>>> {
    reading.mask.map(|m| {
        assert_eq!(m.len(), batch * steps, "recurrent: mask size");
        Arc::new(if reading.reverse {
            reverse_steps(m, steps)
        } else {
            m.to_vec()
        })
    })
}

/// Runs `C` over `x`, sequences (B, F, 1, T), as `reading` says, from the state `initial`
/// (its tensors (B, U) each; zeros when `None`): every step's hidden state (B, U, 1, T) with
/// `sequences`, else the last one (B, U, 1, 1), and with `last` the state after the last step
/// read (else no tensor).
///
/// The output carries the tapes of `x` and of the initial state; the last state carries an
/// empty one. The one backward op, registered after every output exists (so that it runs
/// after whatever reads them), takes the gradients of the output and of the last state (0
/// where nothing read it) back to the input, the parameters and the initial state.
pub(crate) fn recurrent<C: Cell, T: Tape<f32, Cpu>>(
    x: T4<T>,
    p: RecurrentParams<'_>,
    sequences: bool,
    reading: Reading<'_>,
    initial: Option<Vec<T2<T>>>,
    last: bool,
) -> (T4<T>, Vec<T2<T>>) {
    let (batch, features, _, steps) = *x.shape();
    let reverse = reading.reverse;
    let mask = kernel_mask(reading, batch, steps);
    let dims = Dims {
        batch,
        features,
        units: p.b_ih.1.len() / C::GATES,
        steps,
    };
    let (x, tape) = x.split_tape();
    let (initial, mut tape) = split_states(initial, tape);
    assert!(
        initial.is_empty() || initial.len() == C::STATES,
        "recurrent: the initial state has {} tensors",
        C::STATES
    );
    for state in &initial {
        assert_eq!(
            *state.shape(),
            (batch, dims.units),
            "recurrent: initial state size"
        );
    }
    let initial_host: Vec<Vec<f32>> = initial.iter().map(host_data).collect();
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
            let mask = chunk_mask(mask.as_ref(), r, steps);
            let initial = chunk_rows(&initial_host, r, dims.units);
            C::forward(dims.of(r), weights, x, mask, &initial)
        })
        .collect();
    let forward = Forward::<C> {
        dims,
        sequences,
        reverse,
        mask,
        chunks,
        saved,
        values: [p.w_ih.1, p.w_hh.1, p.b_ih.1, p.b_hh.1].map(Arc::clone),
    };
    let out_steps = if sequences { steps } else { 1 };
    let out = tensor_from_output(
        x.device(),
        forward.output(),
        (batch, dims.units, 1, out_steps),
    );
    let states: Vec<T2<NoneTape>> = if last {
        (0..C::STATES)
            .map(|i| tensor_from_output(x.device(), forward.last(i), (batch, dims.units)))
            .collect()
    } else {
        Vec::new()
    };
    if T::OWNS_TAPE {
        let x_ghost = x.ghost();
        let out_ghost = out.ghost();
        let last_ghosts: Vec<_> = states.iter().map(Tensor::ghost).collect();
        let initial_ghosts: Vec<_> = initial.iter().map(Tensor::ghost).collect();
        let ghosts = (
            p.w_ih.0.ghost(),
            p.w_hh.0.ghost(),
            p.b_ih.0.ghost(),
            p.b_hh.0.ghost(),
        );
        tape.add_backward_op(move |grads| {
            let dy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            let mut dlast = Vec::with_capacity(last_ghosts.len());
            for ghost in &last_ghosts {
                dlast.push(grads.get_or_alloc_mut(ghost)?.to_vec());
            }
            let parts = forward.backward(dy, &dlast);
            // The chunks' input and initial state gradients side by side, their weight
            // gradients summed in chunk order.
            let mut dx = side_by_side(parts.iter().map(|(p, _)| &p[0][..]));
            if reverse {
                dx = reverse_steps(&dx, steps);
            }
            add_into(grads.get_or_alloc_mut(&x_ghost)?, &dx);
            for ([_, dw_ih, dw_hh, db_ih, db_hh], _) in &parts {
                add_into(grads.get_or_alloc_mut(&ghosts.0)?, dw_ih);
                add_into(grads.get_or_alloc_mut(&ghosts.1)?, dw_hh);
                add_into(grads.get_or_alloc_mut(&ghosts.2)?, db_ih);
                add_into(grads.get_or_alloc_mut(&ghosts.3)?, db_hh);
            }
            for (i, ghost) in initial_ghosts.iter().enumerate() {
                let d = side_by_side(parts.iter().map(|(_, d)| &d[i][..]));
                add_into(grads.get_or_alloc_mut(ghost)?, &d);
            }
            Ok(())
        });
    }
    let states = states
        .into_iter()
        .map(|s| s.put_tape(T::default()))
        .collect();
    (out.put_tape(tape), states)
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
/// known: those of `w_hh` (each step's against `h_{t-1}`, `h` holding `h_0, …`), `w_ih`
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
