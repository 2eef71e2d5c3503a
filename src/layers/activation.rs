//! `relu()`, `sigmoid()`, `tanh()`, `softmax()`, `leaky_relu(alpha)`, `gelu()`,
//! `elu(alpha)`, `selu()`, `swish()`, `softplus()`, `log_softmax()`, `hard_sigmoid()`: an
//! activation function as a layer of its own (Keras' `Activation`). Their catalogue entries
//! are the activations' (`catalog::layers`), which `activation = NAME` arguments share.

use super::{activation_named, LayerDef, LayerOp};
use crate::catalog::{self, Catalogued};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Activation, Layer};
use crate::export::activation::activation;
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct ActivationLayer {
    pub activation: Activation,
}

impl LayerDef for ActivationLayer {
    type Op = ActivationOp;

    fn read(id: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        let named = catalog::Activation::named(id.entry().name)
            .unwrap_or_else(|| unreachable!("`{id:?}` is an activation"));
        let activation = match named {
            catalog::Activation::LeakyRelu => Activation::LeakyRelu {
                alpha: args.number("alpha", errors) as f32,
            },
            catalog::Activation::Elu => Activation::Elu {
                alpha: args.number("alpha", errors) as f32,
            },
            a => activation_named(a),
        };
        ActivationLayer { activation }
    }

    fn catalogued(&self) -> catalog::Layer {
        catalog::Layer::of(self.activation.catalogued().entry())
    }

    fn output_shape(
        &self,
        input: &[usize],
        _: Span,
        _: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        Some(input.to_vec())
    }

    /// Softmax and log-softmax over axis 1: the features, or the channels of images and
    /// sequences, as `lower::act::activate`.
    fn export(&self, _: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        Ok(activation(g, x, self.activation, 1))
    }

    fn lower(&self, _: &Layer, _: Option<&Layer>, _: &mut Lowering<'_>) -> (ActivationOp, bool) {
        let op = ActivationOp {
            activation: self.activation,
        };
        (op, false)
    }
}

pub struct ActivationOp {
    activation: Activation,
}

impl LayerOp for ActivationOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        cx.activate(x, self.activation)
    }
}
