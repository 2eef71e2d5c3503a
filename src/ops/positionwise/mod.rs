//! A dense layer applied at every position of a sequence (Keras' `Dense` over the last axis,
//! PyTorch's `nn.Linear` on `(batch, length, features)`), as one op on dfdx's tape.
//!
//! A sequence of `features` by `length` is held as PyTorch's `Conv1d` holds it, one row of
//! an image `(batch, features, 1, length)`. Per example, the output is then one matrix
//! product, `y (units x length) = W (units x features) · x (features x length) + b`, with no
//! transpose of the activation: the weight is read in whichever layout its layer stores it
//! ([`WeightLayout`]) through a strided view.
//!
//! Deterministic by construction: the forward pass and the input's gradient are computed per
//! example, the weight's gradient in fixed pieces of its rows, each summed over the batch in
//! order by one task, so no sum depends on the thread count.

#[cfg(test)]
mod tests;

use std::sync::Arc;

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape, Tensor};
use rayon::prelude::*;

use super::cpu::simd::avx2_or_portable;
use super::matmul::{matmul_packed, packed_view, packs_on_blocked, sum, PackedLhs, View};
use super::{host_data, tensor_from_output, T4};
use crate::ops::cpu::zeroed::zeroed;

/// How a weight's values are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightLayout {
    /// `(in, out)`: the dense layer's storage, the transpose of `nn.Linear`'s.
    InOut,
    /// `(out, in)`: `nn.Linear`'s (attention's projections keep it).
    OutIn,
}

/// A parameter: its tensor (which only names its gradient, and may be an empty token, see
/// `crate::lower::params::Param::read_on_host`) and its host values, shared with the backward
/// pass so that it reads the values the forward pass saw.
#[derive(Clone, Copy)]
pub struct HostTensor<'a, S: dfdx::prelude::Shape> {
    pub tensor: &'a Tensor<S, f32, Cpu>,
    pub value: &'a Arc<Vec<f32>>,
}

/// What a call sets besides the input.
#[derive(Clone, Copy)]
pub struct PositionwiseSpec<'a> {
    pub weight: HostTensor<'a, (usize, usize)>,
    pub layout: WeightLayout,
    pub bias: Option<HostTensor<'a, (usize,)>>,
    /// The output's features.
    pub units: usize,
    /// The first of the weight's rows (and bias's values) that make them: a weight stored
    /// `(out, in)` may hold more units than the call uses, as attention's input projection
    /// holds the queries', keys' and values' (cross-attention makes them from two
    /// sequences). 0 for a whole weight.
    pub first_unit: usize,
    /// Whether the input needs a gradient (false for a first layer on data).
    pub input_grad: bool,
}

/// Rows of the weight's gradient per task: half of them, from 16 to 64, cut by shape alone.
/// Each task packs every example's operand for its rows, so larger pieces pack less: 64
/// rows rather than 16 made the char GPT's epoch 0.92x as long, and a quarter of the rows
/// (32 for its 128-row weights) 1.04x as long as 64 (BENCHMARKS.md, attempt 51). The bits do
/// not depend on the pieces: the product sums each element over the positions in the same
/// order, whatever rows it computes together.
fn rows_per_task(rows: usize) -> usize {
    (rows / 2).clamp(16, 64)
}

