//! `maxpool2d(pool, stride, padding)` and `avgpool2d(...)`: the largest or the mean value of
//! each window, channel by channel (Keras' semantics; padding left out of the mean).
//!
//! Lowered onto our pooling op (`ops::pool2d`), unless the conv before it fused it.

use crate::check::plan::{self, LayerKind};
use crate::lower::act::{Act, AnyTape};
use crate::ops::{self, Pool2dSpec};

pub struct Pool2dOp {
    spec: Pool2dSpec,
}

impl Pool2dOp {
    pub fn lower(kind: &LayerKind) -> Self {
        Pool2dOp { spec: spec(kind) }
    }

    pub fn forward<T: AnyTape>(&self, x: Act<T>) -> Act<T> {
        Act::Image(ops::pool2d(x.into_image("pooling"), &self.spec))
    }
}

/// The op's description of a pooling layer.
pub fn spec(kind: &LayerKind) -> Pool2dSpec {
    let LayerKind::Pool2d {
        kind,
        size,
        stride,
        padding,
    } = kind
    else {
        unreachable!("a pooling layer")
    };
    Pool2dSpec {
        kind: match kind {
            plan::PoolKind::Max => ops::PoolKind::Max,
            plan::PoolKind::Avg => ops::PoolKind::Avg,
        },
        size: *size,
        stride: *stride,
        padding: self::padding(*padding),
    }
}

/// The ops' padding for the plan's.
pub fn padding(p: plan::Padding) -> ops::Padding {
    match p {
        plan::Padding::Valid => ops::Padding::Valid,
        plan::Padding::Same => ops::Padding::Same,
    }
}
