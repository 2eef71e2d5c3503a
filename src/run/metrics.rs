//! Metric accumulators, reset at the start of each epoch (Keras' `reset_state`).

use crate::check::plan::{Metric, MetricKind};

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

/// The metric kinds, for the step runner to know which values to read.
pub fn reads(kind: &MetricKind) -> Vec<&crate::check::plan::TensorExpr> {
    match kind {
        MetricKind::Mean(e) => vec![e],
        MetricKind::Accuracy {
            labels,
            predictions,
        }
        | MetricKind::BinaryAccuracy {
            labels,
            predictions,
            ..
        } => {
            vec![labels, predictions]
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
