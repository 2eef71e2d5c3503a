//! The lowered experiment: models with their parameters, optimizers with their
//! state, and which parameters each optimizer updates.

use std::sync::Arc;

use dfdx::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::check::Experiment;
use crate::lower::model::LoweredModel;
use crate::lower::optimizer::OptimizerState;

/// Independent random streams, all derived from the experiment's seed.
pub mod streams {
    pub const INIT: u64 = 1;
    pub const SHUFFLE: u64 = 2;
    pub const DROPOUT: u64 = 3;
}

pub struct Engine {
    pub exp: Arc<Experiment>,
    pub dev: Cpu,
    pub models: Vec<LoweredModel>,
    pub optimizers: Vec<OptimizerState>,
    /// Per optimizer: (model, parameter) pairs it updates, in slot order.
    pub bindings: Vec<Vec<(usize, usize)>>,
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
        }
    }
}
