//! Losses, each the mean over the batch as in Keras (`reduction = mean`, Keras'
//! `sum_over_batch_size`) or its sum (`reduction = sum`).

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
    KlDivergence,
    CosineSimilarity,
    Hinge,
    SquaredHinge,
    LogCosh,
    Poisson,
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
        Loss::KlDivergence,
        Loss::CosineSimilarity,
        Loss::Hinge,
        Loss::SquaredHinge,
        Loss::LogCosh,
        Loss::Poisson,
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
            Loss::KlDivergence => &KL_DIVERGENCE,
            Loss::CosineSimilarity => &COSINE_SIMILARITY,
            Loss::Hinge => &HINGE,
            Loss::SquaredHinge => &SQUARED_HINGE,
            Loss::LogCosh => &LOG_COSH,
            Loss::Poisson => &POISSON,
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

const fn param(name: &'static str, ty: Type, default: Value) -> Param {
    Param {
        name,
        ty,
        default: Default::Is(default),
    }
}

/// Whether predictions are logits (a softmax or sigmoid is applied first) or probabilities.
/// Probabilities that a model's last layer gave through its sigmoid or softmax are read as
/// that layer's logits all the same (`lower::act::Logits`).
const FROM_LOGITS: Param = param("from_logits", Type::Bool, Value::Bool(false));

/// Keras' `label_smoothing`: targets move towards the uniform distribution,
/// `t * (1 - s) + s / classes` (`s / 2` for the binary cross-entropy's two outcomes).
const LABEL_SMOOTHING: Param = param("label_smoothing", Type::Fraction, Value::Number(0.0));

/// `mean` over the batch (Keras' `sum_over_batch_size`) or the `sum` of each example's loss.
pub const REDUCTION: Param = param(
    "reduction",
    Type::Name(&["mean", "sum"]),
    Value::Name("mean"),
);

/// PyTorch's `weight` of `CrossEntropyLoss` and `NLLLoss`: one weight per class, each
/// example's loss weighted by its label's (against class indices the mean divides by the
/// sum of those weights); `(w0, w1)` on the binary cross-entropy.
const CLASS_WEIGHT: Param = param("class_weight", Type::Numbers, Value::Name("none"));

/// The cross-entropies: weights per class, and label smoothing.
const CROSS_ENTROPY_PARAMS: &[Param] = &[FROM_LOGITS, LABEL_SMOOTHING, REDUCTION, CLASS_WEIGHT];
const REDUCTION_ONLY: &[Param] = &[REDUCTION];

static SPARSE_CATEGORICAL_CROSSENTROPY: Entry = loss(
    "sparse_categorical_crossentropy",
    &[],
    CROSS_ENTROPY_PARAMS,
    "SparseCategoricalCrossentropy",
    "cross-entropy of class indices against one output per class; `class_weight` and `label_smoothing` as PyTorch's `CrossEntropyLoss`; on a model's output that a softmax layer gave, computed from that layer's logits, as Keras does",
);

static CATEGORICAL_CROSSENTROPY: Entry = loss(
    "categorical_crossentropy",
    &[],
    CROSS_ENTROPY_PARAMS,
    "CategoricalCrossentropy",
    "cross-entropy of one-hot (or soft) targets against one output per class; `class_weight` as PyTorch's `CrossEntropyLoss` on probabilities (the mean divides by the batch); on a model's output that a softmax layer gave, computed from that layer's logits, as Keras does",
);

static BINARY_CROSSENTROPY: Entry = loss(
    "binary_crossentropy",
    &[],
    CROSS_ENTROPY_PARAMS,
    "BinaryCrossentropy",
    "cross-entropy of targets in [0, 1] against each output; `class_weight = (w0, w1)` weighs each value by its target's class, `w0 (1 - t) + w1 t`, as Keras' `class_weight`; on a model's output that a sigmoid layer gave, computed from that layer's logits, as Keras does (no clipping at 1e-7)",
);

static MSE: Entry = loss(
    "mse",
    &["mean_squared_error"],
    REDUCTION_ONLY,
    "MeanSquaredError",
    "the mean of `(target - prediction) ** 2`",
);

static MAE: Entry = loss(
    "mae",
    &["mean_absolute_error"],
    REDUCTION_ONLY,
    "MeanAbsoluteError",
    "the mean of `abs(target - prediction)`",
);

static HUBER: Entry = loss(
    "huber",
    &[],
    &[param("delta", Type::Positive, Value::Number(1.0)), REDUCTION],
    "Huber",
    "the mean of `0.5 * e ** 2` where `abs(e) <= delta`, else `delta * (abs(e) - 0.5 * delta)`, for `e = target - prediction`: squared near the target, absolute far from it",
);

/// PyTorch's `nll_loss` (Keras has no such class): the model's last layer gives
/// log-probabilities, as `log_softmax` does, and the loss picks the labels' ones.
static NLL: Entry = loss(
    "nll_loss",
    &["negative_log_likelihood"],
    &[REDUCTION, CLASS_WEIGHT],
    "NLLLoss",
    "the mean of `-prediction[label]` over class indices: the negative log-likelihood of log-probabilities (a last `log_softmax`), as PyTorch's `nll_loss`",
);

static KL_DIVERGENCE: Entry = loss(
    "kl_divergence",
    &["kld"],
    REDUCTION_ONLY,
    "KLDivergence",
    "the mean over examples of `sum(t * ln(t / p))`, target and prediction clipped to [1e-7, 1]: how far predicted distributions are from the targets'",
);

static COSINE_SIMILARITY: Entry = loss(
    "cosine_similarity",
    &[],
    REDUCTION_ONLY,
    "CosineSimilarity",
    "minus the cosine of the angle between each target and prediction (each divided by its L2 norm, taken as at least 1e-7), averaged: -1 where they point the same way",
);

static HINGE: Entry = loss(
    "hinge",
    &[],
    REDUCTION_ONLY,
    "Hinge",
    "the mean of `max(1 - t * prediction, 0)` for targets `t` of -1 or 1 (targets of 0 and 1 are first mapped to -1 and 1, as Keras does)",
);

static SQUARED_HINGE: Entry = loss(
    "squared_hinge",
    &[],
    REDUCTION_ONLY,
    "SquaredHinge",
    "the mean of `max(1 - t * prediction, 0) ** 2`, targets as for `hinge`",
);

static LOG_COSH: Entry = loss(
    "log_cosh",
    &["logcosh"],
    REDUCTION_ONLY,
    "LogCosh",
    "the mean of `ln(cosh(prediction - target))`: squared near the target, absolute far from it, smooth everywhere",
);

static POISSON: Entry = loss(
    "poisson",
    &[],
    REDUCTION_ONLY,
    "Poisson",
    "the mean of `prediction - target * ln(prediction + 1e-7)`, for predicted counts (rates) of a Poisson distribution",
);
