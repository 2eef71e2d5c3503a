//! Running one step on one batch: the step's statements evaluated on dfdx
//! tensors, and each `update` turned into a backward pass, the caller's `on step`
//! hooks, and the optimizer's update; then the values the caller's metrics read.

use std::collections::HashMap;

use dfdx::prelude::*;

use super::act::Logits;
use super::engine::Engine;
use super::eval::{host, Host, Scope, StepState, Value};
use super::params::Role;
use super::penalty;
use crate::check::plan::{Step, StepStmt, TensorExpr};
use crate::data::Batch;
use crate::ops::cpu::finite::all_finite;

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

/// What the loop does between an update's backward pass and the optimizer: the `on step`
/// hooks.
pub trait UpdateHooks {
    /// `update OPTIMIZER`'s gradients are known: `grads` are those of the optimizer's
    /// parameters (in the engine's layout, which reordering-free operations such as norms and
    /// clipping need not know), `lrs` every optimizer's learning rate; a hook may change
    /// `lrs[optimizer]` and the gradients.
    fn before_update(&mut self, optimizer: usize, lrs: &mut [f64], grads: &mut [Vec<f32>]);

    /// The number of the training step being run, counted from 1 over the whole run: the
    /// step's `every N steps` blocks run when N divides it. A caller outside a training loop
    /// runs step 1 (only blocks of period 1 would run).
    fn step_number(&self) -> u64 {
        1
    }
}

/// What a step produced.
pub struct StepOutcome {
    /// The last scalar the step bound (its loss, for the progress bar).
    pub loss: Option<f32>,
    /// A non-finite loss or gradient: what went non-finite (its update was skipped).
    pub non_finite: Option<String>,
    /// The first value of every name the step bound.
    pub values: HashMap<String, Host>,
    /// The values of the expressions the caller asked to read, in order.
    pub reads: Vec<Vec<f32>>,
}

impl Engine {
    /// Runs step `step` of the experiment on `batch`: each `update` in order (see `eval` for
    /// how their losses are computed), with `hooks` before each optimizer applies its
    /// gradients, then the names no update needed, then `reads` (the values metrics read), as
    /// the step left them. A step with an `update` runs in training mode.
    pub fn run_step(
        &mut self,
        step: usize,
        batch: &Batch,
        reads: &[&TensorExpr],
        hooks: &mut dyn UpdateHooks,
    ) -> StepOutcome {
        if self.exp.steps[step].trains() {
            run_step::<OwnedTape<f32, Cpu>>(self, step, batch, reads, hooks)
        } else {
            run_step::<NoneTape>(self, step, batch, reads, hooks)
        }
    }
}

