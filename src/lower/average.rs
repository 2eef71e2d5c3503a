//! Exponential moving averages of models' parameters (`train { ema = ema(net) }`).
//!
//! After each update that changes a model's parameters, its average becomes
//! `decay * average + (1 - decay) * weights`, in f32, in that order of operations: timm's
//! `ModelEmaV2` (and PyTorch's `get_ema_multi_avg_fn`). It starts from the weights the
//! model starts training with (its initial or loaded weights), with no warm-up, as
//! `ModelEmaV2` does; layer state (batch norm's running statistics) is not averaged: the
//! model's own is used with the average, as `AveragedModel(use_buffers = False)` leaves it.
//!
//! The loop puts the averages in the models ([`Engine::use_averages`]) for what does not
//! train: evaluation steps, `on epoch_end` hooks, `after { }`. Buffers are kept in the
//! parameters' stored layout, so that putting them in is a swap of pointers.

use std::sync::Arc;

use super::engine::Engine;
use crate::output::model_file::NamedTensor;

/// The averages of an engine's models, and where they are now.
#[derive(Default)]
pub(super) struct Averages {
    pub(super) models: Vec<Averaged>,
    /// Whether the averages are in the models now, and the trained weights here.
    pub(super) swapped: bool,
}

/// One model's average: per parameter, in the model's order and stored layout.
pub(super) struct Averaged {
    pub(super) model: usize,
    decay: f32,
    /// `1 - decay`, computed in f64 and rounded once, as Python computes `1. - decay`.
    rest: f32,
    pub(super) values: Vec<Arc<Vec<f32>>>,
}

impl Averaged {
    /// An average of `model` starting from `values`, its parameters now.
    #[allow(clippy::cast_possible_truncation)] // the averages compute in f32, as PyTorch's
    pub(super) fn new(model: usize, decay: f64, values: Vec<Arc<Vec<f32>>>) -> Self {
        Averaged {
            model,
            decay: decay as f32,
            rest: (1.0 - decay) as f32,
            values,
        }
    }
}

impl Engine {
    /// Puts each averaged model's average in place of its trained weights (`on`), or the
    /// trained weights back; asking for what is already in place does nothing.
    pub fn use_averages(&mut self, on: bool) {
        if self.averages.swapped == on {
            return;
        }
        for avg in &mut self.averages.models {
            for (param, values) in self.models[avg.model]
                .params
                .iter_mut()
                .zip(&mut avg.values)
            {
                std::mem::swap(&mut param.value, values);
                param.sync();
            }
        }
        self.averages.swapped = on;
    }

    /// Moves the averages of the models optimizer `opt` updates towards their weights,
    /// after its update.
    pub(super) fn update_averages(&mut self, opt: usize) {
        assert!(
            !self.averages.swapped,
            "a training step ran with the averages in the models"
        );
        for avg in &mut self.averages.models {
            if !self.bindings[opt].iter().any(|&(m, _)| m == avg.model) {
                continue;
            }
            for (param, values) in self.models[avg.model].params.iter().zip(&mut avg.values) {
                let (d, rest) = (avg.decay, avg.rest);
                for (a, &w) in Arc::make_mut(values).iter_mut().zip(param.value.iter()) {
                    *a = *a * d + rest * w;
                }
            }
        }
    }

    /// Starts model `m`'s average again from its weights (after `load`).
    pub(super) fn reset_average(&mut self, m: usize) {
        for avg in self.averages.models.iter_mut().filter(|a| a.model == m) {
            avg.values = self.models[m]
                .params
                .iter()
                .map(|p| p.value.clone())
                .collect();
        }
    }

    /// Per averaged model, per parameter: (trained weights, average), wherever each is now.
    fn trained_and_averaged(&self, a: usize, p: usize) -> (&[f32], &[f32]) {
        let avg = &self.averages.models[a];
        let (in_model, kept) = (&self.models[avg.model].params[p].value, &avg.values[p]);
        if self.averages.swapped {
            (kept, in_model)
        } else {
            (in_model, kept)
        }
    }

    /// Model `m`'s trained parameters in the canonical layout, wherever they are now.
    pub(super) fn trained_parameter(&self, m: usize, p: usize) -> Vec<f32> {
        let param = &self.models[m].params[p];
        match self.averages.models.iter().position(|a| a.model == m) {
            Some(a) => param.to_canonical(self.trained_and_averaged(a, p).0),
            None => param.canonical_value(),
        }
    }

    /// The averages for a checkpoint: `ema.<model>.<layer>.<name>`, canonical layout.
    pub(super) fn average_tensors(&self) -> Vec<NamedTensor> {
        let mut tensors = Vec::new();
        for (a, avg) in self.averages.models.iter().enumerate() {
            let model = &self.models[avg.model];
            for (p, param) in model.params.iter().enumerate() {
                tensors.push(NamedTensor {
                    name: format!("ema.{}.{}", model.name, param.name),
                    shape: param.canonical_shape(),
                    data: param.to_canonical(self.trained_and_averaged(a, p).1),
                });
            }
        }
        tensors
    }

    /// Sets the averages from canonical values in [`Self::average_tensors`]' order; the
    /// trained weights must be in the models.
    pub(super) fn set_averages(&mut self, values: impl Iterator<Item = Vec<f32>>) {
        assert!(!self.averages.swapped, "restored with the averages in");
        let mut values = values;
        for avg in &mut self.averages.models {
            let params = &self.models[avg.model].params;
            avg.values = params
                .iter()
                .zip(values.by_ref())
                .map(|(param, v)| Arc::new(param.from_canonical(&v)))
                .collect();
        }
    }
}

#[cfg(test)]
mod tests;
