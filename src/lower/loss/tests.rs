//! Each loss against hand computations and the reference frameworks' numbers
//! (`bench/reference/nll_loss.py`, `bench/reference/loss_options.py`), and each
//! option's gradient against finite differences.

use super::*;
use crate::check::plan::ClassWeight;
use crate::source::Span;

fn spec(kind: LossKind) -> Loss {
    Loss {
        name: "l".into(),
        kind,
        reduction: Reduction::Mean,
        class_weight: None,
    }
}

fn value(kind: LossKind, pred: Vec<f32>, shape: (usize, usize), target: &Target<'_>) -> f32 {
    let dev = Cpu::default();
    let p: Flat<NoneTape> = dev.tensor_from_vec(pred, shape);
    loss(&dev, &spec(kind), p, target).array()
}

#[test]
fn sparse_crossentropy_from_logits_matches_hand_computation() {
    let logits = vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3];
    let v = value(
        LossKind::SparseCategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        },
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
        LossKind::SparseCategoricalCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
        },
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
        LossKind::BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        },
        logits,
        (3, 1),
        &Target::Dense(&t),
    );
    let b = value(
        LossKind::BinaryCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
        },
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
    let l = loss(
        &dev,
        &spec(LossKind::Nll),
        logp,
        &Target::Labels(&[0, 2, 2, 1]),
    );
    let v = l.array();
    assert!((f64::from(v) - 1.507_154_561e2).abs() < 1e-4, "{v}");
    let grads = l.backward();
    #[rustfmt::skip]
    let want = [-8.524971528e-02, 6.060824268e-02, 2.464147260e-02, 2.715093258e-02, 2.006197639e-01, -2.277706965e-01, 1.643315796e-03, 4.466995468e-03, -6.110311264e-03, 2.500000000e-01, -2.500000000e-01, 0.0];
    for (g, w) in grads.get(&t).as_vec().iter().zip(want) {
        assert!((f64::from(*g) - w).abs() < 1e-6, "{g} against {w}");
    }
}

// bench/reference/loss_options.py's inputs.
#[rustfmt::skip]
const LOGITS: [f32; 12] = [2.0, 1.0, 0.1, 0.5, 2.5, 0.3, -1.0, 0.0, 4.0, 1.2, -0.7, 0.4];
const LABELS: [usize; 4] = [0, 2, 2, 1];
// The labels' weights sum to 5, not to the batch size, so the weighted mean is tested.
const WEIGHTS: [f64; 3] = [1.0, 3.0, 0.5];

fn with(kind: LossKind, reduction: Reduction, class_weight: Option<&[f64]>) -> Loss {
    Loss {
        reduction,
        class_weight: class_weight.map(|w| ClassWeight {
            values: w.to_vec(),
            span: Span::new(0, 0),
        }),
        ..spec(kind)
    }
}

fn sparse(from_logits: bool, label_smoothing: f64) -> LossKind {
    LossKind::SparseCategoricalCrossentropy {
        from_logits,
        label_smoothing,
    }
}

/// The loss and its gradient with respect to the predictions.
fn value_and_grad(
    spec: &Loss,
    pred: &[f32],
    shape: (usize, usize),
    target: &Target<'_>,
) -> (f32, Vec<f32>) {
    let dev = Cpu::default();
    let p: Flat<NoneTape> = dev.tensor_from_vec(pred.to_vec(), shape);
    let l = loss(&dev, spec, p.leaky_trace(), target);
    let v = l.array();
    (v, l.backward().get(&p).as_vec())
}

