//! The classification metrics' counts and scores. Every one keeps counts over the epoch,
//! never a mean of batch values: `precision`, `recall`, `f1` and `confusion_matrix` a
//! confusion matrix (row = true class, column = predicted, as scikit-learn's) or, with
//! `multi_label`, a 2 × 2 one per label, `auc` the positives and negatives whose score falls
//! in each of Keras' threshold buckets (per label with `multi_label`).

use crate::check::plan::{ClassAverage, ClassMetric, Curve};

/// Adds binary decisions to a 2 × 2 confusion matrix: a label is positive above 0.5 (as
/// `binary_accuracy`), a prediction above `threshold` (Keras' `Precision`).
pub fn count_binary(counts: &mut Vec<f64>, predictions: &[f32], labels: &[f32], threshold: f32) {
    counts.resize(4, 0.0);
    for (&p, &l) in predictions.iter().zip(labels) {
        counts[usize::from(l > 0.5) * 2 + usize::from(p > threshold)] += 1.0;
    }
}

/// Adds rows of `classes` scores to a `classes` × `classes` confusion matrix, each row's
/// class its arg-max (the first on ties, as `tf.argmax` and `np.argmax`).
pub fn count_classes(counts: &mut Vec<f64>, classes: usize, predictions: &[f32], labels: &[usize]) {
    counts.resize(classes * classes, 0.0);
    for (row, &label) in predictions.chunks_exact(classes).zip(labels) {
        counts[label * classes + super::metrics::argmax(row)] += 1.0;
    }
}

/// Adds rows of `labels` independent decisions to one 2 × 2 confusion matrix per label
/// (`counts[4 k ..]` for label `k`, laid out as [`count_binary`]'s).
pub fn count_labels(
    counts: &mut Vec<f64>,
    labels: usize,
    predictions: &[f32],
    truth: &[f32],
    threshold: f32,
) {
    counts.resize(4 * labels, 0.0);
    for (i, (&p, &l)) in predictions.iter().zip(truth).enumerate() {
        counts[4 * (i % labels) + usize::from(l > 0.5) * 2 + usize::from(p > threshold)] += 1.0;
    }
}

/// Adds scores to Keras' threshold buckets (`_update_confusion_matrix_variables_optimized`):
/// with `n` thresholds (the first just below 0, the last just above 1, the others `i/(n-1)`),
/// a score in `((b-1)/(n-1), b/(n-1)]` is above thresholds `0..=b-1`, so it lands in bucket
/// `ceil(p (n - 1)) - 1` (0 for 0), computed in `f32` as Keras does. `counts[2 b]` holds the
/// bucket's positives, `counts[2 b + 1]` its negatives. With `curves` > 1 (Keras'
/// `multi_label`), the scores are rows of `curves` columns, each column with buckets of its
/// own (`counts[2 thresholds k ..]` for column `k`); with 1, every score goes to one curve.
pub fn count_buckets(
    counts: &mut Vec<f64>,
    (thresholds, curves): (usize, usize),
    predictions: &[f32],
    labels: &[f32],
    from_logits: bool,
) {
    counts.resize(2 * thresholds * curves, 0.0);
    let steps = (thresholds - 1) as f32;
    for (i, (&p, &l)) in predictions.iter().zip(labels).enumerate() {
        let p = if from_logits {
            1.0 / (1.0 + (-p).exp())
        } else {
            p
        };
        let bucket = ((p.clamp(0.0, 1.0) * steps).ceil() - 1.0).max(0.0) as usize;
        let curve = 2 * thresholds * (i % curves);
        counts[curve + 2 * bucket + usize::from(l <= 0.5)] += 1.0;
    }
}

/// `precision`, `recall` or `f1` of a confusion matrix (`counts`, square), scikit-learn's
/// way with `zero_division = 0`; a binary output's is its positive class's (1).
pub fn score(counts: &[f64], metric: ClassMetric) -> f64 {
    let classes = counts.len().isqrt();
    let (kind, average) = kind_and_average(metric);
    let tp = |k: usize| counts[k * classes + k];
    let predicted = |k: usize| (0..classes).map(|t| counts[t * classes + k]).sum::<f64>();
    let actual = |k: usize| counts[k * classes..(k + 1) * classes].iter().sum::<f64>();
    let of = |tp, predicted, actual| kind.of(tp, predicted, actual);
    let class = |k: usize| of(tp(k), predicted(k), actual(k));
    match average {
        ClassAverage::Binary => class(1),
        ClassAverage::Class(k) => class(k),
        ClassAverage::Micro => {
            let sum = |f: &dyn Fn(usize) -> f64| (0..classes).map(f).sum::<f64>();
            of(sum(&tp), sum(&predicted), sum(&actual))
        }
        // scikit-learn's labels: the classes present in the labels or the predictions.
        ClassAverage::Macro => {
            let present: Vec<usize> = (0..classes)
                .filter(|&k| predicted(k) + actual(k) > 0.0)
                .collect();
            let sum: f64 = present.iter().map(|&k| class(k)).sum();
            if present.is_empty() {
                0.0
            } else {
                sum / present.len() as f64
            }
        }
        ClassAverage::Weighted => {
            let support: f64 = (0..classes).map(actual).sum();
            let sum: f64 = (0..classes).map(|k| class(k) * actual(k)).sum();
            if support == 0.0 {
                0.0
            } else {
                sum / support
            }
        }
    }
}

