//! `layernorm(epsilon, center, scale)`: layer normalisation (Keras' `LayerNormalization`
//! with its default `axis = -1`).
//!
//! A flat example is normalised over its features; an image, or a sequence (channels,
//! length), at each position over its channels, which is Keras' `axis = -1` on channels-last images (and the "channels first"
//! layer norm of `ConvNeXt`), so a Keras model ports with the same numbers and the same
//! parameter count. `gamma` and `beta` hold one value per feature or channel, stored as
//! `<layer>.weight` and `<layer>.bias`. PyTorch's `nn.LayerNorm([C, H, W])`, which normalises
//! each image as a whole with one `gamma` per element, is another layer.
//!
//! The variance is the biased one, as in both libraries; written with the engine's
//! building blocks (`lower::act::layer_norm`).

use super::batchnorm::normalized_input;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param, TRAINABLE};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::Layer;
use crate::export::graph::{float, int};
use crate::export::{ExportError, Graph};
use crate::lower::act::{layer_norm, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::lower::params::Param;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "layernorm",
    &[
        param(
            "epsilon",
            Type::Positive,
            Default::Is(Value::Number(1e-3)),
        ),
        param("center", Type::Bool, Default::Is(Value::Bool(true))),
        param("scale", Type::Bool, Default::Is(Value::Bool(true))),
        TRAINABLE,
    ],
    "layer_normalization",
    "LayerNormalization",
    "normalises each example over its features (images and sequences: each position over its channels); then `* gamma + beta`",
);

#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorm {
    pub epsilon: f64,
    /// Whether it has `beta`.
    pub center: bool,
    /// Whether it has `gamma`.
    pub scale: bool,
}

impl LayerDef for LayerNorm {
    type Op = LayerNormOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        LayerNorm {
            epsilon: args.number("epsilon", errors),
            center: args.boolean("center", errors),
            scale: args.boolean("scale", errors),
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
        if let [_, _] = input {
            // A sequence: each position over its channels, as a transformer normalises.
            return Some(input.to_vec());
        }
        normalized_input("layernorm", input, span, errors)
    }

    /// `gamma` (features or channels,), then `beta`.
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        [self.scale, self.center]
            .into_iter()
            .filter(|&has| has)
            .map(|_| vec![input[0]])
            .collect()
    }

    /// dfdx's normalisation keeps a few input-sized intermediates for its backward pass.
    fn scratch_factor(&self) -> usize {
        4
    }

    /// `LayerNormalization` over the last axis; images and sequences, normalised over their
    /// channels at each position, move the channels last and back.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let c = layer.input_shape[0];
        let (gamma, beta) = g.gamma_beta(layer, c, self.scale, self.center)?;
        let norm = |g: &mut Graph<'_>, x: &str| {
            g.node(
                "LayerNormalization",
                &[x, &gamma, &beta],
                vec![int("axis", -1), float("epsilon", self.epsilon as f32)],
            )
        };
        Ok(match layer.input_shape.len() {
            1 => norm(g, &x),
            2 => {
                let t = g.transpose(&x, &[0, 2, 1]);
                let y = norm(g, &t);
                g.transpose(&y, &[0, 2, 1])
            }
            _ => {
                let t = g.transpose(&x, &[0, 2, 3, 1]);
                let y = norm(g, &t);
                g.transpose(&y, &[0, 3, 1, 2])
            }
        })
    }

    fn lower(
        &self,
        layer: &Layer,
        _: Option<&Layer>,
        cx: &mut Lowering<'_>,
    ) -> (LayerNormOp, bool) {
        let c = layer.input_shape[0];
        let mut add = |suffix: &str, value: f32| {
            cx.params.push(Param::new(
                cx.dev,
                format!("{}.{suffix}", layer.name),
                vec![c],
                vec![value; c],
            ));
            cx.params.len() - 1
        };
        let gamma = self.scale.then(|| add("weight", 1.0));
        let beta = self.center.then(|| add("bias", 0.0));
        let sequence = match layer.input_shape[..] {
            [channels, length] => Some((channels, length)),
            _ => None,
        };
        let op = LayerNormOp {
            epsilon: self.epsilon as f32,
            gamma,
            beta,
            sequence,
        };
        (op, false)
    }
}

pub struct LayerNormOp {
    epsilon: f32,
    /// Indices of `gamma` and `beta` among the model's parameters.
    gamma: Option<usize>,
    beta: Option<usize>,
    /// The input's (channels, length) when it is a sequence.
    sequence: Option<(usize, usize)>,
}

impl LayerOp for LayerNormOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let gamma = self.gamma.map(|p| &cx.params[p]);
        let beta = self.beta.map(|p| &cx.params[p]);
        let x = match self.sequence {
            Some((channels, length)) => Act::Image(x.into_sequence("layernorm", channels, length)),
            None => x,
        };
        layer_norm(x, self.epsilon, gamma, beta)
    }
}
