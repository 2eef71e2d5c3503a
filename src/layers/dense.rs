//! `dense(units, activation, use_bias)`: a fully connected layer, `activation(x · W + b)`,
//! on a flat input.
//!
//! Lowered onto our dense op (`ops::dense`) where the CPU runs it, with a ReLU fused into
//! it, and onto dfdx's matmul elsewhere. The weight is stored (in, out) for the matmul, the
//! transpose of PyTorch's `nn.Linear`; model files and checkpoints hold PyTorch's.

use crate::check::plan::{Activation, Layer};
use crate::lower::act::{affine, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops;
use crate::ops::handoff::Handoff;

pub struct DenseOp {
    /// Index of the weight among the model's parameters.
    pub(crate) weight: usize,
    bias: Option<usize>,
    activation: Activation,
}

impl DenseOp {
    pub fn lower(layer: &Layer, activation: Activation, cx: &mut Lowering<'_>) -> Self {
        let (weight, bias) = cx.weight_and_bias(layer);
        cx.params[weight].transposed = true;
        if ops::dense::supported() {
            for p in std::iter::once(weight).chain(bias) {
                cx.params[p].read_on_host(cx.dev);
            }
        }
        DenseOp {
            weight,
            bias,
            activation,
        }
    }

    pub fn forward<T: AnyTape>(
        &self,
        x: Act<T>,
        handoff: Option<Handoff>,
        cx: &mut Forward<'_>,
    ) -> Act<T> {
        let x = x.into_flat();
        let w = &cx.params[self.weight];
        let b = self.bias.map(|b| &cx.params[b]);
        if !ops::dense::supported() {
            return Act::Flat(affine(x, w, b)).activate(self.activation);
        }
        let params = ops::dense::DenseParams {
            weight: (w.r2(), &w.value),
            bias: b.map(|b| (b.r1(), &b.value[..])),
            units: w.shape[1],
        };
        let relu = self.activation == Activation::Relu;
        let y = Act::Flat(ops::dense::dense(x, handoff, params, relu));
        if relu {
            y
        } else {
            y.activate(self.activation)
        }
    }
}
