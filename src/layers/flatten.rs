//! `flatten()`: each element as a vector, in NCHW order (PyTorch's `nn.Flatten`).

use super::{LayerDef, LayerOp};
use crate::catalog::layers::layer;
use crate::catalog::{self, Entry};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::Layer;
use crate::export::graph::int;
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "flatten",
    &[],
    "flatten",
    "Flatten",
    "each element as a vector",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Flatten;

impl LayerDef for Flatten {
    type Op = FlattenOp;

    fn read(_: catalog::Layer, _: &CallArgs<'_>, _: &mut Vec<CheckError>) -> Self {
        Flatten
    }

    fn catalogued(&self) -> catalog::Layer {
        catalog::Layer::of(&ENTRY)
    }

    fn output_shape(
        &self,
        input: &[usize],
        _: Span,
        _: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        Some(vec![input.iter().product()])
    }

    fn export(&self, _: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        Ok(g.node("Flatten", &[&x], vec![int("axis", 1)]))
    }

    fn lower(&self, _: &Layer, _: Option<&Layer>, _: &mut Lowering<'_>) -> (FlattenOp, bool) {
        (FlattenOp, false)
    }
}

pub struct FlattenOp;

impl LayerOp for FlattenOp {
    fn forward<T: AnyTape>(
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
