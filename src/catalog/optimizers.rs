//! Optimizers, with Keras' defaults and update formulas (`lower/optimizer.rs`).

use super::{Catalogued, Default, Entry, Kind, Param, Type, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    Sgd,
    Adam,
    AdamW,
    RmsProp,
}

impl Catalogued for Optimizer {
    const ALL: &'static [Self] = &[
        Optimizer::Sgd,
        Optimizer::Adam,
        Optimizer::AdamW,
        Optimizer::RmsProp,
    ];

    fn entry(self) -> &'static Entry {
        match self {
            Optimizer::Sgd => &SGD,
            Optimizer::Adam => &ADAM,
            Optimizer::AdamW => &ADAMW,
            Optimizer::RmsProp => &RMSPROP,
        }
    }
}

const fn optimizer(
    name: &'static str,
    params: &'static [Param],
    class_name: &'static str,
    doc: &'static str,
) -> Entry {
    Entry {
        name,
        kind: Kind::Optimizer,
        aliases: &[],
        params,
        rest: None,
        base_name: name,
        class_name: Some(class_name),
        doc,
    }
}

const fn number(name: &'static str, ty: Type, default: f64) -> Param {
    Param {
        name,
        ty,
        default: Default::Is(Value::Number(default)),
    }
}

const LR: Param = number("lr", Type::Positive, 1e-3);
const BETA1: Param = number("beta1", Type::Fraction, 0.9);
const BETA2: Param = number("beta2", Type::Fraction, 0.999);
const EPSILON: Param = number("epsilon", Type::Positive, 1e-7);
const MOMENTUM: Param = number("momentum", Type::Fraction, 0.0);

static SGD: Entry = optimizer(
    "sgd",
    &[
        number("lr", Type::Positive, 0.01),
        MOMENTUM,
        Param {
            name: "nesterov",
            ty: Type::Bool,
            default: Default::Is(Value::Bool(false)),
        },
    ],
    "SGD",
    "gradient descent, with momentum (and Nesterov's) when `momentum` > 0",
);

static ADAM: Entry = optimizer(
    "adam",
    &[LR, BETA1, BETA2, EPSILON],
    "Adam",
    "Adam; epsilon is added to `sqrt(v)` before the bias correction, as in Keras",
);

static ADAMW: Entry = optimizer(
    "adamw",
    &[
        LR,
        BETA1,
        BETA2,
        EPSILON,
        number("weight_decay", Type::NonNegative, 0.004),
    ],
    "AdamW",
    "Adam with decoupled weight decay: weights shrink by `lr * weight_decay` each step",
);

static RMSPROP: Entry = optimizer(
    "rmsprop",
    &[LR, number("rho", Type::Fraction, 0.9), MOMENTUM, EPSILON],
    "RMSprop",
    "RMSprop; the square average starts at 0, as in Keras",
);
