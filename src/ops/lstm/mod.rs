//! The LSTM of `torch.nn.LSTM(features, units, batch_first=True)` as one op on dfdx's tape:
//! the forward pass runs every step on host data and keeps the gates and states, and the
//! backward pass backpropagates through time from them (`kernel.rs`), where a chain of dfdx
//! ops would record a dozen tensors per step.

mod kernel;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use dfdx::prelude::{Cpu, HasShape, PutTape, SplitTape, Tape, Tensor};

pub use kernel::Dims;

use super::{add_into, host_data, tensor_from_output, T4};

/// A parameter: its tensor (which names its gradient) and its host values, which the
/// backward pass keeps as the forward pass saw them.
pub type Host<'a, S> = (&'a Tensor<S, f32, Cpu>, &'a Arc<Vec<f32>>);

/// The parameters, in PyTorch's layout and under its names.
#[derive(Clone, Copy)]
pub struct LstmParams<'a> {
    /// `weight_ih_l0` (4U, F).
    pub w_ih: Host<'a, (usize, usize)>,
    /// `weight_hh_l0` (4U, U).
    pub w_hh: Host<'a, (usize, usize)>,
    /// `bias_ih_l0` and `bias_hh_l0` (4U).
    pub b_ih: Host<'a, (usize,)>,
    pub b_hh: Host<'a, (usize,)>,
}

/// The LSTM over `x`, sequences (B, F, 1, T) as the engine holds them, from a zero state:
/// every step's hidden state (B, U, 1, T) with `sequences`, else the last one (B, U, 1, 1).
pub fn lstm<T: Tape<f32, Cpu>>(x: T4<T>, p: LstmParams<'_>, sequences: bool) -> T4<T> {
    let (batch, features, _, steps) = *x.shape();
    let units = p.b_ih.1.len() / 4;
    let dims = Dims {
        batch,
        features,
        units,
        steps,
    };
    let (x, mut tape) = x.split_tape();
    let x_data = host_data(&x);
    let weights = kernel::Weights {
        w_ih: p.w_ih.1,
        w_hh: p.w_hh.1,
        b_ih: p.b_ih.1,
        b_hh: p.b_hh.1,
    };
    let saved = kernel::forward(dims, weights, &x_data);
    let y = kernel::output(dims, &saved, sequences);
    let out_steps = if sequences { steps } else { 1 };
    let out = tensor_from_output(x.device(), y, (batch, units, 1, out_steps));
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
            let weights = kernel::Weights {
                w_ih,
                w_hh,
                b_ih,
                b_hh,
            };
            let g = kernel::backward(dims, weights, &saved, &dy, sequences);
            add_into(grads.get_or_alloc_mut(&x_ghost)?, &g.dx);
            add_into(grads.get_or_alloc_mut(&ghosts.0)?, &g.dw_ih);
            add_into(grads.get_or_alloc_mut(&ghosts.1)?, &g.dw_hh);
            add_into(grads.get_or_alloc_mut(&ghosts.2)?, &g.db);
            add_into(grads.get_or_alloc_mut(&ghosts.3)?, &g.db);
            Ok(())
        });
    }
    out.put_tape(tape)
}
