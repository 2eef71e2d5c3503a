//! Evaluating a step's tensor expressions on dfdx tensors.
//!
//! dfdx's backward pass consumes its tape, so each `update` evaluates its loss
//! in a scope of its own: the names its loss reads are computed afresh from
//! their definitions, with the parameters as they are when the update runs.
//! Inside one scope a name is computed once; its first (non-detached) reader
//! takes the tape that records its history, later readers get the same tensor
//! (same id) on an empty tape, and merging the tapes in the loss joins them.
//! Noise is drawn once per step and shared by every scope.

use std::collections::HashMap;
use std::sync::Arc;

use dfdx::prelude::*;
use ndarray_rand::rand_distr::{Distribution, Normal, Uniform};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use self::ops::{binary, map, pow, reduce, unary};
use super::act::{Act, Logits};
use super::engine::Engine;
use super::loss::{loss, on_logits, Target};
use super::params::Role;
use super::penalty::penalty_scalar;
use super::step::StepTape;
use crate::check::plan::{Activation, Noise, TensorExpr};
use crate::data::Batch;

pub enum Value<T> {
    Act(Act<T>),
    Scalar(Tensor<(), f32, Cpu, T>),
    Const(f32),
}

/// Host data of a value and its shape (batch first); `[]` for a scalar.
#[derive(Clone, Debug)]
pub struct Host {
    pub data: Vec<f32>,
    pub shape: Vec<usize>,
}

/// What lasts across the scopes of one step.
#[derive(Default)]
pub struct StepState {
    /// Noise by draw number.
    pub noise: HashMap<usize, Host>,
    /// The first value of each watched name.
    pub snapshots: HashMap<String, Host>,
    /// Names evaluated in some scope.
    pub evaluated: Vec<String>,
}

pub struct Scope<'a, T> {
    pub engine: &'a Engine,
    pub batch: &'a Batch,
    pub x: &'a str,
    pub y: &'a str,
    /// Definitions of the names the step binds.
    pub defs: &'a HashMap<String, TensorExpr>,
    /// Names whose first value is kept for metrics.
    pub watched: &'a [String],
    pub state: &'a mut StepState,
    /// Values computed in this scope, and whether a reader took the tape.
    pub memo: HashMap<String, (Value<T>, bool)>,
    /// Metrics: names read from snapshots instead of being computed.
    pub frozen: bool,
    /// After a step's updates: names an earlier scope computed are read from their first
    /// values, so that a value written before an `update` is what the model gave before it
    /// (`hits = mean(equal(argmax(logits), y))` beside `update opt minimizing loss`).
    pub settled: bool,
    /// Grids: noise from this seed (and the draw's number), not from the device.
    pub fixed_noise: Option<u64>,
    /// The scope of an `update`: per model, per parameter, whether its optimizer or that of
    /// a later update in the step trains it (`None`: every parameter). The models skip the
    /// gradients nobody reads.
    pub param_grads: Option<Vec<Vec<bool>>>,
    /// By name, the logits of values a model's last sigmoid or softmax gave, for the
    /// cross-entropies that read them (`act::Logits`).
    pub logits: HashMap<String, Logits>,
}