fn run_step<T: StepTape>(
    engine: &mut Engine,
    step_index: usize,
    batch: &Batch,
    reads: &[&TensorExpr],
    hooks: &mut dyn UpdateHooks,
) -> StepOutcome {
    let exp = engine.exp.clone();
    let step: &Step = &exp.steps[step_index];
    // The statements of `every N steps` blocks that do not run now are left out: their
    // names are not bound on this step, and no metric reads them (`run::metrics`).
    let stmts = step.active_stmts(Some(hooks.step_number()));
    let mut defs = HashMap::new();
    let mut bound = Vec::new();
    for stmt in &stmts {
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
    // Values an update computed without training through them (a GAN's fakes, read detached
    // by the discriminator's loss), kept for the next update while recomputing them would
    // give the same bits.
    let mut carried: HashMap<String, (Value<T>, Option<Logits>)> = HashMap::new();
    let mut updates = stmts.iter().filter_map(|s| match s {
        StepStmt::Update { optimizer, .. } => Some(*optimizer),
        _ => None,
    });
    for stmt in &stmts {
        let (optimizer, loss) = match stmt {
            StepStmt::Update { optimizer, loss } => (optimizer, loss),
            StepStmt::ClipWeights { model, min, max } => {
                clip_weights(engine, *model, *min, *max);
                carried.retain(|name, _| !models_behind(&defs, name).contains(model));
                continue;
            }
            StepStmt::Let { .. } | StepStmt::Every { .. } => continue,
        };
        let trained = trained_by(engine, &[*optimizer]);
        let mut scope = new_scope::<T>(engine, step, batch, &defs, &watched, &mut state);
        scope.carry_in(std::mem::take(&mut carried));
        // What this update trains, and what later ones do: a value computed here may be
        // carried into one of them, with the history it needs there.
        updates.next();
        let later: Vec<usize> = updates.clone().collect();
        scope.param_grads = Some(trained_by(engine, &[&[*optimizer][..], &later].concat()));
        let Value::Scalar(l) = scope.eval(loss, true) else {
            unreachable!("check guarantees `update` gets a scalar")
        };
        carried = scope.untaken();
        carried.retain(|name, _| same_after_update(engine, &defs, name, &trained));
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
            if let Err(what) = apply_update(engine, *optimizer, &mut grads, hooks) {
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
        scope.settled = true;
        for name in rest {
            scope.eval(&TensorExpr::Var(name.clone()), true);
        }
    }
    // Layer state the passes computed (batch norm's running statistics) is stored once the
    // step's updates are done, so that every pass of the step saw the same state.
    for model in &mut engine.models {
        model.commit_state();
    }
    let last_loss = bound
        .iter()
        .rev()
        .filter_map(|n| state.snapshots.get(n))
        .find(|h| h.shape.is_empty())
        .map(|h| h.data[0]);
    let mut scope = new_scope::<NoneTape>(engine, step, batch, &defs, &watched, &mut state);
    scope.frozen = true;
    let reads = reads.iter().map(|e| read(&mut scope, step, e)).collect();
    StepOutcome {
        loss: last_loss,
        non_finite,
        values: state.snapshots,
        reads,
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
        settled: false,
        fixed_noise: None,
        param_grads: None,
        logits: HashMap::new(),
    }
}

/// Per model, per parameter, whether one of the optimizers `opts` trains it: the gradients
/// their updates read (`apply_update`).
fn trained_by(engine: &Engine, opts: &[usize]) -> Vec<Vec<bool>> {
    let mut trained: Vec<Vec<bool>> = engine
        .models
        .iter()
        .map(|m| vec![false; m.params.len()])
        .collect();
    for &(m, p) in opts.iter().flat_map(|&opt| &engine.bindings[opt]) {
        trained[m][p] = true;
    }
    trained
}

/// Whether the step's name `name` would have the same value, to the bit, if computed again
/// after an update that trains `trained` (`trained_by`): none of the models it reads
/// (`models_behind`) are trained by it, and none of them draws random numbers per call
/// (dropout), which would give a new value each time. Noise is drawn once per step, and
/// batch norm's running statistics from two identical calls are the same.
fn same_after_update(
    engine: &Engine,
    defs: &HashMap<String, TensorExpr>,
    name: &str,
    trained: &[Vec<bool>],
) -> bool {
    models_behind(defs, name)
        .iter()
        .all(|&m| !trained[m].iter().any(|&t| t) && engine.models[m].dropout_layers() == 0)
}

/// The models the step's name `name` calls or reads the weights of, through the names it
/// reads.
fn models_behind(defs: &HashMap<String, TensorExpr>, name: &str) -> Vec<usize> {
    let mut models = Vec::new();
    let mut seen = vec![name];
    let mut todo = vec![name];
    while let Some(n) = todo.pop() {
        let Some(def) = defs.get(n) else { continue };
        models_read(def, &mut models);
        for read in def.vars() {
            if !seen.contains(&read) {
                seen.push(read);
                todo.push(read);
            }
        }
    }
    models
}

/// The models `e` calls or reads the weights of, itself (not through names).
fn models_read(e: &TensorExpr, out: &mut Vec<usize>) {
    if let TensorExpr::CallModel { model, .. } | TensorExpr::Penalty { model, .. } = e {
        out.push(*model);
    }
    for c in e.children() {
        models_read(c, out);
    }
}

/// The value of an expression a metric reads: the labels as they are (class indices as
/// numbers, or one-hot rows), anything else evaluated in the frozen scope.
fn read(scope: &mut Scope<'_, NoneTape>, step: &Step, e: &TensorExpr) -> Vec<f32> {
    let batch = scope.batch;
    match e {
        TensorExpr::Var(n) if *n == step.y => batch
            .dense_y
            .clone()
            .unwrap_or_else(|| batch.labels.iter().map(|&c| c as f32).collect()),
        other => host(&scope.eval(other, false)).data,
    }
}

/// `clip_weights`: each of model `m`'s parameters clamped to `[min, max]` (elementwise, so
/// whatever layout it is stored in). Frozen layers' parameters are the user's too: clamped.
fn clip_weights(engine: &mut Engine, m: usize, min: f32, max: f32) {
    for param in &mut engine.models[m].params {
        for v in param.value_mut() {
            *v = v.clamp(min, max);
        }
        param.sync();
    }
}

impl Engine {
    /// Applies every optimizer's partial accumulation group (`accumulate = N` with fewer than
    /// N gradients summed): the mean of what it holds, through `hooks` as any update. The loop
    /// calls it when a training pass ends, so an epoch's last batches are never carried over
    /// into the next epoch. The first non-finite gradient found is returned.
    pub fn apply_accumulated(&mut self, hooks: &mut dyn UpdateHooks) -> Option<String> {
        let mut non_finite = None;
        for opt in 0..self.accumulators.len() {
            if self.accumulators[opt].count == 0 {
                continue;
            }
            let mean = self.accumulators[opt].take_mean();
            if let Err(what) = apply_gradients(self, opt, mean, hooks) {
                non_finite.get_or_insert(what);
            }
        }
        non_finite
    }
}

/// Gradients → (with `accumulate = N`, summed until N are) → the caller's `on step` hooks
/// (learning rate, clipping) → the optimizer's update. A non-finite gradient skips the update
/// (and is not accumulated) and names the parameter.
fn apply_update(
    engine: &mut Engine,
    opt: usize,
    grads: &mut Gradients<f32, Cpu>,
    hooks: &mut dyn UpdateHooks,
) -> Result<(), String> {
    let gs: Vec<Vec<f32>> = engine.bindings[opt]
        .iter()
        .map(|&(m, p)| {
            let param = &engine.models[m].params[p];
            let mut g = param.take_grad(grads);
            // A `kernel_regularizer`'s penalty is part of what every update training its
            // layer minimizes, as Keras adds a layer's losses to the loss.
            if let Role::Kernel(Some(reg)) = param.role {
                penalty::add_gradient(reg, &param.value, 1.0, &mut g);
            }
            g
        })
        .collect();
    if !engine.accumulators[opt].accumulates() {
        return apply_gradients(engine, opt, gs, hooks);
    }
    non_finite_gradient(engine, opt, &gs)?;
    if engine.accumulators[opt].add(&gs) {
        let mean = engine.accumulators[opt].take_mean();
        apply_gradients(engine, opt, mean, hooks)
    } else {
        Ok(())
    }
}

/// The caller's hooks, then optimizer `opt`'s update with gradients `gs` (its bindings').
fn apply_gradients(
    engine: &mut Engine,
    opt: usize,
    mut gs: Vec<Vec<f32>>,
    hooks: &mut dyn UpdateHooks,
) -> Result<(), String> {
    let mut lrs = engine.lrs();
    hooks.before_update(opt, &mut lrs, &mut gs);
    engine.optimizers[opt].lr = lrs[opt];
    non_finite_gradient(engine, opt, &gs)?;
    let state = &mut engine.optimizers[opt];
    state.begin();
    for (k, &(m, p)) in engine.bindings[opt].iter().enumerate() {
        let param = &mut engine.models[m].params[p];
        state.apply(k, param.value_mut(), &gs[k]);
        param.sync();
    }
    engine.update_averages(opt);
    Ok(())
}

/// The first of optimizer `opt`'s gradients that is not finite, in words.
fn non_finite_gradient(engine: &Engine, opt: usize, gs: &[Vec<f32>]) -> Result<(), String> {
    match gs.iter().position(|g| !all_finite(g)) {
        Some(k) => {
            let (m, p) = engine.bindings[opt][k];
            Err(format!(
                "the gradient of `{}.{}` is not finite",
                engine.models[m].name, engine.models[m].params[p].name
            ))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod accumulate_tests;

#[cfg(test)]
mod carry_tests;
#[cfg(test)]
mod every_tests;
