//! Losses, each the mean over the batch as in Keras.

use super::{Catalogued, Default, Entry, Kind, Param, Type, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    SparseCategoricalCrossentropy,
    CategoricalCrossentropy,
    BinaryCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    Huber,
    Nll,
}

impl Catalogued for Loss {
    const ALL: &'static [Self] = &[
        Loss::SparseCategoricalCrossentropy,
        Loss::CategoricalCrossentropy,
        Loss::BinaryCrossentropy,
        Loss::MeanSquaredError,
        Loss::MeanAbsoluteError,
        Loss::Huber,
        Loss::Nll,
    ];

    fn entry(self) -> &'static Entry {
        match self {
            Loss::SparseCategoricalCrossentropy => &SPARSE_CATEGORICAL_CROSSENTROPY,
            Loss::CategoricalCrossentropy => &CATEGORICAL_CROSSENTROPY,
            Loss::BinaryCrossentropy => &BINARY_CROSSENTROPY,
            Loss::MeanSquaredError => &MSE,
            Loss::MeanAbsoluteError => &MAE,
            Loss::Huber => &HUBER,
            Loss::Nll => &NLL,
        }
    }
}

const fn loss(
    name: &'static str,
    aliases: &'static [&'static str],
    params: &'static [Param],
    class_name: &'static str,
    doc: &'static str,
) -> Entry {
    Entry {
        name,
        kind: Kind::Loss,
        aliases,
        params,
        rest: None,
        base_name: name,
        class_name: Some(class_name),
        doc,
    }
}

/// Whether predictions are logits (a softmax or sigmoid is applied first) or probabilities.
const FROM_LOGITS: &[Param] = &[Param {
    name: "from_logits",
    ty: Type::Bool,
    default: Default::Is(Value::Bool(false)),
}];

static SPARSE_CATEGORICAL_CROSSENTROPY: Entry = loss(
    "sparse_categorical_crossentropy",
    &[],
    FROM_LOGITS,
    "SparseCategoricalCrossentropy",
    "cross-entropy of class indices against one output per class",
);

static CATEGORICAL_CROSSENTROPY: Entry = loss(
    "categorical_crossentropy",
    &[],
    FROM_LOGITS,
    "CategoricalCrossentropy",
    "cross-entropy of one-hot (or soft) targets against one output per class",
);

static BINARY_CROSSENTROPY: Entry = loss(
    "binary_crossentropy",
    &[],
    FROM_LOGITS,
    "BinaryCrossentropy",
    "cross-entropy of targets in [0, 1] against each output",
);

static MSE: Entry = loss(
    "mse",
    &["mean_squared_error"],
    &[],
    "MeanSquaredError",
    "the mean of `(target - prediction) ** 2`",
);

static MAE: Entry = loss(
    "mae",
    &["mean_absolute_error"],
    &[],
    "MeanAbsoluteError",
    "the mean of `abs(target - prediction)`",
);

static HUBER: Entry = loss(
    "huber",
    &[],
    &[Param {
        name: "delta",
        ty: Type::Positive,
        default: Default::Is(Value::Number(1.0)),
    }],
    "Huber",
    "the mean of `0.5 * e ** 2` where `abs(e) <= delta`, else `delta * (abs(e) - 0.5 * delta)`, for `e = target - prediction`: squared near the target, absolute far from it",
);

/// PyTorch's `nll_loss` (Keras has no such class): the model's last layer gives
/// log-probabilities, as `log_softmax` does, and the loss picks the labels' ones.
static NLL: Entry = loss(
    "nll_loss",
    &["negative_log_likelihood"],
    &[],
    "NLLLoss",
    "the mean of `-prediction[label]` over class indices: the negative log-likelihood of log-probabilities (a last `log_softmax`), as PyTorch's `nll_loss`",
);