impl<T: StepTape> Scope<'_, T> {
    /// Evaluates `expr`. With `take` false the result is only read (detached,
    /// a target, a shape), and the tapes of named values stay where they are.
    pub fn eval(&mut self, expr: &TensorExpr, take: bool) -> Value<T> {
        match expr {
            TensorExpr::Var(name) => self.var(name, take),
            TensorExpr::Const(v) => Value::Const(*v as f32),
            TensorExpr::CallModel { .. } => {
                let (mut outputs, _) = self.call_model(expr, take);
                outputs.swap_remove(0)
            }
            TensorExpr::ModelOutput { .. } => {
                unreachable!("a model's outputs are bound to names, and read through `var`")
            }
            TensorExpr::CallLoss {
                loss: l,
                target,
                prediction,
            } => {
                let (pred, logits) = self.prediction(prediction, take);
                let exp = Arc::clone(&self.engine.exp);
                let mut spec = &exp.losses[*l];
                let batch = self.batch;
                let held;
                // Targets are constants: no gradient flows into them.
                let target = match &**target {
                    TensorExpr::Var(n) if n == self.y => match &batch.dense_y {
                        Some(v) => Target::Dense(v),
                        None => Target::Labels(&batch.labels),
                    },
                    TensorExpr::Var(n) if n == self.x => Target::Dense(&batch.x),
                    other => {
                        held = host(&self.eval(other, false)).data;
                        Target::Dense(&held)
                    }
                };
                // Against a class at each position, the scores of each position are a row.
                let per_position = matches!((&target, &pred),
                    (Target::Labels(l), Act::Image(t)) if l.len() > t.shape().0);
                // A cross-entropy of a sigmoid's or softmax's output reads its logits, as
                // Keras does; a softmax (over channels) only where a row is one position's.
                let rows_are_channels = per_position
                    || match &pred {
                        Act::Flat(_) => true,
                        Act::Image(t) => t.shape().2 * t.shape().3 == 1,
                    };
                let of_logits = logits.and_then(|lg| {
                    let usable = lg.activation == Activation::Sigmoid || rows_are_channels;
                    on_logits(spec, lg.activation)
                        .filter(|_| usable)
                        .map(|s| (s, lg.values))
                });
                let held_spec;
                let pred = match of_logits {
                    Some((s, values)) => {
                        held_spec = s;
                        spec = &held_spec;
                        values.with_tape(pred.into_tape())
                    }
                    None => pred,
                };
                let pred = match pred {
                    Act::Image(t) if per_position => crate::lower::act::positions_as_rows(t),
                    pred => pred.into_flat(),
                };
                Value::Scalar(loss(&self.engine.dev, spec, pred, &target))
            }
            TensorExpr::Unary(f, a) => {
                let v = self.eval(a, take);
                map(v, |t| unary(*f, t), |t| unary(*f, t))
            }
            TensorExpr::Pow(a, p) => {
                let p = *p;
                let v = self.eval(a, take);
                map(v, |t| pow(t, p), |t| pow(t, p))
            }
            TensorExpr::Binary(op, a, b) => {
                let a = self.eval(a, take);
                let b = self.eval(b, take);
                binary(*op, a, b)
            }
            TensorExpr::Reduce { op, axis, input } => {
                let v = self.eval(input, take);
                reduce(*op, *axis, v)
            }
            TensorExpr::Detach(a) => {
                let v = self.eval(a, false);
                let h = host(&v);
                self.rebuild(h)
            }
            TensorExpr::Noise { kind, shape, id } => {
                let rows = self.batch.shape[0];
                let h = match self.state.noise.get(id) {
                    Some(h) => h.clone(),
                    None => {
                        let seed = match self.fixed_noise {
                            Some(s) => s.wrapping_add(*id as u64),
                            None => {
                                // One device draw per call: a resumed run, which replays
                                // the device's draws, gets the same noise.
                                let draws = &self.engine.random_draws;
                                draws.set(draws.get() + 1);
                                self.engine.dev.random_u64()
                            }
                        };
                        let h = draw(seed, *kind, rows, shape);
                        self.state.noise.insert(*id, h.clone());
                        h
                    }
                };
                self.rebuild(h)
            }
            TensorExpr::Fill(value, a) => {
                let mut h = host(&self.eval(a, false));
                h.data.fill(*value);
                self.rebuild(h)
            }
            TensorExpr::Concat(a, b) => {
                let a = self.eval(a, take);
                let b = self.eval(b, take);
                match (a, b) {
                    (Value::Act(Act::Flat(a)), Value::Act(Act::Flat(b))) => {
                        Value::Act(Act::Flat((a, b).concat_along(Axis::<0>)))
                    }
                    (Value::Act(Act::Image(a)), Value::Act(Act::Image(b))) => {
                        Value::Act(Act::Image((a, b).concat_along(Axis::<0>)))
                    }
                    _ => unreachable!("check guarantees concat gets tensors of one shape"),
                }
            }
            TensorExpr::Penalty { model, reg } => {
                let kernels: Vec<_> = self.engine.models[*model]
                    .params
                    .iter()
                    .filter(|p| matches!(p.role, Role::Kernel(_)))
                    .collect();
                Value::Scalar(penalty_scalar(&self.engine.dev, *reg, &kernels, T::attach))
            }
            TensorExpr::Flatten(a) => match self.eval(a, take) {
                Value::Act(t) => Value::Act(Act::Flat(t.into_flat())),
                _ => unreachable!("check guarantees flatten gets a tensor"),
            },
            TensorExpr::Broadcast { op, a, b, shapes } => {
                let a = self.eval(a, take);
                let b = self.eval(b, take);
                tape::broadcast(*op, a, b, shapes)
            }
            TensorExpr::ReduceAxes {
                op,
                input,
                shape,
                axes,
                keepdims,
            } => {
                let v = self.eval(input, take);
                tape::reduce_axes(*op, v, shape, axes, *keepdims)
            }
            TensorExpr::Softmax {
                input,
                shape,
                axis,
                log,
            } => {
                let v = self.eval(input, take);
                tape::softmax(v, shape, *axis, *log)
            }
            TensorExpr::Clip { input, lo, hi } => {
                let v = self.eval(input, take);
                tape::clip(v, *lo, *hi)
            }
            TensorExpr::Reshape { input, from, shape } => {
                let v = self.eval(input, take);
                tape::reshape(v, from, shape)
            }
            TensorExpr::Transpose { input, shape, perm } => {
                let v = self.eval(input, take);
                tape::transpose(v, shape, perm)
            }
            TensorExpr::MatMul { a, b, shapes } => {
                let a = self.eval(a, take);
                let b = self.eval(b, take);
                tape::matmul(a, b, shapes)
            }
            TensorExpr::Slice {
                input,
                shape,
                axis,
                start,
                end,
                drop,
            } => {
                let v = self.eval(input, take);
                tape::slice(v, shape, *axis, (*start, *end), *drop)
            }
            TensorExpr::ArgMax {
                input,
                shape,
                axis,
                keepdims,
            } => {
                // No gradient: the positions are read off the values, as constants.
                let h = host(&self.eval(input, false));
                let rows = h.data.len() / shape.iter().product::<usize>().max(1);
                let full: Vec<usize> = std::iter::once(rows).chain(shape.iter().copied()).collect();
                let data = moves::argmax(&h.data, &full, *axis);
                let mut out = full;
                if *keepdims {
                    out[*axis] = 1;
                } else {
                    out.remove(*axis);
                }
                self.rebuild(Host { data, shape: out })
            }
            TensorExpr::Equal(a, b) => {
                let (a, b) = (host(&self.eval(a, false)), host(&self.eval(b, false)));
                // A scalar or a number meets every value of the other side.
                let (t, other) = if a.shape.is_empty() { (b, a) } else { (a, b) };
                let data = if other.shape.is_empty() {
                    let v = other.data[0];
                    t.data
                        .iter()
                        .map(|&x| f32::from(u8::from(x == v)))
                        .collect()
                } else {
                    t.data
                        .iter()
                        .zip(&other.data)
                        .map(|(&x, &y)| f32::from(u8::from(x == y)))
                        .collect()
                };
                self.rebuild(Host {
                    data,
                    shape: t.shape,
                })
            }
            TensorExpr::ClassIndices => {
                let labels = &self.batch.labels;
                // A class at each position: (examples, positions).
                let rows = self.batch.shape[0];
                let shape = if labels.len() > rows {
                    vec![rows, labels.len() / rows.max(1)]
                } else {
                    vec![labels.len()]
                };
                self.rebuild(Host {
                    data: labels.iter().map(|&c| c as f32).collect(),
                    shape,
                })
            }
        }
    }

    /// A loss's prediction, and the logits it is the sigmoid or softmax of where it is a
    /// model's output that a layer ending in one gave.
    fn prediction(&mut self, e: &TensorExpr, take: bool) -> (Act<T>, Option<Logits>) {
        let (v, logits) = match e {
            TensorExpr::CallModel { .. } => {
                let (mut outputs, mut logits) = self.call_model(e, take);
                (outputs.swap_remove(0), logits.swap_remove(0))
            }
            TensorExpr::Var(n) => {
                let v = self.eval(e, take);
                // A value read from its snapshot is the model's output rebuilt as data.
                let rebuilt = (self.frozen || self.settled) && self.state.snapshots.contains_key(n);
                (v, self.logits.get(n).filter(|_| !rebuilt).cloned())
            }
            _ => (self.eval(e, take), None),
        };
        let Value::Act(a) = v else {
            unreachable!("check guarantees losses get predictions")
        };
        (a, logits)
    }

    /// Runs a model call, giving one value per output and, beside each, its logits where
    /// the layer that gave it ended in a sigmoid or softmax.
    fn call_model(
        &mut self,
        expr: &TensorExpr,
        take: bool,
    ) -> (Vec<Value<T>>, Vec<Option<Logits>>) {
        let TensorExpr::CallModel {
            model,
            inputs,
            training,
        } = expr
        else {
            unreachable!("called on a model call")
        };
        let mut known = HashMap::new();
        let input_grads: Vec<bool> = inputs
            .iter()
            .map(|i| carries_grad(i, self, &mut known))
            .collect();
        let acts = inputs
            .iter()
            .map(|input| match self.eval(input, take) {
                Value::Act(x) => x,
                _ => unreachable!("check guarantees models get tensors"),
            })
            .collect();
        let lowered = &self.engine.models[*model];
        if *training {
            let draws = &self.engine.random_draws;
            draws.set(draws.get() + lowered.dropout_layers());
        }
        let param_grads = self.param_grads.as_ref().map(|p| &p[*model][..]);
        let (outputs, logits) = lowered.forward_outputs(acts, *training, &input_grads, param_grads);
        (outputs.into_iter().map(Value::Act).collect(), logits)
    }

    /// The values this scope computed as a model's output from data alone (`fake =
    /// generator(z)`) that no reader took the tape of, by name, for [`Self::carry_in`]: where
    /// the next update would compute one of them again to the same bits, it takes it as it
    /// is. Their history on the tape is the model's, whole; a value computed from another
    /// name may lack what a reader before it took.
    pub fn untaken(self) -> HashMap<String, (Value<T>, Option<Logits>)> {
        let mut known = HashMap::new();
        let whole: Vec<String> = self
            .memo
            .iter()
            .filter(|(name, (_, took))| {
                !took
                    && matches!(self.defs.get(*name), Some(TensorExpr::CallModel { inputs, .. })
                        if !inputs.iter().any(|i| carries_grad(i, &self, &mut known)))
            })
            .map(|(name, _)| name.clone())
            .collect();
        let (mut memo, mut logits) = (self.memo, self.logits);
        whole
            .into_iter()
            .filter_map(|name| {
                let v = memo.remove(&name)?.0;
                let l = logits.remove(&name);
                Some((name, (v, l)))
            })
            .collect()
    }

    /// Values an earlier scope computed (see [`Self::untaken`]), as if computed here.
    pub fn carry_in(&mut self, values: HashMap<String, (Value<T>, Option<Logits>)>) {
        for (name, (v, logits)) in values {
            if let Some(l) = logits {
                self.logits.insert(name.clone(), l);
            }
            self.memo.insert(name, (v, false));
        }
    }

    /// Records a name's value in this scope (and its snapshot, when metrics read it).
    fn remember(&mut self, name: &str, v: Value<T>) {
        if self.watched.iter().any(|w| w == name) && !self.state.snapshots.contains_key(name) {
            self.state.snapshots.insert(name.to_string(), host(&v));
        }
        if !self.state.evaluated.iter().any(|e| e == name) {
            self.state.evaluated.push(name.to_string());
        }
        self.memo.insert(name.to_string(), (v, false));
    }

    /// Keeps the logits of the model output bound to `name`, where it has them.
    fn keep_logits(&mut self, name: &str, logits: Option<Logits>) {
        if let Some(l) = logits {
            self.logits.insert(name.to_string(), l);
        }
    }

    fn var(&mut self, name: &str, take: bool) -> Value<T> {
        if name == self.x {
            return Value::Act(input::<T>(self.engine, self.batch));
        }
        if name == self.y {
            let Some(v) = &self.batch.dense_y else {
                unreachable!("check keeps class labels out of arithmetic")
            };
            let rows = self.batch.shape[0];
            let shape = vec![rows, v.len() / rows.max(1)];
            return self.rebuild(Host {
                data: v.clone(),
                shape,
            });
        }
        if self.frozen || self.settled {
            if let Some(h) = self.state.snapshots.get(name).cloned() {
                return self.rebuild(h);
            }
            assert!(
                !self.frozen,
                "metrics read names the step evaluated: `{name}`"
            );
        }
        if !self.memo.contains_key(name) {
            let def = self
                .defs
                .get(name)
                .unwrap_or_else(|| unreachable!("check guarantees `{name}` is bound"));
            if let TensorExpr::ModelOutput { call, names, .. } = def {
                // One run of the model binds all its outputs' names at once.
                // The outputs share history: the tape goes with the one read first.
                let onto = names.iter().position(|n| n == name).unwrap_or(0);
                let (values, logits) = self.call_model(call, true);
                let acts = values
                    .into_iter()
                    .map(|v| match v {
                        Value::Act(a) => a,
                        _ => unreachable!("a model's outputs are tensors"),
                    })
                    .collect();
                let outputs = super::act::gather_tapes(acts, onto)
                    .into_iter()
                    .map(Value::Act);
                for ((n, v), l) in names.iter().zip(outputs).zip(logits) {
                    if !self.memo.contains_key(n) {
                        self.remember(n, v);
                        self.keep_logits(n, l);
                    }
                }
            } else if let TensorExpr::CallModel { .. } = def {
                let (mut values, mut logits) = self.call_model(def, true);
                self.remember(name, values.swap_remove(0));
                self.keep_logits(name, logits.swap_remove(0));
            } else {
                let v = self.eval(def, true);
                self.remember(name, v);
            }
        }
        let slot = self
            .memo
            .get_mut(name)
            .unwrap_or_else(|| unreachable!("inserted above"));
        share(slot, take)
    }

    /// A tensor of fresh identity from host data, on a new tape.
    pub fn rebuild(&self, h: Host) -> Value<T> {
        let dev = &self.engine.dev;
        match h.shape.as_slice() {
            [] => Value::Scalar(T::attach(dev.tensor_from_vec(h.data, ()))),
            // An element of rank 0 (`sum(t, axis = 1, keepdims = false)`) is a row of one.
            [b] => Value::Act(Act::Flat(T::attach(dev.tensor_from_vec(h.data, (*b, 1))))),
            [b, n] => Value::Act(Act::Flat(T::attach(dev.tensor_from_vec(h.data, (*b, *n))))),
            [b, hh, w] => Value::Act(Act::Image(T::attach(
                dev.tensor_from_vec(h.data, (*b, 1, *hh, *w)),
            ))),
            [b, c, hh, w] => Value::Act(Act::Image(T::attach(
                dev.tensor_from_vec(h.data, (*b, *c, *hh, *w)),
            ))),
            other => unreachable!("check limits tensors to rank 1 to 3, got {other:?}"),
        }
    }
}

