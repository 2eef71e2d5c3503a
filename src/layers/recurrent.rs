//! `lstm(units, return_sequences)` and `gru(units, return_sequences)`: recurrent layers over
//! (features, steps) sequences, exactly `torch.nn.LSTM(features, units, batch_first=True)`
//! (gates `i, f, g, o`) and `torch.nn.GRU` (gates `r, z, n`): one layer, a zero initial
//! state.
//!
//! Their parameters carry PyTorch's names and layout, so a model file loads into that
//! module's state dict: `<layer>.weight_ih_l0` (G·units, features), `<layer>.weight_hh_l0`
//! (G·units, units), `<layer>.bias_ih_l0` and `<layer>.bias_hh_l0` (G·units), for G gates
//! (4 and 3), all drawn from PyTorch's U(-1/√units, 1/√units). They run as our ops
//! (`ops::lstm`, `ops::gru`).

use super::shape::sequence_input;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param, TRAINABLE};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Init, Layer};
use crate::export::graph::int;
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::lower::params::Role;
use crate::ops::handoff::Handoff;
use crate::ops::{self, RecurrentParams};
use crate::source::Span;

/// Both layers' parameters.
const PARAMS: &[catalog::Param] = &[
    param(
        "units",
        Type::Count { min: 1 },
        Default::Required(Value::Count(1)),
    ),
    param(
        "return_sequences",
        Type::Bool,
        Default::Is(Value::Bool(false)),
    ),
    TRAINABLE,
];

/// `lstm`'s catalogue entry.
pub static LSTM: Entry = layer(
    "lstm",
    PARAMS,
    "lstm",
    "LSTM",
    "a long short-term memory layer over (features, steps) sequences, as PyTorch's `nn.LSTM`: the last hidden state (units), or every step's (units, steps) with `return_sequences = true`",
);

/// `gru`'s catalogue entry.
pub static GRU: Entry = layer(
    "gru",
    PARAMS,
    "gru",
    "GRU",
    "a gated recurrent unit layer over (features, steps) sequences, as PyTorch's `nn.GRU` (`n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, Keras' `reset_after = true`): the last hidden state (units), or every step's (units, steps) with `return_sequences = true`",
);

/// Which recurrent cell a layer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Lstm,
    Gru,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recurrent {
    pub cell: Cell,
    pub units: usize,
    pub return_sequences: bool,
}

impl LayerDef for Recurrent {
    type Op = RecurrentOp;

    fn read(id: catalog::Layer, args: &CallArgs<'_>, errors: &mut Vec<CheckError>) -> Self {
        Recurrent {
            cell: if id == catalog::Layer::of(&GRU) {
                Cell::Gru
            } else {
                Cell::Lstm
            },
            units: args.count("units", errors),
            return_sequences: args.boolean("return_sequences", errors),
        }
    }

    fn catalogued(&self) -> catalog::Layer {
        catalog::Layer::of(match self.cell {
            Cell::Lstm => &LSTM,
            Cell::Gru => &GRU,
        })
    }

    fn output_shape(
        &self,
        input: &[usize],
        span: Span,
        errors: &mut Vec<CheckError>,
    ) -> Option<Vec<usize>> {
        let [_, steps] = sequence_input(self.cell.name(), input, span, errors)?;
        Some(if self.return_sequences {
            vec![self.units, steps]
        } else {
            vec![self.units]
        })
    }

