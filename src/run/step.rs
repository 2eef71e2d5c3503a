//! Running one step on one batch: the step's statements evaluated on dfdx
//! tensors, metric values read as they are bound, and each `update` turned
//! into a backward pass, the `on step` hooks, and the optimizer's update.

use std::collections::HashMap;

use dfdx::prelude::*;

use super::engine::Engine;
use super::metrics::{accuracy_hits, binary_hits, one_hot_hits, MetricSet};
use super::scalar::{self, LoopState};
use crate::check::plan::{Action, Clip, MetricKind, Step, StepStmt, TensorExpr};
use crate::lower::loss::{loss, Target};
use crate::lower::model::Act;
use crate::lower::optimizer::clip;

/// A batch as the step sees it.
pub struct Batch {
    /// Inputs, row-major, `shape[0]` rows.
    pub x: Vec<f32>,
    pub shape: Vec<usize>,
    pub labels: Vec<usize>,
    /// One-hot labels when the data asks for them.
    pub one_hot: Option<Vec<f32>>,
}

/// Tapes a step can run with: `OwnedTape` while training, `NoneTape` to evaluate.
pub trait StepTape: Tape<f32, Cpu> + Sized {
    fn attach<S: Shape>(t: Tensor<S, f32, Cpu>) -> Tensor<S, f32, Cpu, Self>;
    fn backward(loss: Tensor<(), f32, Cpu, Self>) -> Option<Gradients<f32, Cpu>>;
}

impl StepTape for OwnedTape<f32, Cpu> {
    fn attach<S: Shape>(t: Tensor<S, f32, Cpu>) -> Tensor<S, f32, Cpu, Self> {
        // A fresh gradient store per step: reusing one grew memory every step.
        t.traced(Gradients::leaky())
    }
    fn backward(loss: Tensor<(), f32, Cpu, Self>) -> Option<Gradients<f32, Cpu>> {
        Some(loss.backward())
    }
}

impl StepTape for NoneTape {
    fn attach<S: Shape>(t: Tensor<S, f32, Cpu>) -> Tensor<S, f32, Cpu, Self> {
        t
    }
    fn backward(_: Tensor<(), f32, Cpu, Self>) -> Option<Gradients<f32, Cpu>> {
        None
    }
}

enum Value<T> {
    Act(Act<T>),
    Scalar(Tensor<(), f32, Cpu, T>),
}

/// The loop's position, for hooks evaluated inside the step.
#[derive(Clone, Copy)]
pub struct Position {
    pub epoch: usize,
    pub global_step: u64,
    pub steps_per_epoch: usize,
}

/// What a step produced for the progress bar: the last scalar loss it bound.
pub struct StepOutcome {
    pub loss: Option<f32>,
    /// A non-finite loss or gradient met under `on_nan = stop`: what went non-finite.
    pub non_finite: Option<String>,
}

