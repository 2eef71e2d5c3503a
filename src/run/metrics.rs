//! Metric accumulators, reset at the start of each epoch (Keras' `reset_state`).

use crate::check::plan::{Experiment, Metric, MetricKind, TensorExpr};
use crate::data::Batch;

#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    sum: f64,
    count: f64,
}

impl Accumulator {
    /// Keras' `Mean`: each update counts once, whatever its batch size.
    pub fn add_mean(&mut self, value: f32) {
        self.sum += f64::from(value);
        self.count += 1.0;
    }

    /// Accuracy-style: `hits` right out of `total`.
    pub fn add_ratio(&mut self, hits: usize, total: usize) {
        self.sum += hits as f64;
        self.count += total as f64;
    }

    /// NaN before the first update, as Keras' metrics report 0 — NaN makes "no data" visible.
    pub fn value(&self) -> f64 {
        if self.count == 0.0 {
            f64::NAN
        } else {
            self.sum / self.count
        }
    }
}

/// Accuracy of predictions (rows of `width`) against class labels: arg-max
/// (first on ties, like tf.argmax) equals the label.
pub fn accuracy_hits(predictions: &[f32], width: usize, labels: &[usize]) -> usize {
    predictions
        .chunks(width)
        .zip(labels)
        .filter(|(row, &label)| argmax(row) == label)
        .count()
}

/// Accuracy against one-hot rows: arg-max of both agree.
pub fn one_hot_hits(predictions: &[f32], targets: &[f32], width: usize) -> usize {
    predictions
        .chunks(width)
        .zip(targets.chunks(width))
        .filter(|(p, t)| argmax(p) == argmax(t))
        .count()
}

/// Binary accuracy: prediction > threshold agrees with label > 0.5.
pub fn binary_hits(predictions: &[f32], labels: &[f32], threshold: f32) -> usize {
    predictions
        .iter()
        .zip(labels)
        .filter(|(p, l)| (**p > threshold) == (**l > 0.5))
        .count()
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

/// One accumulator per metric, and the per-epoch history of their values.
#[derive(Debug, Clone)]
pub struct MetricSet {
    pub names: Vec<String>,
    pub current: Vec<Accumulator>,
    /// history[metric][epoch]
    pub history: Vec<Vec<f64>>,
}

impl MetricSet {
    pub fn new(metrics: &[Metric]) -> Self {
        MetricSet {
            names: metrics.iter().map(|m| m.name.clone()).collect(),
            current: vec![Accumulator::default(); metrics.len()],
            history: vec![Vec::new(); metrics.len()],
        }
    }

    pub fn reset(&mut self) {
        self.current
            .iter_mut()
            .for_each(|a| *a = Accumulator::default());
    }

    pub fn end_epoch(&mut self) {
        for (h, a) in self.history.iter_mut().zip(&self.current) {
            h.push(a.value());
        }
    }

    pub fn value(&self, i: usize) -> f64 {
        self.current[i].value()
    }

    /// The accumulators' (sum, count), for checkpoints.
    pub fn parts(&self) -> Vec<(f64, f64)> {
        self.current.iter().map(|a| (a.sum, a.count)).collect()
    }

    pub fn restore(&mut self, parts: &[(f64, f64)], history: &[Vec<f64>]) {
        for (a, &(sum, count)) in self.current.iter_mut().zip(parts) {
            *a = Accumulator { sum, count };
        }
        self.history = history.to_vec();
    }
}

/// What step `step`'s metrics read, in the order [`MetricSet::record`] takes their values:
/// for each of the step's metrics, its predictions (or its scalar), then its labels, unless
/// they are the batch's class labels, which are read from the batch itself.
pub fn reads<'e>(exp: &'e Experiment, step: usize, batch: &Batch) -> Vec<&'e TensorExpr> {
    let y = &exp.steps[step].y;
    let mut out = Vec::new();
    for m in exp.metrics.iter().filter(|m| m.step == step) {
        match &m.kind {
            MetricKind::Mean(e) => out.push(e),
            MetricKind::Accuracy {
                labels,
                predictions,
            } => {
                out.push(predictions);
                if !is_class_labels(labels, y, batch) {
                    out.push(labels);
                }
            }
            MetricKind::BinaryAccuracy {
                labels,
                predictions,
                ..
            } => {
                out.push(predictions);
                out.push(labels);
            }
        }
    }
    out
}

/// Whether `labels` is the batch's labels as class indices.
fn is_class_labels(labels: &TensorExpr, y: &str, batch: &Batch) -> bool {
    matches!(labels, TensorExpr::Var(n) if n == y) && batch.one_hot.is_none()
}

impl MetricSet {
    /// Adds a batch to step `step`'s metrics, from the values of [`reads`].
    pub fn record(&mut self, exp: &Experiment, step: usize, batch: &Batch, values: &[Vec<f32>]) {
        let y = &exp.steps[step].y;
        let rows = batch.shape[0];
        let mut values = values.iter();
        let mut next = || {
            values
                .next()
                .unwrap_or_else(|| unreachable!("one value per read"))
        };
        for (i, m) in exp
            .metrics
            .iter()
            .enumerate()
            .filter(|(_, m)| m.step == step)
        {
            match &m.kind {
                MetricKind::Mean(_) => {
                    let v = next();
                    if !v.is_empty() {
                        // Sums in f64: the mean of a tensor (one value for a loss).
                        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
                        self.current[i].add_mean(mean as f32);
                    }
                }
                MetricKind::Accuracy { labels, .. } => {
                    let p = next();
                    let width = p.len() / rows.max(1);
                    let hits = if is_class_labels(labels, y, batch) {
                        accuracy_hits(p, width, &batch.labels)
                    } else {
                        one_hot_hits(p, next(), width)
                    };
                    self.current[i].add_ratio(hits, rows);
                }
                MetricKind::BinaryAccuracy { threshold, .. } => {
                    let p = next();
                    let hits = binary_hits(p, next(), *threshold);
                    self.current[i].add_ratio(hits, p.len());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_takes_the_first_maximum() {
        let p = [0.1, 0.7, 0.2, 0.5, 0.5, 0.0];
        assert_eq!(accuracy_hits(&p, 3, &[1, 0]), 2);
        assert_eq!(accuracy_hits(&p, 3, &[2, 1]), 0);
    }

    #[test]
    fn mean_weighs_each_update_once_and_is_nan_when_empty() {
        let mut a = Accumulator::default();
        assert!(a.value().is_nan());
        a.add_mean(1.0);
        a.add_mean(2.0);
        assert!((a.value() - 1.5).abs() < 1e-12);
    }
}
