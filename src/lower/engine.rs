//! The engine: the checked experiment lowered onto dfdx — models with their parameters and
//! layer state, optimizers with their slots, and which parameters each optimizer updates —
//! behind the narrow API that `run` calls. Everything that crosses it is host data in the
//! canonical layout (PyTorch's); the layouts chosen for speed stay inside.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use dfdx::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::accumulate::Accumulator;
use super::act::Act;
use super::average::{Averaged, Averages};
use super::model::LoweredModel;
use super::optimizer::OptimizerState;
use crate::check::Experiment;
use crate::output::model_file::NamedTensor;

/// Independent random streams, all derived from the experiment's seed.
pub mod streams {
    pub const INIT: u64 = 1;
    pub const SHUFFLE: u64 = 2;
    pub const DROPOUT: u64 = 3;
    pub const GRID: u64 = 4;
    pub const SAMPLE: u64 = 5;
}

pub struct Engine {
    pub(super) exp: Arc<Experiment>,
    pub(super) dev: Cpu,
    pub(super) models: Vec<LoweredModel>,
    pub(super) optimizers: Vec<OptimizerState>,
    /// Per optimizer: (model, parameter) pairs it updates, in slot order.
    pub(super) bindings: Vec<Vec<(usize, usize)>>,
    /// Per optimizer: gradients accumulated towards its next update (`accumulate = N`).
    pub(super) accumulators: Vec<Accumulator>,
    /// Random numbers the device has drawn so far (dropout masks, step noise), to put its
    /// generator back on resume.
    pub(super) random_draws: Cell<u64>,
    /// `train { ema = ema(MODEL) }`: the averages of models' parameters.
    pub(super) averages: Averages,
}

/// Everything a checkpoint needs of the engine, in the canonical layout.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineState {
    /// Parameters and layer state (`model.<model>.<layer>.<name>`) and optimizer slots
    /// (`slot.<optimizer>.<model>.<layer>.<name>.<slot>`), each in the canonical layout of the
    /// parameter it belongs to, in a fixed order.
    pub tensors: Vec<NamedTensor>,
    /// Per optimizer: (updates so far, current learning rate).
    pub optimizers: Vec<(u64, f64)>,
    /// Per optimizer: gradients summed in its accumulation group in progress (their sums are
    /// tensors, `accum.<optimizer>.<model>.<layer>.<name>`).
    pub accumulated: Vec<u64>,
    /// Random numbers the device has drawn (see [`Engine::snapshot`]).
    pub random_draws: u64,
}

/// A set of named tensors that does not fit a model or an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorMismatch {
    Missing {
        name: String,
    },
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
}

impl Engine {
    /// Lowers `exp`: parameters initialised from its seed, optimizer slots at zero.
    pub fn new(exp: Arc<Experiment>) -> Self {
        let dev = Cpu::seed_from_u64(exp.seed.wrapping_add(streams::DROPOUT));
        let mut rng = ChaCha8Rng::seed_from_u64(exp.seed);
        rng.set_stream(streams::INIT);
        let models: Vec<LoweredModel> = exp
            .models
            .iter()
            .map(|m| LoweredModel::new(&dev, m, &mut rng))
            .collect();
        let bindings: Vec<Vec<(usize, usize)>> = exp
            .optimizers
            .iter()
            .map(|o| {
                // A frozen layer's parameters (`trainable = false`) are nobody's.
                o.models
                    .iter()
                    .flat_map(|&m| (0..models[m].params.len()).map(move |p| (m, p)))
                    .filter(|&(m, p)| models[m].params[p].trainable)
                    .collect()
            })
            .collect();
        let sizes: Vec<Vec<usize>> = bindings
            .iter()
            .map(|b| {
                b.iter()
                    .map(|&(m, p)| models[m].params[p].value.len())
                    .collect()
            })
            .collect();
        let optimizers = exp
            .optimizers
            .iter()
            .zip(&sizes)
            .map(|(o, sizes)| OptimizerState::new(o.kind, o.lr, sizes))
            .collect();
        let accumulators = exp
            .optimizers
            .iter()
            .zip(&sizes)
            .map(|(o, sizes)| Accumulator::new(o.accumulate, sizes))
            .collect();
        let averages = Averages {
            models: exp
                .averages
                .iter()
                .map(|a| {
                    let values = models[a.model].params.iter().map(|p| p.value.clone());
                    Averaged::new(a.model, a.decay, values.collect())
                })
                .collect(),
            swapped: false,
        };
        Engine {
            exp,
            dev,
            models,
            optimizers,
            bindings,
            accumulators,
            random_draws: Cell::new(0),
            averages,
        }
    }

