//! `attention(heads, key_dim, causal, dropout, use_bias, value)`: multi-head self-attention
//! over a sequence, `(width, length)` → `(width, length)`, as PyTorch's
//! `nn.MultiheadAttention(width, heads, batch_first = True)` computes it (with a causal
//! `attn_mask` when `causal`), Keras' `MultiHeadAttention` in the summary.
//!
//! In a graph model, `value = memory` makes it cross-attention: the queries come from the
//! input, the keys and values from `memory`, a sequence of the same width and any length
//! (PyTorch's `mha(x, memory, memory)`, Keras' `mha(query = x, value = memory)`); the
//! parameters are the same, the input projection's first third making the queries and the
//! rest the keys and values (`ops::attention::cross_attention`).
//!
//! The input projection makes the queries, keys and values at each position, one
//! `(3 * width, width)` weight (`ops::positionwise`); each head attends with its `key_dim`
//! channels of them (`ops::attention`: scale `1 / sqrt(key_dim)`, softmax over the keys,
//! dropout on the probabilities in training; no query attends to a key that the padding
//! mask of `embedding(mask_zero = true)` marks), and the output projection mixes the heads.
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
use crate::export::graph::int;
use crate::export::{ExportError, Graph};
use crate::lower::act::{
    attention, cross_attention, positionwise_dense, positionwise_rows, Act, AnyTape, Forward, Image,
};
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
        param(
            "value",
            Type::ValueName,
            Default::Derived("the input (self-attention)"),
        ),
        USE_BIAS,
        KERNEL_INIT,
        BIAS_INIT,
        KERNEL_REGULARIZER,
        TRAINABLE,
    ],
    "multi_head_attention",
    "MultiHeadAttention",
    "multi-head self-attention over a sequence (PyTorch's `nn.MultiheadAttention`); `causal` lets each position see only itself and those before it; after `embedding(mask_zero = true)`, no position attends to padding (PyTorch's `key_padding_mask`). In a graph model, `value = memory` makes it cross-attention: the queries come from the input, the keys and values from the sequence `memory` (same width, any length), as Keras' `mha(query = x, value = memory)`; a padded key of `memory` is left out",
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
    /// Cross-attention's keys and values: the value of the graph model the call names.
    pub value: Option<ValueInput>,
}

/// The value of a graph model that cross-attention reads its keys and values from.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInput {
    pub name: String,
    pub span: Span,
    /// Its shape, once `check::graph` has inferred it.
    pub shape: Option<Vec<usize>>,
}

impl Attention {
    /// Whether cross-attention's keys and values, the value it reads, are a sequence of the
    /// queries' `width` (reported when not); true for self-attention.
    fn value_fits(&self, width: usize, errors: &mut Vec<CheckError>) -> bool {
        let Some(value) = &self.value else {
            return true;
        };
        let shape = value.shape.as_ref().unwrap_or_else(|| {
            unreachable!("check::graph gives cross-attention its value's shape")
        });
        let Some([kv_width, _]) = sequence_input("attention", shape, value.span, errors) else {
            return false;
        };
        if kv_width != width {
            errors.push(
                CheckError::shape(
                    format!(
                        "cross-attention's keys and values come from `{}` of width {kv_width}, not the width {width} of its queries",
                        value.name
                    ),
                    format!("`{}` has shape {shape:?}", value.name),
                    value.span,
                    format!("one input projection makes the queries, keys and values, as in PyTorch's `nn.MultiheadAttention`: project `{}` to the queries' width first, e.g. `{} | dense({width})`", value.name, value.name),
                ),
            );
            return false;
        }
        true
    }
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
            value: args
                .value_name("value", errors)
                .map(|(name, span)| ValueInput {
                    name: name.to_string(),
                    span,
                    shape: None,
                }),
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
            _ => self.value_fits(width, errors).then(|| vec![width, length]),
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

