//! Regularizers of a layer's kernel (`kernel_regularizer = l2(0.01)`), as Keras': a penalty
//! on the weight added to the loss of every `update` that trains the layer.

use super::data::entry;
use super::{Catalogued, Default, Entry, Kind, Param, Type, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regularizer {
    L1,
    L2,
    L1L2,
}

impl Catalogued for Regularizer {
    const ALL: &'static [Self] = &[Regularizer::L1, Regularizer::L2, Regularizer::L1L2];

    fn entry(self) -> &'static Entry {
        match self {
            Regularizer::L1 => &L1,
            Regularizer::L2 => &L2,
            Regularizer::L1L2 => &L1_L2,
        }
    }
}

const fn factor(name: &'static str, default: f64) -> Param {
    Param {
        name,
        ty: Type::NonNegative,
        default: Default::Is(Value::Number(default)),
    }
}

static L1: Entry = entry(
    "l1",
    Kind::Regularizer,
    &[factor("l1", 0.01)],
    Some("L1"),
    "`l1 * sum(abs(w))`",
);
static L2: Entry = entry(
    "l2",
    Kind::Regularizer,
    &[factor("l2", 0.01)],
    Some("L2"),
    "`l2 * sum(w ** 2)` (no 1/2, as Keras)",
);
static L1_L2: Entry = entry(
    "l1_l2",
    Kind::Regularizer,
    &[factor("l1", 0.0), factor("l2", 0.0)],
    Some("L1L2"),
    "`l1 * sum(abs(w)) + l2 * sum(w ** 2)`",
);
