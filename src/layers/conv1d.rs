//! `conv1d(filters, kernel, stride, padding, activation, use_bias)`: a 1-D convolution over
//! (channels, length) sequences, weights (out, in, kernel) as PyTorch's `Conv1d`.
//!
//! A sequence is an image of one row to the engine, so the layer runs as the 2-D conv of
//! a (1, kernel) window (`layers::conv2d`, whose op it wraps): the weight is stored
//! (out, in, kernel) and read as (out, in, 1, kernel), the same values.

use super::conv2d::{Conv2d, Conv2dOp};
use super::shape::{sequence_input, window_output};
use super::weights::Weights;
use super::{activation_named, padding, LayerDef, LayerOp};
use crate::catalog::layers::{
    layer, param, ACTIVATION, BIAS_INIT, KERNEL_INIT, KERNEL_REGULARIZER, PADDING, TRAINABLE,
    USE_BIAS,
};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Activation, Layer, Padding};
use crate::export::activation::activation;
use crate::export::{self, ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "conv1d",
    &[
        param(
            "filters",
            Type::Count { min: 1 },
            Default::Required(Value::Count(1)),
        ),
        param(
            "kernel",
            Type::Count { min: 1 },
            Default::Required(Value::Count(1)),
        ),
        param(
            "stride",
            Type::Count { min: 1 },
            Default::Is(Value::Count(1)),
        ),
        PADDING,
        ACTIVATION,
        USE_BIAS,
        KERNEL_INIT,
        BIAS_INIT,
        KERNEL_REGULARIZER,
        TRAINABLE,
    ],
    "conv1d",
    "Conv1D",
    "a 1-D convolution over (channels, length) sequences",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Conv1d {
    pub filters: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
    pub activation: Activation,
    pub use_bias: bool,
    pub weights: Weights,
}

impl Conv1d {
    /// The 2-D conv of a one-row window that computes this layer.
    fn as_conv2d(&self) -> Conv2d {
        Conv2d {
            filters: self.filters,
            kernel: (1, self.kernel),
            stride: (1, self.stride),
            padding: self.padding,
            activation: self.activation,
            use_bias: self.use_bias,
            weights: self.weights.clone(),
        }
    }
}

impl LayerDef for Conv1d {
    type Op = Conv1dOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Conv1d {
            filters: args.count("filters", errors),
            kernel: args.count("kernel", errors),
            stride: args.count("stride", errors),
            padding: padding(args, errors),
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
        let [_, length] = sequence_input("conv1d", input, span, errors)?;
        match window_output(length, self.kernel, self.stride, self.padding) {
            Some(out) if out > 0 => Some(vec![self.filters, out]),
            _ => {
                errors.push(CheckError::shape(
                    format!(
                        "`conv1d` kernel {} is longer than its input of length {length}",
                        self.kernel
                    ),
                    "the output would be empty".into(),
                    span,
                    "use a smaller `kernel`, or `padding = same`",
                ));
                None
            }
        }
    }

    /// The weight (out, in, kernel), then the bias (out,).
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        let mut shapes = vec![vec![self.filters, input[0], self.kernel]];
        if self.use_bias {
            shapes.push(vec![self.filters]);
        }
        shapes
    }

    fn scratch_factor(&self) -> usize {
        self.kernel
    }

    /// `Conv` over `(N, channels, length)` with a 1-D kernel.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let inputs = g.with_weights(&x, layer, self.use_bias)?;
        let attributes = export::window(layer, &[self.kernel], &[self.stride]);
        let y = g.node_on("Conv", &inputs, attributes);
        Ok(activation(g, y, self.activation, 1))
    }

    /// Never fuses the layer after it: a 1-D pooling layer runs on its own.
    fn lower(&self, layer: &Layer, _: Option<&Layer>, cx: &mut Lowering<'_>) -> (Conv1dOp, bool) {
        let (conv, _) = self.as_conv2d().lower(layer, None, cx);
        let input = &layer.input_shape;
        let op = Conv1dOp {
            conv,
            channels: input[0],
            length: input[1],
        };
        (op, false)
    }
}

pub struct Conv1dOp {
    conv: Conv2dOp,
    /// The input's (channels, length), to view whatever image holds it as one row.
    channels: usize,
    length: usize,
}

impl LayerOp for Conv1dOp {
    fn forward<T: AnyTape>(
        &self,
        x: Act<T>,
        handoff: Option<Handoff>,
        cx: &mut Forward<'_>,
    ) -> Act<T> {
        let x = x.into_sequence("conv1d", self.channels, self.length);
        self.conv.forward(Act::Image(x), handoff, cx)
    }
}
