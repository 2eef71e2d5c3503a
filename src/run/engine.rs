//! The lowered experiment: models with their parameters, optimizers with their
//! state, and which parameters each optimizer updates.

use std::sync::Arc;

use dfdx::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::checkpoint::Checkpoint;
use crate::check::Experiment;
use crate::lower::model::LoweredModel;
use crate::lower::optimizer::OptimizerState;

/// Independent random streams, all derived from the experiment's seed.
pub mod streams {
    pub const INIT: u64 = 1;
    pub const SHUFFLE: u64 = 2;
    pub const DROPOUT: u64 = 3;
    pub const GRID: u64 = 4;
}

pub struct Engine {
    pub exp: Arc<Experiment>,
    pub dev: Cpu,
    pub models: Vec<LoweredModel>,
    pub optimizers: Vec<OptimizerState>,
    /// Per optimizer: (model, parameter) pairs it updates, in slot order.
    pub bindings: Vec<Vec<(usize, usize)>>,
    /// Random numbers drawn by the device for dropout masks so far (one per
    /// training-mode dropout layer call), to put the RNG back on resume.
    pub dropout_draws: std::cell::Cell<u64>,
}

impl Engine {
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
                o.models
                    .iter()
                    .flat_map(|&m| (0..models[m].params.len()).map(move |p| (m, p)))
                    .collect()
            })
            .collect();
        let optimizers = exp
            .optimizers
            .iter()
            .zip(&bindings)
            .map(|(o, b)| {
                let sizes: Vec<usize> = b
                    .iter()
                    .map(|&(m, p)| models[m].params[p].value.len())
                    .collect();
                OptimizerState::new(o.kind, o.lr, &sizes)
            })
            .collect();
        Engine {
            exp,
            dev,
            models,
            optimizers,
            bindings,
            dropout_draws: std::cell::Cell::new(0),
        }
    }

    /// Puts parameters, optimizer state and the dropout RNG back as a checkpoint has them.
    pub fn restore(&mut self, checkpoint: &Checkpoint) {
        for (model, values) in self.models.iter_mut().zip(&checkpoint.params) {
            for (param, v) in model.params.iter_mut().zip(values) {
                if v.len() == param.value.len() {
                    param.value_mut().clone_from(v);
                    param.sync();
                }
            }
        }
        for ((opt, slots), &(iterations, lr)) in self
            .optimizers
            .iter_mut()
            .zip(&checkpoint.slots)
            .zip(&checkpoint.position.optimizers)
        {
            opt.iterations = iterations;
            opt.lr = lr;
            if slots.len() == opt.slots.len() {
                opt.slots.clone_from(slots);
            }
        }
        for _ in 0..checkpoint.position.dropout_draws {
            self.dev.random_u64();
        }
        self.dropout_draws.set(checkpoint.position.dropout_draws);
    }
}
