//! `conv2d(filters, kernel, stride, padding, activation, use_bias)`: a 2-D convolution over
//! (channels, height, width) images, weights (out, in, kh, kw) as PyTorch's.
//!
//! Lowered onto our conv op (`ops::conv2d`), which fuses the bias, a ReLU and a pooling
//! layer right after it (with a ReLU or no activation between), so that the conv-sized
//! activation never becomes a tensor. A conv whose output a dense layer reads next (through
//! flattens only) hands it over flat and channels-last ([`Conv2dOp::hand_over_channels_last`]).

use super::pool2d;
use crate::check::plan::{Activation, Layer, LayerKind};
use crate::lower::act::{zeros, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::lower::params::{RowOrder, T1};
use crate::ops::{self, Conv2dSpec};

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
    /// Lowers the conv `layer`, fusing `next` into it when it is a pooling layer the op can
    /// do; returns whether it did.
    pub fn lower(layer: &Layer, next: Option<&Layer>, cx: &mut Lowering<'_>) -> (Self, bool) {
        let LayerKind::Conv2d {
            filters,
            stride,
            padding,
            activation,
            ..
        } = &layer.kind
        else {
            unreachable!("lowering a conv2d")
        };
        let (weight, bias) = cx.weight_and_bias(layer);
        let bias = bias.map_or_else(|| Bias::Zero(zeros(cx.dev, *filters)), Bias::Param);
        let fusable = matches!(activation, Activation::Relu | Activation::Linear);
        let (pool, out_shape) = match next {
            Some(
                pooled @ Layer {
                    kind: LayerKind::Pool2d { .. },
                    ..
                },
            ) if fusable => (Some(pool2d::spec(&pooled.kind)), &pooled.output_shape),
            _ => (None, &layer.output_shape),
        };
        let fused = pool.is_some();
        let op = Conv2dOp {
            weight,
            bias,
            spec: Conv2dSpec {
                stride: *stride,
                padding: pool2d::padding(*padding),
                relu: *activation == Activation::Relu,
                input_grad: true,
                pool,
            },
            activation: if fusable {
                Activation::Linear
            } else {
                *activation
            },
            feeds_dense: false,
            out_image: (out_shape[0], out_shape[1..].iter().product()),
        };
        (op, fused)
    }

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

    pub fn forward<T: AnyTape>(&self, x: Act<T>, cx: &mut Forward<'_>) -> Act<T> {
        let x = x.into_image("conv2d");
        let b = match &self.bias {
            Bias::Param(b) => cx.params[*b].r1(),
            Bias::Zero(z) => z,
        };
        let spec = Conv2dSpec {
            input_grad: cx.input_grad,
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
            Act::Image(ops::conv2d(x, w, b, &spec)).activate(self.activation)
        }
    }
}
