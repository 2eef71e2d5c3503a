//! `dropout(rate)`: in training, each value zeroed with probability `rate` and the others
//! scaled by `1 / (1 - rate)` (inverted dropout, as Keras); the identity in inference.

use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::Layer;
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "dropout",
    &[param(
        "rate",
        Type::Fraction,
        Default::Required(Value::Number(0.0)),
    )],
    "dropout",
    "Dropout",
    "in training, zeroes each value with probability `rate` and scales the rest by `1 / (1 - rate)`",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Dropout {
    pub rate: f32,
}

impl LayerDef for Dropout {
    type Op = DropoutOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Dropout {
            rate: args.number("rate", errors) as f32,
        }
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
        Some(input.to_vec())
    }

    /// The identity: exported models infer.
    fn export(&self, _: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        Ok(g.node("Identity", &[&x], vec![]))
    }

    fn lower(&self, _: &Layer, _: Option<&Layer>, _: &mut Lowering<'_>) -> (DropoutOp, bool) {
        (DropoutOp { rate: self.rate }, false)
    }
}

pub struct DropoutOp {
    rate: f32,
}

impl LayerOp for DropoutOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        if cx.training && self.rate > 0.0 {
            x.dropout(self.rate)
        } else {
            x
        }
    }

    fn draws(&self) -> u64 {
        u64::from(self.rate > 0.0)
    }
}
