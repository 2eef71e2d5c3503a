//! The LSTM of `torch.nn.LSTM(features, units, batch_first=True)` as one op on dfdx's tape
//! (`ops::recurrent`): the forward pass runs every step on host data and keeps the gates
//! and states, and the backward pass backpropagates through time from them (`kernel.rs`),
//! where a chain of dfdx ops would record a dozen tensors per step.

mod kernel;
#[cfg(test)]
mod tests;

use dfdx::prelude::{Cpu, Tape};

use super::recurrent::{
    recurrent, Cell, ChunkGrads, Dims, Mask, Reading, RecurrentParams, States, Upstream, Weights,
};
use super::{T2, T4};

/// The LSTM cell: gates `i, f, g, o`, state `[h, c]`.
struct Lstm;

impl Cell for Lstm {
    const GATES: usize = 4;
    const STATES: usize = 2;
    type Saved = kernel::Saved;

    fn forward(
        dims: Dims,
        w: Weights<'_>,
        x: &[f32],
        mask: Mask<'_>,
        initial: States<'_>,
    ) -> kernel::Saved {
        kernel::forward(dims, w, x, mask, initial)
    }

    fn states(saved: &kernel::Saved) -> Vec<&[f32]> {
        vec![&saved.h, &saved.c]
    }

    fn backward(dims: Dims, w: Weights<'_>, saved: &kernel::Saved, up: Upstream<'_>) -> ChunkGrads {
        kernel::backward(dims, w, saved, up)
    }
}

/// The LSTM over `x`, sequences (B, F, 1, T), from a zero state: every step's hidden state
/// (B, U, 1, T) with `sequences`, else the last one (B, U, 1, 1), reading the steps as
/// `reading` says. Parameters (4U, F), (4U, U), (4U), (4U).
pub fn lstm<T: Tape<f32, Cpu>>(
    x: T4<T>,
    p: RecurrentParams<'_>,
    sequences: bool,
    reading: Reading<'_>,
) -> T4<T> {
    lstm_with_state(x, p, sequences, reading, None, false).0
}

/// The LSTM with a state, for encoder–decoder models (Keras' `initial_state` and
/// `return_state`, PyTorch's `h_0, c_0` and `h_n, c_n`): `initial` is `[h_0, c_0]`, each
/// (B, U) (zeros when `None`); the output as [`lstm`]'s, and with `last` the state after the
/// last step read, `[h_T, c_T]`, each (B, U) (else none). The output carries the tapes of
/// `x` and of the initial state, the last state an empty one; the gradients of both reach
/// `x`, the parameters and the initial state.
pub fn lstm_with_state<T: Tape<f32, Cpu>>(
    x: T4<T>,
    p: RecurrentParams<'_>,
    sequences: bool,
    reading: Reading<'_>,
    initial: Option<Vec<T2<T>>>,
    last: bool,
) -> (T4<T>, Vec<T2<T>>) {
    recurrent::<Lstm, T>(x, p, sequences, reading, initial, last)
}