pub fn run_step<T: StepTape>(
    engine: &mut Engine,
    step_index: usize,
    batch: &Batch,
    metrics: &mut MetricSet,
    position: Position,
) -> StepOutcome {
    let exp = engine.exp.clone();
    let step: &Step = &exp.steps[step_index];
    let metric_list: Vec<(usize, &MetricKind)> = exp
        .metrics
        .iter()
        .enumerate()
        .filter(|(_, m)| m.step == step_index)
        .map(|(i, m)| (i, &m.kind))
        .collect();
    // Names whose values metrics read: snapshot them as host data when bound.
    let watched: Vec<&str> = metric_list
        .iter()
        .flat_map(|(_, k)| super::metrics::reads(k))
        .filter_map(|e| match e {
            TensorExpr::Var(n) if *n != step.x && *n != step.y => Some(n.as_str()),
            _ => None,
        })
        .collect();
    let mut env: HashMap<String, Value<T>> = HashMap::new();
    let mut snapshots: HashMap<&str, Vec<f32>> = HashMap::new();
    let mut last_loss = None;
    let mut non_finite = None;
    for stmt in &step.stmts {
        match stmt {
            StepStmt::Let { name, value } => {
                let v = eval::<T>(engine, step, value, batch, &mut env);
                if watched.contains(&name.as_str()) {
                    snapshots.insert(name.as_str(), host_data(&v));
                }
                if let Value::Scalar(s) = &v {
                    last_loss = Some(s.array());
                }
                env.insert(name.clone(), v);
            }
            StepStmt::Update { optimizer, loss } => {
                let Value::Scalar(l) = eval::<T>(engine, step, loss, batch, &mut env) else {
                    unreachable!("check guarantees `update` gets a scalar")
                };
                let value = l.array();
                if !value.is_finite() {
                    non_finite.get_or_insert_with(|| {
                        format!(
                            "the loss minimized by `{}` is {value}",
                            exp.optimizers[*optimizer].name
                        )
                    });
                    continue;
                }
                if let Some(mut grads) = T::backward(l) {
                    if let Err(what) =
                        apply_update(engine, *optimizer, &mut grads, position, metrics)
                    {
                        non_finite.get_or_insert(what);
                    }
                }
            }
        }
    }
    for (i, kind) in metric_list {
        let read = |e: &TensorExpr| -> Vec<f32> {
            match e {
                TensorExpr::Var(n) if *n == step.y => batch
                    .one_hot
                    .clone()
                    .unwrap_or_else(|| batch.labels.iter().map(|&c| c as f32).collect()),
                TensorExpr::Var(n) if *n == step.x => batch.x.clone(),
                TensorExpr::Var(n) => snapshots.get(n.as_str()).cloned().unwrap_or_default(),
                _ => Vec::new(),
            }
        };
        let rows = batch.shape[0];
        let acc = &mut metrics.current[i];
        match kind {
            MetricKind::Mean(e) => {
                if let Some(v) = read(e).first() {
                    acc.add_mean(*v);
                }
            }
            MetricKind::Accuracy {
                labels,
                predictions,
            } => {
                let p = read(predictions);
                let width = p.len() / rows.max(1);
                let hits = match labels {
                    TensorExpr::Var(n) if *n == step.y && batch.one_hot.is_none() => {
                        accuracy_hits(&p, width, &batch.labels)
                    }
                    other => one_hot_hits(&p, &read(other), width),
                };
                acc.add_ratio(hits, rows);
            }
            MetricKind::BinaryAccuracy {
                labels,
                predictions,
                threshold,
            } => {
                let p = read(predictions);
                acc.add_ratio(binary_hits(&p, &read(labels), *threshold), p.len());
            }
        }
    }
    StepOutcome {
        loss: last_loss,
        non_finite,
    }
}

fn host_data<T: Tape<f32, Cpu>>(v: &Value<T>) -> Vec<f32> {
    match v {
        Value::Act(Act::Flat(t)) => t.as_vec(),
        Value::Act(Act::Image(t)) => t.as_vec(),
        Value::Scalar(s) => vec![s.array()],
    }
}

fn eval<T: StepTape>(
    engine: &Engine,
    step: &Step,
    expr: &TensorExpr,
    batch: &Batch,
    env: &mut HashMap<String, Value<T>>,
) -> Value<T> {
    match expr {
        TensorExpr::Var(name) if *name == step.x => Value::Act(input::<T>(engine, batch)),
        TensorExpr::Var(name) => env
            .remove(name)
            .unwrap_or_else(|| unreachable!("check guarantees `{name}` is bound before use")),
        TensorExpr::CallModel {
            model,
            input: arg,
            training,
        } => {
            let from_data = matches!(&**arg, TensorExpr::Var(n) if *n == step.x);
            let Value::Act(x) = eval::<T>(engine, step, arg, batch, env) else {
                unreachable!("check guarantees models get tensors")
            };
            let lowered = &engine.models[*model];
            if *training {
                engine
                    .dropout_draws
                    .set(engine.dropout_draws.get() + lowered.dropout_layers());
            }
            Value::Act(lowered.forward(x, *training, !from_data))
        }
        TensorExpr::CallLoss {
            loss: l,
            target,
            prediction,
        } => {
            let Value::Act(pred) = eval::<T>(engine, step, prediction, batch, env) else {
                unreachable!("check guarantees losses get predictions")
            };
            let kind = engine.exp.losses[*l].kind;
            let held;
            let target = match &**target {
                TensorExpr::Var(n) if *n == step.y => match &batch.one_hot {
                    Some(v) => Target::Dense(v),
                    None => Target::Labels(&batch.labels),
                },
                TensorExpr::Var(n) if *n == step.x => Target::Dense(&batch.x),
                other => {
                    held = host_data(&eval::<T>(engine, step, other, batch, env));
                    Target::Dense(&held)
                }
            };
            Value::Scalar(loss(&engine.dev, kind, pred.into_flat(), &target))
        }
    }
}

