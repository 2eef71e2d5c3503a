//! `reduce_on_plateau(...)`'s rules at run time: Keras' `ReduceLROnPlateau.on_epoch_end`,
//! once per epoch, each rule with its state where a checkpoint carries it.

use serde::{Deserialize, Serialize};

use crate::check::plan::Plateau;

/// What a rule has seen, and the value it gives now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// The best monitored value so far (`inf` for `min`, `-inf` for `max` before the first).
    pub best: f64,
    /// Epochs since the last improvement, outside cooldowns.
    pub wait: usize,
    /// Epochs of cooldown left after a reduction.
    pub cooldown_left: usize,
    /// The value the rule gives: `initial`, times `factor` at each reduction.
    pub value: f64,
}

impl PlateauState {
    pub fn new(rule: &Plateau) -> Self {
        PlateauState {
            best: if rule.maximize {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            },
            wait: 0,
            cooldown_left: 0,
            value: rule.initial,
        }
    }

    /// Keras' `on_epoch_end` for an epoch whose monitored metric is `current`: the value
    /// before, when this epoch reduced it. NaN never improves.
    pub fn end_epoch(&mut self, rule: &Plateau, current: f64) -> Option<f64> {
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        let improved = if rule.maximize {
            current > self.best + rule.min_delta
        } else {
            current < self.best - rule.min_delta
        };
        if improved {
            self.best = current;
            self.wait = 0;
            return None;
        }
        if self.cooldown_left > 0 {
            return None;
        }
        self.wait += 1;
        if self.wait < rule.patience || self.value <= rule.min_lr {
            return None;
        }
        let before = self.value;
        self.value = (self.value * rule.factor).max(rule.min_lr);
        self.cooldown_left = rule.cooldown;
        self.wait = 0;
        Some(before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bench/reference/reduce_on_plateau.py`'s curve (negated for `max`).
    const CURVE: [f64; 19] = [
        1.0,
        0.9,
        0.95,
        0.92,
        0.91,
        0.9,
        0.899_995,
        0.85,
        0.86,
        0.87,
        0.88,
        0.84,
        0.845,
        0.85,
        0.86,
        0.87,
        f64::NAN,
        0.9,
        0.91,
    ];

    fn follow(rule: &Plateau) -> Vec<f64> {
        let mut s = PlateauState::new(rule);
        CURVE
            .iter()
            .map(|&v| {
                s.end_epoch(rule, if rule.maximize { -v } else { v });
                s.value
            })
            .collect()
    }

    fn rule(maximize: bool, factor: f64, patience: usize) -> Plateau {
        Plateau {
            metric: 0,
            maximize,
            factor,
            patience,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            initial: 0.1,
        }
    }

    /// The learning rate after each epoch of Keras' callback on an SGD at 0.1 (float32
    /// there, so to 1e-6 of each value).
    #[allow(clippy::unreadable_literal)]
    #[test]
    fn the_rate_follows_keras_reduce_lr_on_plateau() {
        #[rustfmt::skip]
        let cases = [
            (rule(false, 0.1, 2),
             vec![1.000000015e-01, 1.000000015e-01, 1.000000015e-01, 9.999999776e-03, 9.999999776e-03, 9.999999311e-04, 9.999999311e-04, 9.999999311e-04, 9.999999311e-04, 9.999999020e-05, 9.999999020e-05, 9.999999020e-05, 9.999999020e-05, 9.999998838e-06, 9.999998838e-06, 9.999998838e-07, 9.999998838e-07, 9.999998696e-08, 9.999998696e-08]),
            (Plateau { cooldown: 2, min_lr: 0.02, ..rule(false, 0.5, 1) },
             vec![1.000000015e-01, 1.000000015e-01, 5.000000075e-02, 5.000000075e-02, 2.500000037e-02, 2.500000037e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02, 1.999999955e-02]),
            (Plateau { min_delta: 0.01, ..rule(true, 0.5, 0) },
             vec![1.000000015e-01, 1.000000015e-01, 5.000000075e-02, 2.500000037e-02, 1.250000019e-02, 6.250000093e-03, 3.125000047e-03, 3.125000047e-03, 1.562500023e-03, 7.812500116e-04, 3.906250058e-04, 1.953125029e-04, 9.765625146e-05, 4.882812573e-05, 2.441406286e-05, 1.220703143e-05, 6.103515716e-06, 3.051757858e-06, 1.525878929e-06]),
        ];
        for (rule, want) in &cases {
            let got = follow(rule);
            for (epoch, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-6 * w,
                    "{rule:?}, epoch {epoch}: {g} against {w}"
                );
            }
        }
    }
}