    pub fn experiment(&self) -> &Arc<Experiment> {
        &self.exp
    }

    /// Each optimizer's current learning rate.
    pub fn lrs(&self) -> Vec<f64> {
        self.optimizers.iter().map(|o| o.lr).collect()
    }

    pub fn set_lr(&mut self, optimizer: usize, lr: f64) {
        self.optimizers[optimizer].lr = lr;
    }

    /// Every model's parameters, in the canonical layout: `[model][parameter]`.
    pub fn parameters(&self) -> Vec<Vec<Vec<f32>>> {
        self.models
            .iter()
            .map(|m| {
                m.params
                    .iter()
                    .map(super::params::Param::canonical_value)
                    .collect()
            })
            .collect()
    }

    /// Model `m`'s parameters and layer state as named tensors in PyTorch's layout
    /// (`<layer>.weight`, `<layer>.bias`, `<layer>.<state>`).
    pub fn model_tensors(&self, m: usize) -> Vec<NamedTensor> {
        let model = &self.models[m];
        let params = model.params.iter().map(|p| NamedTensor {
            name: p.name.clone(),
            shape: p.canonical_shape(),
            data: p.canonical_value(),
        });
        let state = model.state.iter().map(|s| NamedTensor {
            name: s.name.clone(),
            shape: s.shape.clone(),
            data: s.value.clone(),
        });
        params.chain(state).collect()
    }

    /// Sets model `m`'s parameters and layer state from named tensors in PyTorch's layout.
    /// Every tensor is checked before anything changes, so a bad set changes nothing.
    ///
    /// # Errors
    /// The first tensor the model needs that is missing or of another shape.
    pub fn load_model(&mut self, m: usize, tensors: &[NamedTensor]) -> Result<(), TensorMismatch> {
        let by_name: HashMap<&str, &NamedTensor> =
            tensors.iter().map(|t| (t.name.as_str(), t)).collect();
        let expected = self.model_tensors(m);
        let values = pick(&by_name, &expected)?;
        self.set_model(m, values);
        self.reset_average(m);
        Ok(())
    }

    /// The engine's state for a checkpoint, in the canonical layout: the trained weights
    /// under `model.`, and the averages (`ema.`) last, even while the averages are in.
    pub fn snapshot(&self) -> EngineState {
        let mut tensors = Vec::new();
        for m in 0..self.models.len() {
            let model = &self.models[m].name;
            tensors.extend(self.model_tensors(m).into_iter().enumerate().map(|(p, t)| {
                let trained = p < self.models[m].params.len() && self.averages.swapped;
                NamedTensor {
                    name: model_key(model, &t.name),
                    data: if trained {
                        self.trained_parameter(m, p)
                    } else {
                        t.data
                    },
                    ..t
                }
            }));
        }
        for (o, opt) in self.optimizers.iter().enumerate() {
            for (k, &(m, p)) in self.bindings[o].iter().enumerate() {
                let param = &self.models[m].params[p];
                for (slot, values) in opt.kind.slot_names().iter().zip(&opt.slots[k]) {
                    tensors.push(NamedTensor {
                        name: slot_key(
                            &self.exp.optimizers[o].name,
                            &self.models[m].name,
                            &param.name,
                            slot,
                        ),
                        shape: param.canonical_shape(),
                        data: param.to_canonical(values),
                    });
                }
            }
        }
        for (o, acc) in self.accumulators.iter().enumerate() {
            for (&(m, p), sum) in self.bindings[o].iter().zip(&acc.sums) {
                let param = &self.models[m].params[p];
                tensors.push(NamedTensor {
                    name: accum_key(
                        &self.exp.optimizers[o].name,
                        &self.models[m].name,
                        &param.name,
                    ),
                    shape: param.canonical_shape(),
                    data: param.to_canonical(sum),
                });
            }
        }
        tensors.extend(self.average_tensors());
        EngineState {
            tensors,
            optimizers: self
                .optimizers
                .iter()
                .map(|o| (o.iterations, o.lr))
                .collect(),
            accumulated: self.accumulators.iter().map(|a| a.count as u64).collect(),
            random_draws: self.random_draws.get(),
        }
    }