fn input<T: StepTape>(engine: &Engine, batch: &Batch) -> Act<T> {
    let x = batch.x.clone();
    match batch.shape.as_slice() {
        [b, n] => Act::Flat(T::attach(engine.dev.tensor_from_vec(x, (*b, *n)))),
        [b, h, w] => Act::Image(T::attach(engine.dev.tensor_from_vec(x, (*b, 1, *h, *w)))),
        [b, c, h, w] => Act::Image(T::attach(engine.dev.tensor_from_vec(x, (*b, *c, *h, *w)))),
        other => unreachable!("check limits inputs to rank 1 to 3, got {other:?}"),
    }
}

/// Gradients → `on step` hooks (learning rate, clipping) → the optimizer's update.
/// A non-finite gradient skips the update and names the parameter.
fn apply_update(
    engine: &mut Engine,
    opt: usize,
    grads: &mut Gradients<f32, Cpu>,
    position: Position,
    metrics: &MetricSet,
) -> Result<(), String> {
    let exp = engine.exp.clone();
    let lrs: Vec<f64> = engine.optimizers.iter().map(|o| o.lr).collect();
    let metric = |i: usize| metrics.value(i);
    let state = LoopState {
        epoch: position.epoch,
        global_step: position.global_step,
        steps_per_epoch: position.steps_per_epoch,
        lrs: &lrs,
        metrics: &metric,
    };
    for action in &exp.hooks.on_step {
        if let Action::SetLr { optimizer, value } = action {
            if *optimizer == opt {
                engine.optimizers[opt].lr = scalar::eval(value, &state);
            }
        }
    }
    let bindings = engine.bindings[opt].clone();
    let mut gs: Vec<Vec<f32>> = bindings
        .iter()
        .map(|&(m, p)| engine.models[m].params[p].take_grad(grads))
        .collect();
    for action in &exp.hooks.on_step {
        if let Action::Clip {
            clip: c,
            optimizers,
        } = action
        {
            if optimizers.contains(&opt) {
                match *c {
                    Clip::Norm(max) => gs.iter_mut().for_each(|g| clip::by_norm(g, max)),
                    Clip::GlobalNorm(max) => clip::by_global_norm(&mut gs, max),
                    Clip::Value(max) => gs.iter_mut().for_each(|g| clip::by_value(g, max)),
                }
            }
        }
    }
    if let Some(k) = gs.iter().position(|g| !all_finite(g)) {
        let (m, p) = bindings[k];
        return Err(format!(
            "the gradient of `{}.{}` is not finite",
            engine.models[m].name, engine.models[m].params[p].name
        ));
    }
    let state = &mut engine.optimizers[opt];
    state.begin();
    for (k, &(m, p)) in bindings.iter().enumerate() {
        let param = &mut engine.models[m].params[p];
        state.apply(k, &mut param.value, &gs[k]);
        param.sync();
    }
    Ok(())
}

/// Whether no value is NaN or infinite. Branch-free within chunks, so that it vectorises: a
/// short-circuiting `any` checked the 346,112 dense weights of the tutorial one at a time.
fn all_finite(values: &[f32]) -> bool {
    values
        .chunks(1024)
        .all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite()))
}
