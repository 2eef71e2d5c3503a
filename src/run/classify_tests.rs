//! Against `bench/reference/classification_metrics.py`: Keras 3.15 (torch backend) fed batch
//! by batch, and scikit-learn 1.9.1 on the concatenated epoch.

use super::*;

const BIN_P: [&[f32]; 3] = [
    &[0.1, 0.6, 0.35, 0.8],
    &[0.5, 0.05, 0.9, 0.45, 0.7],
    &[0.3, 0.55, 0.999, 0.0],
];
const BIN_Y: [&[f32]; 3] = [
    &[0.0, 1.0, 1.0, 0.0],
    &[1.0, 0.0, 1.0, 1.0, 0.0],
    &[0.0, 1.0, 1.0, 0.0],
];

#[rustfmt::skip]
const MC_P: [&[f32]; 3] = [
    &[2.0, 0.1, 0.3, 0.0, 0.2, 1.5, 0.1, 0.4, 0.1, 0.2, 3.0, 0.5, 1.0, 0.9, 0.0, 0.2],
    &[0.0, 2.5, 0.1, 1.0, 0.3, 0.2, 0.1, 0.0, 0.1, 0.4, 0.2, 0.3, 1.2, 0.0, 1.1, 0.9],
    &[0.5, 0.4, 0.6, 0.1, 0.0, 0.1, 0.0, 0.0, 2.0, 1.9, 0.0, 0.0, 0.1, 0.0, 0.3, 0.2,
      0.9, 0.1, 0.2, 0.3],
];
const MC_Y: [&[usize]; 3] = [&[0, 1, 2, 1], &[1, 3, 3, 2], &[2, 1, 0, 3, 0]];

fn binary(threshold: f32) -> Vec<f64> {
    let mut counts = Vec::new();
    for (p, y) in BIN_P.iter().zip(BIN_Y) {
        count_binary(&mut counts, p, y, threshold);
    }
    counts
}

fn multiclass() -> Vec<f64> {
    let mut counts = Vec::new();
    for (p, y) in MC_P.iter().zip(MC_Y) {
        count_classes(&mut counts, 4, p, y);
    }
    counts
}

fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-7, "{got} against {want}");
}

#[test]
fn binary_precision_recall_f1_match_keras_over_three_batches() {
    // (threshold, Precision, Recall, F1Score(average = micro)); scikit-learn agrees.
    for (t, p, r, f) in [
        (
            0.5,
            0.666_666_686_534_881_6,
            0.571_428_596_973_419_2,
            0.615_384_578_704_834,
        ),
        (0.3, 0.777_777_791_023_254_4, 1.0, 0.874_999_940_395_355_2),
    ] {
        let counts = binary(t);
        close(
            score(&counts, ClassMetric::Precision(ClassAverage::Binary)),
            p,
        );
        close(score(&counts, ClassMetric::Recall(ClassAverage::Binary)), r);
        close(score(&counts, ClassMetric::F1(ClassAverage::Binary)), f);
    }
    // scikit-learn's confusion_matrix: rows true, columns predicted.
    assert_eq!(binary(0.5), [4.0, 2.0, 3.0, 4.0]);
    assert_eq!(binary(0.3), [4.0, 2.0, 0.0, 7.0]);
}

#[test]
fn multiclass_averages_match_scikit_learn() {
    let counts = multiclass();
    #[rustfmt::skip]
    assert_eq!(counts, [
        3.0, 0.0, 0.0, 0.0,
        1.0, 3.0, 0.0, 0.0,
        1.0, 0.0, 2.0, 0.0,
        1.0, 1.0, 1.0, 0.0,
    ]);
    // precision_score / recall_score / f1_score(average = ..., zero_division = 0); Keras'
    // F1Score gives the same three f1 values.
    for (average, p, r, f) in [
        (
            ClassAverage::Macro,
            0.479_166_666_666_666_63,
            0.604_166_666_666_666_6,
            0.520_833_333_333_333_3,
        ),
        (
            ClassAverage::Micro,
            0.615_384_615_384_615_4,
            0.615_384_615_384_615_4,
            0.615_384_615_384_615_4,
        ),
        (
            ClassAverage::Weighted,
            0.5,
            0.615_384_615_384_615_4,
            0.538_461_538_461_538_4,
        ),
    ] {
        close(score(&counts, ClassMetric::Precision(average)), p);
        close(score(&counts, ClassMetric::Recall(average)), r);
        close(score(&counts, ClassMetric::F1(average)), f);
    }
}