/// Hands out a named value: with `take`, the tape moves to the reader and an
/// untaped handle on the same tensor stays behind. Other readers get a copy
/// under a new id (`* 1.0`, whose gradient flows back to the original): dfdx's
/// binary ops cannot take one tensor id as both operands (`h * h`).
fn share<T: StepTape>(slot: &mut (Value<T>, bool), take: bool) -> Value<T> {
    fn split<S: Shape, T: StepTape>(
        t: &mut Tensor<S, f32, Cpu, T>,
        take: bool,
    ) -> Tensor<S, f32, Cpu, T> {
        let kept = t.with_empty_tape();
        if take {
            std::mem::replace(t, kept)
        } else {
            kept * 1.0
        }
    }
    let take = take && !slot.1;
    slot.1 |= take;
    match &mut slot.0 {
        Value::Act(Act::Flat(t)) => Value::Act(Act::Flat(split(t, take))),
        Value::Act(Act::Image(t)) => Value::Act(Act::Image(split(t, take))),
        Value::Scalar(t) => Value::Scalar(split(t, take)),
        Value::Const(c) => Value::Const(*c),
    }
}

/// Whether a gradient can flow from `e` back to some parameter: not for data, noise,
/// constants, detached values and what is computed from them alone (`real = x * 2 - 1`),
/// so that a model reading it skips computing its input's gradient. `known` holds the
/// names already decided, so that each definition is looked at once.
fn carries_grad<T>(
    e: &TensorExpr,
    scope: &Scope<'_, T>,
    known: &mut HashMap<String, bool>,
) -> bool {
    match e {
        TensorExpr::Var(n) if n == scope.x || n == scope.y => false,
        TensorExpr::Var(n) => {
            if let Some(&k) = known.get(n) {
                return k;
            }
            // Step definitions are acyclic (`check`), so this ends.
            let k = scope
                .defs
                .get(n)
                .is_none_or(|d| carries_grad(d, scope, known));
            known.insert(n.clone(), k);
            k
        }
        TensorExpr::Noise { .. }
        | TensorExpr::Const(_)
        | TensorExpr::Fill(..)
        | TensorExpr::Detach(_)
        | TensorExpr::ArgMax { .. }
        | TensorExpr::Equal(..)
        | TensorExpr::ClassIndices => false,
        TensorExpr::CallModel { .. }
        | TensorExpr::ModelOutput { .. }
        | TensorExpr::Penalty { .. } => true,
        _ => e
            .children()
            .into_iter()
            .any(|c| carries_grad(c, scope, known)),
    }
}

