//! `conv2d(filters, kernel, stride, padding, activation, use_bias)`: a 2-D convolution over
//! (channels, height, width) images, weights (out, in, kh, kw) as PyTorch's.
//!
//! Lowered onto our conv op (`ops::conv2d`), which fuses the bias, a ReLU and a pooling
//! layer right after it (with a ReLU or no activation between), so that the conv-sized
//! activation never becomes a tensor. A conv whose output a dense layer reads next (through
//! flattens only) hands it over flat and channels-last ([`Conv2dOp::hand_over_channels_last`]).

use super::pool2d;
use super::shape::{image_input, spatial, Window};
use super::weights::Weights;
use super::{activation_named, padding, LayerDef, LayerKind, LayerOp};
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
use crate::lower::act::{zeros, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::lower::params::{RowOrder, T1};
use crate::ops::handoff::Handoff;
use crate::ops::{self, Conv2dSpec};
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "conv2d",
    &[
        param(
            "filters",
            Type::Count { min: 1 },
            Default::Required(Value::Count(1)),
        ),
        param("kernel", Type::Pair, Default::Required(Value::Pair(1, 1))),
        param("stride", Type::Pair, Default::Is(Value::Pair(1, 1))),
        PADDING,
        ACTIVATION,
        USE_BIAS,
        KERNEL_INIT,
        BIAS_INIT,
        KERNEL_REGULARIZER,
        TRAINABLE,
    ],
    "conv2d",
    "Conv2D",
    "a 2-D convolution over (channels, height, width) images",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    pub filters: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: Padding,
    pub activation: Activation,
    pub use_bias: bool,
    pub weights: Weights,
}

impl LayerDef for Conv2d {
    type Op = Conv2dOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Conv2d {
            filters: args.count("filters", errors),
            kernel: args.pair("kernel", errors),
            stride: args.pair("stride", errors),
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
        let [_, h, w] = image_input("conv2d", input, span, errors)?;
        let window = Window {
            size: self.kernel,
            stride: self.stride,
            padding: self.padding,
        };
        let out = spatial("conv2d", "kernel", (h, w), window, span, errors)?;
        Some(vec![self.filters, out.0, out.1])
    }

    /// The weight (out, in, kh, kw), then the bias (out,).
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        let mut shapes = vec![vec![self.filters, input[0], self.kernel.0, self.kernel.1]];
        if self.use_bias {
            shapes.push(vec![self.filters]);
        }
        shapes
    }

    /// The op gathers each output position's input window.
    fn scratch_factor(&self) -> usize {
        self.kernel.0 * self.kernel.1
    }

    /// `Conv` with `same`'s padding placed as `ops::geometry` places it.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let inputs = g.with_weights(&x, layer, self.use_bias)?;
        let kernel = [self.kernel.0, self.kernel.1];
        let attributes = export::window(layer, &kernel, &[self.stride.0, self.stride.1]);
        let y = g.node_on("Conv", &inputs, attributes);
        Ok(activation(g, y, self.activation, 1))
    }

    /// Fuses `next` when it is a pooling layer and the conv's activation is a ReLU or none,
    /// or a ReLU or leaky ReLU layer after a conv without activation. A leaky ReLU (its own
    /// activation or the next layer) is fused without pooling.
    fn lower(
        &self,
        layer: &Layer,
        next: Option<&Layer>,
        cx: &mut Lowering<'_>,
    ) -> (Conv2dOp, bool) {
        let (weight, bias) = cx.weight_and_bias(layer, &self.weights);
        let bias = bias.map_or_else(|| Bias::Zero(zeros(cx.dev, self.filters)), Bias::Param);
        // The ReLU's slope below 0, for the activations the op does itself.
        let slope = |a: Activation| match a {
            Activation::Relu => Some(0.0),
            // A slope of 0 would rectify to -0 where a ReLU gives 0; any other is a mask.
            Activation::LeakyRelu { alpha } if alpha > 0.0 => Some(alpha),
            _ => None,
        };
        let own = match self.activation {
            Activation::Linear => None,
            a => slope(a),
        };
        let fusable = self.activation == Activation::Linear || own.is_some();
        let (pool, rectifier, out_shape) = match next {
            Some(Layer {
                kind: LayerKind::Pool2d(p),
                output_shape,
                ..
            }) if fusable && own.is_none_or(|s| s == 0.0) => (Some(p.spec()), own, output_shape),
            Some(Layer {
                kind: LayerKind::Activation(a),
                ..
            }) if self.activation == Activation::Linear && slope(a.activation).is_some() => {
                (None, slope(a.activation), &layer.output_shape)
            }
            _ => (None, own, &layer.output_shape),
        };
        let fused = pool.is_some() || (rectifier.is_some() && own.is_none());
        let op = Conv2dOp {
            weight,
            bias,
            spec: Conv2dSpec {
                stride: self.stride,
                padding: pool2d::op_padding(self.padding),
                relu: rectifier.is_some(),
                relu_slope: rectifier.unwrap_or(0.0),
                input_grad: true,
                weight_grad: true,
                pool,
            },
            activation: if fusable {
                Activation::Linear
            } else {
                self.activation
            },
            feeds_dense: false,
            out_image: (out_shape[0], out_shape[1..].iter().product()),
        };
        (op, fused)
    }
}

pub struct Conv2dOp {
    weight: usize,
    bias: Bias,
    spec: Conv2dSpec,
    /// An activation the fused op does not do itself.
    activation: Activation,
    /// Whether a dense layer reads the output next, so that the op hands it over flattened
    /// channels-last.
    feeds_dense: bool,
    /// The output's `(channels, positions)` per sample (after the fused pooling).
    out_image: (usize, usize),
}

/// Our op always takes a bias: a conv declared without one gets zeros.
enum Bias {
    Param(usize),
    Zero(T1),
}

impl Conv2dOp {
    /// Makes the op hand its output to the dense layer that reads it next flattened
    /// channels-last, as its kernels compute it, when nothing is left to apply to it; returns
    /// the row order the dense weight must then be stored in.
    pub fn hand_over_channels_last(&mut self) -> Option<RowOrder> {
        if self.activation != Activation::Linear {
            return None;
        }
        self.feeds_dense = true;
        let (channels, positions) = self.out_image;
        Some(RowOrder::ChannelsLast {
            channels,
            positions,
        })
    }
}

impl LayerOp for Conv2dOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let x = x.into_image("conv2d");
        let b = match &self.bias {
            Bias::Param(b) => cx.params[*b].r1(),
            Bias::Zero(z) => z,
        };
        let bias_grad = matches!(self.bias, Bias::Param(b) if cx.param_grad(b));
        let spec = Conv2dSpec {
            input_grad: cx.input_grad,
            weight_grad: cx.param_grad(self.weight) || bias_grad,
            ..self.spec.clone()
        };
        let w = cx.params[self.weight].r4();
        if self.feeds_dense {
            // Our dense op takes the output by hand where it runs; dfdx's matmul reads it
            // from the tensor.
            let hand_over = ops::dense::supported();
            let (y, data) = ops::conv2d_flat_channels_last(x, w, b, &spec, hand_over);
            cx.handoff = data;
            Act::Flat(y)
        } else {
            cx.activate(Act::Image(ops::conv2d(x, w, b, &spec)), self.activation)
        }
    }
}
