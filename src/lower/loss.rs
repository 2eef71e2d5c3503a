//! Losses on dfdx tensors, each reduced to the batch mean as Keras does (or the sum of
//! the examples' losses, `reduction = sum`). Targets are constants: they are prepared
//! on the host (label smoothing, class weights, hinge's -1/1) and never carry a tape.

use dfdx::prelude::*;

use super::act::Flat;
use crate::check::plan::{Activation, Loss, LossKind, Reduction};
use crate::data::one_hot;

/// Keras clips probabilities to [EPSILON, 1 - EPSILON] before taking logs.
const EPSILON: f32 = 1e-7;

/// What a loss compares the predictions with.
pub enum Target<'a> {
    /// Class indices, one per row.
    Labels(&'a [usize]),
    /// Dense targets of the predictions' shape (one-hot labels, regression targets).
    Dense(&'a [f32]),
}

impl Target<'_> {
    /// The targets as a (batch, width) matrix: class labels one-hot, or, against a single
    /// output (binary or regression), the label value itself.
    fn dense(&self, batch: usize, width: usize) -> Vec<f32> {
        match self {
            Target::Dense(v) => v.to_vec(),
            Target::Labels(l) if width == 1 => l.iter().map(|&c| c as f32).collect(),
            Target::Labels(l) => {
                debug_assert_eq!(l.len(), batch);
                one_hot(l, width)
            }
        }
    }
}

/// `spec` read from the logits of predictions that are their `activation`, where `spec` is
/// a cross-entropy of such probabilities (binary of a sigmoid, categorical of a softmax), as
/// Keras computes it (`act::Logits`); `None` for any other pair.
pub fn on_logits(spec: &Loss, activation: Activation) -> Option<Loss> {
    use LossKind::{BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy};
    let kind = match (spec.kind, activation) {
        (
            BinaryCrossentropy {
                from_logits: false,
                label_smoothing,
            },
            Activation::Sigmoid,
        ) => BinaryCrossentropy {
            from_logits: true,
            label_smoothing,
        },
        (
            CategoricalCrossentropy {
                from_logits: false,
                label_smoothing,
            },
            Activation::Softmax,
        ) => CategoricalCrossentropy {
            from_logits: true,
            label_smoothing,
        },
        (
            SparseCategoricalCrossentropy {
                from_logits: false,
                label_smoothing,
            },
            Activation::Softmax,
        ) => SparseCategoricalCrossentropy {
            from_logits: true,
            label_smoothing,
        },
        _ => return None,
    };
    Some(Loss {
        kind,
        ..spec.clone()
    })
}

/// The loss of a batch of predictions (batch, outputs), as a scalar on the predictions' tape.
pub fn loss<T: Tape<f32, Cpu>>(
    dev: &Cpu,
    spec: &Loss,
    pred: Flat<T>,
    target: &Target<'_>,
) -> Tensor<(), f32, Cpu, T> {
    let (batch, width) = *pred.shape();
    let mut t = target.dense(batch, width);
    let class_weight: Option<Vec<f32>> = spec
        .class_weight
        .as_ref()
        .map(|w| w.values.iter().map(|&v| v as f32).collect());
    // The binary cross-entropy weighs each value by its target's class before smoothing
    // moves the targets off 0 and 1: `w0 (1 - t) + w1 t`, as Keras' `class_weight` weighs
    // examples by their labels.
    let value_weights = match (spec.kind, &class_weight) {
        (LossKind::BinaryCrossentropy { .. }, Some(w)) => {
            Some(t.iter().map(|&v| w[0] * (1.0 - v) + w[1] * v).collect())
        }
        _ => None,
    };
    // Smoothing comes before the weights, as in PyTorch: `w[c] * ((1 - s) t + s / classes)`.
    match spec.kind {
        LossKind::SparseCategoricalCrossentropy {
            label_smoothing, ..
        }
        | LossKind::CategoricalCrossentropy {
            label_smoothing, ..
        } => smooth(&mut t, label_smoothing, width),
        LossKind::BinaryCrossentropy {
            label_smoothing, ..
        } => smooth(&mut t, label_smoothing, 2),
        _ => {}
    }
    // The mean over the batch, then what turns it into the reduction asked for.
    let mut scale = match spec.reduction {
        Reduction::Mean => 1.0,
        Reduction::Sum => batch as f32,
    };
    if let (Some(w), None) = (&class_weight, &value_weights) {
        // Each row's target scaled by its class weights (PyTorch's `weight`).
        for row in t.chunks_exact_mut(width) {
            for (v, wc) in row.iter_mut().zip(w) {
                *v *= wc;
            }
        }
        // Against class indices PyTorch's weighted mean divides by the labels' weights
        // rather than by the batch; against probabilities (categorical) by the batch.
        if let (Target::Labels(labels), Reduction::Mean) = (target, spec.reduction) {
            let total: f32 = labels.iter().map(|&c| w[c]).sum();
            scale = batch as f32 / total;
        }
    }
    let mean = batch_mean(dev, spec.kind, pred, t, value_weights, (batch, width));
    if scale == 1.0 {
        mean
    } else {
        mean * scale
    }
}