pub fn host<T: Tape<f32, Cpu>>(v: &Value<T>) -> Host {
    match v {
        Value::Act(Act::Flat(t)) => {
            let (b, n) = *t.shape();
            Host {
                data: t.as_vec(),
                shape: vec![b, n],
            }
        }
        Value::Act(Act::Image(t)) => {
            let (b, c, h, w) = *t.shape();
            Host {
                data: t.as_vec(),
                shape: vec![b, c, h, w],
            }
        }
        Value::Scalar(s) => Host {
            data: vec![s.array()],
            shape: Vec::new(),
        },
        Value::Const(c) => Host {
            data: vec![*c],
            shape: Vec::new(),
        },
    }
}

impl Engine {
    /// Evaluates `exprs` in inference mode on `batch` (whose inputs are named `x` and `y`),
    /// for pictures drawn outside the step (`grid`): with `values`, names read the values a
    /// step bound for that batch; noise comes from `noise_seed` (and the draw's number), never
    /// from the device, so that drawing changes no random stream of the training.
    pub fn evaluate(
        &self,
        exprs: &[TensorExpr],
        batch: &Batch,
        (x, y): (&str, &str),
        values: Option<HashMap<String, Host>>,
        noise_seed: u64,
    ) -> Vec<Host> {
        let defs: HashMap<String, TensorExpr> = HashMap::new();
        let frozen = values.is_some();
        let mut state = StepState {
            snapshots: values.unwrap_or_default(),
            ..StepState::default()
        };
        let mut scope = Scope::<NoneTape> {
            engine: self,
            batch,
            x,
            y,
            defs: &defs,
            watched: &[],
            state: &mut state,
            memo: HashMap::new(),
            frozen,
            settled: false,
            fixed_noise: Some(noise_seed),
            param_grads: None,
            logits: HashMap::new(),
        };
        exprs.iter().map(|e| host(&scope.eval(e, false))).collect()
    }
}

