//! Initializers of a layer's weights (`kernel_init`, `bias_init`), with Keras' formulas
//! (`lower/init.rs`): a bare name (`he_normal`) or a call with its parameters
//! (`normal(0.01)`).

use super::data::entry;
use super::{Catalogued, Default, Entry, Kind, Param, Type, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initializer {
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
    Zeros,
    Ones,
    Normal,
    Uniform,
    Torch,
}

impl Catalogued for Initializer {
    const ALL: &'static [Self] = &[
        Initializer::GlorotUniform,
        Initializer::GlorotNormal,
        Initializer::HeUniform,
        Initializer::HeNormal,
        Initializer::LecunUniform,
        Initializer::LecunNormal,
        Initializer::Zeros,
        Initializer::Ones,
        Initializer::Normal,
        Initializer::Uniform,
        Initializer::Torch,
    ];

    fn entry(self) -> &'static Entry {
        match self {
            Initializer::GlorotUniform => &GLOROT_UNIFORM,
            Initializer::GlorotNormal => &GLOROT_NORMAL,
            Initializer::HeUniform => &HE_UNIFORM,
            Initializer::HeNormal => &HE_NORMAL,
            Initializer::LecunUniform => &LECUN_UNIFORM,
            Initializer::LecunNormal => &LECUN_NORMAL,
            Initializer::Zeros => &ZEROS,
            Initializer::Ones => &ONES,
            Initializer::Normal => &NORMAL,
            Initializer::Uniform => &UNIFORM,
            Initializer::Torch => &TORCH,
        }
    }
}

const fn init(
    name: &'static str,
    params: &'static [Param],
    class_name: Option<&'static str>,
    doc: &'static str,
) -> Entry {
    entry(name, Kind::Initializer, params, class_name, doc)
}

/// The parameter of `normal` and `uniform`, with Keras' default 0.05.
const fn spread(name: &'static str) -> Param {
    Param {
        name,
        ty: Type::Positive,
        default: Default::Is(Value::Number(0.05)),
    }
}

static GLOROT_UNIFORM: Entry = init(
    "glorot_uniform",
    &[],
    Some("GlorotUniform"),
    "`U(-l, l)`, `l = sqrt(6 / (fan_in + fan_out))`; Keras' default for kernels",
);
static GLOROT_NORMAL: Entry = init(
    "glorot_normal",
    &[],
    Some("GlorotNormal"),
    "truncated normal (at 2σ) with standard deviation `sqrt(2 / (fan_in + fan_out))`",
);
static HE_UNIFORM: Entry = init(
    "he_uniform",
    &[],
    Some("HeUniform"),
    "`U(-l, l)`, `l = sqrt(6 / fan_in)`",
);
static HE_NORMAL: Entry = init(
    "he_normal",
    &[],
    Some("HeNormal"),
    "truncated normal (at 2σ) with standard deviation `sqrt(2 / fan_in)`",
);
static LECUN_UNIFORM: Entry = init(
    "lecun_uniform",
    &[],
    Some("LecunUniform"),
    "`U(-l, l)`, `l = sqrt(3 / fan_in)`",
);
static LECUN_NORMAL: Entry = init(
    "lecun_normal",
    &[],
    Some("LecunNormal"),
    "truncated normal (at 2σ) with standard deviation `sqrt(1 / fan_in)`",
);
static ZEROS: Entry = init("zeros", &[], Some("Zeros"), "0; Keras' default for biases");
static ONES: Entry = init("ones", &[], Some("Ones"), "1");
static NORMAL: Entry = init(
    "normal",
    &[spread("std")],
    Some("RandomNormal"),
    "normal with mean 0 and standard deviation `std`",
);
static UNIFORM: Entry = init(
    "uniform",
    &[spread("limit")],
    Some("RandomUniform"),
    "`U(-limit, limit)`",
);
static TORCH: Entry = init(
    "torch",
    &[],
    None,
    "PyTorch's default for `nn.Linear` and `nn.Conv2d`, weight and bias alike: \
     `U(-l, l)`, `l = 1 / sqrt(fan_in)` of the weight (`kaiming_uniform_(a = √5)`)",
);
