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

fn binary_auc(thresholds: usize, curve: Curve, p: &[&[f32]], y: &[&[f32]], logits: bool) -> f64 {
    let mut buckets = Vec::new();
    for (p, y) in p.iter().zip(y) {
        count_buckets(&mut buckets, (thresholds, 1), p, y, logits);
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
        let got = binary_auc(n, curve, &BIN_P, &BIN_Y, false);
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
        let got = binary_auc(200, curve, &logits, &labels, true);
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
        (3, 1),
        &[0.0, 0.5, 0.51, 1.0, 1.5],
        &[1.0, 0.0, 1.0, 0.0, 1.0],
        false,
    );
    assert_eq!(b, [1.0, 1.0, 2.0, 1.0, 0.0, 0.0]);
}

// The several-column inputs of `several_columns()` in the reference script.
#[rustfmt::skip]
const MC_PROB: [&[f32]; 3] = [
    &[0.7, 0.1, 0.15, 0.05, 0.1, 0.6, 0.1, 0.2, 0.05, 0.1, 0.8, 0.05, 0.4, 0.35, 0.05, 0.2],
    &[0.05, 0.55, 0.1, 0.3, 0.3, 0.3, 0.25, 0.15, 0.2, 0.3, 0.25, 0.25, 0.35, 0.05, 0.3, 0.3],
    &[0.3, 0.25, 0.35, 0.1, 0.25, 0.3, 0.2, 0.25, 0.5, 0.45, 0.025, 0.025, 0.2, 0.1, 0.4, 0.3,
      0.6, 0.1, 0.1, 0.2],
];
#[rustfmt::skip]
const ML_P: [&[f32]; 3] = [
    &[0.9, 0.2, 0.6, 0.55, 0.8, 0.4, 0.7, 0.55, 0.8, 0.3, 0.6, 0.95],
    &[0.45, 0.65, 0.5, 0.8, 0.9, 0.2, 0.05, 0.35, 0.75],
    &[0.6, 0.3, 0.25, 0.2, 0.7, 0.85, 0.5, 0.5, 0.5, 0.15, 0.05, 0.1],
];
#[rustfmt::skip]
const ML_Y: [&[f32]; 3] = [
    &[1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0],
    &[0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0],
    &[1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0],
];

fn one_hot(labels: &[usize], classes: usize) -> Vec<f32> {
    let mut rows = vec![0.0; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        rows[i * classes + l] = 1.0;
    }
    rows
}

fn columns_auc(p: &[&[f32]], y: &[Vec<f32>], curves: usize, columns: usize, curve: Curve) -> f64 {
    let mut buckets = Vec::new();
    for (p, y) in p.iter().zip(y) {
        count_buckets(&mut buckets, (200, curves), p, y, false);
    }
    assert_eq!(buckets.len(), 400 * curves);
    let got = auc_of(&buckets, 200, curve);
    // Each column's curve counts every example once.
    let examples: usize = y.iter().map(|y| y.len() / columns).sum();
    for c in buckets.chunks(400) {
        let per_curve = examples * columns / curves;
        assert_eq!(c.iter().sum::<f64>(), per_curve as f64);
    }
    got
}

#[test]
fn auc_over_several_columns_matches_keras_pooled_and_per_label() {
    // Keras' AUC(curve, multi_label) on one-hot labels; scikit-learn's exact ROC AUC is
    // 0.8777120315581854 pooled (`average = micro`), 0.8833333333333333 per class (macro).
    let onehot: Vec<Vec<f32>> = MC_Y.iter().map(|y| one_hot(y, 4)).collect();
    let multi: Vec<Vec<f32>> = ML_Y.iter().map(|y| y.to_vec()).collect();
    for (p, y, columns, multi_label, curve, want) in [
        (
            &MC_PROB,
            &onehot,
            4,
            false,
            Curve::Roc,
            0.877_712_130_546_569_8,
        ),
        (
            &MC_PROB,
            &onehot,
            4,
            false,
            Curve::Pr,
            0.763_685_226_440_429_7,
        ),
        (
            &MC_PROB,
            &onehot,
            4,
            true,
            Curve::Roc,
            0.883_333_384_990_692_1,
        ),
        (
            &MC_PROB,
            &onehot,
            4,
            true,
            Curve::Pr,
            0.735_266_089_439_392_1,
        ),
        (&ML_P, &multi, 3, false, Curve::Roc, 0.922_794_103_622_436_5),
        (&ML_P, &multi, 3, false, Curve::Pr, 0.899_502_277_374_267_6),
        (&ML_P, &multi, 3, true, Curve::Roc, 0.933_333_396_911_621_1),
        (&ML_P, &multi, 3, true, Curve::Pr, 0.928_618_431_091_308_6),
    ] {
        let curves = if multi_label { columns } else { 1 };
        let got = columns_auc(p, y, curves, columns, curve);
        assert!(
            (got - want).abs() < 2e-7,
            "{columns} columns, multi_label {multi_label}, {curve:?}: {got} against {want}"
        );
    }
}

fn labels(threshold: f32) -> Vec<f64> {
    let mut counts = Vec::new();
    for (p, y) in ML_P.iter().zip(ML_Y) {
        count_labels(&mut counts, 3, p, y, threshold);
    }
    counts
}

#[test]
fn multi_label_scores_match_scikit_learn_and_keras() {
    // scikit-learn's precision/recall/f1 on multilabel indicators (Keras' Precision and
    // Recall pool every label: the micro figures; its F1Score agrees on every average).
    let averages = [
        ClassAverage::Macro,
        ClassAverage::Micro,
        ClassAverage::Weighted,
    ];
    #[rustfmt::skip]
    let table: [(f32, [[f64; 3]; 3]); 2] = [
        (0.5, [
            [0.811_111_111_111_111_2, 0.822_222_222_222_222_3, 0.812_121_212_121_212_1],
            [0.8125, 0.8125, 0.8125],
            [0.810_416_666_666_666_8, 0.8125, 0.806_818_181_818_181_8],
        ]),
        (0.3, [
            [0.696_428_571_428_571_5, 1.0, 0.819_902_319_902_319_9],
            [0.695_652_173_913_043_5, 1.0, 0.820_512_820_512_820_5],
            [0.699_776_785_714_285_7, 1.0, 0.822_229_853_479_853_4],
        ]),
    ];
    for (threshold, rows) in table {
        let counts = labels(threshold);
        for (average, [p, r, f]) in averages.into_iter().zip(rows) {
            close(score_labels(&counts, ClassMetric::Precision(average)), p);
            close(score_labels(&counts, ClassMetric::Recall(average)), r);
            close(score_labels(&counts, ClassMetric::F1(average)), f);
        }
    }
    // Per label at 0.5: precision (0.8, 0.833, 0.8), recall (0.8, 1, 0.667).
    let counts = labels(0.5);
    close(
        score_labels(&counts, ClassMetric::Precision(ClassAverage::Class(1))),
        0.833_333_333_333_333_4,
    );
    close(
        score_labels(&counts, ClassMetric::Recall(ClassAverage::Class(2))),
        0.666_666_666_666_666_6,
    );
}
