//! Early stopping (`train { stop = early_stopping(...) }`): Keras' `EarlyStopping`, epoch by
//! epoch, with its state (best value and epoch, the wait, the best weights) kept where a
//! checkpoint can carry it, so that a resumed run stops where an uninterrupted one does.

use serde::{Deserialize, Serialize};

use crate::check::plan::EarlyStopping;
use crate::output::model_file::NamedTensor;

/// What the rule has seen so far; the checkpoint holds it (the weights apart, as tensors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoppingState {
    /// The best value so far (`inf` for `min`, `-inf` for `max` before the first).
    pub best: f64,
    /// The epoch (from 0) of the best value, or of the first monitored epoch.
    pub best_epoch: usize,
    /// Keras' `wait`: monitored epochs since the last improvement.
    pub wait: usize,
    /// The epoch (from 0) at which the rule stopped the loop.
    pub stopped_epoch: Option<usize>,
    /// Whether `best_weights` holds weights yet (with `restore_best`).
    pub has_best_weights: bool,
}

/// What one epoch's value did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Before `start_from_epoch`: not looked at.
    Unmonitored,
    Improved,
    /// No improvement, still within patience.
    Waiting,
    /// No improvement for `patience` epochs: the loop stops after this epoch.
    Stop,
}

/// The rule with its state and, with `restore_best`, the best epoch's weights per model.
#[derive(Debug, Clone)]
pub struct Stopper {
    pub rule: EarlyStopping,
    pub state: StoppingState,
    pub best_weights: Vec<Vec<NamedTensor>>,
}

impl Stopper {
    pub fn new(rule: EarlyStopping) -> Self {
        let best = if rule.maximize {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        Stopper {
            rule,
            state: StoppingState {
                best,
                best_epoch: 0,
                wait: 0,
                stopped_epoch: None,
                has_best_weights: false,
            },
            best_weights: Vec::new(),
        }
    }

    /// Keras' `_is_improvement`: better than `reference` by more than `min_delta`. A NaN
    /// is never an improvement.
    pub fn improves(&self, value: f64, reference: f64) -> bool {
        if self.rule.maximize {
            value - self.rule.min_delta > reference
        } else {
            value + self.rule.min_delta < reference
        }
    }

    /// Keras' `on_epoch_end` for epoch `epoch` (from 0) whose monitored metric is `value`;
    /// `weights` reads every model's weights, called only when the rule keeps them.
    pub fn end_epoch(
        &mut self,
        epoch: usize,
        value: f64,
        weights: impl Fn() -> Vec<Vec<NamedTensor>>,
    ) -> Verdict {
        if epoch < self.rule.start_from_epoch {
            return Verdict::Unmonitored;
        }
        let s = &mut self.state;
        if self.rule.restore_best && !s.has_best_weights {
            // Keras: the first monitored epoch's weights are the best until one improves.
            self.best_weights = weights();
            s.has_best_weights = true;
            s.best_epoch = epoch;
        }
        s.wait += 1;
        if self.improves(value, self.state.best) {
            let s = &mut self.state;
            s.best = value;
            s.best_epoch = epoch;
            s.wait = 0;
            if self.rule.restore_best {
                self.best_weights = weights();
            }
            return Verdict::Improved;
        }
        let s = &mut self.state;
        if s.wait >= self.rule.patience && epoch > 0 {
            s.stopped_epoch = Some(epoch);
            return Verdict::Stop;
        }
        Verdict::Waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        maximize: bool,
        patience: usize,
        min_delta: f64,
        start_from_epoch: usize,
    ) -> EarlyStopping {
        EarlyStopping {
            metric: 0,
            maximize,
            patience,
            min_delta,
            restore_best: true,
            start_from_epoch,
        }
    }

    /// Feeds a curve until the rule stops: (the epoch it stopped at, the best epoch, the
    /// epoch whose weights it kept), all from 0. Each epoch's "weights" are its number.
    fn follow(r: EarlyStopping, curve: &[f64]) -> (Option<usize>, usize, f32) {
        let mut s = Stopper::new(r);
        for (epoch, &v) in curve.iter().enumerate() {
            let weights = || {
                vec![vec![NamedTensor {
                    name: "w".into(),
                    shape: vec![1],
                    data: vec![epoch as f32],
                }]]
            };
            if s.end_epoch(epoch, v, weights) == Verdict::Stop {
                break;
            }
        }
        (
            s.state.stopped_epoch,
            s.state.best_epoch,
            s.best_weights[0][0].data[0],
        )
    }

    // The expected epochs are Keras 3's (keras/src/callbacks/early_stopping.py), traced by
    // hand: `wait` counts up before the comparison, so patience p stops p epochs after the
    // last improvement.
    #[test]
    fn a_loss_that_turns_up_stops_patience_epochs_after_its_best() {
        let curve = [1.0, 0.5, 0.4, 0.45, 0.41, 0.42, 0.3];
        assert_eq!(follow(rule(false, 3, 0.0, 0), &curve), (Some(5), 2, 2.0));
        assert_eq!(follow(rule(false, 1, 0.0, 0), &curve), (Some(3), 2, 2.0));
        // Never three epochs without improvement: runs to the end.
        assert_eq!(follow(rule(false, 5, 0.0, 0), &curve), (None, 6, 6.0));
    }

    #[test]
    fn min_delta_makes_small_gains_count_as_none() {
        // With min_delta 0.05: 0.5 → 0.46 is no gain, 0.5 → 0.42 is; then 0.41 and 0.405
        // are none, and patience 2 ends it.
        let curve = [0.5, 0.46, 0.42, 0.41, 0.405, 0.40];
        assert_eq!(follow(rule(false, 2, 0.05, 0), &curve), (Some(4), 2, 2.0));
        assert_eq!(follow(rule(false, 2, 0.0, 0), &curve), (None, 5, 5.0));
    }

    #[test]
    fn an_accuracy_is_maximised() {
        let curve = [0.5, 0.7, 0.69, 0.71, 0.70, 0.70];
        assert_eq!(follow(rule(true, 2, 0.0, 0), &curve), (Some(5), 3, 3.0));
    }

    #[test]
    fn epochs_before_start_from_epoch_are_not_watched() {
        // Epochs 0 and 1 are ignored: epoch 2's 0.9 is the first best.
        let curve = [0.1, 0.2, 0.9, 0.95, 0.96];
        assert_eq!(follow(rule(false, 2, 0.0, 2), &curve), (Some(4), 2, 2.0));
    }

    #[test]
    fn a_nan_is_no_improvement() {
        let curve = [1.0, f64::NAN, f64::NAN];
        assert_eq!(follow(rule(false, 2, 0.0, 0), &curve), (Some(2), 0, 0.0));
    }
}
