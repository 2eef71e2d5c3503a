//! A conv's output handed straight to the dense op that reads it, with the gradient coming
//! back the same way, beside dfdx's tape instead of through it.
//!
//! Through the tape, the activation between them (1.4 MB a step in the tutorial) is copied
//! out of the conv's output tensor for the dense op, and its gradient is a slot that dfdx
//! allocates zero-filled on the main thread while the other threads wait, for the dense op
//! to add into: a twentieth of a step, spent moving bytes. Here the dense op reads the conv's
//! own buffer and writes the gradient into a buffer of its own, which the conv's backward
//! takes. The tensor between them is an empty `(batch, 0)` token that only carries the tape,
//! so the two backward passes still run in the tape's order (the dense op's first).
//!
//! Only the model's lowering pairs the two ops this way, and only where the activation goes
//! nowhere else (a conv, flattens, then a dense layer).

use std::sync::{Arc, Mutex};

/// The activation, channels-last and flat, `(batch, features)` row-major.
pub struct Handoff {
    pub data: Vec<f32>,
    pub grad: GradCell,
}

/// Where the dense op's backward leaves the activation's gradient for the conv's backward.
#[derive(Clone, Default)]
pub struct GradCell(Arc<Mutex<Option<Vec<f32>>>>);

impl GradCell {
    /// Leaves `grad`, adding it to a gradient already left this pass.
    pub fn put(&self, grad: Vec<f32>) {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match slot.as_mut() {
            Some(sum) => super::add_into(sum, &grad),
            None => *slot = Some(grad),
        }
    }

    /// Takes the gradient left, or zeros of length `len` where none was (the dense output
    /// did not reach the loss).
    ///
    /// # Panics
    /// If the gradient handed back is not of length `len`: a bug of the op that handed it.
    pub fn take(&self, len: usize) -> Vec<f32> {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match slot.take() {
            Some(grad) => {
                assert_eq!(
                    grad.len(),
                    len,
                    "the gradient handed back has the wrong size"
                );
                grad
            }
            None => vec![0.0; len],
        }
    }
}