#[test]
fn class_id_matches_keras_top_1_precision_and_recall() {
    // Keras' Precision(class_id = k, top_k = 1) and Recall(...): one class against the rest,
    // by arg-max; class 3 is never predicted (zero division gives 0). F1 from scikit-learn.
    let counts = multiclass();
    for (k, p, r, f) in [
        (0, 0.5, 1.0, 0.666_666_666_666_666_6),
        (1, 0.75, 0.75, 0.75),
        (
            2,
            0.666_666_686_534_881_6,
            0.666_666_686_534_881_6,
            0.666_666_666_666_666_6,
        ),
        (3, 0.0, 0.0, 0.0),
    ] {
        close(
            score(&counts, ClassMetric::Precision(ClassAverage::Class(k))),
            p,
        );
        close(
            score(&counts, ClassMetric::Recall(ClassAverage::Class(k))),
            r,
        );
        close(score(&counts, ClassMetric::F1(ClassAverage::Class(k))), f);
    }
}

#[test]
fn macro_leaves_out_classes_absent_from_labels_and_predictions() {
    // scikit-learn averages over the labels present in y_true or y_pred: class 2 of 3
    // appears in neither, so the macro precision is (1 + 0.5) / 2, not / 3.
    let mut counts = Vec::new();
    count_classes(
        &mut counts,
        3,
        &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
        &[0, 1, 1],
    );
    close(
        score(&counts, ClassMetric::Precision(ClassAverage::Macro)),
        0.75,
    );
}

fn auc_of(thresholds: usize, curve: Curve, p: &[&[f32]], y: &[&[f32]], logits: bool) -> f64 {
    let mut buckets = Vec::new();
    for (p, y) in p.iter().zip(y) {
        count_buckets(&mut buckets, thresholds, p, y, logits);
    }
    auc(&buckets, curve)
}

#[test]
fn auc_matches_keras_on_both_curves() {
    // Keras' AUC(num_thresholds, curve) fed the three batches; its float32 arithmetic
    // agrees to about 1e-7. scikit-learn's exact ROC AUC is 0.761904761904762.
    for (n, curve, want) in [
        (200, Curve::Roc, 0.761_904_776_096_344),
        (7, Curve::Roc, 0.761_904_716_491_699_2),
        (200, Curve::Pr, 0.768_305_599_689_483_6),
        (7, Curve::Pr, 0.768_305_659_294_128_4),
    ] {
        let got = auc_of(n, curve, &BIN_P, &BIN_Y, false);
        assert!(
            (got - want).abs() < 2e-7,
            "{n} {curve:?}: {got} against {want}"
        );
    }
    let logits: [&[f32]; 3] = [&[-2.0, 0.3, 1.5], &[0.0, -0.7, 4.0, 2.2], &[-3.5, 0.9]];
    let labels: [&[f32]; 3] = [&[0.0, 0.0, 1.0], &[1.0, 0.0, 1.0, 0.0], &[0.0, 1.0]];
    for (curve, want) in [
        (Curve::Roc, 0.800_000_011_920_929),
        (Curve::Pr, 0.735_552_430_152_893_1),
    ] {
        let got = auc_of(200, curve, &logits, &labels, true);
        assert!(
            (got - want).abs() < 2e-7,
            "{curve:?} from logits: {got} against {want}"
        );
    }
}

#[test]
fn auc_buckets_put_a_score_on_a_threshold_below_it() {
    // Thresholds (-eps, 0.5, 1 + eps): 0.5 is above the first only, 0.51 above two.
    let mut b = Vec::new();
    count_buckets(
        &mut b,
        3,
        &[0.0, 0.5, 0.51, 1.0, 1.5],
        &[1.0, 0.0, 1.0, 0.0, 1.0],
        false,
    );
    assert_eq!(b, [1.0, 1.0, 2.0, 1.0, 0.0, 0.0]);
}
