//! `embedding(input_dim, output_dim)`: a learned vector per token id (Keras' `Embedding`,
//! PyTorch's `nn.Embedding`). A sequence of `length` token ids becomes a sequence of
//! `output_dim` channels by `length` positions, `[output_dim, length]`, as every sequence
//! layer of expr holds one (PyTorch's `Conv1d` layout), so `conv1d`, `layernorm`,
//! `attention` and per-position `dense` read it directly.
//!
//! The table is `<layer>.weight`, `(input_dim, output_dim)`, as `nn.Embedding` holds it;
//! it starts as Keras' `U(-0.05, 0.05)`. The lookup and its scatter-add gradient are our op
//! (`ops::embedding`).

use super::weights::Weights;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param, KERNEL_REGULARIZER, TRAINABLE};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Init, Layer};
use crate::export::graph::int;
use crate::export::proto::DataType;
use crate::export::{ExportError, Graph};
use crate::lower::act::{embedding, padding_mask, Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// Its catalogue entry.
pub static ENTRY: Entry = layer(
    "embedding",
    &[
        param(
            "input_dim",
            Type::Count { min: 1 },
            Default::Required(Value::Count(1)),
        ),
        param(
            "output_dim",
            Type::Count { min: 1 },
            Default::Required(Value::Count(1)),
        ),
        param(
            "kernel_init",
            Type::Initializer,
            Default::Is(Value::Name("uniform")),
        ),
        KERNEL_REGULARIZER,
        // After the regularizer, as in Keras' `Embedding`.
        param("mask_zero", Type::Bool, Default::Is(Value::Bool(false))),
        TRAINABLE,
    ],
    "embedding",
    "Embedding",
    "a learned vector of `output_dim` values for each token id `0..input_dim`: a sequence of `length` ids becomes `[output_dim, length]` (channels by positions); with `mask_zero = true`, the positions of id 0 are padding, which the layers after it leave out (`global_avgpool1d`, `global_maxpool1d`, `lstm`, `gru`)",
);

#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// The vocabulary's size: token ids are `0..input_dim`.
    pub input_dim: usize,
    pub output_dim: usize,
    /// Id 0 is padding: the layers after this one leave its positions out (Keras'
    /// `mask_zero`; `check::mask` says which layers carry the mask and which read it).
    pub mask_zero: bool,
    pub weights: Weights,
}

impl LayerDef for Embedding {
    type Op = EmbeddingOp;

    fn read(_: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Embedding {
            input_dim: args.count("input_dim", errors),
            output_dim: args.count("output_dim", errors),
            mask_zero: args.boolean("mask_zero", errors),
            weights: Weights {
                kernel_init: args.initializer("kernel_init", errors),
                bias_init: Init::Zeros,
                kernel_regularizer: args.regularizer("kernel_regularizer", errors),
            },
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
        let &[length] = input else {
            errors.push(CheckError::shape(
                format!("`embedding` takes a sequence of token ids, shape [length], but gets shape {input:?}"),
                format!("input here has shape {input:?}"),
                span,
                "give it the token ids themselves, e.g. the `x` of `text(...)`",
            ));
            return None;
        };
        Some(vec![self.output_dim, length])
    }

    /// The table, `(input_dim, output_dim)`.
    fn parameter_shapes(&self, _: &[usize]) -> Vec<Vec<usize>> {
        vec![vec![self.input_dim, self.output_dim]]
    }

    /// `Gather` of the table's rows at the token ids (which expr's inputs hold as floats:
    /// cast to int64 first), then `(N, length, width)` transposed to `(N, width, length)`.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        if self.mask_zero {
            return Err(ExportError::Unsupported {
                layer: layer.name.clone(),
                why: "the padding mask of `mask_zero = true` is not written as ONNX nodes",
            });
        }
        let table = g.weight(layer, "weight")?;
        let ids = g.node("Cast", &[&x], vec![int("to", DataType::Int64 as i64)]);
        let rows = g.node("Gather", &[&table, &ids], vec![int("axis", 0)]);
        Ok(g.transpose(&rows, &[0, 2, 1]))
    }

    fn lower(
        &self,
        layer: &Layer,
        _: Option<&Layer>,
        cx: &mut Lowering<'_>,
    ) -> (EmbeddingOp, bool) {
        let (table, _) = cx.weight_and_bias(layer, &self.weights);
        cx.params[table].read_on_host(cx.dev);
        let op = EmbeddingOp {
            table,
            width: self.output_dim,
            mask_zero: self.mask_zero,
        };
        (op, false)
    }
}

pub struct EmbeddingOp {
    /// Index of the table among the model's parameters.
    table: usize,
    width: usize,
    mask_zero: bool,
}

impl LayerOp for EmbeddingOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let ids = x.into_flat();
        if self.mask_zero {
            cx.mask = Some(padding_mask(&ids));
        }
        embedding(ids, &cx.params[self.table], self.width)
    }
}
