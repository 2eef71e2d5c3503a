//! A checked model lowered onto the engine: its parameters, its ops (one per layer, or one
//! for a conv and the pooling it fuses), and a forward pass that works with a tape
//! (training) or without (inference). What each layer does is in its file under
//! `src/layers/`; this file holds the list of op kinds and runs them in order.

use std::sync::Mutex;

use dfdx::prelude::*;
use rand_chacha::ChaCha8Rng;

use super::act::{Act, AnyTape, Forward};
use super::init::glorot_uniform;
use super::params::{Param, StateBuffer};
use crate::check::plan::{Layer, Model};
use crate::layers::Op;

/// What lowering a layer may add to the model.
pub struct Lowering<'a> {
    pub dev: &'a Cpu,
    rng: &'a mut ChaCha8Rng,
    pub params: Vec<Param>,
    /// Layer state that is not trained, in the canonical layout.
    pub state: Vec<StateBuffer>,
}

impl Lowering<'_> {
    /// The layer's parameters with Keras' initialisers (a Glorot-uniform weight, a zero
    /// bias if it has one), named `<layer>.weight` and `<layer>.bias`: their indices.
    pub fn weight_and_bias(&mut self, layer: &Layer) -> (usize, Option<usize>) {
        let shapes = layer.parameter_shapes();
        let weight = self.params.len();
        self.params.push(Param::new(
            self.dev,
            format!("{}.weight", layer.name),
            shapes[0].clone(),
            glorot_uniform(&shapes[0], self.rng),
        ));
        let bias = shapes.get(1).map(|s| {
            self.params.push(Param::new(
                self.dev,
                format!("{}.bias", layer.name),
                s.clone(),
                vec![0.0; s[0]],
            ));
            self.params.len() - 1
        });
        (weight, bias)
    }

    /// Adds `<layer>.<name>`, state of the layer that model files and checkpoints carry and
    /// no optimizer updates (batch norm's running mean): its index in `LoweredModel::state`.
    pub fn add_state(
        &mut self,
        layer: &Layer,
        name: &str,
        shape: Vec<usize>,
        value: Vec<f32>,
    ) -> usize {
        self.state.push(StateBuffer {
            name: format!("{}.{name}", layer.name),
            shape,
            value,
        });
        self.state.len() - 1
    }
}

pub struct LoweredModel {
    pub name: String,
    pub params: Vec<Param>,
    /// Non-trained layer state (`Lowering::add_state`: batch norm's running statistics),
    /// carried by model files and checkpoints.
    pub state: Vec<StateBuffer>,
    ops: Vec<Op>,
    /// State updates the forward passes of the step in progress computed, in order
    /// ([`Self::commit_state`] stores them). A forward pass only reads the model, so they
    /// wait here.
    pending_state: Mutex<Vec<(usize, Vec<f32>)>>,
}

impl LoweredModel {
    pub fn new(dev: &Cpu, model: &Model, rng: &mut ChaCha8Rng) -> Self {
        let mut cx = Lowering {
            dev,
            rng,
            params: Vec::new(),
            state: Vec::new(),
        };
        let mut ops = Vec::new();
        let mut layers = model.layers.iter().peekable();
        while let Some(layer) = layers.next() {
            let first = cx.params.len();
            let (op, fused_next) = layer.kind.lower(layer, layers.peek().copied(), &mut cx);
            for p in &mut cx.params[first..] {
                p.trainable = layer.trainable;
            }
            if fused_next {
                layers.next();
            }
            ops.push(op);
        }
        let Lowering {
            mut params, state, ..
        } = cx;
        super::fuse::conv_to_dense_channels_last(&mut ops, &mut params);
        LoweredModel {
            name: model.name.clone(),
            params,
            state,
            ops,
            pending_state: Mutex::new(Vec::new()),
        }
    }

    /// Random numbers a training-mode call draws from the device (dropout masks).
    pub fn dropout_layers(&self) -> u64 {
        self.ops.iter().map(Op::draws).sum()
    }

    /// Runs the model. `input_grad` is false when the input is data, so the
    /// first conv can skip computing a gradient nobody reads.
    pub fn forward<T: AnyTape>(&self, input: Act<T>, training: bool, input_grad: bool) -> Act<T> {
        let mut cx = Forward {
            params: &self.params,
            state: &self.state,
            state_updates: Vec::new(),
            training,
            input_grad,
            handoff: None,
        };
        let mut act = input;
        for (i, op) in self.ops.iter().enumerate() {
            cx.input_grad = input_grad || i > 0;
            // What the op before handed over beside the tape is for this op alone.
            let handoff = cx.handoff.take();
            act = op.forward(act, handoff, &mut cx);
        }
        if !cx.state_updates.is_empty() {
            self.pending_state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .append(&mut cx.state_updates);
        }
        act
    }

    /// Stores the state updates of the step's forward passes, each in turn.
    pub fn commit_state(&mut self) {
        let pending = self
            .pending_state
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, value) in pending.drain(..) {
            self.state[i].value = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_updates_of_a_step_are_stored_in_order_when_committed() {
        let mut model = LoweredModel {
            name: "m".into(),
            params: Vec::new(),
            state: vec![StateBuffer {
                name: "bn.running_mean".into(),
                shape: vec![2],
                value: vec![0.0, 0.0],
            }],
            ops: Vec::new(),
            pending_state: Mutex::new(vec![(0, vec![1.0, 2.0]), (0, vec![3.0, 4.0])]),
        };
        assert_eq!(
            model.state[0].value,
            [0.0, 0.0],
            "nothing changes before the commit"
        );
        model.commit_state();
        assert_eq!(model.state[0].value, [3.0, 4.0]);
        model.commit_state();
        assert_eq!(model.state[0].value, [3.0, 4.0]);
    }
}