/// `W · x + b` at each position of `x`, `(batch, features, 1, length)` →
/// `(batch, units, 1, length)`.
///
/// # Panics
/// If the weight does not fit the input (the checker rules that out).
pub fn positionwise<T: Tape<f32, Cpu>>(x: T4<T>, spec: &PositionwiseSpec<'_>) -> T4<T> {
    let (batch, features, h, length) = *x.shape();
    assert_eq!(h, 1, "a sequence is an image of one row");
    let units = spec.units;
    let w = Arc::clone(spec.weight.value);
    // Where the units' rows sit in the weight and the bias.
    let (w_len, rows) = (w.len(), spec.first_unit..spec.first_unit + units);
    let w_rows = rows.start * features..rows.end * features;
    // Only an `(out, in)` weight holds units as contiguous rows.
    assert!(
        w_rows.end <= w_len && (w_len == units * features || spec.layout == WeightLayout::OutIn),
        "positionwise: weight against input"
    );
    let bias: Option<Arc<Vec<f32>>> = spec.bias.map(|b| Arc::clone(b.value));
    let (x, mut tape) = x.split_tape();
    let x_data = host_data(&x);
    let dims = Dims {
        features,
        units,
        length,
        layout: spec.layout,
    };
    let mut y = zeroed(batch * units * length);
    let packed = dims.pack_w(&w[w_rows.clone()]);
    y.par_chunks_mut(units * length)
        .zip(x_data.par_chunks(features * length))
        .for_each(|(y, x)| {
            let b = bias.as_deref().map(|b| &b[rows.clone()]);
            let w = packed
                .as_ref()
                .map_or(Lhs::View(&w[w_rows.clone()]), Lhs::Packed);
            example_forward(&dims, w, b, x, y);
        });
    let out = tensor_from_output(x.device(), y, (batch, units, 1, length));
    if T::OWNS_TAPE {
        let (x_ghost, out_ghost) = (x.ghost(), out.ghost());
        let w_ghost = spec.weight.tensor.ghost();
        let b_ghost = spec.bias.map(|b| (b.tensor.ghost(), b.value.len()));
        let input_grad = spec.input_grad;
        tape.add_backward_op(move |grads| {
            let g = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
            if let Some((b_ghost, b_len)) = &b_ghost {
                let db = token_slot(grads.get_or_alloc_mut(b_ghost)?, *b_len);
                bias_grad(&dims, &g, &mut db[rows.clone()]);
            }
            let dw = token_slot(grads.get_or_alloc_mut(&w_ghost)?, w_len);
            weight_grad(&dims, &x_data, &g, &mut dw[w_rows.clone()]);
            if input_grad {
                let w = &w[w_rows.clone()];
                let packed = dims.pack_w_t(w);
                let dx = grads.get_or_alloc_mut(&x_ghost)?;
                dx.par_chunks_mut(features * length)
                    .zip(g.par_chunks(units * length))
                    .for_each(|(dx, g)| {
                        let w = packed.as_ref().map_or(Lhs::View(w), Lhs::Packed);
                        example_input_grad(&dims, w, g, dx);
                    });
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// A gradient slot of `len` values to add into: a parameter read on the host has an empty
/// one on its first use in a pass, which becomes zeros here.
pub(crate) fn token_slot(slot: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if slot.is_empty() {
        slot.resize(len, 0.0);
    }
    slot
}

/// The sizes of one product and the weight's layout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub(crate) features: usize,
    pub(crate) units: usize,
    pub(crate) length: usize,
    pub(crate) layout: WeightLayout,
}

impl Dims {
    /// The weight as a `units x features` matrix.
    fn w<'a>(&self, w: &'a [f32]) -> View<'a> {
        match self.layout {
            WeightLayout::OutIn => View::rows(w, self.features),
            WeightLayout::InOut => View::transposed(w, self.units),
        }
    }

    /// The weight's transpose, `features x units`.
    fn w_t<'a>(&self, w: &'a [f32]) -> View<'a> {
        match self.layout {
            WeightLayout::OutIn => View::transposed(w, self.features),
            WeightLayout::InOut => View::rows(w, self.units),
        }
    }

    /// The weight packed once for every example's forward product, where that product runs
    /// on the blocked product: packing an `(in, out)` weight reads one value at a time, and
    /// repeated per example it was about a third of the forward pass at the char GPT's
    /// sizes (BENCHMARKS.md, attempt 52).
    fn pack_w(&self, w: &[f32]) -> Option<PackedLhs> {
        let (w, x) = (self.w(w), View::rows(&[], self.length));
        packs_on_blocked((self.length, self.features), &w, &x)
            .then(|| PackedLhs::new((self.units, self.features), w))
    }

    /// The weight's transpose packed once for every example's input gradient, likewise.
    fn pack_w_t(&self, w: &[f32]) -> Option<PackedLhs> {
        let (w_t, g) = (self.w_t(w), View::rows(&[], self.length));
        packs_on_blocked((self.length, self.units), &w_t, &g)
            .then(|| PackedLhs::new((self.features, self.units), w_t))
    }
}