/// Central finite differences of the loss, in f64 around f32 evaluations.
fn finite_differences(
    spec: &Loss,
    pred: &[f32],
    shape: (usize, usize),
    target: &Target<'_>,
) -> Vec<f32> {
    let h = 1e-3f32;
    (0..pred.len())
        .map(|k| {
            let at = |d: f32| {
                let mut p = pred.to_vec();
                p[k] += d;
                f64::from(value_and_grad(spec, &p, shape, target).0)
            };
            ((at(h) - at(-h)) / (2.0 * f64::from(h))) as f32
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((f64::from(*g) - w).abs() < tol, "{got:?} against {want:?}");
    }
}

fn softmax_rows(x: &[f32], width: usize) -> Vec<f32> {
    x.chunks(width)
        .flat_map(|r| {
            let e: Vec<f64> = r.iter().map(|v| f64::from(*v).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(move |v| (v / s) as f32)
        })
        .collect()
}

// Reference numbers as the script prints them.
#[allow(clippy::unreadable_literal, clippy::excessive_precision)]
#[test]
fn class_weights_and_label_smoothing_match_pytorch() {
    let target = Target::Labels(&LABELS);
    let weighted = with(sparse(true, 0.1), Reduction::Mean, Some(&WEIGHTS));
    let (v, g) = value_and_grad(&weighted, &LOGITS, (4, 3), &target);
    assert!((f64::from(v) - 1.809460830).abs() < 1e-5, "{v}");
    #[rustfmt::skip]
    assert_close(&g, &[-4.827642750e-02, 3.091092385e-02, 1.736550365e-02, 6.365780970e-03, 7.629748669e-02, -8.266326767e-02, -5.877875084e-03, -1.785584218e-02, 2.373371726e-02, 3.498289625e-01, -5.066794410e-01, 1.568504784e-01], 1e-6);
    let summed = with(sparse(true, 0.1), Reduction::Sum, Some(&WEIGHTS));
    let (v, g) = value_and_grad(&summed, &LOGITS, (4, 3), &target);
    assert!((f64::from(v) - 9.047304152).abs() < 1e-5, "{v}");
    #[rustfmt::skip]
    assert_close(&g, &[-2.413821375e-01, 1.545546192e-01, 8.682751826e-02, 3.182890485e-02, 3.814874335e-01, -4.133163383e-01, -2.938937542e-02, -8.927921088e-02, 1.186685863e-01, 1.749144813e+00, -2.533397205e+00, 7.842523922e-01], 1e-5);
    let smoothed = with(sparse(true, 0.1), Reduction::Mean, None);
    let (v, g) = value_and_grad(&smoothed, &LOGITS, (4, 3), &target);
    assert!((f64::from(v) - 1.361951369).abs() < 1e-5, "{v}");
    #[rustfmt::skip]
    assert_close(&g, &[-6.858304861e-02, 5.227490934e-02, 1.630813927e-02, 1.881759924e-02, 1.922864306e-01, -2.111040299e-01, -6.690017537e-03, -3.866337866e-03, 1.055635540e-02, 1.480243988e-01, -2.099471232e-01, 6.192272447e-02], 1e-6);
    let weights_only = with(sparse(true, 0.0), Reduction::Mean, Some(&WEIGHTS));
    let (v, g) = value_and_grad(&weights_only, &LOGITS, (4, 3), &target);
    assert!((f64::from(v) - 1.749474073).abs() < 1e-5, "{v}");
    #[rustfmt::skip]
    assert_close(&g, &[-6.819977222e-02, 4.848659414e-02, 1.971317808e-02, 1.086037303e-02, 8.024790558e-02, -9.110827861e-02, 6.573263185e-04, 1.786798187e-03, -2.444124506e-03, 3.752585571e-01, -5.438730958e-01, 1.686145387e-01], 1e-6);
    // nll_loss with the same weights, on log-probabilities, gives the same number.
    let logp: Vec<f32> = softmax_rows(&LOGITS, 3).iter().map(|p| p.ln()).collect();
    let nll = with(LossKind::Nll, Reduction::Mean, Some(&WEIGHTS));
    let (v, _) = value_and_grad(&nll, &logp, (4, 3), &target);
    assert!((f64::from(v) - 1.749474073).abs() < 1e-5, "{v}");
}

#[allow(clippy::unreadable_literal, clippy::excessive_precision)]
#[test]
fn smoothing_and_sums_match_keras() {
    let probs = softmax_rows(&LOGITS, 3);
    let one_hot = one_hot(&LABELS, 3);
    let cce = |from_logits| LossKind::CategoricalCrossentropy {
        from_logits,
        label_smoothing: 0.1,
    };
    let keras = [
        (cce(false), Reduction::Mean, &probs, 1.361951351),
        (cce(false), Reduction::Sum, &probs, 5.447805405),
        (cce(true), Reduction::Mean, &LOGITS.to_vec(), 1.361951470),
    ];
    for (kind, reduction, pred, want) in keras {
        let (v, _) = value_and_grad(
            &with(kind, reduction, None),
            pred,
            (4, 3),
            &Target::Dense(&one_hot),
        );
        assert!(
            (f64::from(v) - want).abs() < 1e-5,
            "{kind:?} {v} against {want}"
        );
    }
    let bce = |from_logits| LossKind::BinaryCrossentropy {
        from_logits,
        label_smoothing: 0.2,
    };
    let logits = [0.3f32, -1.2, 2.0, 0.7];
    let probs: Vec<f32> = logits.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect();
    let t = [1.0f32, 0.0, 0.0, 1.0];
    let (v, _) = value_and_grad(&spec(bce(true)), &logits, (4, 1), &Target::Dense(&t));
    assert!((f64::from(v) - 8.419378996e-01).abs() < 1e-5, "{v}");
    let summed = with(bce(false), Reduction::Sum, None);
    let (v, _) = value_and_grad(&summed, &probs, (4, 1), &Target::Dense(&t));
    assert!((f64::from(v) - 3.367751837).abs() < 1e-5, "{v}");
    // Regression losses summed: each example's mean over its values, summed.
    let p = [1.5f32, 2.0, 2.0, 4.0, -1.0, 0.5];
    let t = [1.0f32, 2.0, 3.0, 4.0, 0.0, 0.0];
    for (kind, want) in [
        (LossKind::MeanSquaredError, 8.333333135e-01),
        (LossKind::Huber { delta: 1.0 }, 4.166666567e-01),
    ] {
        let (v, _) = value_and_grad(
            &with(kind, Reduction::Sum, None),
            &p,
            (2, 3),
            &Target::Dense(&t),
        );
        assert!((f64::from(v) - want).abs() < 1e-6, "{kind:?} {v}");
    }
}

// bench/reference/loss_options.py's "cce weighted ..." and "bce weighted ..." lines.
#[allow(clippy::unreadable_literal, clippy::excessive_precision)]
#[test]
fn class_weights_on_categorical_and_binary_match_pytorch() {
    let cce = |label_smoothing| LossKind::CategoricalCrossentropy {
        from_logits: true,
        label_smoothing,
    };
    let one_hot = one_hot(&LABELS, 3);
    let spec = with(cce(0.1), Reduction::Mean, Some(&WEIGHTS));
    let (v, g) = value_and_grad(&spec, &LOGITS, (4, 3), &Target::Dense(&one_hot));
    assert!((f64::from(v) - 2.261826038).abs() < 1e-5, "{v}");
    #[rustfmt::skip]
    assert_close(&g, &[-6.034553438e-02, 3.863865481e-02, 2.170687957e-02, 7.957226213e-03, 9.537185837e-02, -1.033290846e-01, -7.347343856e-03, -2.231980272e-02, 2.966714657e-02, 4.372862032e-01, -6.333493012e-01, 1.960630981e-01], 1e-6);
    #[rustfmt::skip]
    let soft = [0.2f32, 0.3, 0.5, 0.0, 1.0, 0.0, 0.1, 0.1, 0.8, 0.5, 0.5, 0.0];
    let spec = with(cce(0.0), Reduction::Sum, Some(&WEIGHTS));
    let (v, g) = value_and_grad(&spec, &LOGITS, (4, 3), &Target::Dense(&soft));
    assert!((f64::from(v) - 8.106563766).abs() < 1e-5, "{v}");
    #[rustfmt::skip]
    assert_close(&g, &[6.896515375e-01, -5.727154895e-01, -1.169360479e-01, 3.258111909e-01, -5.925628326e-01, 2.667516417e-01, -9.474138945e-02, -2.857056145e-01, 3.804470040e-01, 7.508618568e-01, -1.312910319e+00, 5.620484624e-01], 1e-5);

    let bce = |from_logits, label_smoothing| LossKind::BinaryCrossentropy {
        from_logits,
        label_smoothing,
    };
    let bin_weights = [0.4, 2.5];
    let logits = [0.3f32, -0.4, -1.2, 0.8, 2.0, 0.1, 0.7, -2.2];
    let t = [1.0f32, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
    let spec = with(bce(true, 0.2), Reduction::Mean, Some(&bin_weights));
    let (v, g) = value_and_grad(&spec, &logits, (4, 2), &Target::Dense(&t));
    assert!((f64::from(v) - 1.384285468).abs() < 1e-5, "{v}");
    #[rustfmt::skip]
    assert_close(&g, &[-1.017367135e-01, 1.506561699e-02, 6.573760825e-03, 2.949872406e-02, 3.903985390e-02, -1.171940039e-01, -7.244132120e-02, -2.500779722e-01], 1e-6);
    // On probabilities against class labels, summed; the gradient taken back to the
    // logits through the sigmoid, as the script's autograd does.
    let logits = [0.3f32, -1.2, 2.0, 0.7];
    let probs: Vec<f32> = logits.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect();
    let spec = with(bce(false, 0.0), Reduction::Sum, Some(&bin_weights));
    let (v, g) = value_and_grad(&spec, &probs, (4, 1), &Target::Labels(&LABELS_01));
    assert!((f64::from(v) - 3.349937425).abs() < 1e-5, "{v}");
    let through_sigmoid: Vec<f32> = g
        .iter()
        .zip(&probs)
        .map(|(g, p)| g * p * (1.0 - p))
        .collect();
    assert_close(
        &through_sigmoid,
        &[
            -1.063893708e+00,
            9.259008660e-02,
            3.523188312e-01,
            -8.295305696e-01,
        ],
        1e-5,
    );
}

/// The binary labels of the script's `BIN_T`.
const LABELS_01: [usize; 4] = [1, 0, 0, 1];

/// A loss, its reduction, predictions, targets, row width and Keras' value.
type KerasCase<'a> = (LossKind, Reduction, &'a [f32], &'a [f32], usize, f64);

#[allow(clippy::unreadable_literal, clippy::excessive_precision)]
#[test]
fn new_losses_match_keras() {
    let probs = softmax_rows(&LOGITS, 3);
    #[rustfmt::skip]
    let dist = [0.2f32, 0.3, 0.5, 0.0, 1.0, 0.0, 0.1, 0.1, 0.8, 0.5, 0.5, 0.0];
    #[rustfmt::skip]
    let cos_p = [1.0f32, 2.0, -0.5, 0.5, 2.5, 0.3, 0.0, 0.0, 0.0, 1.2, -0.7, 0.4];
    #[rustfmt::skip]
    let cos_t = [0.5f32, 1.0, 0.0, -1.0, 0.0, 2.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
    #[rustfmt::skip]
    let cos_t2 = [0.5f32, 1.0, 0.0, -1.0, 0.0, 2.0, 1.0, 1.0, 1.0, 2.0, -1.0, 1.0];
    #[rustfmt::skip]
    let hinge_01 = [1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0];
    let hinge_pm: Vec<f32> = hinge_01.iter().map(|t| 2.0 * t - 1.0).collect();
    #[rustfmt::skip]
    let hinge_p = [0.3f32, -0.2, 1.5, 0.5, -2.5, 0.3, -1.0, 0.0, 0.4, 1.2, -0.7, 0.4];
    let reg_p = [1.5f32, 2.0, 2.0, 4.0, -1.0, 0.5];
    let reg_t = [1.0f32, 2.0, 3.0, 4.0, 0.0, 0.0];
    let pois_p = [0.5f32, 2.0, 1.0, 3.0, 0.1, 0.7];
    let pois_t = [1.0f32, 2.0, 0.0, 4.0, 0.0, 1.0];
    let cases: [KerasCase; 9] = [
        (
            LossKind::KlDivergence,
            Reduction::Mean,
            &probs,
            &dist,
            3,
            4.673256278e-01,
        ),
        (
            LossKind::CosineSimilarity,
            Reduction::Mean,
            &cos_p,
            &cos_t,
            3,
            -2.483302355e-01,
        ),
        (
            LossKind::CosineSimilarity,
            Reduction::Mean,
            &LOGITS,
            &cos_t2,
            3,
            -5.562689304e-01,
        ),
        (
            LossKind::Hinge,
            Reduction::Mean,
            &hinge_p,
            &hinge_01,
            3,
            1.049999952,
        ),
        (
            LossKind::Hinge,
            Reduction::Mean,
            &hinge_p,
            &hinge_pm,
            3,
            1.049999952,
        ),
        (
            LossKind::SquaredHinge,
            Reduction::Mean,
            &hinge_p,
            &hinge_01,
            3,
            1.576666594,
        ),
        (
            LossKind::LogCosh,
            Reduction::Mean,
            &reg_p,
            &reg_t,
            3,
            1.846318096e-01,
        ),
        (
            LossKind::Poisson,
            Reduction::Mean,
            &pois_p,
            &pois_t,
            3,
            4.281796813e-01,
        ),
        (
            LossKind::Poisson,
            Reduction::Sum,
            &pois_p,
            &pois_t,
            3,
            8.563593626e-01,
        ),
    ];
    for (kind, reduction, pred, t, width, want) in cases {
        let shape = (pred.len() / width, width);
        let (v, _) = value_and_grad(&with(kind, reduction, None), pred, shape, &Target::Dense(t));
        assert!(
            (f64::from(v) - want).abs() < 2e-6,
            "{kind:?} {v} against {want}"
        );
    }
}

/// Every option and new loss, its gradient against central finite differences.
#[test]
fn gradients_match_finite_differences() {
    // Probabilities far enough from 0 for a step of 1e-3 to follow `ln`.
    let gentle: Vec<f32> = LOGITS.iter().map(|x| x / 4.0).collect();
    let probs = softmax_rows(&gentle, 3);
    #[rustfmt::skip]
    let t = [0.2f32, 0.3, 0.5, 0.0, 1.0, 0.0, 0.1, 0.1, 0.8, 0.5, 0.5, 0.0];
    #[rustfmt::skip]
    let hinge_t = [1.0f32, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0];
    let positive: Vec<f32> = LOGITS.iter().map(|x| x.exp()).collect();
    let labels = Target::Labels(&LABELS);
    let cases: Vec<(Loss, &[f32], Target<'_>)> = vec![
        (
            with(sparse(true, 0.1), Reduction::Sum, Some(&WEIGHTS)),
            &LOGITS,
            Target::Labels(&LABELS),
        ),
        (
            with(sparse(false, 0.2), Reduction::Mean, Some(&WEIGHTS)),
            &probs,
            Target::Labels(&LABELS),
        ),
        (
            with(LossKind::Nll, Reduction::Sum, Some(&WEIGHTS)),
            &LOGITS,
            labels,
        ),
        (
            with(
                LossKind::CategoricalCrossentropy {
                    from_logits: true,
                    label_smoothing: 0.3,
                },
                Reduction::Mean,
                None,
            ),
            &LOGITS,
            Target::Dense(&t),
        ),
        (
            with(
                LossKind::BinaryCrossentropy {
                    from_logits: false,
                    label_smoothing: 0.2,
                },
                Reduction::Sum,
                None,
            ),
            &probs,
            Target::Dense(&t),
        ),
        (
            with(
                LossKind::CategoricalCrossentropy {
                    from_logits: false,
                    label_smoothing: 0.1,
                },
                Reduction::Mean,
                Some(&WEIGHTS),
            ),
            &probs,
            Target::Dense(&t),
        ),
        (
            with(
                LossKind::BinaryCrossentropy {
                    from_logits: true,
                    label_smoothing: 0.1,
                },
                Reduction::Mean,
                Some(&[0.4, 2.5]),
            ),
            &LOGITS,
            Target::Dense(&t),
        ),
        (spec(LossKind::KlDivergence), &probs, Target::Dense(&t)),
        (spec(LossKind::CosineSimilarity), &LOGITS, Target::Dense(&t)),
        (spec(LossKind::Hinge), &LOGITS, Target::Dense(&hinge_t)),
        (
            with(LossKind::SquaredHinge, Reduction::Sum, None),
            &LOGITS,
            Target::Dense(&hinge_t),
        ),
        (spec(LossKind::LogCosh), &LOGITS, Target::Dense(&t)),
        (spec(LossKind::Poisson), &positive, Target::Dense(&t)),
    ];
    for (spec, pred, target) in &cases {
        let (_, g) = value_and_grad(spec, pred, (4, 3), target);
        let fd = finite_differences(spec, pred, (4, 3), target);
        for (a, b) in g.iter().zip(&fd) {
            assert!(
                (a - b).abs() < 2e-3 * (1.0 + b.abs()),
                "{:?}: {g:?} against {fd:?}",
                spec.kind
            );
        }
    }
}

/// `F.cross_entropy` on (batch, classes, positions) logits, a class at each position
/// (`bench/reference/sequence_loss.py`): the scores of each position made a row, as the step
/// does against token targets, give PyTorch's loss and gradient, with and without smoothing.
#[test]
fn crossentropy_at_every_position_matches_pytorch() {
    use crate::lower::act::positions_as_rows;
    let logits = vec![
        0.2, -1.0, 0.5, 2.0, 1.5, 0.3, -0.7, 0.1, -0.4, 0.9, 1.1, -2.0, //
        0.0, 0.8, -0.3, 1.2, -1.1, 0.6, 0.4, 0.7, 2.2, -0.5, 0.0, 0.3,
    ];
    // Example after example, position after position.
    let labels = [1, 0, 2, 0, 2, 1, 0, 1];
    let cases: [(f64, f32, [f32; 24]); 2] = [
        (
            0.0,
            0.903_048_7,
            [
                0.023_955_04,
                -0.113_991_82,
                0.040_021_61,
                -0.017_968_84,
                -0.037_101_84,
                0.040_392_29,
                0.012_054_27,
                0.016_008_5,
                0.013_146_81,
                0.073_599_54,
                -0.052_075_88,
                0.001_960_34,
                0.012_068_1,
                0.059_772_5,
                -0.096_354_01,
                0.062_093_28,
                0.004_017_12,
                -0.076_062_41,
                0.057_685_95,
                -0.087_338_52,
                -0.016_085_21,
                0.016_289_91,
                0.038_668_05,
                0.025_245_24,
            ],
        ),
        (
            0.1,
            0.959_715_4,
            [
                0.019_788_38,
                -0.105_658_49,
                0.035_854_94,
                -0.009_635_51,
                -0.028_768_51,
                0.036_225_62,
                0.007_887_61,
                0.011_841_84,
                0.008_980_14,
                0.069_432_87,
                -0.043_742_55,
                -0.002_206_32,
                0.007_901_43,
                0.055_605_84,
                -0.088_020_67,
                0.057_926_61,
                -0.000_149_55,
                -0.067_729_08,
                0.053_519_29,
                -0.079_005_2,
                -0.007_751_88,
                0.012_123_24,
                0.034_501_38,
                0.021_078_57,
            ],
        ),
    ];
    for (smoothing, want, want_grad) in cases {
        let dev = Cpu::default();
        let x: Tensor<(usize, usize, usize, usize), f32, Cpu> =
            dev.tensor_from_vec(logits.clone(), (2, 3, 1, 4));
        let kind = LossKind::SparseCategoricalCrossentropy {
            from_logits: true,
            label_smoothing: smoothing,
        };
        let rows = positions_as_rows(x.leaky_trace());
        let l = loss(&dev, &spec(kind), rows, &Target::Labels(&labels));
        assert!((l.array() - want).abs() < 1e-6, "{} vs {want}", l.array());
        let g = l.backward();
        for (a, b) in g.get(&x).as_vec().iter().zip(want_grad) {
            assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        }
    }
}
