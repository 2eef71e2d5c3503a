//! `global_maxpool2d()` and `global_avgpool2d()`: the largest or the mean value of each
//! channel over the whole image, `(channels, height, width)` → `(channels,)` (Keras'
//! `GlobalMaxPooling2D` and `GlobalAveragePooling2D`, PyTorch's `AdaptiveMaxPool2d(1)` and
//! `AdaptiveAvgPool2d(1)` followed by a flatten).

use super::shape::image_input;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::layer;
use crate::catalog::{self, Entry};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Layer, PoolKind};
use crate::export::graph::int;
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// The catalogue entry of `global_maxpool2d`.
pub static GLOBAL_MAXPOOL2D: Entry = layer(
    "global_maxpool2d",
    &[],
    "global_max_pooling2d",
    "GlobalMaxPooling2D",
    "the largest value of each channel over the whole image: (channels, height, width) to (channels,)",
);

/// The catalogue entry of `global_avgpool2d`.
pub static GLOBAL_AVGPOOL2D: Entry = layer(
    "global_avgpool2d",
    &[],
    "global_average_pooling2d",
    "GlobalAveragePooling2D",
    "the mean of each channel over the whole image: (channels, height, width) to (channels,)",
);

#[derive(Debug, Clone, PartialEq)]
pub struct GlobalPool2d {
    pub kind: PoolKind,
}

impl GlobalPool2d {
    fn entry(&self) -> &'static Entry {
        match self.kind {
            PoolKind::Max => &GLOBAL_MAXPOOL2D,
            PoolKind::Avg => &GLOBAL_AVGPOOL2D,
        }
    }
}

impl LayerDef for GlobalPool2d {
    type Op = GlobalPool2dOp;

    fn read(id: catalog::Layer, _: &CallArgs<'_>, _: &mut Vec<CheckError>) -> Self {
        let kind = if id == catalog::Layer::of(&GLOBAL_MAXPOOL2D) {
            PoolKind::Max
        } else {
            PoolKind::Avg
        };
        GlobalPool2d { kind }
    }

    fn catalogued(&self) -> catalog::Layer {
        catalog::Layer::of(self.entry())
    }

    fn output_shape(
        &self,
        input: &[usize],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        let [c, _, _] = image_input(self.entry().name, input, span, errors)?;
        Some(vec![c])
    }

    /// `GlobalMaxPool` or `GlobalAveragePool`, then the `(N, channels, 1, 1)` flattened.
    fn export(&self, _: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let op = match self.kind {
            PoolKind::Max => "GlobalMaxPool",
            PoolKind::Avg => "GlobalAveragePool",
        };
        let y = g.node(op, &[&x], vec![]);
        Ok(g.node("Flatten", &[&y], vec![int("axis", 1)]))
    }

    fn lower(&self, _: &Layer, _: Option<&Layer>, _: &mut Lowering<'_>) -> (GlobalPool2dOp, bool) {
        let op = GlobalPool2dOp {
            kind: self.kind,
            name: self.entry().name,
        };
        (op, false)
    }
}

pub struct GlobalPool2dOp {
    kind: PoolKind,
    /// The layer's name, for the message of a bug that hands it no images.
    name: &'static str,
}

impl LayerOp for GlobalPool2dOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, _: &mut Forward<'_>) -> Act<T> {
        let x = x.into_image(self.name);
        Act::Flat(match self.kind {
            PoolKind::Max => crate::lower::act::channel_max(x),
            PoolKind::Avg => crate::lower::act::channel_mean(x),
        })
    }
}
