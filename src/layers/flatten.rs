//! `flatten()`: each element as a vector, in NCHW order (PyTorch's `nn.Flatten`).

use crate::lower::act::{Act, AnyTape, Forward};
use crate::ops::handoff::Handoff;

pub struct FlattenOp;

impl FlattenOp {
    pub fn forward<T: AnyTape>(
        &self,
        x: Act<T>,
        handoff: Option<Handoff>,
        cx: &mut Forward<'_>,
    ) -> Act<T> {
        // Flattening NCHW keeps the data's order, and a channels-last conv output is flat
        // already: what a conv handed over goes on to the dense layer after.
        cx.handoff = handoff;
        Act::Flat(x.into_flat())
    }
}
