//! A checked model lowered onto the engine: its parameters, its ops (one per layer, or one
//! for a conv and the pooling it fuses), and a forward pass that works with a tape
//! (training) or without (inference). What each layer does is in its file under
//! `src/layers/`; this file holds the list of op kinds and runs them in order.

use std::collections::HashMap;
use std::sync::Mutex;

use dfdx::prelude::*;
use rand_chacha::ChaCha8Rng;

use super::act::{Act, AnyTape, Combine, Forward, Logits};
use super::init::{fans, initialize};
use super::params::{Param, Role, StateBuffer};
use crate::check::plan::{Activation, Init, Layer, Model, NodeOp};
use crate::layers::weights::Weights;
use crate::layers::{LayerKind, Op};

/// What lowering a layer may add to the model.
pub struct Lowering<'a> {
    pub dev: &'a Cpu,
    rng: &'a mut ChaCha8Rng,
    pub params: Vec<Param>,
    /// Layer state that is not trained, in the canonical layout.
    pub state: Vec<StateBuffer>,
}

impl Lowering<'_> {
    /// The layer's parameters, named `<layer>.weight` and `<layer>.bias` (if it has one),
    /// drawn as `weights` says (Keras' defaults: a Glorot-uniform weight, a zero bias) in
    /// that order from the experiment's generator: their indices. Every layer with a weight
    /// makes it here.
    pub fn weight_and_bias(&mut self, layer: &Layer, weights: &Weights) -> (usize, Option<usize>) {
        let shapes = layer.parameter_shapes();
        let weight_fans = fans(&shapes[0]);
        let weight = self.params.len();
        self.params.push(Param::new(
            self.dev,
            format!("{}.weight", layer.name),
            shapes[0].clone(),
            initialize(weights.kernel_init, &shapes[0], weight_fans, self.rng),
        ));
        self.params[weight].role = Role::Kernel(weights.kernel_regularizer);
        let bias = shapes.get(1).map(|s| {
            // PyTorch bounds a bias by its weight's fan-in; Keras' initializers take the
            // bias's own shape.
            let bias_fans = if weights.bias_init == Init::Torch {
                weight_fans
            } else {
                fans(s)
            };
            self.params.push(Param::new(
                self.dev,
                format!("{}.bias", layer.name),
                s.clone(),
                initialize(weights.bias_init, s, bias_fans, self.rng),
            ));
            self.params.len() - 1
        });
        (weight, bias)
    }

    /// Adds the parameter `<layer>.<name>` of `shape` (canonical layout), drawn as `init`
    /// says with `fans` from the experiment's generator: its index. For a layer whose
    /// parameters PyTorch names otherwise than `weight` and `bias` (attention's
    /// `in_proj_weight`); a `Role::Kernel` is what its regularizer and `l1`/`l2` read.
    pub fn add_param(
        &mut self,
        layer: &Layer,
        name: &str,
        shape: Vec<usize>,
        (init, fans): (Init, (usize, usize)),
        role: Role,
    ) -> usize {
        let value = initialize(init, &shape, fans, self.rng);
        let mut param = Param::new(self.dev, format!("{}.{name}", layer.name), shape, value);
        param.role = role;
        self.params.push(param);
        self.params.len() - 1
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
    /// A stack's parameters by op: the indices each op's layer added (empty for a graph).
    op_params: Vec<std::ops::Range<usize>>,
    /// A graph model's wiring over `ops`; `None` for a stack, whose ops run in order.
    graph: Option<LoweredGraph>,
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
        if let Some(graph) = &model.graph {
            let lowered = LoweredGraph::new(model, graph, &mut ops, &mut cx);
            let Lowering { params, state, .. } = cx;
            return LoweredModel {
                name: model.name.clone(),
                params,
                state,
                ops,
                op_params: Vec::new(),
                graph: Some(lowered),
                pending_state: Mutex::new(Vec::new()),
            };
        }
        let mut op_params = Vec::new();
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
            op_params.push(first..cx.params.len());
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
            op_params,
            graph: None,
            pending_state: Mutex::new(Vec::new()),
        }
    }

    /// Runs the model on one value per input, giving one value per output and, beside
    /// each, its [`Logits`] where the layer that gave it ended in a sigmoid or softmax.
    /// `input_grads` says, per input, whether it needs a gradient (false for data);
    /// `param_grads`, per parameter, whether the update in progress reads its gradient
    /// (`None`: all).
    pub fn forward_outputs<T: AnyTape>(
        &self,
        inputs: Vec<Act<T>>,
        training: bool,
        input_grads: &[bool],
        param_grads: Option<&[bool]>,
    ) -> (Vec<Act<T>>, Vec<Option<Logits>>) {
        let Some(graph) = &self.graph else {
            let input = inputs
                .into_iter()
                .next()
                .unwrap_or_else(|| unreachable!("check: a stack takes one input"));
            let (output, logits) = self.forward(input, training, input_grads[0], param_grads);
            return (vec![output], vec![logits]);
        };
        let mut cx = Forward {
            params: &self.params,
            state: &self.state,
            state_updates: Vec::new(),
            training,
            input_grad: true,
            param_grads,
            handoff: None,
            mask: None,
            logits: None,
        };
        let (outputs, logits) = graph.forward(&self.ops, inputs, input_grads, &mut cx);
        if !cx.state_updates.is_empty() {
            self.pending_state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .append(&mut cx.state_updates);
        }
        (outputs, logits)
    }

    /// Random numbers a training-mode call draws from the device (dropout masks).
    pub fn dropout_layers(&self) -> u64 {
        self.ops.iter().map(Op::draws).sum()
    }

    /// Runs a stack. `input_grad` is false when the input is data: then the ops up to the
    /// first whose parameters are trained (`param_grads`, as in [`Self::forward_outputs`]) skip
    /// computing gradients nobody reads.
    fn forward<T: AnyTape>(
        &self,
        input: Act<T>,
        training: bool,
        input_grad: bool,
        param_grads: Option<&[bool]>,
    ) -> (Act<T>, Option<Logits>) {
        let mut cx = Forward {
            params: &self.params,
            state: &self.state,
            state_updates: Vec::new(),
            training,
            input_grad,
            param_grads,
            handoff: None,
            mask: None,
            logits: None,
        };
        let mut act = input;
        for (op, params) in self.ops.iter().zip(&self.op_params) {
            // What the op before handed over beside the tape is for this op alone.
            let handoff = cx.handoff.take();
            cx.logits = None;
            act = op.forward(act, handoff, &mut cx);
            cx.input_grad = cx.input_grad || params.clone().any(|p| cx.param_grad(p));
        }
        if !cx.state_updates.is_empty() {
            self.pending_state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .append(&mut cx.state_updates);
        }
        (act, cx.logits)
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

/// A graph model lowered: each step computes one value from values before it. Consecutive
/// layers where each reads only the one before and nothing else reads that one form a chain,
/// lowered as a stack is (a conv fuses the pooling after it, and hands a dense layer its
/// output channels-last), so a pipe runs as fast as the same layers in a stack.
struct LoweredGraph {
    inputs: usize,
    steps: Vec<GraphStep>,
    /// For each chain that ends in a layer of several outputs, by its value: the values of
    /// its `GraphStep::Output`s, in order.
    more_outputs: HashMap<usize, Vec<usize>>,
    /// Readers of each value (inputs, then one per step), the outputs counted.
    readers: Vec<usize>,
    outputs: Vec<usize>,
}

enum GraphStep {
    /// `ops[range]` in order on one value; the first op also reads the values `more` (the
    /// memory of cross-attention, a recurrent layer's initial state), and the last may give
    /// outputs after its first (a recurrent layer's last state), which `Output` steps take.
    Chain {
        input: usize,
        more: Vec<usize>,
        ops: std::ops::Range<usize>,
    },
    /// Output `index` (from 1) of the chain whose value is `of`.
    Output {
        of: usize,
        index: usize,
    },
    Add(Vec<usize>),
    /// A sum that a ReLU reads, and only it: `(h + x) | relu()` ends most residual blocks,
    /// and as one op (`ops::add_relu`) it is one pass over the data each way, not two.
    AddRelu(Vec<usize>),
    Multiply(Vec<usize>),
    Concat(Vec<usize>),
}

impl LoweredGraph {
    fn new(
        model: &Model,
        graph: &crate::check::plan::Graph,
        ops: &mut Vec<Op>,
        cx: &mut Lowering<'_>,
    ) -> Self {
        let n_in = graph.inputs.len();
        // Readers of each value of the plan, to see which layer outputs only feed the next.
        let mut plan_readers = vec![0usize; n_in + graph.nodes.len()];
        for node in &graph.nodes {
            for &v in &node.inputs {
                plan_readers[v] += 1;
            }
        }
        for &v in &graph.outputs {
            plan_readers[v] += 1;
        }
        // Each plan value's number among the lowered steps' values.
        let mut value_of: Vec<usize> = (0..n_in).collect();
        // Chains as runs of layer indices, with the value each reads (and the values its
        // first layer reads beside it).
        let mut runs: Vec<(usize, Vec<usize>, Vec<usize>)> = Vec::new();
        let mut steps: Vec<Option<GraphStep>> = Vec::new();
        // Plan nodes lowered into the step before them (a ReLU into its sum).
        let mut fused = vec![false; graph.nodes.len()];
        for (k, node) in graph.nodes.iter().enumerate() {
            let plan_value = n_in + k;
            let inputs: Vec<usize> = node.inputs.iter().map(|&v| value_of[v]).collect();
            match node.op {
                NodeOp::Layer(layer) => {
                    let prev = plan_value - 1;
                    let reads_only_prev = k > 0 && node.inputs == [prev] && plan_readers[prev] == 1;
                    let extends = reads_only_prev
                        && matches!(graph.nodes[k - 1].op, NodeOp::Layer(_))
                        && !fused[k - 1];
                    let is_relu = matches!(
                        &model.layers[layer].kind,
                        LayerKind::Activation(a) if matches!(a.activation, Activation::Relu)
                    );
                    if let (true, true, Some(last)) = (reads_only_prev, is_relu, steps.last_mut()) {
                        if let Some(GraphStep::Add(sum)) = last {
                            *last = Some(GraphStep::AddRelu(std::mem::take(sum)));
                            fused[k] = true;
                            value_of.push(n_in + steps.len() - 1);
                            continue;
                        }
                    }
                    if extends {
                        if let Some((_, _, run)) = runs.last_mut() {
                            run.push(layer);
                        }
                    } else {
                        runs.push((inputs[0], inputs[1..].to_vec(), vec![layer]));
                        steps.push(None);
                    }
                }
                NodeOp::Add => steps.push(Some(GraphStep::Add(inputs))),
                NodeOp::Multiply => steps.push(Some(GraphStep::Multiply(inputs))),
                NodeOp::Concat { .. } => steps.push(Some(GraphStep::Concat(inputs))),
                NodeOp::Output { index } => steps.push(Some(GraphStep::Output {
                    of: inputs[0],
                    index,
                })),
            }
            value_of.push(n_in + steps.len() - 1);
        }
        // Lower the chains in order, each as a stack.
        let mut runs = runs.into_iter();
        let steps: Vec<GraphStep> = steps
            .into_iter()
            .map(|step| {
                step.unwrap_or_else(|| {
                    let (input, more, layers) = runs
                        .next()
                        .unwrap_or_else(|| unreachable!("one run per chain step"));
                    let start = ops.len();
                    let mut it = layers.iter().map(|&l| &model.layers[l]).peekable();
                    while let Some(layer) = it.next() {
                        let first = cx.params.len();
                        let (op, fused_next) = layer.kind.lower(layer, it.peek().copied(), cx);
                        for p in &mut cx.params[first..] {
                            p.trainable = layer.trainable;
                        }
                        if fused_next {
                            it.next();
                        }
                        ops.push(op);
                    }
                    super::fuse::conv_to_dense_channels_last(&mut ops[start..], &mut cx.params);
                    GraphStep::Chain {
                        input,
                        more,
                        ops: start..ops.len(),
                    }
                })
            })
            .collect();
        let outputs: Vec<usize> = graph.outputs.iter().map(|&v| value_of[v]).collect();
        let mut readers = vec![0usize; n_in + steps.len()];
        let mut more_outputs: HashMap<usize, Vec<usize>> = HashMap::new();
        for (k, step) in steps.iter().enumerate() {
            match step {
                GraphStep::Chain { input, more, .. } => {
                    readers[*input] += 1;
                    for &v in more {
                        readers[v] += 1;
                    }
                }
                // Not a reader of the chain's first output: it takes another.
                GraphStep::Output { of, .. } => more_outputs.entry(*of).or_default().push(n_in + k),
                GraphStep::Add(v)
                | GraphStep::AddRelu(v)
                | GraphStep::Multiply(v)
                | GraphStep::Concat(v) => {
                    for &v in v {
                        readers[v] += 1;
                    }
                }
            }
        }
        for &v in &outputs {
            readers[v] += 1;
        }
        LoweredGraph {
            inputs: n_in,
            steps,
            more_outputs,
            readers,
            outputs,
        }
    }

    /// Computes the steps in order. A value with several readers hands each but the last a
    /// fork (`Act::fork`); the last takes the value with its tape, so every reader's
    /// gradient reaches it once the tapes merge. Each value keeps its own padding mask
    /// (`check::mask`): a chain starts from its input's, a combination ANDs its operands'.
    fn forward<T: AnyTape>(
        &self,
        ops: &[Op],
        inputs: Vec<Act<T>>,
        input_grads: &[bool],
        cx: &mut Forward<'_>,
    ) -> (Vec<Act<T>>, Vec<Option<Logits>>) {
        let mut masks: Vec<Option<Vec<f32>>> = vec![None; inputs.len()];
        // Beside each value, the logits of the sigmoid or softmax that gave it.
        let mut logits: Vec<Option<Logits>> = vec![None; inputs.len()];
        let mut values: Vec<Option<Act<T>>> = inputs.into_iter().map(Some).collect();
        // The outputs after the first of chains that give several, until `Output` steps
        // take them.
        let mut more_outputs: HashMap<usize, Vec<Option<Act<T>>>> = HashMap::new();
        let mut left = self.readers.clone();
        let mut take = |values: &mut Vec<Option<Act<T>>>, v: usize| -> Act<T> {
            left[v] -= 1;
            let slot = &mut values[v];
            if left[v] == 0 {
                slot.take()
                    .unwrap_or_else(|| unreachable!("each value is read after it is computed"))
            } else {
                slot.as_ref()
                    .unwrap_or_else(|| unreachable!("each value is read after it is computed"))
                    .fork()
            }
        };
        for step in &self.steps {
            let out = match step {
                GraphStep::Chain {
                    input,
                    more,
                    ops: range,
                } => {
                    let value = values.len();
                    let outputs = self.more_outputs.get(&value);
                    let mut act = take(&mut values, *input);
                    let needs = |v: usize| v >= self.inputs || input_grads[v];
                    let mut more: Option<Vec<_>> = (!more.is_empty()).then(|| {
                        more.iter()
                            .map(|&v| (take(&mut values, v), needs(v), masks[v].as_deref()))
                            .collect()
                    });
                    cx.handoff = None;
                    cx.mask.clone_from(&masks[*input]);
                    let last = range.len() - 1;
                    for (i, op) in ops[range.clone()].iter().enumerate() {
                        cx.input_grad = needs(*input) || i > 0;
                        let handoff = cx.handoff.take();
                        cx.logits = None;
                        if more.is_some() || (i == last && outputs.is_some()) {
                            let (y, rest) =
                                op.forward_more(act, more.take().unwrap_or_default(), cx);
                            act = y;
                            if let Some(outputs) = outputs {
                                act =
                                    self.keep_tape(act, rest, (value, outputs), &mut more_outputs);
                            }
                        } else {
                            act = op.forward(act, handoff, cx);
                        }
                    }
                    cx.handoff = None;
                    masks.push(cx.mask.take());
                    logits.push(cx.logits.take());
                    act
                }
                GraphStep::Output { of, index } => {
                    // A recurrent layer's last state: no padding mask (`check::mask`).
                    masks.push(None);
                    more_outputs
                        .get_mut(of)
                        .and_then(|o| o[index - 1].take())
                        .unwrap_or_else(|| {
                            unreachable!("each output is taken once, after its layer")
                        })
                }
                GraphStep::Add(vs) | GraphStep::AddRelu(vs) | GraphStep::Multiply(vs) => {
                    masks.push(both(vs.iter().map(|&v| &masks[v])));
                    let acts = vs.iter().map(|&v| take(&mut values, v)).collect();
                    let how = match step {
                        GraphStep::Multiply(_) => Combine::Multiply,
                        GraphStep::AddRelu(_) => Combine::AddRelu,
                        _ => Combine::Add,
                    };
                    super::act::combine(acts, how)
                }
                GraphStep::Concat(vs) => {
                    masks.push(both(vs.iter().map(|&v| &masks[v])));
                    let acts = vs.iter().map(|&v| take(&mut values, v)).collect();
                    super::act::concat(acts)
                }
            };
            values.push(Some(out));
            logits.resize_with(values.len(), || None);
        }
        let outputs = self.outputs.iter().map(|&v| take(&mut values, v)).collect();
        let output_logits = self.outputs.iter().map(|&v| logits[v].clone()).collect();
        (outputs, output_logits)
    }
}

impl LoweredGraph {
    /// Keeps the outputs after the first, `rest`, of the chain whose value is `value` for
    /// its `Output` steps (at `outputs`). The layer's tape is on its first output; when
    /// nothing reads that one, the tape moves to the first output that is read, so that the
    /// gradients reach the layer and what comes before it.
    fn keep_tape<T: AnyTape>(
        &self,
        first: Act<T>,
        rest: Vec<Act<T>>,
        (value, outputs): (usize, &[usize]),
        more_outputs: &mut HashMap<usize, Vec<Option<Act<T>>>>,
    ) -> Act<T> {
        let mut all = vec![first];
        all.extend(rest);
        if self.readers[value] == 0 {
            if let Some(k) = outputs.iter().position(|&w| self.readers[w] > 0) {
                all = super::act::gather_tapes(all, k + 1);
            }
        }
        let mut all = all.into_iter();
        let first = all
            .next()
            .unwrap_or_else(|| unreachable!("a layer gives its first output"));
        more_outputs.insert(value, all.map(Some).collect());
        first
    }
}

/// The padding mask of a value computed from values with `masks`: 1 where every mask has 1
/// (Keras ANDs its merging layers' masks); none when none has one.
fn both<'a>(masks: impl Iterator<Item = &'a Option<Vec<f32>>>) -> Option<Vec<f32>> {
    masks.flatten().fold(None, |acc, m| match acc {
        None => Some(m.clone()),
        Some(acc) => Some(acc.iter().zip(m).map(|(a, b)| a * b).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model `m` declared as `model`, lowered.
    fn lowered(model: &str) -> LoweredModel {
        let mut engine = crate::lower::engine::norm_tests::engine_of(model);
        engine.models.swap_remove(0)
    }

    /// Each step's kind, and a chain's input.
    fn steps(model: &LoweredModel) -> Vec<String> {
        let graph = model.graph.as_ref().expect("a graph model");
        graph
            .steps
            .iter()
            .map(|s| match s {
                GraphStep::Chain { input, ops, .. } => format!("chain({input}, {})", ops.len()),
                GraphStep::Add(_) => "add".into(),
                GraphStep::AddRelu(_) => "add_relu".into(),
                GraphStep::Multiply(_) => "multiply".into(),
                GraphStep::Concat(_) => "concat".into(),
                GraphStep::Output { of, index } => format!("output({of}, {index})"),
            })
            .collect()
    }

    #[test]
    fn a_layer_of_several_outputs_ends_its_chain_and_its_outputs_are_steps() {
        // The LSTM's state is read by a dense layer: the LSTM does not extend into it.
        let lowered = lowered(
            "model m (x) {
  y, h, c = x | dense(8) | reshape(2, 4) | lstm(3, return_state = true)
  return concat(y, h * c) | dense(2)
}",
        );
        assert_eq!(
            steps(&lowered),
            [
                "chain(0, 3)",
                "output(1, 1)",
                "output(1, 2)",
                "multiply",
                "concat",
                "chain(5, 1)"
            ]
        );
    }

    #[test]
    fn a_relu_that_alone_reads_a_sum_is_lowered_into_it() {
        // Value 0 is the input; each step's value is numbered after it.
        let fused = lowered(
            "model m (x) {
  h = x | dense(16) | dense(16)
  y = (h | dense(16)) + h
  return y | relu() | dense(2)
}",
        );
        assert_eq!(
            steps(&fused),
            ["chain(0, 2)", "chain(1, 1)", "add_relu", "chain(3, 1)"],
            "the ReLU joins the sum, and the dense layer after it reads the sum"
        );
        // The sum has a second reader, which must see it before the ReLU.
        let apart = lowered(
            "model m (x) {
  h = x | dense(16) | dense(16)
  y = (h | dense(16)) + h
  return (y | relu() | dense(2)) + (y | dense(2))
}",
        );
        assert_eq!(
            steps(&apart),
            [
                "chain(0, 2)",
                "chain(1, 1)",
                "add",
                "chain(3, 2)",
                "chain(3, 1)",
                "add"
            ],
        );
    }

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
            op_params: Vec::new(),
            graph: None,
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
