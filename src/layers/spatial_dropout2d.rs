//! `spatial_dropout2d(rate)`: in training, each channel of each image zeroed whole with
//! probability `rate` and the others scaled by `1 / (1 - rate)` (Keras' `SpatialDropout2D`,
//! PyTorch's `Dropout2d`); the identity in inference. Neighbouring pixels of a feature map
//! are strongly correlated, so dropping single values barely regularises a conv; dropping
//! whole maps does (Tompson et al., 2015).

use super::shape::image_input;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::Layer;
use crate::export::{ExportError, Graph};
use crate::lower::act::{channel_dropout, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "spatial_dropout2d",
    &[param(
        "rate",
        Type::Fraction,
        Default::Required(Value::Number(0.0)),
    )],
    "spatial_dropout2d",
    "SpatialDropout2D",
    "in training, zeroes each channel of an image whole with probability `rate` and scales the rest by `1 / (1 - rate)`",
);

#[derive(Debug, Clone, PartialEq)]
pub struct SpatialDropout2d {
    pub rate: f32,
}

impl LayerDef for SpatialDropout2d {
    type Op = SpatialDropoutOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        SpatialDropout2d {
            rate: args.number("rate", errors) as f32,
        }
    }

    fn catalogued(&self) -> catalog::Layer {
        catalog::Layer::of(&ENTRY)
    }

    fn output_shape(
        &self,
        input: &[usize],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        image_input(ENTRY.name, input, span, errors)?;
        Some(input.to_vec())
    }

    /// The identity: exported models infer.
    fn export(&self, _: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        Ok(g.node("Identity", &[&x], vec![]))
    }

    fn lower(
        &self,
        _: &Layer,
        _: Option<&Layer>,
        _: &mut Lowering<'_>,
    ) -> (SpatialDropoutOp, bool) {
        (SpatialDropoutOp { rate: self.rate }, false)
    }
}

pub struct SpatialDropoutOp {
    rate: f32,
}

impl LayerOp for SpatialDropoutOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        if cx.training && self.rate > 0.0 {
            Act::Image(channel_dropout(x.into_image(ENTRY.name), self.rate))
        } else {
            x
        }
    }

    /// One seed per call, as `dropout`.
    fn draws(&self) -> u64 {
        u64::from(self.rate > 0.0)
    }
}
