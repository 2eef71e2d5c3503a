//! `lstm(units, return_sequences, bidirectional)` and `gru(...)`: recurrent layers over
//! (features, steps) sequences, exactly `torch.nn.LSTM(features, units, batch_first=True,
//! bidirectional=...)` (gates `i, f, g, o`) and `torch.nn.GRU` (gates `r, z, n`): one layer,
//! a zero initial state.
//!
//! Their parameters carry PyTorch's names and layout, so a model file loads into that
//! module's state dict: `<layer>.weight_ih_l0` (G·units, features), `<layer>.weight_hh_l0`
//! (G·units, units), `<layer>.bias_ih_l0` and `<layer>.bias_hh_l0` (G·units), for G gates
//! (4 and 3), and the same with `_reverse` for the backward direction of a bidirectional
//! layer, all drawn from PyTorch's U(-1/√units, 1/√units). They run as our ops
//! (`ops::lstm`, `ops::gru`).
//!
//! A bidirectional layer runs a second cell from the last step to the first and puts its
//! outputs after the forward cell's (2·units features), as PyTorch and Keras'
//! `Bidirectional(merge_mode = "concat")` do; its last state is the forward cell's at the
//! last step and the backward cell's at the first.
//!
//! Under the padding mask of `embedding(mask_zero = true)` the cells skip the padded steps
//! as Keras' masking does: the state goes on unchanged, the step's output is 0 (PyTorch's
//! `pack_padded_sequence` gives the same numbers for padding at the end). A layer that
//! returns sequences carries the mask on; one that returns its last state takes it.

use dfdx::prelude::{Axis, PutTape, SplitTape, TryConcatAlong};

use super::shape::sequence_input;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param, TRAINABLE};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Init, Layer};
use crate::export::graph::{int, string};
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Forward};
use crate::lower::model::Lowering;
use crate::lower::params::Role;
use crate::ops::handoff::Handoff;
use crate::ops::{self, Reading, RecurrentParams, T4};
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
    param("bidirectional", Type::Bool, Default::Is(Value::Bool(false))),
    TRAINABLE,
];

/// `lstm`'s catalogue entry.
pub static LSTM: Entry = layer(
    "lstm",
    PARAMS,
    "lstm",
    "LSTM",
    "a long short-term memory layer over (features, steps) sequences, as PyTorch's `nn.LSTM`: the last hidden state (units), or every step's (units, steps) with `return_sequences = true`; `bidirectional = true` adds a cell that reads the steps backwards, its outputs after the forward cell's (2 units); padded steps of `embedding(mask_zero = true)` are skipped",
);

/// `gru`'s catalogue entry.
pub static GRU: Entry = layer(
    "gru",
    PARAMS,
    "gru",
    "GRU",
    "a gated recurrent unit layer over (features, steps) sequences, as PyTorch's `nn.GRU` (`n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, Keras' `reset_after = true`): the last hidden state (units), or every step's (units, steps) with `return_sequences = true`; `bidirectional = true` and masking as `lstm`",
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
    pub bidirectional: bool,
}

impl Recurrent {
    /// Cells: 2 when bidirectional.
    fn directions(&self) -> usize {
        1 + usize::from(self.bidirectional)
    }

    /// The output's features.
    fn width(&self) -> usize {
        self.directions() * self.units
    }
}