    /// PyTorch's `nn.MultiheadAttention` written out: the input projection at each
    /// position, queries, keys and values split into heads, `softmax(q kᵀ / √key_dim + mask)
    /// v` (the mask `-∞` above the diagonal when causal), the heads joined and projected.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let (width, length) = (layer.input_shape[0], layer.input_shape[1]);
        let positions = g.transpose(&x, &[0, 2, 1]);
        let qkv = self.project(layer, &positions, ("in_proj_weight", "in_proj_bias"), g)?;
        let split = g.ints(&[width as i64; 3]);
        let qkv = g.node_n("Split", &[&qkv, &split], vec![int("axis", -1)], 3);
        self.export_heads(layer, [&qkv[0], &qkv[1], &qkv[2]], (length, length), g)
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
            keys: self.value.as_ref().map(|v| match v.shape.as_deref() {
                Some(&[_, keys]) => keys,
                _ => unreachable!("check::graph gives cross-attention a sequence"),
            }),
            heads: self.heads,
            causal: self.causal,
            dropout: self.dropout,
            in_proj: (in_weight, in_bias),
            out_proj: (out_weight, out_bias),
        };
        (op, false)
    }
}

impl Attention {
    /// Cross-attention as ONNX nodes: the input projection's weight and bias split in
    /// thirds, the first making the queries from `x`, the others the keys and values from
    /// `memory`; then as self-attention.
    pub fn export_cross(
        &self,
        layer: &Layer,
        x: &str,
        memory: &str,
        g: &mut Graph<'_>,
    ) -> Result<String, ExportError> {
        let (width, queries) = (layer.input_shape[0], layer.input_shape[1]);
        let Some(&[_, keys]) = self.value.as_ref().and_then(|v| v.shape.as_deref()) else {
            unreachable!("check::graph gives cross-attention a sequence")
        };
        let thirds =
            |g: &mut Graph<'_>, name: &str, axis: i64| -> Result<Vec<String>, ExportError> {
                let t = g.weight(layer, name)?;
                let split = g.ints(&[width as i64; 3]);
                Ok(g.node_n("Split", &[&t, &split], vec![int("axis", axis)], 3))
            };
        let w = thirds(g, "in_proj_weight", 0)?;
        let b = if self.use_bias {
            thirds(g, "in_proj_bias", 0)?
        } else {
            Vec::new()
        };
        let project = |g: &mut Graph<'_>, x: &str, i: usize| {
            let w = g.transpose(&w[i], &[1, 0]);
            let y = g.node("MatMul", &[x, &w], vec![]);
            match b.get(i) {
                Some(b) => g.node("Add", &[&y, b], vec![]),
                None => y,
            }
        };
        let x = g.transpose(x, &[0, 2, 1]);
        let memory = g.transpose(memory, &[0, 2, 1]);
        let q = project(g, &x, 0);
        let k = project(g, &memory, 1);
        let v = project(g, &memory, 2);
        self.export_heads(layer, [&q, &k, &v], (queries, keys), g)
    }

    /// `x` `(batch, length, in)` through the projection `(weight, bias)` stored `(out, in)`.
    fn project(
        &self,
        layer: &Layer,
        x: &str,
        (weight, bias): (&str, &str),
        g: &mut Graph<'_>,
    ) -> Result<String, ExportError> {
        let w = g.weight(layer, weight)?;
        let w = g.transpose(&w, &[1, 0]);
        let y = g.node("MatMul", &[x, &w], vec![]);
        Ok(if self.use_bias {
            let b = g.weight(layer, bias)?;
            g.node("Add", &[&y, &b], vec![])
        } else {
            y
        })
    }

    /// The heads of projected queries, keys and values `(batch, positions, width)` as ONNX
    /// nodes, joined and projected: the output `(batch, width, queries)`.
    fn export_heads(
        &self,
        layer: &Layer,
        [q, k, v]: [&str; 3],
        (queries, keys): (usize, usize),
        g: &mut Graph<'_>,
    ) -> Result<String, ExportError> {
        let width = layer.input_shape[0];
        let (heads, key_dim) = (self.heads as i64, (width / self.heads) as i64);
        let by_head = |g: &mut Graph<'_>, v: &str, perm: &[i64]| {
            let v = g.reshape(v, &[0, 0, heads, key_dim]);
            g.transpose(&v, perm)
        };
        let q = by_head(g, q, &[0, 2, 1, 3]);
        let k = by_head(g, k, &[0, 2, 3, 1]);
        let v = by_head(g, v, &[0, 2, 1, 3]);
        let scores = g.node("MatMul", &[&q, &k], vec![]);
        let scale = g.constant("scale", &[], &[1.0 / (key_dim as f32).sqrt()]);
        let mut scores = g.node("Mul", &[&scores, &scale], vec![]);
        if self.causal {
            let mask: Vec<f32> = (0..queries * keys)
                .map(|i| {
                    if i % keys > i / keys {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
                .collect();
            let mask = g.constant("causal_mask", &[queries, keys], &mask);
            scores = g.node("Add", &[&scores, &mask], vec![]);
        }
        let weights = g.node("Softmax", &[&scores], vec![int("axis", -1)]);
        let heads_out = g.node("MatMul", &[&weights, &v], vec![]);
        let joined = g.transpose(&heads_out, &[0, 2, 1, 3]);
        let joined = g.reshape(&joined, &[0, 0, width as i64]);
        let y = self.project(layer, &joined, ("out_proj.weight", "out_proj.bias"), g)?;
        Ok(g.transpose(&y, &[0, 2, 1]))
    }
}

pub struct AttentionOp {
    width: usize,
    length: usize,
    /// Cross-attention's key positions (`None` for self-attention).
    keys: Option<usize>,
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
        // The padding mask of `embedding(mask_zero = true)`: no query attends to a padded
        // key, and the mask goes on (`check::mask`).
        let keys = cx.mask.as_deref();
        let heads = attention(qkv, self.heads, key_dim, self.causal, dropout, keys);
        self.project_out(heads, cx)
    }

    fn draws(&self) -> u64 {
        u64::from(self.dropout > 0.0)
    }
}