    /// Puts parameters, layer state, optimizer slots and the device's generator back as a
    /// snapshot has them. Every tensor is checked first, so a bad snapshot changes nothing.
    ///
    /// # Errors
    /// The first tensor the engine needs that is missing or of another shape.
    pub fn restore(&mut self, state: &EngineState) -> Result<(), TensorMismatch> {
        self.restore_until(state, &|| false).map(|_| ())
    }

    /// [`Self::restore`], asking `stop` now and then while the device's draws are replayed
    /// (see [`Self::replay_draws`]); `Ok(false)` when it said stop, the generator then
    /// left where it was.
    ///
    /// # Errors
    /// The first tensor the engine needs that is missing or of another shape.
    pub fn restore_until(
        &mut self,
        state: &EngineState,
        stop: &dyn Fn() -> bool,
    ) -> Result<bool, TensorMismatch> {
        self.restore_tensors(state)?;
        Ok(self.replay_draws(state.random_draws, stop))
    }

    /// Puts parameters, layer state, optimizer slots and counters back as a snapshot has
    /// them, leaving the device's generator where it is: `on_nan = restore_last` goes back
    /// to the last good weights but not to the random numbers it already used, which a
    /// resumed run draws again in the same order.
    ///
    /// # Errors
    /// The first tensor the engine needs that is missing or of another shape.
    pub fn restore_tensors(&mut self, state: &EngineState) -> Result<(), TensorMismatch> {
        self.use_averages(false);
        let expected = self.snapshot();
        let by_name: HashMap<&str, &NamedTensor> =
            state.tensors.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut values = pick(&by_name, &expected.tensors)?.into_iter();
        for m in 0..self.models.len() {
            let n = self.models[m].params.len() + self.models[m].state.len();
            let model_values: Vec<Vec<f32>> = values.by_ref().take(n).collect();
            self.set_model(m, model_values);
        }
        for o in 0..self.optimizers.len() {
            let bindings = self.bindings[o].clone();
            for (k, &(m, p)) in bindings.iter().enumerate() {
                let param = &self.models[m].params[p];
                let slots = self.optimizers[o].slots[k].len();
                let stored: Vec<Vec<f32>> = values
                    .by_ref()
                    .take(slots)
                    .map(|v| param.from_canonical(&v))
                    .collect();
                self.optimizers[o].slots[k] = stored;
            }
        }
        for o in 0..self.accumulators.len() {
            let bindings = &self.bindings[o];
            let acc = &mut self.accumulators[o];
            for (&(m, p), sum) in bindings.iter().zip(acc.sums.iter_mut()) {
                let canonical = values.next().unwrap_or_default();
                *sum = self.models[m].params[p].from_canonical(&canonical);
            }
            acc.count = state.accumulated.get(o).map_or(0, |&n| n as usize);
        }
        self.set_averages(values);
        for (opt, &(iterations, lr)) in self.optimizers.iter_mut().zip(&state.optimizers) {
            opt.iterations = iterations;
            opt.lr = lr;
        }
        Ok(())
    }

    /// Advances the device's generator by `draws` numbers, as a run that made them left it.
    /// The generator cannot jump, so this is a loop; `stop` is asked every 2^20 draws (a few
    /// milliseconds) so that an interrupt is honoured at once. Returns false when stopped.
    pub fn replay_draws(&mut self, draws: u64, stop: &dyn Fn() -> bool) -> bool {
        const POLL: u64 = 1 << 20;
        let mut done = 0;
        while done < draws {
            if stop() {
                return false;
            }
            let chunk = (draws - done).min(POLL);
            for _ in 0..chunk {
                self.dev.random_u64();
            }
            done += chunk;
        }
        self.random_draws.set(draws);
        true
    }

