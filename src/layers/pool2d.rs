//! `maxpool2d(pool, stride, padding)` and `avgpool2d(...)`: the largest or the mean value of
//! each window, channel by channel (Keras' semantics; padding left out of the mean).
//!
//! Lowered onto our pooling op (`ops::pool2d`), unless the conv before it fused it.

use super::shape::{image_input, spatial, Window};
use super::{padding, LayerDef, LayerOp};
use crate::catalog::layers::{layer, PADDING, POOL, POOL_STRIDE};
use crate::catalog::{self, Entry};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{self, Layer, PoolKind};
use crate::export::{self, ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::ops::{self, Pool2dSpec};
use crate::source::Span;

/// The catalogue entry of `maxpool2d`.
pub static MAXPOOL2D: Entry = layer(
    "maxpool2d",
    &[POOL, POOL_STRIDE, PADDING],
    "max_pooling2d",
    "MaxPooling2D",
    "the largest value of each window, channel by channel",
);

/// The catalogue entry of `avgpool2d`.
pub static AVGPOOL2D: Entry = layer(
    "avgpool2d",
    &[POOL, POOL_STRIDE, PADDING],
    "average_pooling2d",
    "AveragePooling2D",
    "the mean of each window, channel by channel (padding left out of the mean)",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Pool2d {
    pub kind: PoolKind,
    pub size: (usize, usize),
    pub stride: (usize, usize),
    pub padding: plan::Padding,
}

impl Pool2d {
    /// The op's description of the layer (the conv that fuses it reads it too).
    pub fn spec(&self) -> Pool2dSpec {
        Pool2dSpec {
            kind: match self.kind {
                PoolKind::Max => ops::PoolKind::Max,
                PoolKind::Avg => ops::PoolKind::Avg,
            },
            size: self.size,
            stride: self.stride,
            padding: op_padding(self.padding),
        }
    }

    fn name(&self) -> &'static str {
        match self.kind {
            PoolKind::Max => "maxpool2d",
            PoolKind::Avg => "avgpool2d",
        }
    }
}

impl LayerDef for Pool2d {
    type Op = Pool2dOp;

    fn read(id: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        let size = args.pair("pool", errors);
        Pool2d {
            kind: if id == catalog::Layer::of(&MAXPOOL2D) {
                PoolKind::Max
            } else {
                PoolKind::Avg
            },
            size,
            stride: args.pair_or("stride", size, errors),
            padding: padding(args, errors),
        }
    }

    fn catalogued(&self) -> catalog::Layer {
        match self.kind {
            PoolKind::Max => catalog::Layer::of(&MAXPOOL2D),
            PoolKind::Avg => catalog::Layer::of(&AVGPOOL2D),
        }
    }

    fn output_shape(
        &self,
        input: &[usize],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        let [c, h, w] = image_input(self.name(), input, span, errors)?;
        let window = Window {
            size: self.size,
            stride: self.stride,
            padding: self.padding,
        };
        let out = spatial(self.name(), "pool", (h, w), window, span, errors)?;
        Some(vec![c, out.0, out.1])
    }

    /// `MaxPool` or `AveragePool` (padding left out of the mean: `count_include_pad = 0`).
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let op = match self.kind {
            PoolKind::Max => "MaxPool",
            PoolKind::Avg => "AveragePool",
        };
        let attributes = export::window(
            layer,
            &[self.size.0, self.size.1],
            &[self.stride.0, self.stride.1],
        );
        Ok(g.node(op, &[&x], attributes))
    }

    fn lower(&self, _: &Layer, _: Option<&Layer>, _: &mut Lowering<'_>) -> (Pool2dOp, bool) {
        (Pool2dOp { spec: self.spec() }, false)
    }
}

pub struct Pool2dOp {
    spec: Pool2dSpec,
}

impl LayerOp for Pool2dOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, _: &mut Forward<'_>) -> Act<T> {
        Act::Image(ops::pool2d(x.into_image("pooling"), &self.spec))
    }
}

/// The ops' padding for the plan's.
pub fn op_padding(p: plan::Padding) -> ops::Padding {
    match p {
        plan::Padding::Valid => ops::Padding::Valid,
        plan::Padding::Same => ops::Padding::Same,
    }
}
