//! `dropout(rate)`: in training, each value zeroed with probability `rate` and the others
//! scaled by `1 / (1 - rate)` (inverted dropout, as Keras); the identity in inference.

use crate::lower::act::{Act, AnyTape, Forward};

pub struct DropoutOp {
    pub rate: f32,
}

impl DropoutOp {
    /// Random numbers a training-mode call draws from the device (one per mask).
    pub fn draws(&self) -> u64 {
        u64::from(self.rate > 0.0)
    }

    pub fn forward<T: AnyTape>(&self, x: Act<T>, cx: &Forward<'_>) -> Act<T> {
        if cx.training && self.rate > 0.0 {
            x.dropout(self.rate)
        } else {
            x
        }
    }
}
