//! `lstm(units, return_sequences, return_state, initial_state, bidirectional)` and `gru(...)`:
//! recurrent layers over (features, steps) sequences, exactly `torch.nn.LSTM(features, units,
//! batch_first=True, bidirectional=...)` (gates `i, f, g, o`) and `torch.nn.GRU` (gates
//! `r, z, n`): one layer, from a zero state unless the call names one.
//!
//! For encoder–decoder models, as Keras' `LSTM(return_state=True)` and
//! `initial_state=[h, c]` (PyTorch's `h_n, c_n` and `h_0, c_0`): in a graph model,
//! `y, h, c = x | lstm(32, return_state = true)` names the output and the last state
//! (`y, h` for the GRU), and `lstm(32, initial_state = (h, c))` starts from values of the
//! model. A bidirectional layer's states are the forward cell's, then the backward cell's
//! (`y, h, c, h_back, c_back`), as Keras orders them.
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

use super::attention::ValueInput;
use super::shape::sequence_input;
use super::{LayerDef, LayerOp};
use crate::catalog::layers::{layer, param, TRAINABLE};
use crate::catalog::{self, Default, Entry, Type, Value};
use crate::check::call::CallArgs;
use crate::check::error::CheckError;
use crate::check::plan::{Init, Layer};
use crate::export::graph::{int, string};
use crate::export::{ExportError, Graph};
use crate::lower::act::{Act, AnyTape, Flat, Forward};
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
    param("return_state", Type::Bool, Default::Is(Value::Bool(false))),
    param("initial_state", Type::ValueNames, Default::Derived("zeros")),
    param("bidirectional", Type::Bool, Default::Is(Value::Bool(false))),
    TRAINABLE,
];

/// `lstm`'s catalogue entry.
pub static LSTM: Entry = layer(
    "lstm",
    PARAMS,
    "lstm",
    "LSTM",
    "a long short-term memory layer over (features, steps) sequences, as PyTorch's `nn.LSTM`: the last hidden state (units), or every step's (units, steps) with `return_sequences = true`; `bidirectional = true` adds a cell that reads the steps backwards, its outputs after the forward cell's (2 units); padded steps of `embedding(mask_zero = true)` are skipped. In a graph model, `return_state = true` also gives the last hidden and cell states (`y, h, c = ...`), and `initial_state = (h, c)` starts from values of the model (encoder–decoder models)",
);