/// A weight for one example's product: its values, or its panels packed for the call.
#[derive(Clone, Copy)]
pub(crate) enum Lhs<'a> {
    View(&'a [f32]),
    Packed(&'a PackedLhs),
}

avx2_or_portable!(
    /// `y = W · x + b` for one example.
    pub(crate) fn example_forward(
        d: &Dims,
        w: Lhs<'_>,
        b: Option<&[f32]>,
        x: &[f32],
        y: &mut [f32],
    ) => example_forward_in
);

#[inline(always)]
fn example_forward_in(d: &Dims, w: Lhs<'_>, b: Option<&[f32]>, x: &[f32], y: &mut [f32]) {
    let t = d.length;
    let dims = (d.units, t, d.features);
    match w {
        Lhs::View(w) => matmul_packed(dims, y, false, d.w(w), View::rows(x, t)),
        Lhs::Packed(w) => packed_view(dims, y, false, w, View::rows(x, t)),
    }
    if let Some(b) = b {
        for (row, b) in y.chunks_exact_mut(t).zip(b) {
            for v in row {
                *v += b;
            }
        }
    }
}

avx2_or_portable!(
    /// `dx += Wᵀ · g` for one example.
    pub(crate) fn example_input_grad(d: &Dims, w: Lhs<'_>, g: &[f32], dx: &mut [f32])
        => example_input_grad_in
);

#[inline(always)]
fn example_input_grad_in(d: &Dims, w: Lhs<'_>, g: &[f32], dx: &mut [f32]) {
    let t = d.length;
    let dims = (d.features, t, d.units);
    match w {
        Lhs::View(w) => matmul_packed(dims, dx, true, d.w_t(w), View::rows(g, t)),
        Lhs::Packed(w) => packed_view(dims, dx, true, w, View::rows(g, t)),
    }
}

/// `db += Σ g` over examples and positions, each unit's sum in a fixed order.
pub(crate) fn bias_grad(d: &Dims, g: &[f32], db: &mut [f32]) {
    for example in g.chunks_exact(d.units * d.length) {
        for (db, row) in db.iter_mut().zip(example.chunks_exact(d.length)) {
            *db += sum(row);
        }
    }
}

/// `dW += Σ_b g_b · x_bᵀ` in the weight's layout, in pieces of its rows: each piece sums the
/// examples in order.
pub(crate) fn weight_grad(d: &Dims, x: &[f32], g: &[f32], dw: &mut [f32]) {
    // The gradient's rows are the weight's: units for (out, in), features for (in, out).
    let (rows, cols, row_side, col_side) = match d.layout {
        WeightLayout::OutIn => (d.units, d.features, g, x),
        WeightLayout::InOut => (d.features, d.units, x, g),
    };
    let t = d.length;
    let per_task = rows_per_task(rows);
    dw.par_chunks_mut(per_task * cols)
        .enumerate()
        .for_each(|(piece, dw)| {
            let first = piece * per_task;
            let n = dw.len() / cols;
            let examples = row_side
                .chunks_exact(rows * t)
                .zip(col_side.chunks_exact(cols * t));
            for (a, b) in examples {
                weight_piece(&a[first * t..][..n * t], b, (n, cols, t), dw);
            }
        });
}

avx2_or_portable!(
    /// `dw (n x cols) += a (n x t) · bᵀ (t x cols)`.
    fn weight_piece(a: &[f32], b: &[f32], dims: (usize, usize, usize), dw: &mut [f32])
        => weight_piece_in
);

#[inline(always)]
fn weight_piece_in(a: &[f32], b: &[f32], (n, cols, t): (usize, usize, usize), dw: &mut [f32]) {
    matmul_packed(
        (n, cols, t),
        dw,
        true,
        View::rows(a, t),
        View::transposed(b, t),
    );
}