    /// `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, in PyTorch's layout.
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        let gates = self.cell.gates() * self.units;
        vec![
            vec![gates, input[0]],
            vec![gates, self.units],
            vec![gates],
            vec![gates],
        ]
    }

    /// The forward pass keeps up to six values per unit and step (the LSTM's four gates, its
    /// cell and hidden states), against an input of at least one value per step.
    fn scratch_factor(&self) -> usize {
        6 * self.units
    }

    /// ONNX's `LSTM` or `GRU` on `(length, N, features)`, one direction, a zero initial
    /// state. PyTorch's gate blocks (`i f g o`, `r z n`) are reordered to ONNX's (`i o f c`,
    /// `z r h`), its two biases concatenated, and the GRU applies the reset gate after the
    /// hidden product as PyTorch does (`linear_before_reset = 1`).
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let (op, order): (&str, &[usize]) = match self.cell {
            Cell::Lstm => ("LSTM", &[0, 3, 1, 2]),
            Cell::Gru => ("GRU", &[1, 0, 2]),
        };
        let gates = self.cell.gates();
        let u = self.units;
        let reorder = |data: &[f32]| -> Vec<f32> {
            let block = data.len() / gates;
            order
                .iter()
                .flat_map(|&k| data[k * block..(k + 1) * block].iter().copied())
                .collect()
        };
        let features = layer.input_shape[0];
        let w = reorder(&g.tensor(layer, "weight_ih_l0")?.data);
        let r = reorder(&g.tensor(layer, "weight_hh_l0")?.data);
        let mut b = reorder(&g.tensor(layer, "bias_ih_l0")?.data);
        b.extend(reorder(&g.tensor(layer, "bias_hh_l0")?.data));
        let w = g.constant(&format!("{}.W", layer.name), &[1, gates * u, features], &w);
        let r = g.constant(&format!("{}.R", layer.name), &[1, gates * u, u], &r);
        let b = g.constant(&format!("{}.B", layer.name), &[1, 2 * gates * u], &b);
        let steps = g.transpose(&x, &[2, 0, 1]);
        let mut attributes = vec![int("hidden_size", u as i64)];
        if self.cell == Cell::Gru {
            attributes.push(int("linear_before_reset", 1));
        }
        let outputs = g.node_n(op, &[&steps, &w, &r, &b], attributes, 2);
        if self.return_sequences {
            // Y: (length, 1, N, units) → (N, units, length).
            let y = g.reshape(&outputs[0], &[0, -1, u as i64]);
            Ok(g.transpose(&y, &[1, 2, 0]))
        } else {
            // Y_h: (1, N, units) → (N, units).
            Ok(g.reshape(&outputs[1], &[-1, u as i64]))
        }
    }

    fn lower(
        &self,
        layer: &Layer,
        _: Option<&Layer>,
        cx: &mut Lowering<'_>,
    ) -> (RecurrentOp, bool) {
        let shapes = self.parameter_shapes(&layer.input_shape);
        // PyTorch bounds every parameter by 1/√units.
        let fans = (self.units, self.units);
        let names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];
        let [w_ih, w_hh, b_ih, b_hh] = [0, 1, 2, 3].map(|i| {
            let role = if i < 2 {
                Role::Kernel(None)
            } else {
                Role::Other
            };
            cx.add_param(
                layer,
                names[i],
                shapes[i].clone(),
                (Init::Torch, fans),
                role,
            )
        });
        let op = RecurrentOp {
            cell: self.cell,
            params: [w_ih, w_hh, b_ih, b_hh],
            features: layer.input_shape[0],
            steps: layer.input_shape[1],
            sequences: self.return_sequences,
        };
        (op, false)
    }
}

pub struct RecurrentOp {
    cell: Cell,
    /// Indices of `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` among the
    /// model's parameters.
    params: [usize; 4],
    features: usize,
    steps: usize,
    sequences: bool,
}

impl LayerOp for RecurrentOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let x = x.into_sequence(self.cell.name(), self.features, self.steps);
        let [w_ih, w_hh, b_ih, b_hh] = self.params.map(|i| &cx.params[i]);
        let params = RecurrentParams {
            w_ih: (w_ih.r2(), &w_ih.value),
            w_hh: (w_hh.r2(), &w_hh.value),
            b_ih: (b_ih.r1(), &b_ih.value),
            b_hh: (b_hh.r1(), &b_hh.value),
        };
        let y = Act::Image(match self.cell {
            Cell::Lstm => ops::lstm(x, params, self.sequences),
            Cell::Gru => ops::gru(x, params, self.sequences),
        });
        if self.sequences {
            y
        } else {
            Act::Flat(y.into_flat())
        }
    }
}
