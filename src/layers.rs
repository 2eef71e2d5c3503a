//! The layers a model can list, one file each. A layer's file declares all of it:
//!
//! - its catalogue entry (name, parameters with types and defaults, summary and Keras
//!   names, the guide's line), which `catalog::layers` lists;
//! - how a call's arguments become the layer ([`LayerDef::read`]);
//! - its shape rule and its parameters' shapes, which `check` uses;
//! - its lowering onto the engine and its forward pass, written with the engine's building
//!   blocks (`lower::act`) and our ops, never with dfdx directly.
//!
//! The [`layers!`] list below is the one place that names them all: it makes the
//! catalogue's list of layers ([`ALL`]), the plan's [`LayerKind`] and the engine's [`Op`],
//! with their dispatch. DEVELOPERS.md says how to add a layer.

pub mod activation;
pub mod attention;
pub mod batchnorm;
pub mod conv1d;
pub mod conv2d;
pub mod conv2d_transpose;
pub mod dense;
pub mod dropout;
pub mod embedding;
pub mod flatten;
pub mod global_pool2d;
pub mod layernorm;
pub mod pool1d;
pub mod pool2d;
pub mod positional_embedding;
pub mod recurrent;
pub mod reshape;
mod shape;
pub mod spatial_dropout2d;
pub mod upsample2d;
pub mod weights;
pub mod zeropad2d;

use crate::catalog;
use crate::catalog::layers as act;
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Activation, Layer, Padding};
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::ops::handoff::Handoff;
use crate::source::Span;

/// What a layer's file declares about it.
pub trait LayerDef: Sized {
    /// The layer lowered onto the engine.
    type Op: LayerOp;