/// PyTorch's names of one direction's parameters.
const NAMES: [[&str; 4]; 2] = [
    ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"],
    [
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ],
];

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
            bidirectional: args.boolean("bidirectional", errors),
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
            vec![self.width(), steps]
        } else {
            vec![self.width()]
        })
    }

    /// `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` in PyTorch's layout, then
    /// the same `_reverse` when bidirectional.
    fn parameter_shapes(&self, input: &[usize]) -> Vec<Vec<usize>> {
        let gates = self.cell.gates() * self.units;
        let one = [
            vec![gates, input[0]],
            vec![gates, self.units],
            vec![gates],
            vec![gates],
        ];
        one.iter()
            .cycle()
            .take(4 * self.directions())
            .cloned()
            .collect()
    }

    /// The forward pass keeps up to six values per unit and step (the LSTM's four gates, its
    /// cell and hidden states) for each direction, against an input of at least one value
    /// per step.
    fn scratch_factor(&self) -> usize {
        6 * self.width()
    }

    /// ONNX's `LSTM` or `GRU` on `(length, N, features)`, forward or bidirectional, a zero
    /// initial state. PyTorch's gate blocks (`i f g o`, `r z n`) are reordered to ONNX's
    /// (`i o f c`, `z r h`), its two biases concatenated, and the GRU applies the reset gate
    /// after the hidden product as PyTorch does (`linear_before_reset = 1`).
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        let (op, order): (&str, &[usize]) = match self.cell {
            Cell::Lstm => ("LSTM", &[0, 3, 1, 2]),
            Cell::Gru => ("GRU", &[1, 0, 2]),
        };
        let gates = self.cell.gates();
        let u = self.units;
        let dirs = self.directions();
        let reorder = |data: &[f32]| -> Vec<f32> {
            let block = data.len() / gates;
            order
                .iter()
                .flat_map(|&k| data[k * block..(k + 1) * block].iter().copied())
                .collect()
        };
        let features = layer.input_shape[0];
        let (mut w, mut r, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for names in &NAMES[..dirs] {
            w.extend(reorder(&g.tensor(layer, names[0])?.data));
            r.extend(reorder(&g.tensor(layer, names[1])?.data));
            b.extend(reorder(&g.tensor(layer, names[2])?.data));
            b.extend(reorder(&g.tensor(layer, names[3])?.data));
        }
        let w = g.constant(
            &format!("{}.W", layer.name),
            &[dirs, gates * u, features],
            &w,
        );
        let r = g.constant(&format!("{}.R", layer.name), &[dirs, gates * u, u], &r);
        let b = g.constant(&format!("{}.B", layer.name), &[dirs, 2 * gates * u], &b);
        let steps = g.transpose(&x, &[2, 0, 1]);
        let mut attributes = vec![int("hidden_size", u as i64)];
        if self.bidirectional {
            attributes.push(string("direction", "bidirectional"));
        }
        if self.cell == Cell::Gru {
            attributes.push(int("linear_before_reset", 1));
        }
        let outputs = g.node_n(op, &[&steps, &w, &r, &b], attributes, 2);
        let width = self.width() as i64;
        if self.return_sequences {
            // Y: (length, directions, N, units) → (N, directions · units, length).
            let y = g.transpose(&outputs[0], &[2, 1, 3, 0]);
            Ok(g.reshape(&y, &[0, width, -1]))
        } else {
            // Y_h: (directions, N, units) → (N, directions · units).
            let y = g.transpose(&outputs[1], &[1, 0, 2]);
            Ok(g.reshape(&y, &[-1, width]))
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
        let directions = NAMES[..self.directions()]
            .iter()
            .enumerate()
            .map(|(d, names)| {
                [0, 1, 2, 3].map(|i| {
                    let role = if i < 2 {
                        Role::Kernel(None)
                    } else {
                        Role::Other
                    };
                    cx.add_param(
                        layer,
                        names[i],
                        shapes[4 * d + i].clone(),
                        (Init::Torch, fans),
                        role,
                    )
                })
            })
            .collect();
        let op = RecurrentOp {
            cell: self.cell,
            directions,
            features: layer.input_shape[0],
            steps: layer.input_shape[1],
            sequences: self.return_sequences,
        };
        (op, false)
    }
}

pub struct RecurrentOp {
    cell: Cell,
    /// For each direction, forward then backward, the indices of its `weight_ih_l0`,
    /// `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` among the model's parameters.
    directions: Vec<[usize; 4]>,
    features: usize,
    steps: usize,
    sequences: bool,
}

impl RecurrentOp {
    /// One direction's cell over `x`.
    fn run<T: AnyTape>(
        &self,
        x: T4<T>,
        params: [usize; 4],
        reading: Reading<'_>,
        cx: &Forward<'_>,
    ) -> T4<T> {
        let [w_ih, w_hh, b_ih, b_hh] = params.map(|i| &cx.params[i]);
        let params = RecurrentParams {
            w_ih: (w_ih.r2(), &w_ih.value),
            w_hh: (w_hh.r2(), &w_hh.value),
            b_ih: (b_ih.r1(), &b_ih.value),
            b_hh: (b_hh.r1(), &b_hh.value),
        };
        match self.cell {
            Cell::Lstm => ops::lstm(x, params, self.sequences, reading),
            Cell::Gru => ops::gru(x, params, self.sequences, reading),
        }
    }
}

impl LayerOp for RecurrentOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        let x = x.into_sequence(self.cell.name(), self.features, self.steps);
        // Sequences keep each step where it was and carry the mask on; the last state
        // takes it (`check::mask`).
        let mask = if self.sequences {
            cx.mask.clone()
        } else {
            cx.mask.take()
        };
        let forward = Reading {
            mask: mask.as_deref(),
            reverse: false,
        };
        let y = match self.directions[..] {
            [params] => self.run(x, params, forward, cx),
            [params, reverse_params] => {
                let (x, tape) = x.split_tape();
                let y = self.run(x.clone().put_tape(tape), params, forward, cx);
                let backward = Reading {
                    reverse: true,
                    ..forward
                };
                let y_reverse = self.run(x.put_tape(T::default()), reverse_params, backward, cx);
                (y, y_reverse).concat_along(Axis::<1>)
            }
            _ => unreachable!("one or two directions"),
        };
        if self.sequences {
            Act::Image(y)
        } else {
            Act::Flat(Act::Image(y).into_flat())
        }
    }
}