    /// The most random numbers one step of the experiment can draw from the device: each
    /// training-mode model call draws one per dropout layer, each noise one. A step evaluates
    /// its expressions again after each update, hence the factor.
    pub fn max_draws_per_step(&self) -> u64 {
        fn draws(engine: &Engine, e: &crate::check::plan::TensorExpr) -> u64 {
            use crate::check::plan::TensorExpr;
            let own = match e {
                TensorExpr::CallModel {
                    model,
                    training: true,
                    ..
                } => engine.models[*model].dropout_layers(),
                TensorExpr::Noise { .. } => 1,
                _ => 0,
            };
            e.children()
                .into_iter()
                .fold(own, |sum, c| sum.saturating_add(draws(engine, c)))
        }
        self.exp
            .steps
            .iter()
            .map(|step| {
                let stmts = step.all_stmts();
                let per_pass = stmts
                    .iter()
                    .filter_map(|s| s.expr())
                    .fold(0u64, |sum, e| sum.saturating_add(draws(self, e)));
                per_pass.saturating_mul(stmts.len() as u64 + 1)
            })
            .max()
            .unwrap_or(0)
    }

    /// Model `m` run in inference mode on `x`, a batch of the model's input shape (`shape`
    /// includes the batch axis); the output as host data.
    pub fn infer(&self, m: usize, x: Vec<f32>, shape: &[usize]) -> Vec<f32> {
        let dev = &self.dev;
        let input = match *shape {
            [b, n] => Act::Flat(dev.tensor_from_vec(x, (b, n))),
            [b, h, w] => Act::Image(dev.tensor_from_vec(x, (b, 1, h, w))),
            [b, c, h, w] => Act::Image(dev.tensor_from_vec(x, (b, c, h, w))),
            ref other => unreachable!("check limits inputs to rank 1 to 3, got {other:?}"),
        };
        // A graph model's first output (callers check it takes one input).
        let (outputs, _) =
            self.models[m].forward_outputs::<NoneTape>(vec![input], false, &[false], None);
        match outputs.into_iter().next() {
            Some(Act::Flat(t)) => t.as_vec(),
            Some(Act::Image(t)) => t.as_vec(),
            None => unreachable!("check: a model returns a value"),
        }
    }

    /// Sets model `m`'s parameters, then its layer state, from canonical values in
    /// [`Self::model_tensors`]' order.
    fn set_model(&mut self, m: usize, values: Vec<Vec<f32>>) {
        let model = &mut self.models[m];
        let mut values = values.into_iter();
        for (p, v) in model.params.iter_mut().zip(values.by_ref()) {
            p.set_canonical_value(&v);
        }
        for (s, v) in model.state.iter_mut().zip(values) {
            s.value = v;
        }
    }
}

/// A model's parameter or layer state in a checkpoint: `model.<model>.<layer>.<name>`.
fn model_key(model: &str, name: &str) -> String {
    format!("model.{model}.{name}")
}

/// An optimizer's gradient sum in an accumulation group: `accum.<optimizer>.<model>.<name>`.
fn accum_key(optimizer: &str, model: &str, param: &str) -> String {
    format!("accum.{optimizer}.{model}.{param}")
}

fn slot_key(optimizer: &str, model: &str, param: &str, slot: &str) -> String {
    format!("slot.{optimizer}.{model}.{param}.{slot}")
}

/// The data of each `expected` tensor, found by name in `by_name` with the same shape.
fn pick(
    by_name: &HashMap<&str, &NamedTensor>,
    expected: &[NamedTensor],
) -> Result<Vec<Vec<f32>>, TensorMismatch> {
    expected
        .iter()
        .map(|e| {
            let t = by_name
                .get(e.name.as_str())
                .ok_or_else(|| TensorMismatch::Missing {
                    name: e.name.clone(),
                })?;
            if t.shape != e.shape || t.data.len() != e.data.len() {
                return Err(TensorMismatch::Shape {
                    name: e.name.clone(),
                    expected: e.shape.clone(),
                    found: t.shape.clone(),
                });
            }
            Ok(t.data.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(super) mod norm_tests;

#[cfg(test)]
mod activation_tests;
