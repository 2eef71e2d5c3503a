//! The classification metrics' counts and scores. Every one keeps counts over the epoch,
//! never a mean of batch values: `precision`, `recall`, `f1` and `confusion_matrix` a
//! confusion matrix (row = true class, column = predicted, as scikit-learn's), `auc` the
//! positives and negatives whose score falls in each of Keras' threshold buckets.

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

/// Adds scores to Keras' threshold buckets (`_update_confusion_matrix_variables_optimized`):
/// with `n` thresholds (the first just below 0, the last just above 1, the others `i/(n-1)`),
/// a score in `((b-1)/(n-1), b/(n-1)]` is above thresholds `0..=b-1`, so it lands in bucket
/// `ceil(p (n - 1)) - 1` (0 for 0), computed in `f32` as Keras does. `counts[2 b]` holds the
/// bucket's positives, `counts[2 b + 1]` its negatives.
pub fn count_buckets(
    counts: &mut Vec<f64>,
    thresholds: usize,
    predictions: &[f32],
    labels: &[f32],
    from_logits: bool,
) {
    counts.resize(2 * thresholds, 0.0);
    let steps = (thresholds - 1) as f32;
    for (&p, &l) in predictions.iter().zip(labels) {
        let p = if from_logits {
            1.0 / (1.0 + (-p).exp())
        } else {
            p
        };
        let bucket = ((p.clamp(0.0, 1.0) * steps).ceil() - 1.0).max(0.0) as usize;
        counts[2 * bucket + usize::from(l <= 0.5)] += 1.0;
    }
}

/// `precision`, `recall` or `f1` of a confusion matrix (`counts`, square), scikit-learn's
/// way with `zero_division = 0`; a binary output's is its positive class's (1).
pub fn score(counts: &[f64], metric: ClassMetric) -> f64 {
    let classes = counts.len().isqrt();
    let (kind, average) = match metric {
        ClassMetric::Precision(a) => (Kind::Precision, a),
        ClassMetric::Recall(a) => (Kind::Recall, a),
        ClassMetric::F1(a) => (Kind::F1, a),
        ClassMetric::Auc { .. } | ClassMetric::ConfusionMatrix => {
            unreachable!("not a score of a confusion matrix")
        }
    };
    let tp = |k: usize| counts[k * classes + k];
    let predicted = |k: usize| (0..classes).map(|t| counts[t * classes + k]).sum::<f64>();
    let actual = |k: usize| counts[k * classes..(k + 1) * classes].iter().sum::<f64>();
    let of = |tp: f64, predicted: f64, actual: f64| {
        let (num, den) = match kind {
            Kind::Precision => (tp, predicted),
            Kind::Recall => (tp, actual),
            Kind::F1 => (2.0 * tp, predicted + actual),
        };
        if den == 0.0 {
            0.0
        } else {
            num / den
        }
    };
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

#[derive(Clone, Copy)]
enum Kind {
    Precision,
    Recall,
    F1,
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