impl AttentionOp {
    /// Cross-attention: the queries from `x`, the keys and values from `memory` (its
    /// gradient computed when `memory_grad`; its padded keys, by `memory_mask`, left out),
    /// each projected by its rows of the one input projection. The queries' mask goes on.
    pub fn forward_cross<T: AnyTape>(
        &self,
        x: Act<T>,
        (memory, memory_grad, memory_mask): (Act<T>, bool, Option<&[f32]>),
        cx: &mut Forward<'_>,
    ) -> Act<T> {
        let keys = self
            .keys
            .unwrap_or_else(|| unreachable!("only cross-attention has a second input"));
        let p = |i: usize| &cx.params[i];
        let width = self.width;
        let x = x.into_sequence("attention", width, self.length);
        let memory = memory.into_sequence("attention", width, keys);
        let (w, b) = self.in_proj;
        let q = positionwise_rows(x, p(w), b.map(p), 0..width, cx.input_grad);
        let kv = positionwise_rows(memory, p(w), b.map(p), width..3 * width, memory_grad);
        let dropout = cx.training.then_some(self.dropout);
        let heads = cross_attention(
            q,
            kv,
            self.heads,
            width / self.heads,
            self.causal,
            dropout,
            memory_mask,
        );
        self.project_out(heads, cx)
    }

    /// The output projection, which mixes the heads.
    fn project_out<T: AnyTape>(&self, heads: Image<T>, cx: &Forward<'_>) -> Act<T> {
        let (w, b) = self.out_proj;
        let b = b.map(|b| &cx.params[b]);
        Act::Image(positionwise_dense(
            heads,
            &cx.params[w],
            WeightLayout::OutIn,
            b,
            true,
        ))
    }
}