/// `precision`, `recall` or `f1` of [`count_labels`]' matrices, scikit-learn's way on
/// multilabel indicators: `macro` is the mean over every label (present or not).
pub fn score_labels(counts: &[f64], metric: ClassMetric) -> f64 {
    let labels = counts.len() / 4;
    let (kind, average) = kind_and_average(metric);
    let tp = |k: usize| counts[4 * k + 3];
    let predicted = |k: usize| counts[4 * k + 1] + counts[4 * k + 3];
    let actual = |k: usize| counts[4 * k + 2] + counts[4 * k + 3];
    let label = |k: usize| kind.of(tp(k), predicted(k), actual(k));
    let sum = |f: &dyn Fn(usize) -> f64| (0..labels).map(f).sum::<f64>();
    match average {
        ClassAverage::Binary => label(0),
        ClassAverage::Class(k) => label(k),
        ClassAverage::Micro => kind.of(sum(&tp), sum(&predicted), sum(&actual)),
        ClassAverage::Macro => sum(&label) / labels as f64,
        ClassAverage::Weighted => {
            let support = sum(&actual);
            if support == 0.0 {
                0.0
            } else {
                sum(&|k| label(k) * actual(k)) / support
            }
        }
    }
}

fn kind_and_average(metric: ClassMetric) -> (Kind, ClassAverage) {
    match metric {
        ClassMetric::Precision(a) => (Kind::Precision, a),
        ClassMetric::Recall(a) => (Kind::Recall, a),
        ClassMetric::F1(a) => (Kind::F1, a),
        ClassMetric::Auc { .. } | ClassMetric::ConfusionMatrix => {
            unreachable!("not a score of a confusion matrix")
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Precision,
    Recall,
    F1,
}

impl Kind {
    /// The score of one matrix's counts, 0 where it divides by 0 (`zero_division = 0`).
    fn of(self, tp: f64, predicted: f64, actual: f64) -> f64 {
        let (num, den) = match self {
            Kind::Precision => (tp, predicted),
            Kind::Recall => (tp, actual),
            Kind::F1 => (2.0 * tp, predicted + actual),
        };
        if den == 0.0 {
            0.0
        } else {
            num / den
        }
    }
}

/// `auc` of [`count_buckets`]' counts: one curve's, or with `multi_label` the mean of
/// each label's (Keras' `label_weights = None`).
pub fn auc_of(counts: &[f64], thresholds: usize, curve: Curve) -> f64 {
    let curves = counts.chunks_exact(2 * thresholds);
    let n = curves.len();
    curves.map(|c| auc(c, curve)).sum::<f64>() / n as f64
}

/// Keras' `AUC` with `summation_method = 'interpolation'` from the buckets of
/// [`count_buckets`]: the counts at each threshold are the buckets at and above it; ROC is
/// the trapezoidal area under (false positive rate, recall), PR Davis and Goadrich's
/// interpolation (`interpolate_pr_auc`).
pub fn auc(buckets: &[f64], curve: Curve) -> f64 {
    let n = buckets.len() / 2;
    let (mut tp, mut fp) = (vec![0.0; n], vec![0.0; n]);
    let (mut pos, mut neg) = (0.0, 0.0);
    for i in (0..n).rev() {
        pos += buckets[2 * i];
        neg += buckets[2 * i + 1];
        tp[i] = pos;
        fp[i] = neg;
    }
    let div = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
    match curve {
        Curve::Roc => (0..n - 1)
            .map(|i| {
                let (x0, x1) = (div(fp[i], neg), div(fp[i + 1], neg));
                let (y0, y1) = (div(tp[i], pos), div(tp[i + 1], pos));
                (x0 - x1) * (y0 + y1) / 2.0
            })
            .sum(),
        Curve::Pr => (0..n - 1)
            .map(|i| {
                let dtp = tp[i] - tp[i + 1];
                let (p0, p1) = (tp[i] + fp[i], tp[i + 1] + fp[i + 1]);
                let slope = div(dtp, (p0 - p1).max(0.0));
                let intercept = tp[i + 1] - slope * p1;
                let ratio = if p0 > 0.0 && p1 > 0.0 {
                    div(p0, p1.max(0.0))
                } else {
                    1.0
                };
                // Keras divides by `tp + fn` at the upper threshold: every positive.
                div(slope * (dtp + intercept * ratio.ln()), pos)
            })
            .sum(),
    }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