pub fn input<T: StepTape>(engine: &Engine, batch: &Batch) -> Act<T> {
    let x = batch.x.clone();
    match batch.shape.as_slice() {
        [b, n] => Act::Flat(T::attach(engine.dev.tensor_from_vec(x, (*b, *n)))),
        [b, h, w] => Act::Image(T::attach(engine.dev.tensor_from_vec(x, (*b, 1, *h, *w)))),
        [b, c, h, w] => Act::Image(T::attach(engine.dev.tensor_from_vec(x, (*b, *c, *h, *w)))),
        other => unreachable!("check limits inputs to rank 1 to 3, got {other:?}"),
    }
}

/// `rows` elements of noise of `shape`, from a generator seeded with `seed`.
fn draw(seed: u64, kind: Noise, rows: usize, shape: &[usize]) -> Host {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = rows * shape.iter().product::<usize>();
    let data: Vec<f32> = match kind {
        Noise::Normal { mean, std } => {
            let d = Normal::new(mean, std).unwrap_or_else(|_| unreachable!("check: std > 0"));
            (0..n).map(|_| d.sample(&mut rng)).collect()
        }
        Noise::Uniform { low, high } => {
            let d = Uniform::new(low, high);
            (0..n).map(|_| d.sample(&mut rng)).collect()
        }
    };
    let mut full = vec![rows];
    full.extend(shape);
    Host { data, shape: full }
}

#[cfg(test)]
mod graph_tests;
#[cfg(test)]
mod logits_tests;
mod moves;
mod nd;
mod ops;
mod tape;
#[cfg(test)]
mod test_scope;
#[cfg(test)]
mod tests;
