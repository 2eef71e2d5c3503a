//! `reshape(d1, d2, ...)`: each element's values in the same order under a new shape, as
//! Keras' `Reshape`. The same name reshapes a data pipeline's elements
//! (`catalog::data::RESHAPE` is both entries).
//!
//! Images are channel-first here: `reshape(256, 7, 7)` after `dense(12544)` gives 256
//! channels of 7x7, PyTorch's `x.view(-1, 256, 7, 7)`. Keras, channels-last, writes the same
//! layer `Reshape((7, 7, 256))`; the two read the dense layer's units in different orders, so
//! a Keras model's dense weight moves over with its columns permuted.
//!
//! A shape of one axis gives vectors, of two sequences (channels, length), as PyTorch's
//! `Conv1d` takes them, of three images.

use super::{LayerDef, LayerOp};
use crate::catalog;
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::Layer;
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// Its catalogue entry, shared with the data transform.
pub use crate::catalog::data::RESHAPE as ENTRY;

#[derive(Debug, Clone, PartialEq)]
pub struct Reshape {
    /// The new shape; empty where the call was reported.
    pub shape: Vec<usize>,
}

impl LayerDef for Reshape {
    type Op = ReshapeOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Reshape {
            shape: args.rest_counts(errors).unwrap_or_default(),
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
        // A call already reported leaves nothing to check.
        if self.shape.is_empty() {
            return None;
        }
        let old: usize = input.iter().product();
        let new = self.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if new != Some(old) {
            let values =
                new.map_or_else(|| "more than any memory holds".into(), |n| format!("{n}"));
            errors.push(CheckError::shape(
                format!(
                    "cannot reshape {old} values into {:?} ({values} values)",
                    self.shape
                ),
                format!("input here has shape {input:?}"),
                span,
                "the new shape must hold the same number of values",
            ));
            return None;
        }
        if !matches!(self.shape.len(), 1..=3) {
            errors.push(CheckError::shape(
                format!(
                    "`reshape` in a model takes one dimension (vectors), two (channels, length) or three (channels, height, width), not {}",
                    self.shape.len()
                ),
                format!("reshapes to {:?}", self.shape),
                span,
                "use `reshape(n)` for vectors, `reshape(channels, length)` for sequences or `reshape(channels, height, width)` for images",
            ));
            return None;
        }
        Some(self.shape.clone())
    }

    /// A reshape moves nothing.
    fn scratch_factor(&self) -> usize {
        0
    }

    fn export(&self, _: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let shape: Vec<i64> = std::iter::once(-1)
            .chain(self.shape.iter().map(|&d| d as i64))
            .collect();
        Ok(g.reshape(&x, &shape))
    }

    fn lower(&self, _: &Layer, _: Option<&Layer>, _: &mut Lowering<'_>) -> (ReshapeOp, bool) {
        (
            ReshapeOp {
                shape: self.shape.clone(),
            },
            false,
        )
    }
}

pub struct ReshapeOp {
    shape: Vec<usize>,
}

impl LayerOp for ReshapeOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, _: &mut Forward<'_>) -> Act<T> {
        x.reshape(&self.shape)
    }
}
