//! Functions of a hook's scalar expressions: maths, and learning-rate schedules of the
//! training step (`step`) or epoch (`epoch`). Their arguments are positional scalar
//! expressions, so their names only document them.

use super::data::entry;
use super::{Catalogued, Default, Entry, Kind, Param, Type, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Exp,
    Log,
    Sqrt,
    Floor,
    Cos,
    Min,
    Max,
    Exponential,
    StepDecay,
    Cosine,
    Warmup,
    PolynomialDecay,
    OneCycle,
}

impl Catalogued for Function {
    const ALL: &'static [Self] = &[
        Function::Exp,
        Function::Log,
        Function::Sqrt,
        Function::Floor,
        Function::Cos,
        Function::Min,
        Function::Max,
        Function::Exponential,
        Function::StepDecay,
        Function::Cosine,
        Function::Warmup,
        Function::PolynomialDecay,
        Function::OneCycle,
    ];

    fn entry(self) -> &'static Entry {
        match self {
            Function::Exp => &EXP,
            Function::Log => &LOG,
            Function::Sqrt => &SQRT,
            Function::Floor => &FLOOR,
            Function::Cos => &COS,
            Function::Min => &MIN,
            Function::Max => &MAX,
            Function::Exponential => &EXPONENTIAL,
            Function::StepDecay => &STEP_DECAY,
            Function::Cosine => &COSINE,
            Function::Warmup => &WARMUP,
            Function::PolynomialDecay => &POLYNOMIAL_DECAY,
            Function::OneCycle => &ONE_CYCLE,
        }
    }
}

const fn arg(name: &'static str) -> Param {
    Param {
        name,
        ty: Type::Scalar,
        default: Default::Required(Value::Number(0.0)),
    }
}

/// An argument that may be left out, `value` then.
const fn optional(name: &'static str, value: f64) -> Param {
    Param {
        name,
        ty: Type::Scalar,
        default: Default::Is(Value::Number(value)),
    }
}

const fn maths(name: &'static str, params: &'static [Param], doc: &'static str) -> Entry {
    entry(name, Kind::Function, params, None, doc)
}

static EXP: Entry = maths("exp", &[arg("x")], "e to the power x");
static LOG: Entry = maths("log", &[arg("x")], "the natural logarithm");
static SQRT: Entry = maths("sqrt", &[arg("x")], "the square root");
static FLOOR: Entry = maths("floor", &[arg("x")], "the largest whole number not above x");
static COS: Entry = maths("cos", &[arg("x")], "the cosine of x radians");
static MIN: Entry = maths("min", &[arg("a"), arg("b")], "the smaller of a and b");
static MAX: Entry = maths("max", &[arg("a"), arg("b")], "the larger of a and b");

static EXPONENTIAL: Entry = entry(
    "exponential",
    Kind::Schedule,
    &[arg("initial"), arg("rate"), arg("steps")],
    Some("ExponentialDecay"),
    "`initial * rate ** (step / steps)`",
);

static STEP_DECAY: Entry = entry(
    "step_decay",
    Kind::Schedule,
    &[arg("initial"), arg("factor"), arg("every")],
    None,
    "`initial * factor ** floor(epoch / every)`",
);

static COSINE: Entry = entry(
    "cosine",
    Kind::Schedule,
    &[arg("initial"), arg("steps"), optional("alpha", 0.0)],
    Some("CosineDecay"),
    "cosine decay from `initial` to `alpha * initial` over `steps` steps",
);

static WARMUP: Entry = entry(
    "warmup",
    Kind::Schedule,
    &[arg("target"), arg("steps")],
    None,
    "rises linearly from 0 to `target` over `steps` steps, then stays there",
);

static POLYNOMIAL_DECAY: Entry = entry(
    "polynomial_decay",
    Kind::Schedule,
    &[
        arg("initial"),
        arg("steps"),
        optional("end", 0.0001),
        optional("power", 1.0),
    ],
    Some("PolynomialDecay"),
    "`(initial - end) * (1 - step / steps) ** power + end`, then `end` after `steps` steps",
);

static ONE_CYCLE: Entry = entry(
    "one_cycle",
    Kind::Schedule,
    &[
        arg("max_lr"),
        arg("steps"),
        optional("pct_start", 0.3),
        optional("div_factor", 25.0),
        optional("final_div_factor", 10000.0),
    ],
    None,
    "PyTorch's `OneCycleLR` (cosine annealing): from `max_lr / div_factor` up to `max_lr` over the first `pct_start` of `steps` steps, then down to `max_lr / div_factor / final_div_factor` at the last; that floor after it",
);