    /// The layer from a call to `id`, its arguments read against the entry's parameters.
    fn read(id: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self;

    /// Its entry in the catalogue (the summary's class, the base of its name).
    fn catalogued(&self) -> catalog::Layer;

    /// The shape of one output element for an input element of shape `input`, or the error
    /// that says why the layer cannot take it (reported at `span`).
    fn output_shape(
        &self,
        input: &[usize],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>>;

    /// Its trained parameters' shapes, weight then bias, in the engine's storage layout.
    fn parameter_shapes(&self, _input: &[usize]) -> Vec<Vec<usize>> {
        Vec::new()
    }

    /// How many values of layer state it keeps that Keras counts as non-trainable
    /// parameters (batch norm's running mean and variance).
    fn state_count(&self, _input: &[usize]) -> usize {
        0
    }

    /// How many input-sized buffers its op may hold at once, for the memory estimate.
    fn scratch_factor(&self) -> usize {
        1
    }

    /// The layer lowered onto the engine; it may fuse the layer after it (`next`), and
    /// says whether it did.
    fn lower(&self, layer: &Layer, next: Option<&Layer>, cx: &mut Lowering<'_>)
        -> (Self::Op, bool);

    /// The layer as ONNX nodes of `g` (inference mode) on value `x`, of shape `(batch,
    /// ...layer.input_shape)`; the value it returns has shape `(batch, ...output_shape)`.
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError>;
}

/// A lowered layer's forward pass.
pub trait LayerOp {
    /// Runs the layer on a batch. `handoff` is what the op before handed over beside the
    /// tape (see `ops::handoff`); an op that hands something to the next sets `cx.handoff`.
    fn forward<T: AnyTape>(
        &self,
        x: Act<T>,
        handoff: Option<Handoff>,
        cx: &mut Forward<'_>,
    ) -> Act<T>;

    /// Random numbers a training-mode call draws from the device (dropout masks).
    fn draws(&self) -> u64 {
        0
    }
}

/// Makes the plan's `LayerKind` and the engine's `Op`, one variant per layer, and their
/// dispatch to each layer's [`LayerDef`] and [`LayerOp`].
macro_rules! layers {
    ($($variant:ident($def:ty) = [$($entry:expr),+]),* $(,)?) => {
        /// Every layer a model can list, by its catalogue entry, in the order of the guide
        /// and of the "known layers" lists.
        pub const ALL: &[catalog::Layer] = &[$($(catalog::Layer::of($entry),)+)*];

        /// A layer of a checked model, as its file reads it.
        #[derive(Debug, Clone, PartialEq)]
        pub enum LayerKind {
            $($variant($def),)*
        }

        /// A layer lowered onto the engine.
        pub enum Op {
            $($variant(<$def as LayerDef>::Op),)*
        }

        impl LayerKind {
            /// The layer a call to the catalogue's layer `id` is.
            pub fn read(id: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
                $(if [$(catalog::Layer::of($entry)),+].contains(&id) {
                    return LayerKind::$variant(<$def>::read(id, args, errors));
                })*
                unreachable!("every layer in the catalogue has a file under src/layers/: {id:?}")
            }

            pub fn catalogued(&self) -> catalog::Layer {
                match self {
                    $(LayerKind::$variant(l) => l.catalogued(),)*
                }
            }

            pub fn output_shape(
                &self,
                input: &[usize],
                span: Span,
                errors: &mut Vec<CheckError>,
            ) -> Option<Vec<usize>> {
                match self {
                    $(LayerKind::$variant(l) => l.output_shape(input, span, errors),)*
                }
            }

            pub fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
                match self {
                    $(LayerKind::$variant(l) => l.parameter_shapes(input),)*
                }
            }

            pub fn state_count(&self, input: &[usize]) -> usize {
                match self {
                    $(LayerKind::$variant(l) => l.state_count(input),)*
                }
            }

            pub fn scratch_factor(&self) -> usize {
                match self {
                    $(LayerKind::$variant(l) => l.scratch_factor(),)*
                }
            }

            pub fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
                match self {
                    $(LayerKind::$variant(l) => l.export(layer, x, g),)*
                }
            }

            pub fn lower(&self, layer: &Layer, next: Option<&Layer>, cx: &mut Lowering<'_>) -> (Op, bool) {
                match self {
                    $(LayerKind::$variant(l) => {
                        let (op, fused) = l.lower(layer, next, cx);
                        (Op::$variant(op), fused)
                    })*
                }
            }
        }

        impl Op {
            pub fn forward<T: AnyTape>(
                &self,
                x: Act<T>,
                handoff: Option<Handoff>,
                cx: &mut Forward<'_>,
            ) -> Act<T> {
                match self {
                    $(Op::$variant(op) => op.forward(x, handoff, cx),)*
                }
            }

            pub fn draws(&self) -> u64 {
                match self {
                    $(Op::$variant(op) => op.draws(),)*
                }
            }
        }
    };
}

// One line per layer: its variant, its file's type, and the catalogue entries calls to it
// use (pooling has two names; the activation layers share the activations' entries).
layers! {
    Dense(dense::Dense) = [&dense::ENTRY],
    Conv2d(conv2d::Conv2d) = [&conv2d::ENTRY],
    Conv2dTranspose(conv2d_transpose::Conv2dTranspose) = [&conv2d_transpose::ENTRY],
    Conv1d(conv1d::Conv1d) = [&conv1d::ENTRY],
    Embedding(embedding::Embedding) = [&embedding::ENTRY],
    PositionalEmbedding(positional_embedding::PositionalEmbedding) = [
        &positional_embedding::LEARNED, &positional_embedding::SINUSOIDAL
    ],
    Pool1d(pool1d::Pool1d) = [
        &pool1d::MAXPOOL1D, &pool1d::AVGPOOL1D, &pool1d::GLOBAL_MAXPOOL1D, &pool1d::GLOBAL_AVGPOOL1D
    ],
    Pool2d(pool2d::Pool2d) = [&pool2d::MAXPOOL2D, &pool2d::AVGPOOL2D],
    GlobalPool2d(global_pool2d::GlobalPool2d) = [
        &global_pool2d::GLOBAL_MAXPOOL2D, &global_pool2d::GLOBAL_AVGPOOL2D
    ],
    Upsample2d(upsample2d::Upsample2d) = [&upsample2d::ENTRY],
    Zeropad2d(zeropad2d::Zeropad2d) = [&zeropad2d::ENTRY],
    Flatten(flatten::Flatten) = [&flatten::ENTRY],
    Reshape(reshape::Reshape) = [&reshape::ENTRY],
    Dropout(dropout::Dropout) = [&dropout::ENTRY],
    BatchNorm(batchnorm::BatchNorm) = [&batchnorm::ENTRY],
    LayerNorm(layernorm::LayerNorm) = [&layernorm::ENTRY],
    Attention(attention::Attention) = [&attention::ENTRY],
    Recurrent(recurrent::Recurrent) = [&recurrent::LSTM, &recurrent::GRU],
    SpatialDropout2d(spatial_dropout2d::SpatialDropout2d) = [&spatial_dropout2d::ENTRY],
    Activation(activation::ActivationLayer) = [
        &act::RELU, &act::SIGMOID, &act::TANH, &act::SOFTMAX, &act::LEAKY_RELU, &act::GELU,
        &act::ELU, &act::SELU, &act::SWISH, &act::SOFTPLUS, &act::LOG_SOFTMAX, &act::HARD_SIGMOID
    ],
}

/// Layers that read values of a graph model beside their input (cross-attention's
/// `value = memory`, a recurrent layer's `initial_state = (h, c)`), and layers of several
/// outputs (a recurrent layer's `return_state`). `check::graph` wires the values in as the
/// node's inputs after the first, and the outputs after the first as nodes of their own
/// (`NodeOp::Output`); the engine and the export hand them to the layer and take them from it.
impl LayerKind {
    /// The values the call names for the layer to read beside its input, with their spans.
    pub fn more_inputs(&self) -> Vec<(&str, Span)> {
        match self {
            LayerKind::Attention(a) => a.value.iter().map(|v| (v.name.as_str(), v.span)).collect(),
            LayerKind::Recurrent(r) => r
                .initial_state
                .iter()
                .map(|v| (v.name.as_str(), v.span))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Tells the layer those values' shapes, once the graph's shapes are inferred.
    ///
    /// # Panics
    /// When `shapes` are not one per value of [`LayerKind::more_inputs`] (`check::graph`
    /// reads those values as the node's inputs after the first).
    pub fn set_more_input_shapes(&mut self, shapes: Vec<Vec<usize>>) {
        let values: Vec<&mut attention::ValueInput> = match self {
            LayerKind::Attention(a) => a.value.iter_mut().collect(),
            LayerKind::Recurrent(r) => r.initial_state.iter_mut().collect(),
            _ => Vec::new(),
        };
        assert_eq!(
            values.len(),
            shapes.len(),
            "one shape per value the layer reads"
        );
        for (value, shape) in values.into_iter().zip(shapes) {
            value.shape = Some(shape);
        }
    }

    /// Its outputs after the first, as diagnostics name them, with their shapes: a recurrent
    /// layer's last states (`h`, `c`) with `return_state`.
    pub fn more_outputs(&self) -> Vec<(String, Vec<usize>)> {
        match self {
            LayerKind::Recurrent(r) => r.more_outputs(),
            _ => Vec::new(),
        }
    }

    /// As [`LayerKind::export`] with the ONNX values `more` it reads beside its input: its
    /// output and its outputs after the first.
    pub fn export_more(
        &self,
        layer: &Layer,
        x: &str,
        more: &[&str],
        g: &mut Graph<'_>,
    ) -> Result<(String, Vec<String>), ExportError> {
        match self {
            LayerKind::Attention(a) => Ok((a.export_cross(layer, x, more[0], g)?, Vec::new())),
            LayerKind::Recurrent(r) => r.export_states(layer, x, more, g),
            _ => Ok((self.export(layer, x.to_string(), g)?, Vec::new())),
        }
    }
}

/// A value a layer reads beside its input, whether it needs a gradient, and its padding mask.
pub type MoreInput<'m, T> = (Act<T>, bool, Option<&'m [f32]>);

impl Op {
    /// As [`Op::forward`] with the values `more` the layer reads beside its input (each with
    /// whether it needs a gradient and its padding mask): its output and its outputs after
    /// the first.
    pub fn forward_more<T: AnyTape>(
        &self,
        x: Act<T>,
        more: Vec<MoreInput<'_, T>>,
        cx: &mut Forward<'_>,
    ) -> (Act<T>, Vec<Act<T>>) {
        match self {
            Op::Attention(op) => {
                let second = more
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| unreachable!("cross-attention reads one value"));
                (op.forward_cross(x, second, cx), Vec::new())
            }
            Op::Recurrent(op) => {
                let initial = more.into_iter().map(|(v, _, _)| v).collect();
                op.forward_states(x, initial, cx)
            }
            _ => (self.forward(x, None, cx), Vec::new()),
        }
    }
}

/// The activation an `activation = NAME` argument means, with Keras' default slope for
/// `leaky_relu`.
pub(crate) fn activation_named(a: catalog::Activation) -> Activation {
    match a {
        catalog::Activation::Linear => Activation::Linear,
        catalog::Activation::Relu => Activation::Relu,
        catalog::Activation::Sigmoid => Activation::Sigmoid,
        catalog::Activation::Tanh => Activation::Tanh,
        catalog::Activation::Softmax => Activation::Softmax,
        catalog::Activation::LeakyRelu => Activation::LeakyRelu { alpha: 0.2 },
        catalog::Activation::Gelu => Activation::Gelu,
        catalog::Activation::Elu => Activation::Elu { alpha: 1.0 },
        catalog::Activation::Selu => Activation::Selu,
        catalog::Activation::Swish => Activation::Swish,
        catalog::Activation::Softplus => Activation::Softplus,
        catalog::Activation::LogSoftmax => Activation::LogSoftmax,
        catalog::Activation::HardSigmoid => Activation::HardSigmoid,
    }
}

/// A `padding = valid | same` argument.
pub(crate) fn padding(args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Padding {
    match args.name("padding", errors) {
        "valid" => Padding::Valid,
        "same" => Padding::Same,
        other => unreachable!("`{other}` is one of the catalogue's paddings"),
    }
}
