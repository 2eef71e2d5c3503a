//! The GRU of `torch.nn.GRU(features, units, batch_first=True)` as one op on dfdx's tape
//! (`ops::recurrent`): the forward pass runs every step on host data and keeps the gates
//! and states, and the backward pass backpropagates through time from them (`kernel.rs`),
//! with `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))` as PyTorch computes it.

mod kernel;
#[cfg(test)]
mod tests;

use dfdx::prelude::{Cpu, Tape};

use super::recurrent::{
    recurrent, Cell, ChunkGrads, Dims, Mask, Reading, RecurrentParams, States, Upstream, Weights,
};
use super::{T2, T4};

/// The GRU cell: gates `r, z, n`, state `[h]`.
struct Gru;

impl Cell for Gru {
    const GATES: usize = 3;
    const STATES: usize = 1;
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
        vec![&saved.h]
    }

    fn backward(dims: Dims, w: Weights<'_>, saved: &kernel::Saved, up: Upstream<'_>) -> ChunkGrads {
        kernel::backward(dims, w, saved, up)
    }
}

/// The GRU over `x`, sequences (B, F, 1, T), from a zero state: every step's hidden state
/// (B, U, 1, T) with `sequences`, else the last one (B, U, 1, 1), reading the steps as
/// `reading` says. Parameters (3U, F), (3U, U), (3U), (3U).
pub fn gru<T: Tape<f32, Cpu>>(
    x: T4<T>,
    p: RecurrentParams<'_>,
    sequences: bool,
    reading: Reading<'_>,
) -> T4<T> {
    gru_with_state(x, p, sequences, reading, None, false).0
}

/// The GRU with a state, as [`super::lstm_with_state`]: `initial` is `[h_0]`, (B, U) (zeros
/// when `None`), and with `last` the state after the last step read is `[h_T]`, (B, U).
pub fn gru_with_state<T: Tape<f32, Cpu>>(
    x: T4<T>,
    p: RecurrentParams<'_>,
    sequences: bool,
    reading: Reading<'_>,
    initial: Option<Vec<T2<T>>>,
    last: bool,
) -> (T4<T>, Vec<T2<T>>) {
    recurrent::<Gru, T>(x, p, sequences, reading, initial, last)
}
