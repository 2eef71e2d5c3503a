//! Passes over a model's lowered ops that change how layers work together, never what they
//! compute.

use super::params::Param;
use crate::layers::Op;

/// A conv whose output a dense layer reads next, through flattens only, hands it over
/// channels-last, and the dense weight's rows are stored in that order
/// (`params::RowOrder`): the two NCHW transposes it saves took a twentieth of a step in the
/// tutorial (BENCHMARKS.md). This depends on the model alone, not on the CPU, so
/// checkpoints resume anywhere.
pub fn conv_to_dense_channels_last(ops: &mut [Op], params: &mut [Param]) {
    for i in 0..ops.len() {
        let dense_weight = match ops[i + 1..].iter().find(|op| !matches!(op, Op::Flatten(_))) {
            Some(Op::Dense(d)) => d.flat_weight(),
            _ => None,
        };
        if let (Op::Conv2d(conv), Some(weight)) = (&mut ops[i], dense_weight) {
            if let Some(order) = conv.hand_over_channels_last() {
                params[weight].reorder_rows(order);
            }
        }
    }
}
