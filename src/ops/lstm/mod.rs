//! The LSTM of `torch.nn.LSTM(features, units, batch_first=True)` as one op on dfdx's tape
//! (`ops::recurrent`): the forward pass runs every step on host data and keeps the gates
//! and states, and the backward pass backpropagates through time from them (`kernel.rs`),
//! where a chain of dfdx ops would record a dozen tensors per step.

mod kernel;
#[cfg(test)]
mod tests;

use dfdx::prelude::{Cpu, Tape};

use super::recurrent::{recurrent, Cell, Dims, Mask, Reading, RecurrentParams, Weights};
use super::T4;

/// The LSTM cell: gates `i, f, g, o`.
struct Lstm;

impl Cell for Lstm {
    const GATES: usize = 4;
    type Saved = kernel::Saved;

    fn forward(dims: Dims, w: Weights<'_>, x: &[f32], mask: Mask<'_>) -> kernel::Saved {
        kernel::forward(dims, w, x, mask)
    }

    fn hidden(saved: &kernel::Saved) -> &[f32] {
        &saved.h
    }

    fn backward(
        dims: Dims,
        w: Weights<'_>,
        saved: &kernel::Saved,
        dy: &[f32],
        sequences: bool,
        mask: Mask<'_>,
    ) -> [Vec<f32>; 5] {
        kernel::backward(dims, w, saved, dy, sequences, mask)
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
    recurrent::<Lstm, T>(x, p, sequences, reading)
}
