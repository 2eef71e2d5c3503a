//! `dense(units, activation, use_bias)`: a fully connected layer, `activation(x · W + b)`,
//! on a flat input, or at each position of a sequence (Keras' `Dense` over the last axis,
//! PyTorch's `nn.Linear` on `(batch, length, features)`): `(features, length)` →
//! `(units, length)`, softmax over the units at each position.
//!
//! Lowered onto our dense op (`ops::dense`) where the CPU runs it (AVX-512 or AVX2, with
//! FMA), with a ReLU fused into it, and onto dfdx's matmul elsewhere. The weight is stored (in, out) for the matmul, the
//! transpose of PyTorch's `nn.Linear`; model files and checkpoints hold PyTorch's. On a
//! sequence the layer runs as `ops::positionwise`, one product per example, which reads the
//! same stored weight.

use super::weights::Weights;
use super::{activation_named, LayerDef, LayerOp};
use crate::catalog::layers::{
    layer, param, ACTIVATION, BIAS_INIT, KERNEL_INIT, KERNEL_REGULARIZER, TRAINABLE, USE_BIAS,
};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Activation, Layer};
use crate::export::activation::activation;
use crate::export::graph::int;
use crate::export::{ExportError, Graph};
use crate::lower::act::{affine, positionwise_dense, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops;
use crate::ops::handoff::Handoff;
use crate::ops::WeightLayout;
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "dense",
    &[
        param(
            "units",
            Type::Count { min: 1 },
            Default::Required(Value::Count(1)),
        ),
        ACTIVATION,
        USE_BIAS,
        KERNEL_INIT,
        BIAS_INIT,
        KERNEL_REGULARIZER,
        TRAINABLE,
    ],
    "dense",
    "Dense",
    "a fully connected layer: `activation(x · weight + bias)` on a flat input, or at each position of a sequence",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub units: usize,
    pub activation: Activation,
    pub use_bias: bool,
    pub weights: Weights,
}

impl LayerDef for Dense {
    type Op = DenseOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Dense {
            units: args.count("units", errors),
            activation: activation_named(args.activation("activation", errors)),
            use_bias: args.boolean("use_bias", errors),
            weights: Weights::read(args, errors),
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
        match *input {
            [_] => Some(vec![self.units]),
            // A sequence: the same layer at each position.
            [_, length] => Some(vec![self.units, length]),
            _ => {
                errors.push(CheckError::shape(
                    format!("`dense` needs a flat input or a sequence, but gets shape {input:?}"),
                    format!("input here has shape {input:?}"),
                    span,
                    if input.len() == 3 {
                        "insert `flatten()` before this layer"
                    } else {
                        "insert `flatten()` or `reshape(...)` before this layer"
                    },
                ));
                None
            }
        }
    }

    /// The weight (in, out), then the bias (out,).
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        let mut shapes = vec![vec![input[0], self.units]];
        if self.use_bias {
            shapes.push(vec![self.units]);
        }
        shapes
    }

    /// `Gemm` on a flat input; on a sequence, a `MatMul` at each position of `(N, length,
    /// features)`, between two transposes.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let inputs = g.with_weights(&x, layer, self.use_bias)?;
        if layer.input_shape.len() == 1 {
            let y = g.node_on("Gemm", &inputs, vec![int("transB", 1)]);
            return Ok(activation(g, y, self.activation, 1));
        }
        let positions = g.transpose(&x, &[0, 2, 1]);
        let w = g.transpose(&inputs[1], &[1, 0]);
        let mut y = g.node("MatMul", &[&positions, &w], vec![]);
        if let Some(b) = inputs.get(2) {
            y = g.node("Add", &[&y, b], vec![]);
        }
        let y = activation(g, y, self.activation, -1);
        Ok(g.transpose(&y, &[0, 2, 1]))
    }

    fn lower(&self, layer: &Layer, _: Option<&Layer>, cx: &mut Lowering<'_>) -> (DenseOp, bool) {
        let (weight, bias) = cx.weight_and_bias(layer, &self.weights);
        cx.params[weight].transposed = true;
        let sequence = match *layer.input_shape {
            [features, length] => Some((features, length)),
            _ => None,
        };
        // Our ops read the weight and bias on the host: the dense op where it runs, the
        // positionwise one always.
        if ops::dense::supported() || sequence.is_some() {
            for p in std::iter::once(weight).chain(bias) {
                cx.params[p].read_on_host(cx.dev);
            }
        }
        let op = DenseOp {
            weight,
            bias,
            activation: self.activation,
            sequence,
        };
        (op, false)
    }
}

pub struct DenseOp {
    /// Index of the weight among the model's parameters.
    weight: usize,
    bias: Option<usize>,
    activation: Activation,
    /// The input's (features, length) when it is a sequence.
    sequence: Option<(usize, usize)>,
}

impl DenseOp {
    /// The weight's index, for a layer on flat input (whose rows a conv before it may store
    /// channels-last, `lower::fuse`).
    pub(crate) fn flat_weight(&self) -> Option<usize> {
        self.sequence.is_none().then_some(self.weight)
    }
}

impl LayerOp for DenseOp {
    fn forward<T: AnyTape>(
        &self,
        x: Act<T>,
        handoff: Option<Handoff>,
        cx: &mut Forward<'_>,
    ) -> Act<T> {
        let w = &cx.params[self.weight];
        let b = self.bias.map(|b| &cx.params[b]);
        if let Some((features, length)) = self.sequence {
            let x = x.into_sequence("dense", features, length);
            let y = positionwise_dense(x, w, WeightLayout::InOut, b, cx.input_grad);
            return cx.activate(Act::Image(y), self.activation);
        }
        let x = x.into_flat();
        if !ops::dense::supported() {
            return cx.activate(Act::Flat(affine(x, w, b)), self.activation);
        }
        let params = ops::dense::DenseParams {
            weight: (w.r2(), &w.value),
            bias: b.map(|b| (b.r1(), &b.value[..])),
            units: w.shape[1],
            grads: cx.param_grad(self.weight) || self.bias.is_some_and(|b| cx.param_grad(b)),
        };
        let relu = self.activation == Activation::Relu;
        let y = Act::Flat(ops::dense::dense(x, handoff, params, relu, cx.input_grad));
        if relu {
            y
        } else {
            cx.activate(y, self.activation)
        }
    }
}
