//! Layers and activations. A layer's entry is declared in its own file under `src/layers/`,
//! and `layers!` there lists them in the order the guide shows them. An activation is also a layer
//! of its own (`relu()`), except `linear`: its entry is both, and the summary shows such a
//! layer as Keras' `Activation`.

use super::{Catalogued, Default, Entry, Kind, Param, Type, Value};
use crate::layers;

/// A layer a model can list: a handle on its entry, which the layer's own file under
/// `src/layers/` declares (an activation layer's is the activation's, below). The one list
/// of them is `layers!` in `src/layers.rs`.
#[derive(Clone, Copy)]
pub struct Layer(&'static Entry);

impl Layer {
    pub const fn of(entry: &'static Entry) -> Self {
        Layer(entry)
    }
}

/// Two handles are the same layer when they hold the same entry (entries are statics).
impl PartialEq for Layer {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Layer {}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Layer({})", self.0.name)
    }
}

/// An activation: `activation = NAME`, or a layer of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    LeakyRelu,
    Gelu,
    Elu,
    Selu,
    Swish,
    Softplus,
    LogSoftmax,
    HardSigmoid,
}

impl Catalogued for Layer {
    const ALL: &'static [Self] = layers::ALL;

    fn entry(self) -> &'static Entry {
        self.0
    }
}

impl Catalogued for Activation {
    const ALL: &'static [Self] = &[
        Activation::Linear,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::LeakyRelu,
        Activation::Gelu,
        Activation::Elu,
        Activation::Selu,
        Activation::Swish,
        Activation::Softplus,
        Activation::LogSoftmax,
        Activation::HardSigmoid,
    ];

    fn entry(self) -> &'static Entry {
        match self {
            Activation::Linear => &LINEAR,
            Activation::Relu => &RELU,
            Activation::Sigmoid => &SIGMOID,
            Activation::Tanh => &TANH,
            Activation::Softmax => &SOFTMAX,
            Activation::LeakyRelu => &LEAKY_RELU,
            Activation::Gelu => &GELU,
            Activation::Elu => &ELU,
            Activation::Selu => &SELU,
            Activation::Swish => &SWISH,
            Activation::Softplus => &SOFTPLUS,
            Activation::LogSoftmax => &LOG_SOFTMAX,
            Activation::HardSigmoid => &HARD_SIGMOID,
        }
    }
}

/// A layer's entry (each layer file under `src/layers/` declares its own).
pub(crate) const fn layer(
    name: &'static str,
    params: &'static [Param],
    base_name: &'static str,
    class_name: &'static str,
    doc: &'static str,
) -> Entry {
    Entry {
        name,
        kind: Kind::Layer,
        aliases: &[],
        params,
        rest: None,
        base_name,
        class_name: Some(class_name),
        doc,
    }
}

const fn activation(name: &'static str, params: &'static [Param], doc: &'static str) -> Entry {
    activation_also(name, &[], params, doc)
}

const fn activation_also(
    name: &'static str,
    aliases: &'static [&'static str],
    params: &'static [Param],
    doc: &'static str,
) -> Entry {
    Entry {
        name,
        kind: Kind::Activation,
        aliases,
        params,
        rest: None,
        base_name: "activation",
        class_name: Some("Activation"),
        doc,
    }
}

pub(crate) const fn param(name: &'static str, ty: Type, default: Default) -> Param {
    Param { name, ty, default }
}

pub(crate) const ACTIVATION: Param = param(
    "activation",
    Type::Activation,
    Default::Is(Value::Name("linear")),
);
/// How a layer's weight and bias start (`layers::weights`), as Keras' defaults.
pub(crate) const KERNEL_INIT: Param = param(
    "kernel_init",
    Type::Initializer,
    Default::Is(Value::Name("glorot_uniform")),
);
pub(crate) const BIAS_INIT: Param = param(
    "bias_init",
    Type::Initializer,
    Default::Is(Value::Name("zeros")),
);
/// A penalty on the layer's weight (`layers::weights`); none, as Keras' default.
pub(crate) const KERNEL_REGULARIZER: Param = param(
    "kernel_regularizer",
    Type::Regularizer,
    Default::Is(Value::Name("none")),
);
pub(crate) const USE_BIAS: Param = param("use_bias", Type::Bool, Default::Is(Value::Bool(true)));
/// `trainable = false` freezes a layer's parameters: no optimizer updates them (the
/// summary counts them as non-trainable), and a batch norm normalises with its running
/// statistics, as in Keras. The layers with parameters take it.
pub(crate) const TRAINABLE: Param = param("trainable", Type::Bool, Default::Is(Value::Bool(true)));
pub(crate) const PADDING: Param = param(
    "padding",
    Type::Name(&["valid", "same"]),
    Default::Is(Value::Name("valid")),
);

pub(crate) const POOL: Param = param("pool", Type::Pair, Default::Is(Value::Pair(2, 2)));
pub(crate) const POOL_STRIDE: Param = param("stride", Type::Pair, Default::SameAs("pool"));

static LINEAR: Entry = activation("linear", &[], "the identity; not a layer of its own");
pub(crate) static RELU: Entry = activation("relu", &[], "`max(x, 0)`");
pub(crate) static SIGMOID: Entry = activation("sigmoid", &[], "`1 / (1 + exp(-x))`");
pub(crate) static TANH: Entry = activation("tanh", &[], "the hyperbolic tangent");
pub(crate) static SOFTMAX: Entry = activation(
    "softmax",
    &[],
    "`exp(x) / sum(exp(x))` over each element (over channels, for images)",
);
pub(crate) static LEAKY_RELU: Entry = activation(
    "leaky_relu",
    &[param(
        "alpha",
        Type::NonNegative,
        Default::Is(Value::Number(0.3)),
    )],
    "`x`, or `alpha * x` below 0; `activation = leaky_relu` takes Keras' slope 0.2",
);
pub(crate) static GELU: Entry = activation("gelu", &[], "`x * Φ(x)`, Keras' exact (erf) form");
pub(crate) static ELU: Entry = activation(
    "elu",
    &[param(
        "alpha",
        Type::Number,
        Default::Is(Value::Number(1.0)),
    )],
    "`x`, or `alpha * (exp(x) - 1)` below 0",
);
pub(crate) static SELU: Entry = activation(
    "selu",
    &[],
    "`scale * elu(x, alpha)` with Keras' `alpha = 1.67326324` and `scale = 1.05070099`",
);
pub(crate) static SWISH: Entry = activation_also("swish", &["silu"], &[], "`x * sigmoid(x)`");
pub(crate) static SOFTPLUS: Entry = activation(
    "softplus",
    &[],
    "`log(1 + exp(x))`, computed without overflow",
);
pub(crate) static LOG_SOFTMAX: Entry = activation(
    "log_softmax",
    &[],
    "`x - log(sum(exp(x)))` over each element (over channels, for images), computed without overflow; `nll_loss` takes it",
);
pub(crate) static HARD_SIGMOID: Entry = activation(
    "hard_sigmoid",
    &[],
    "Keras 3's `relu6(x + 3) / 6` (Keras 2's was `0.2 * x + 0.5`, clipped)",
);
