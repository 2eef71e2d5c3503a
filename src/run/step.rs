//! Running one step on one batch: the step's statements evaluated on dfdx
//! tensors, metric values read as they are bound, and each `update` turned
//! into a backward pass, the `on step` hooks, and the optimizer's update.

use std::collections::HashMap;

use dfdx::prelude::*;

use super::engine::Engine;
use super::eval::{host, Scope, StepState, Value};
use super::metrics::{accuracy_hits, binary_hits, one_hot_hits, MetricSet};
use super::scalar::{self, LoopState};
use crate::check::plan::{Action, Clip, MetricKind, Step, StepStmt, TensorExpr};
use crate::lower::optimizer::clip;

/// A batch as the step sees it.
#[derive(Clone)]
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
    /// The first value of every name the step bound.
    pub values: HashMap<String, super::eval::Host>,
}

/// Runs a step on a batch: each `update` in order (see `eval` for how their
/// losses are computed), then the names no update needed, then the metrics.
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
    let mut defs = HashMap::new();
    let mut bound = Vec::new();
    for stmt in &step.stmts {
        if let StepStmt::Let { name, value } = stmt {
            defs.insert(name.clone(), value.clone());
            bound.push(name.clone());
        }
    }
    // The first value of every bound name is kept, for metrics and the progress bar's loss.
    let watched: Vec<String> = bound
        .iter()
        .filter(|n| **n != step.x && **n != step.y)
        .cloned()
        .collect();
    let mut state = StepState::default();
    let mut non_finite = None;
    for stmt in &step.stmts {
        let StepStmt::Update { optimizer, loss } = stmt else {
            continue;
        };
        let mut scope = new_scope::<T>(engine, step, batch, &defs, &watched, &mut state);
        let Value::Scalar(l) = scope.eval(loss, true) else {
            unreachable!("check guarantees `update` gets a scalar")
        };
        drop(scope);
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
            if let Err(what) = apply_update(engine, *optimizer, &mut grads, position, metrics) {
                non_finite.get_or_insert(what);
            }
        }
    }
    // Names no update needed (all of them in a step without updates), in order.
    let rest: Vec<&String> = bound
        .iter()
        .filter(|n| !state.evaluated.contains(n))
        .collect();
    if !rest.is_empty() {
        let mut scope = new_scope::<NoneTape>(engine, step, batch, &defs, &watched, &mut state);
        for name in rest {
            scope.eval(&TensorExpr::Var(name.clone()), true);
        }
    }
    let last_loss = bound
        .iter()
        .rev()
        .filter_map(|n| state.snapshots.get(n))
        .find(|h| h.shape.is_empty())
        .map(|h| h.data[0]);
    let mut scope = new_scope::<NoneTape>(engine, step, batch, &defs, &watched, &mut state);
    scope.frozen = true;
    record_metrics(&mut scope, step, batch, &metric_list, metrics);
    StepOutcome {
        loss: last_loss,
        non_finite,
        values: state.snapshots,
    }
}

fn new_scope<'a, T: StepTape>(
    engine: &'a Engine,
    step: &'a Step,
    batch: &'a Batch,
    defs: &'a HashMap<String, TensorExpr>,
    watched: &'a [String],
    state: &'a mut StepState,
) -> Scope<'a, T> {
    Scope {
        engine,
        batch,
        x: &step.x,
        y: &step.y,
        defs,
        watched,
        state,
        memo: HashMap::new(),
        frozen: false,
        fixed_noise: None,
    }
}

fn record_metrics(
    scope: &mut Scope<'_, NoneTape>,
    step: &Step,
    batch: &Batch,
    metric_list: &[(usize, &MetricKind)],
    metrics: &mut MetricSet,
) {
    let mut read = |e: &TensorExpr| -> Vec<f32> {
        match e {
            TensorExpr::Var(n) if *n == step.y => batch
                .one_hot
                .clone()
                .unwrap_or_else(|| batch.labels.iter().map(|&c| c as f32).collect()),
            other => host(&scope.eval(other, false)).data,
        }
    };
    let rows = batch.shape[0];
    for (i, kind) in metric_list {
        match kind {
            MetricKind::Mean(e) => {
                let v = read(e);
                if !v.is_empty() {
                    // Sums in f64: the mean of a tensor (one value for a loss).
                    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
                    metrics.current[*i].add_mean(mean as f32);
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
                metrics.current[*i].add_ratio(hits, rows);
            }
            MetricKind::BinaryAccuracy {
                labels,
                predictions,
                threshold,
            } => {
                let p = read(predictions);
                let hits = binary_hits(&p, &read(labels), *threshold);
                metrics.current[*i].add_ratio(hits, p.len());
            }
        }
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
        state.apply(k, param.value_mut(), &gs[k]);
        param.sync();
    }
    Ok(())
}

/// Whether no value is NaN or infinite. Branch-free within chunks, so that it vectorises: a
/// short-circuiting `any` checked the 346,112 dense weights of the tutorial one at a time.
/// Large tensors are checked in parallel: the check reads every gradient once per step.
fn all_finite(values: &[f32]) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    if values.len() < 1 << 16 {
        return values.chunks(1024).all(chunk_finite);
    }
    // Cut as the dense op and the optimizer cut their pieces, each on its thread, so that a
    // thread reads the gradient rows its core just wrote (`ops::affinity`).
    let per = values.len().div_ceil(rayon::current_num_threads());
    let ok = AtomicBool::new(true);
    crate::ops::affinity::on_fixed_threads(values.chunks(per).collect(), |_, piece| {
        if !piece.chunks(1 << 14).all(chunk_finite) {
            ok.store(false, Ordering::Relaxed);
        }
    });
    ok.into_inner()
}

/// One chunk of [`all_finite`], 16 wide where the CPU has AVX-512 (the baseline build is 4
/// wide).
fn chunk_finite(c: &[f32]) -> bool {
    #[inline(always)]
    fn body(c: &[f32]) -> bool {
        c.iter().fold(true, |ok, v| ok & v.is_finite())
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn wide(c: &[f32]) -> bool {
            body(c)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { wide(c) };
        }
    }
    body(c)
}
