//! Optimizers, with Keras' defaults and update formulas (`lower/optimizer.rs`).

use super::{Catalogued, Default, Entry, Kind, Param, Type, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    Sgd,
    Adam,
    AdamW,
    RmsProp,
    Adadelta,
    Adagrad,
    Nadam,
    Adamax,
    Lion,
}

impl Catalogued for Optimizer {
    const ALL: &'static [Self] = &[
        Optimizer::Sgd,
        Optimizer::Adam,
        Optimizer::AdamW,
        Optimizer::RmsProp,
        Optimizer::Adadelta,
        Optimizer::Adagrad,
        Optimizer::Nadam,
        Optimizer::Adamax,
        Optimizer::Lion,
    ];

    fn entry(self) -> &'static Entry {
        match self {
            Optimizer::Sgd => &SGD,
            Optimizer::Adam => &ADAM,
            Optimizer::AdamW => &ADAMW,
            Optimizer::RmsProp => &RMSPROP,
            Optimizer::Adadelta => &ADADELTA,
            Optimizer::Adagrad => &ADAGRAD,
            Optimizer::Nadam => &NADAM,
            Optimizer::Adamax => &ADAMAX,
            Optimizer::Lion => &LION,
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
/// PyTorch's coupled L2 penalty on `sgd` and `adam`: `grad += weight_decay * param` before
/// the update (Keras' own `weight_decay` is decoupled, as `adamw`'s).
const L2_DECAY: Param = number("weight_decay", Type::NonNegative, 0.0);
/// Gradient accumulation, on every optimizer: the gradients of this many consecutive updates
/// are averaged and applied once (Keras 3's `gradient_accumulation_steps`; 1 applies each).
pub const ACCUMULATE: Param = Param {
    name: "accumulate",
    ty: Type::Count { min: 1 },
    default: Default::Is(Value::Count(1)),
};

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
        L2_DECAY,
        ACCUMULATE,
    ],
    "SGD",
    "gradient descent, with momentum (and Nesterov's) when `momentum` > 0; `weight_decay` \
     adds `weight_decay * param` to the gradient, as PyTorch's",
);

static ADAM: Entry = optimizer(
    "adam",
    &[LR, BETA1, BETA2, EPSILON, L2_DECAY, ACCUMULATE],
    "Adam",
    "Adam; epsilon is added to `sqrt(v)` before the bias correction, as in Keras; \
     `weight_decay` adds `weight_decay * param` to the gradient, as PyTorch's",
);

static ADAMW: Entry = optimizer(
    "adamw",
    &[
        LR,
        BETA1,
        BETA2,
        EPSILON,
        number("weight_decay", Type::NonNegative, 0.004),
        ACCUMULATE,
    ],
    "AdamW",
    "Adam with decoupled weight decay: weights shrink by `lr * weight_decay` each step",
);

static RMSPROP: Entry = optimizer(
    "rmsprop",
    &[
        LR,
        number("rho", Type::Fraction, 0.9),
        MOMENTUM,
        EPSILON,
        ACCUMULATE,
    ],
    "RMSprop",
    "RMSprop; the square average starts at 0, as in Keras",
);

static ADADELTA: Entry = optimizer(
    "adadelta",
    &[LR, number("rho", Type::Fraction, 0.95), EPSILON, ACCUMULATE],
    "Adadelta",
    "Adadelta: Keras' and PyTorch's update are the same; PyTorch's defaults are \
     `lr = 1.0, rho = 0.9, epsilon = 1e-6`",
);

static ADAGRAD: Entry = optimizer(
    "adagrad",
    &[
        LR,
        number("initial_accumulator_value", Type::NonNegative, 0.1),
        EPSILON,
        ACCUMULATE,
    ],
    "Adagrad",
    "Adagrad as Keras: `p -= lr * g / sqrt(acc + epsilon)`, the sum of squares starting at \
     `initial_accumulator_value`",
);

static NADAM: Entry = optimizer(
    "nadam",
    &[LR, BETA1, BETA2, EPSILON, ACCUMULATE],
    "Nadam",
    "Adam with Nesterov momentum, Keras' form (momentum schedule `beta1 * (1 - 0.5 * \
     0.96^t)`)",
);

static ADAMAX: Entry = optimizer(
    "adamax",
    &[LR, BETA1, BETA2, EPSILON, ACCUMULATE],
    "Adamax",
    "Adam with the infinity norm: `u = max(beta2 * u, abs(g))`",
);

static LION: Entry = optimizer(
    "lion",
    &[LR, BETA1, number("beta2", Type::Fraction, 0.99), ACCUMULATE],
    "Lion",
    "Lion: `p -= lr * sign(beta1 * m + (1 - beta1) * g)`; `beta1` must be above 0",
);
