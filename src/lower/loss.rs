//! Losses on dfdx tensors, each reduced to the batch mean as Keras does.

use dfdx::prelude::*;

use super::act::Flat;
use crate::check::plan::LossKind;
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

/// The loss of a batch of predictions (batch, outputs), as a scalar on the predictions' tape.
pub fn loss<T: Tape<f32, Cpu>>(
    dev: &Cpu,
    kind: LossKind,
    pred: Flat<T>,
    target: &Target<'_>,
) -> Tensor<(), f32, Cpu, T> {
    let (batch, width) = *pred.shape();
    let dense = |dev: &Cpu| -> Flat<NoneTape> {
        match target {
            Target::Dense(v) => dev.tensor_from_vec(v.to_vec(), (batch, width)),
            // Class labels against a single output (binary or regression): the label value itself.
            Target::Labels(l) if width == 1 => {
                dev.tensor_from_vec(l.iter().map(|&c| c as f32).collect(), (batch, 1))
            }
            Target::Labels(l) => dev.tensor_from_vec(one_hot(l, width), (batch, width)),
        }
    };
    match kind {
        LossKind::SparseCategoricalCrossentropy { from_logits }
        | LossKind::CategoricalCrossentropy { from_logits } => {
            let t = dense(dev);
            if from_logits {
                cross_entropy_with_logits_loss(pred, t)
            } else {
                let logp = pred.clamp(EPSILON, 1.0 - EPSILON).ln();
                (logp * t).sum::<(usize,), Axis<1>>().mean().negate()
            }
        }
        LossKind::BinaryCrossentropy { from_logits } => {
            let t = dense(dev);
            if from_logits {
                binary_cross_entropy_with_logits_loss(pred, t)
            } else {
                // -(t ln p + (1 - t) ln(1 - p)), p clipped.
                let p = pred.clamp(EPSILON, 1.0 - EPSILON);
                let one_minus_t = t.clone().negate() + 1.0;
                let a = p.with_empty_tape().ln() * t;
                let b = (p.negate() + 1.0).ln() * one_minus_t;
                (a + b).mean().negate()
            }
        }
        // -mean(pred[label]): the one-hot mask picks each row's log-probability.
        LossKind::Nll => (pred * dense(dev))
            .sum::<(usize,), Axis<1>>()
            .mean()
            .negate(),
        LossKind::MeanSquaredError => mse_loss(pred, dense(dev)),
        LossKind::MeanAbsoluteError => mae_loss(pred, dense(dev)),
        LossKind::Huber { delta } => huber_loss(pred, dense(dev), delta as f32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(kind: LossKind, pred: Vec<f32>, shape: (usize, usize), target: &Target<'_>) -> f32 {
        let dev = Cpu::default();
        let p: Flat<NoneTape> = dev.tensor_from_vec(pred, shape);
        loss(&dev, kind, p, target).array()
    }

    #[test]
    fn sparse_crossentropy_from_logits_matches_hand_computation() {
        let logits = vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3];
        let v = value(
            LossKind::SparseCategoricalCrossentropy { from_logits: true },
            logits.clone(),
            (2, 3),
            &Target::Labels(&[0, 2]),
        );
        let lse = |r: &[f32]| r.iter().map(|x| x.exp()).sum::<f32>().ln();
        // The batch mean as written in the formula, not `f32::midpoint`.
        #[allow(clippy::manual_midpoint)]
        let expect = ((lse(&logits[..3]) - 2.0) + (lse(&logits[3..]) - 0.3)) / 2.0;
        assert!((v - expect).abs() < 1e-6, "{v} vs {expect}");
    }

    #[test]
    fn crossentropy_on_probabilities_clips_like_keras() {
        let v = value(
            LossKind::SparseCategoricalCrossentropy { from_logits: false },
            vec![0.0, 1.0],
            (1, 2),
            &Target::Labels(&[0]),
        );
        assert!((v - (-(1e-7f32).ln())).abs() < 1e-3, "{v}");
    }

    #[test]
    fn binary_crossentropy_both_forms_agree() {
        let logits = vec![0.3f32, -1.2, 2.0];
        let probs: Vec<f32> = logits.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect();
        let t = [1.0f32, 0.0, 0.0];
        let a = value(
            LossKind::BinaryCrossentropy { from_logits: true },
            logits,
            (3, 1),
            &Target::Dense(&t),
        );
        let b = value(
            LossKind::BinaryCrossentropy { from_logits: false },
            probs.clone(),
            (3, 1),
            &Target::Dense(&t),
        );
        let expect = -(probs[0].ln() + (1.0 - probs[1]).ln() + (1.0 - probs[2]).ln()) / 3.0;
        assert!(
            (a - expect).abs() < 1e-5 && (b - expect).abs() < 1e-5,
            "{a} {b} {expect}"
        );
    }

    #[test]
    fn regression_losses_are_means_over_all_values() {
        let t = [1.0f32, 2.0, 3.0, 4.0];
        let mse = value(
            LossKind::MeanSquaredError,
            vec![1.5, 2.0, 2.0, 4.0],
            (2, 2),
            &Target::Dense(&t),
        );
        assert!((mse - (0.25 + 1.0) / 4.0).abs() < 1e-6);
        let mae = value(
            LossKind::MeanAbsoluteError,
            vec![1.5, 2.0, 2.0, 4.0],
            (2, 2),
            &Target::Dense(&t),
        );
        assert!((mae - 1.5 / 4.0).abs() < 1e-6);
    }

    #[test]
    fn huber_matches_keras() {
        // keras.losses.Huber(delta=1.0)(y_true, y_pred) with TensorFlow 2.21 on these
        // values: errors 0.5, 0, 2, 0 → (0.125 + 0 + 1.5 + 0) / 4 = 0.40625; delta=0.5:
        // (0.125 + 0 + 0.875 + 0) / 4 = 0.25.
        let t = [1.0f32, 2.0, 3.0, 4.0];
        let p = vec![1.5, 2.0, 1.0, 4.0];
        let h1 = value(
            LossKind::Huber { delta: 1.0 },
            p.clone(),
            (2, 2),
            &Target::Dense(&t),
        );
        assert!((h1 - 0.406_25).abs() < 1e-6, "{h1}");
        let h05 = value(
            LossKind::Huber { delta: 0.5 },
            p,
            (2, 2),
            &Target::Dense(&t),
        );
        assert!((h05 - 0.25).abs() < 1e-6, "{h05}");
    }

    // Reference numbers as the script prints them.
    #[allow(clippy::unreadable_literal, clippy::excessive_precision)]
    #[test]
    fn nll_after_log_softmax_matches_pytorch() {
        // bench/reference/nll_loss.py: F.nll_loss(F.log_softmax(x, dim=1), labels) in float64,
        // with a row of ±300 where a naive softmax overflows.
        use crate::check::plan::Activation;
        use crate::lower::act::Act;
        let dev = Cpu::default();
        #[rustfmt::skip]
        let x = vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3, -1.0, 0.0, 4.0, 300.0, -300.0, 0.0];
        let t: Flat<NoneTape> = dev.tensor_from_vec(x, (4, 3));
        let Act::Flat(logp) = Act::Flat(t.leaky_trace()).activate(Activation::LogSoftmax) else {
            unreachable!()
        };
        let l = loss(&dev, LossKind::Nll, logp, &Target::Labels(&[0, 2, 2, 1]));
        let v = l.array();
        assert!((f64::from(v) - 1.507_154_561e2).abs() < 1e-4, "{v}");
        let grads = l.backward();
        #[rustfmt::skip]
        let want = [-8.524971528e-02, 6.060824268e-02, 2.464147260e-02, 2.715093258e-02, 2.006197639e-01, -2.277706965e-01, 1.643315796e-03, 4.466995468e-03, -6.110311264e-03, 2.500000000e-01, -2.500000000e-01, 0.0];
        for (g, w) in grads.get(&t).as_vec().iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-6, "{g} against {w}");
        }
    }
}