/// `gru`'s catalogue entry.
pub static GRU: Entry = layer(
    "gru",
    PARAMS,
    "gru",
    "GRU",
    "a gated recurrent unit layer over (features, steps) sequences, as PyTorch's `nn.GRU` (`n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, Keras' `reset_after = true`): the last hidden state (units), or every step's (units, steps) with `return_sequences = true`; `bidirectional = true`, masking, `return_state` (`y, h = ...`) and `initial_state = h` as `lstm`",
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

    /// The state a cell carries from step to step: `h, c` or `h`.
    pub fn states(self) -> &'static [&'static str] {
        match self {
            Cell::Lstm => &["h", "c"],
            Cell::Gru => &["h"],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recurrent {
    pub cell: Cell,
    pub units: usize,
    pub return_sequences: bool,
    /// Whether the layer also gives its last state (`y, h, c = x | lstm(...)`).
    pub return_state: bool,
    /// The values of the graph model its cells start from, each cell's states in turn.
    pub initial_state: Vec<ValueInput>,
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

    /// The names of the states it gives or starts from, each cell's in turn, as the
    /// diagnostics name them: `h, c`, then `h_back, c_back` when bidirectional.
    pub fn state_names(&self) -> Vec<String> {
        let states = self.cell.states();
        let mut names: Vec<String> = states.iter().map(ToString::to_string).collect();
        if self.bidirectional {
            names.extend(states.iter().map(|s| format!("{s}_back")));
        }
        names
    }

    /// Its outputs after the first: its last states with `return_state`, each (units).
    pub fn more_outputs(&self) -> Vec<(String, Vec<usize>)> {
        if !self.return_state {
            return Vec::new();
        }
        self.state_names()
            .into_iter()
            .map(|n| (n, vec![self.units]))
            .collect()
    }

    /// The initial state the call names: one value per state, each of shape (units).
    fn check_initial_state(&self, errors: &mut Vec<CheckError>) -> Option<()> {
        let Some(first) = self.initial_state.first() else {
            return Some(());
        };
        let names = self.state_names();
        if self.initial_state.len() != names.len() {
            let span = first
                .span
                .to(self.initial_state[self.initial_state.len() - 1].span);
            let example = names.join(", ");
            let given = if names.len() == 1 {
                example.clone()
            } else {
                format!("({example})")
            };
            errors.push(
                CheckError::invalid(
                    format!(
                        "`{}` starts from {} state{} ({example}), got {}",
                        self.cell.name(),
                        names.len(),
                        if names.len() == 1 { "" } else { "s" },
                        self.initial_state.len()
                    ),
                    format!("{} value{}", self.initial_state.len(), if self.initial_state.len() == 1 { "" } else { "s" }),
                    span,
                )
                .with_help(format!(
                    "name one value per state: `initial_state = {given}`, e.g. from `y, {example} = x | {}({}, return_state = true)`",
                    self.cell.name(),
                    self.units
                )),
            );
            return None;
        }
        for (value, state) in self.initial_state.iter().zip(&names) {
            let shape = value.shape.as_deref().unwrap_or_else(|| {
                unreachable!("check::graph gives a recurrent layer its initial state's shapes")
            });
            if shape != [self.units] {
                errors.push(CheckError::shape(
                    format!(
                        "this `{}` has {} units: its initial state `{state}` needs shape [{}], got shape {shape:?}",
                        self.cell.name(),
                        self.units,
                        self.units
                    ),
                    format!("`{}` has shape {shape:?}", value.name),
                    value.span,
                    format!(
                        "a state has one value per unit: give a value of shape [{}], such as the state of a `{}({})` (`return_state = true`)",
                        self.units,
                        self.cell.name(),
                        self.units
                    ),
                ));
                return None;
            }
        }
        Some(())
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
            return_state: args.boolean("return_state", errors),
            initial_state: args
                .value_names("initial_state", errors)
                .into_iter()
                .map(|(name, span)| ValueInput {
                    name: name.to_string(),
                    span,
                    shape: None,
                })
                .collect(),
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
        self.check_initial_state(errors)?;
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

    /// ONNX's `LSTM` or `GRU` from a zero initial state (`export_states`).
    fn export(&self, layer: &Layer, x: String, g: &mut Graph<'_>) -> Result<String, ExportError> {
        Ok(self.export_states(layer, &x, &[], g)?.0)
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
            return_state: self.return_state,
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
    /// Whether it gives its cells' last states beside its output.
    return_state: bool,
}

impl Recurrent {
    /// ONNX's `LSTM` or `GRU` on `(length, N, features)`, forward or bidirectional, from the
    /// values `initial` (each cell's states in turn; none: zeros): its output, and its last
    /// states with `return_state`. PyTorch's gate blocks (`i f g o`, `r z n`) are reordered
    /// to ONNX's (`i o f c`, `z r h`), its two biases concatenated, and the GRU applies the
    /// reset gate after the hidden product as PyTorch does (`linear_before_reset = 1`).
    pub fn export_states(
        &self,
        layer: &Layer,
        x: &str,
        initial: &[&str],
        g: &mut Graph<'_>,
    ) -> Result<(String, Vec<String>), ExportError> {
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
        let steps = g.transpose(x, &[2, 0, 1]);
        let mut attributes = vec![int("hidden_size", u as i64)];
        if self.bidirectional {
            attributes.push(string("direction", "bidirectional"));
        }
        if self.cell == Cell::Gru {
            attributes.push(int("linear_before_reset", 1));
        }
        // The initial states, (directions, N, units) each: `initial_h`, `initial_c`.
        let per_cell = self.cell.states().len();
        let mut inputs: Vec<String> = vec![steps, w, r, b];
        if !initial.is_empty() {
            inputs.push(String::new()); // no `sequence_lens`
            for s in 0..per_cell {
                let parts: Vec<String> = (0..dirs)
                    .map(|d| g.reshape(initial[d * per_cell + s], &[1, -1, u as i64]))
                    .collect();
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                inputs.push(if dirs == 1 {
                    parts[0].to_string()
                } else {
                    g.node("Concat", &parts, vec![int("axis", 0)])
                });
            }
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let outputs = g.node_n(op, &inputs, attributes, 1 + per_cell);
        let width = self.width() as i64;
        let y = if self.return_sequences {
            // Y: (length, directions, N, units) → (N, directions · units, length).
            let y = g.transpose(&outputs[0], &[2, 1, 3, 0]);
            g.reshape(&y, &[0, width, -1])
        } else {
            // Y_h: (directions, N, units) → (N, directions · units).
            let y = g.transpose(&outputs[1], &[1, 0, 2]);
            g.reshape(&y, &[-1, width])
        };
        // The last states, each cell's in turn: Y_h, Y_c (directions, N, units) → (N, units).
        let mut states = Vec::new();
        if self.return_state {
            for d in 0..dirs {
                for state in &outputs[1..] {
                    let one = if dirs == 1 {
                        state.clone()
                    } else {
                        let at = g.ints(&[d as i64]);
                        g.node("Gather", &[state, &at], vec![int("axis", 0)])
                    };
                    states.push(g.reshape(&one, &[-1, u as i64]));
                }
            }
        }
        Ok((y, states))
    }
}

impl RecurrentOp {
    /// One direction's cell over `x` from `initial` (zeros when `None`): its output, and
    /// its last state with `return_state`.
    fn run<T: AnyTape>(
        &self,
        x: T4<T>,
        params: [usize; 4],
        (reading, initial): (Reading<'_>, Option<Vec<Flat<T>>>),
        cx: &Forward<'_>,
    ) -> (T4<T>, Vec<Flat<T>>) {
        let [w_ih, w_hh, b_ih, b_hh] = params.map(|i| &cx.params[i]);
        let params = RecurrentParams {
            w_ih: (w_ih.r2(), &w_ih.value),
            w_hh: (w_hh.r2(), &w_hh.value),
            b_ih: (b_ih.r1(), &b_ih.value),
            b_hh: (b_hh.r1(), &b_hh.value),
        };
        let last = self.return_state;
        match self.cell {
            Cell::Lstm => ops::lstm_with_state(x, params, self.sequences, reading, initial, last),
            Cell::Gru => ops::gru_with_state(x, params, self.sequences, reading, initial, last),
        }
    }

    /// The layer on `x` from the states `initial`, each cell's in turn (none: zeros): its
    /// output, and its cells' last states with `return_state`.
    pub fn forward_states<T: AnyTape>(
        &self,
        x: Act<T>,
        initial: Vec<Act<T>>,
        cx: &mut Forward<'_>,
    ) -> (Act<T>, Vec<Act<T>>) {
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
        let per_cell = self.cell.states().len();
        let given = !initial.is_empty();
        let mut initial = initial.into_iter().map(Act::into_flat);
        let mut next_state = || given.then(|| initial.by_ref().take(per_cell).collect());
        let (y, states) = match self.directions[..] {
            [params] => self.run(x, params, (forward, next_state()), cx),
            [params, reverse_params] => {
                let (x, tape) = x.split_tape();
                let (y, mut states) = self.run(
                    x.clone().put_tape(tape),
                    params,
                    (forward, next_state()),
                    cx,
                );
                let backward = Reading {
                    reverse: true,
                    ..forward
                };
                let (y_reverse, reverse_states) = self.run(
                    x.put_tape(T::default()),
                    reverse_params,
                    (backward, next_state()),
                    cx,
                );
                states.extend(reverse_states);
                ((y, y_reverse).concat_along(Axis::<1>), states)
            }
            _ => unreachable!("one or two directions"),
        };
        let y = if self.sequences {
            Act::Image(y)
        } else {
            Act::Flat(Act::Image(y).into_flat())
        };
        (y, states.into_iter().map(Act::Flat).collect())
    }
}

impl LayerOp for RecurrentOp {
    fn forward<T: AnyTape>(&self, x: Act<T>, _: Option<Handoff>, cx: &mut Forward<'_>) -> Act<T> {
        self.forward_states(x, Vec::new(), cx).0
    }
}
