//! `attention(heads, key_dim, causal, dropout, use_bias)`: multi-head self-attention over a
//! sequence, `(width, length)` → `(width, length)`, as PyTorch's
//! `nn.MultiheadAttention(width, heads, batch_first = True)` computes it (with a causal
//! `attn_mask` when `causal`), Keras' `MultiHeadAttention` in the summary.
//!
//! The input projection makes the queries, keys and values at each position, one
//! `(3 * width, width)` weight (`ops::positionwise`); each head attends with its `key_dim`
//! channels of them (`ops::attention`: scale `1 / sqrt(key_dim)`, softmax over the keys,
//! dropout on the probabilities in training), and the output projection mixes the heads.
//! The parameters are named and laid out as the module's state dict, so a model file loads
//! into PyTorch: `in_proj_weight` (3 * width, width), `in_proj_bias`, `out_proj.weight`
//! (width, width), `out_proj.bias`.
//!
//! Initial values: `kernel_init` draws each projection with the fans of a `(width, width)`
//! matrix (Glorot by default, as Keras' projections), `bias_init` the biases (zeros);
//! `kernel_init = torch` draws as PyTorch's module does (Xavier-uniform over the whole input
//! projection, `nn.Linear`'s bound for the output one, zero biases).

use super::shape::sequence_input;
use super::weights::Weights;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{
    layer, param, BIAS_INIT, KERNEL_INIT, KERNEL_REGULARIZER, TRAINABLE, USE_BIAS,
};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Init, Layer};
use crate::lower::act::{attention, positionwise_dense, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::lower::params::Role;
use crate::ops::handoff::Handoff;
use crate::ops::WeightLayout;
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "attention",
    &[
        param(
            "heads",
            Type::Count { min: 1 },
            Default::Required(Value::Count(1)),
        ),
        param(
            "key_dim",
            Type::Count { min: 1 },
            Default::Derived("width / heads"),
        ),
        param("causal", Type::Bool, Default::Is(Value::Bool(false))),
        param("dropout", Type::Fraction, Default::Is(Value::Number(0.0))),
        USE_BIAS,
        KERNEL_INIT,
        BIAS_INIT,
        KERNEL_REGULARIZER,
        TRAINABLE,
    ],
    "multi_head_attention",
    "MultiHeadAttention",
    "multi-head self-attention over a sequence (PyTorch's `nn.MultiheadAttention`); `causal` lets each position see only itself and those before it",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    pub heads: usize,
    /// Channels per head, when the call gives it (checked against the width).
    pub key_dim: Option<usize>,
    pub causal: bool,
    pub dropout: f32,
    pub use_bias: bool,
    pub weights: Weights,
}

impl LayerDef for Attention {
    type Op = AttentionOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Attention {
            heads: args.count("heads", errors),
            key_dim: args.derived_count("key_dim", errors),
            causal: args.boolean("causal", errors),
            dropout: args.number("dropout", errors) as f32,
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
        let [width, length] = sequence_input("attention", input, span, errors)?;
        let heads = self.heads;
        match self.key_dim {
            Some(key_dim) if heads * key_dim != width => {
                errors.push(CheckError::shape(
                    format!(
                        "`attention`'s {heads} heads of `key_dim` {key_dim} make {}, not the width {width} of its input",
                        heads * key_dim
                    ),
                    format!("input here has shape {input:?}"),
                    span,
                    "the heads split the width: `heads * key_dim` must equal it (leave `key_dim` out for `width / heads`)",
                ));
                None
            }
            None if width % heads != 0 => {
                errors.push(CheckError::shape(
                    format!("`attention`'s {heads} heads do not divide the width {width} of its input"),
                    format!("input here has shape {input:?}"),
                    span,
                    "each head takes `width / heads` channels: pick a number of heads that divides the width",
                ));
                None
            }
            _ => Some(vec![width, length]),
        }
    }

    /// `in_proj_weight` (3 * width, width), `in_proj_bias`, `out_proj.weight` (width,
    /// width), `out_proj.bias`: PyTorch's layouts, which the engine stores as they are.
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        let w = input[0];
        let mut shapes = vec![vec![3 * w, w]];
        if self.use_bias {
            shapes.push(vec![3 * w]);
        }
        shapes.push(vec![w, w]);
        if self.use_bias {
            shapes.push(vec![w]);
        }
        shapes
    }

    /// The queries, keys and values (3), the heads' output (1), their gradients, and the
    /// probabilities, which grow with the length.
    fn scratch_factor(&self) -> usize {
        8
    }

    fn lower(
        &self,
        layer: &Layer,
        _: Option<&Layer>,
        cx: &mut Lowering<'_>,
    ) -> (AttentionOp, bool) {
        let [width, length] = layer.input_shape[..] else {
            unreachable!("check guarantees `attention` a sequence")
        };
        let w = &self.weights;
        let kernel = Role::Kernel(w.kernel_regularizer);
        let square = (width, width);
        let (in_init, out_init) = match w.kernel_init {
            // PyTorch's: Xavier over the whole input projection, `nn.Linear`'s default for
            // the output one.
            Init::Torch => (
                (Init::GlorotUniform, (width, 3 * width)),
                (Init::Torch, square),
            ),
            init => ((init, square), (init, square)),
        };
        let bias_init = match w.bias_init {
            // PyTorch's module zeroes both biases.
            Init::Torch => Init::Zeros,
            init => init,
        };
        let bias = |cx: &mut Lowering<'_>, name: &str, n: usize| {
            self.use_bias
                .then(|| cx.add_param(layer, name, vec![n], (bias_init, (n, n)), Role::Other))
        };
        let in_weight = cx.add_param(
            layer,
            "in_proj_weight",
            vec![3 * width, width],
            in_init,
            kernel,
        );
        let in_bias = bias(cx, "in_proj_bias", 3 * width);
        let out_weight = cx.add_param(
            layer,
            "out_proj.weight",
            vec![width, width],
            out_init,
            kernel,
        );
        let out_bias = bias(cx, "out_proj.bias", width);
        for p in [in_weight, out_weight]
            .into_iter()
            .chain(in_bias)
            .chain(out_bias)
        {
            cx.params[p].read_on_host(cx.dev);
        }
        let op = AttentionOp {
            width,
            length,
            heads: self.heads,
            causal: self.causal,
            dropout: self.dropout,
            in_proj: (in_weight, in_bias),
            out_proj: (out_weight, out_bias),
        };
        (op, false)
    }
}

pub struct AttentionOp {
    width: usize,
    length: usize,
    heads: usize,
    causal: bool,
    dropout: f32,
    /// Indices of the projections' weights and biases among the model's parameters.
    in_proj: (usize, Option<usize>),
    out_proj: (usize, Option<usize>),
}

impl LayerOp for AttentionOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let p = |i: usize| &cx.params[i];
        let x = x.into_sequence("attention", self.width, self.length);
        let (w, b) = self.in_proj;
        let qkv = positionwise_dense(x, p(w), WeightLayout::OutIn, b.map(p), cx.input_grad);
        let dropout = cx.training.then_some(self.dropout);
        let key_dim = self.width / self.heads;
        let heads = attention(qkv, self.heads, key_dim, self.causal, dropout);
        let (w, b) = self.out_proj;
        Act::Image(positionwise_dense(
            heads,
            p(w),
            WeightLayout::OutIn,
            b.map(p),
            true,
        ))
    }

    fn draws(&self) -> u64 {
        u64::from(self.dropout > 0.0)
    }
}