/// Keras' `label_smoothing`: `t * (1 - s) + s / outcomes`.
fn smooth(t: &mut [f32], smoothing: f64, outcomes: usize) {
    if smoothing > 0.0 {
        let s = smoothing as f32;
        for v in t {
            *v = *v * (1.0 - s) + s / outcomes as f32;
        }
    }
}

/// The mean over the batch of each example's loss (a sum over its classes for the
/// cross-entropies and the divergences, a mean over its values for the rest), against
/// targets already smoothed and weighted.
fn batch_mean<T: Tape<f32, Cpu>>(
    dev: &Cpu,
    kind: LossKind,
    pred: Flat<T>,
    mut t: Vec<f32>,
    value_weights: Option<Vec<f32>>,
    shape: (usize, usize),
) -> Tensor<(), f32, Cpu, T> {
    let (batch, width) = shape;
    let constant = |v: Vec<f32>| -> Flat<NoneTape> { dev.tensor_from_vec(v, shape) };
    match kind {
        LossKind::SparseCategoricalCrossentropy { from_logits, .. }
        | LossKind::CategoricalCrossentropy { from_logits, .. } => {
            if from_logits {
                cross_entropy_with_logits_loss(pred, constant(t))
            } else {
                let logp = pred.clamp(EPSILON, 1.0 - EPSILON).ln();
                (logp * constant(t))
                    .sum::<(usize,), Axis<1>>()
                    .mean()
                    .negate()
            }
        }
        LossKind::BinaryCrossentropy { from_logits, .. } => {
            let t = constant(t);
            let each = if from_logits {
                pred.bce_with_logits(t)
            } else {
                // -(t ln p + (1 - t) ln(1 - p)), p clipped.
                let p = pred.clamp(EPSILON, 1.0 - EPSILON);
                let one_minus_t = t.clone().negate() + 1.0;
                let a = p.with_empty_tape().ln() * t;
                let b = (p.negate() + 1.0).ln() * one_minus_t;
                (a + b).negate()
            };
            match value_weights {
                Some(w) => (each * constant(w)).mean(),
                None => each.mean(),
            }
        }
        // -mean(pred[label]): the one-hot mask picks each row's log-probability.
        LossKind::Nll => (pred * constant(t))
            .sum::<(usize,), Axis<1>>()
            .mean()
            .negate(),
        LossKind::MeanSquaredError => mse_loss(pred, constant(t)),
        LossKind::MeanAbsoluteError => mae_loss(pred, constant(t)),
        LossKind::Huber { delta } => huber_loss(pred, constant(t), delta as f32),
        LossKind::KlDivergence => {
            // sum(t ln(t / p)) with both clipped to [EPSILON, 1]; t ln t is a constant.
            for v in &mut t {
                *v = v.clamp(EPSILON, 1.0);
            }
            let t_ln_t: f32 = t.iter().map(|v| v * v.ln()).sum();
            let cross = (pred.clamp(EPSILON, 1.0).ln() * constant(t)).sum::<(), _>();
            (cross.negate() + t_ln_t) / batch as f32
        }
        LossKind::CosineSimilarity => {
            // -sum(t / |t| * p / |p|), each norm taken as at least EPSILON (Keras' `normalize`).
            for row in t.chunks_exact_mut(width) {
                let inv = inverse_norm(row.iter().map(|v| v * v).sum());
                for v in row.iter_mut() {
                    *v *= inv;
                }
            }
            let inv = pred
                .with_empty_tape()
                .square()
                .sum::<(usize,), Axis<1>>()
                .clamp(EPSILON * EPSILON, f32::MAX)
                .powf(-0.5);
            let dot = (pred * constant(t)).sum::<(usize,), Axis<1>>();
            (dot * inv).mean().negate()
        }
        LossKind::Hinge | LossKind::SquaredHinge => {
            // Keras maps targets of only 0 and 1 to -1 and 1, batch by batch.
            if t.iter().all(|&v| v == 0.0 || v == 1.0) {
                for v in &mut t {
                    *v = 2.0 * *v - 1.0;
                }
            }
            let margin = ((pred * constant(t)).negate() + 1.0).relu();
            if kind == LossKind::Hinge {
                margin.mean()
            } else {
                margin.square().mean()
            }
        }
        LossKind::LogCosh => {
            // ln(cosh(e)) = |e| + ln(1 + exp(-2|e|)) - ln 2, which never overflows.
            let e = (pred - constant(t)).abs();
            let tail = (e.with_empty_tape() * -2.0).exp() + 1.0;
            (e + tail.ln() - std::f32::consts::LN_2).mean()
        }
        LossKind::Poisson => {
            let log = (pred.with_empty_tape() + EPSILON).ln() * constant(t);
            (pred - log).mean()
        }
    }
}

/// Keras' `1 / max(|x|, EPSILON)` from the sum of squares.
fn inverse_norm(sum_of_squares: f32) -> f32 {
    sum_of_squares.max(EPSILON * EPSILON).sqrt().recip()
}

#[cfg(test)]
mod tests;
