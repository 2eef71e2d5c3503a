//! Metric accumulators, reset at the start of each epoch (Keras' `reset_state`).

use crate::check::plan::{Experiment, Metric, MetricKind, RegressionMetric, TensorExpr};
use crate::data::Batch;

/// What a metric has seen of the epoch so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accumulator {
    sum: f64,
    count: f64,
    /// `r2` only: per output, (Σ target, Σ target², Σ (target - prediction)²); `count`
    /// counts the rows.
    columns: Vec<[f64; 3]>,
}

/// How an accumulator becomes the metric's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// `sum / count`.
    Mean,
    /// `sqrt(sum / count)`.
    Root,
    /// Keras' `R2Score`: `1 - SS_res / SS_tot` per output (0 where `SS_tot` is 0 and
    /// `SS_res` is not), averaged.
    R2,
}

impl Finish {
    fn of(kind: &MetricKind) -> Self {
        match kind {
            MetricKind::Regression {
                metric: RegressionMetric::Rmse,
                ..
            } => Finish::Root,
            MetricKind::Regression {
                metric: RegressionMetric::R2,
                ..
            } => Finish::R2,
            _ => Finish::Mean,
        }
    }
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

    /// Adds rows of targets and predictions (`width` values each) to an `r2` accumulator.
    pub fn add_r2(&mut self, targets: &[f32], predictions: &[f32], width: usize) {
        if self.columns.len() != width {
            self.columns = vec![[0.0; 3]; width];
        }
        for (t, p) in targets.chunks(width).zip(predictions.chunks(width)) {
            for (c, (&t, &p)) in self.columns.iter_mut().zip(t.iter().zip(p)) {
                let (t, p) = (f64::from(t), f64::from(p));
                c[0] += t;
                c[1] += t * t;
                c[2] += (t - p) * (t - p);
            }
            self.count += 1.0;
        }
    }

    /// NaN before the first update, as Keras' metrics report 0 — NaN makes "no data" visible.
    pub fn value(&self, finish: Finish) -> f64 {
        if self.count == 0.0 {
            return f64::NAN;
        }
        match finish {
            Finish::Mean => self.sum / self.count,
            Finish::Root => (self.sum / self.count).sqrt(),
            Finish::R2 => {
                let n = self.count;
                let scores = self.columns.iter().map(|&[s, s2, res]| {
                    let total = s2 - s * s / n;
                    let r2 = 1.0 - res / total;
                    if r2.is_infinite() {
                        0.0
                    } else {
                        r2
                    }
                });
                scores.sum::<f64>() / self.columns.len().max(1) as f64
            }
        }
    }

    /// The state, for checkpoints: `[sum, count]`, then each `r2` column's three sums.
    fn parts(&self) -> Vec<f64> {
        let mut out = vec![self.sum, self.count];
        out.extend(self.columns.iter().flatten());
        out
    }

    /// The accumulator [`Accumulator::parts`] describes.
    fn from_parts(parts: &[f64]) -> Self {
        let (head, rest) = parts.split_at(parts.len().min(2));
        Accumulator {
            sum: head.first().copied().unwrap_or(0.0),
            count: head.get(1).copied().unwrap_or(0.0),
            columns: rest.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
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

/// Scores laid out (examples, classes, positions) as one row of `classes` per example and
/// position.
fn positions_as_rows(scores: &[f32], classes: usize, positions: usize) -> Vec<f32> {
    let mut rows = vec![0.0; scores.len()];
    for (example, out) in scores
        .chunks_exact(classes * positions)
        .zip(rows.chunks_exact_mut(classes * positions))
    {
        for (c, channel) in example.chunks_exact(positions).enumerate() {
            for (t, &v) in channel.iter().enumerate() {
                out[t * classes + c] = v;
            }
        }
    }
    rows
}

/// Top-k accuracy, as Keras' `in_top_k`: a row's label is among its `k` largest predictions
/// when fewer than `k` predictions are strictly larger than the label's (ties count in).
pub fn top_k_hits(predictions: &[f32], width: usize, labels: &[usize], k: usize) -> usize {
    predictions
        .chunks(width)
        .zip(labels)
        .filter(|(row, &label)| row.iter().filter(|&&v| v > row[label]).count() < k)
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
    finish: Vec<Finish>,
    pub current: Vec<Accumulator>,
    /// history[metric][epoch]
    pub history: Vec<Vec<f64>>,
}

impl MetricSet {
    pub fn new(metrics: &[Metric]) -> Self {
        MetricSet {
            names: metrics.iter().map(|m| m.name.clone()).collect(),
            finish: metrics.iter().map(|m| Finish::of(&m.kind)).collect(),
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
        for ((h, a), &f) in self.history.iter_mut().zip(&self.current).zip(&self.finish) {
            h.push(a.value(f));
        }
    }

    pub fn value(&self, i: usize) -> f64 {
        self.current[i].value(self.finish[i])
    }

    /// The accumulators' states, for checkpoints.
    pub fn parts(&self) -> Vec<Vec<f64>> {
        self.current.iter().map(Accumulator::parts).collect()
    }

    pub fn restore(&mut self, parts: &[Vec<f64>], history: &[Vec<f64>]) {
        for (a, p) in self.current.iter_mut().zip(parts) {
            *a = Accumulator::from_parts(p);
        }
        self.history = history.to_vec();
    }
}

/// Whether metric `m` takes a value from step `step` when it runs as training step `number`
/// (from 1): a metric of values bound in an `every N steps` block only on the steps the block
/// runs, so that it averages over those.
fn records(m: &Metric, step: usize, number: u64) -> bool {
    m.step == step && number.is_multiple_of(m.every)
}

/// What step `step`'s metrics read when it runs as training step `number`, in the order
/// [`MetricSet::record`] takes their values: for each of the step's metrics, its predictions
/// (or its scalar), then its labels, unless they are the batch's class labels, which are
/// read from the batch itself.
pub fn reads<'e>(
    exp: &'e Experiment,
    step: usize,
    number: u64,
    batch: &Batch,
) -> Vec<&'e TensorExpr> {
    let y = &exp.steps[step].y;
    let mut out = Vec::new();
    for m in exp.metrics.iter().filter(|m| records(m, step, number)) {
        match &m.kind {
            MetricKind::Mean(e) => out.push(e),
            MetricKind::Accuracy {
                labels,
                predictions,
                ..
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
            }
            | MetricKind::Regression {
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
    matches!(labels, TensorExpr::Var(n) if n == y) && batch.dense_y.is_none()
}

impl MetricSet {
    /// Adds a batch to step `step`'s metrics (run as training step `number`), from the values
    /// of [`reads`].
    pub fn record(
        &mut self,
        exp: &Experiment,
        (step, number): (usize, u64),
        batch: &Batch,
        values: &[Vec<f32>],
    ) {
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
            .filter(|(_, m)| records(m, step, number))
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
                MetricKind::Accuracy { labels, top_k, .. } => {
                    let mut p = next();
                    let mut width = p.len() / rows.max(1);
                    let class_labels = is_class_labels(labels, y, batch);
                    // A class at each position: the share of positions scored right, each
                    // position's scores a row (the model gives (classes, positions)).
                    let positions = if class_labels {
                        batch.labels.len() / rows.max(1)
                    } else {
                        1
                    };
                    let by_position;
                    if positions > 1 {
                        width /= positions;
                        by_position = positions_as_rows(p, width, positions);
                        p = &by_position;
                    }
                    let hits = match (class_labels, top_k) {
                        (true, None) => accuracy_hits(p, width, &batch.labels),
                        (false, None) => one_hot_hits(p, next(), width),
                        (true, Some(k)) => top_k_hits(p, width, &batch.labels, *k),
                        (false, Some(k)) => {
                            let labels: Vec<usize> = next().chunks(width).map(argmax).collect();
                            top_k_hits(p, width, &labels, *k)
                        }
                    };
                    self.current[i].add_ratio(hits, rows * positions);
                }
                MetricKind::BinaryAccuracy { threshold, .. } => {
                    let p = next();
                    let hits = binary_hits(p, next(), *threshold);
                    self.current[i].add_ratio(hits, p.len());
                }
                MetricKind::Regression { metric, .. } => {
                    let (p, t) = (next(), next());
                    let width = p.len() / rows.max(1);
                    let errors = p.iter().zip(t).map(|(&p, &t)| f64::from(t) - f64::from(p));
                    let a = &mut self.current[i];
                    match metric {
                        // Keras: the mean over each row's outputs, then over rows.
                        RegressionMetric::Mae => {
                            a.sum += errors.map(f64::abs).sum::<f64>() / width.max(1) as f64;
                            a.count += rows as f64;
                        }
                        // Keras: the mean over every output of every row.
                        RegressionMetric::Rmse => {
                            a.sum += errors.map(|e| e * e).sum::<f64>();
                            a.count += p.len() as f64;
                        }
                        RegressionMetric::R2 => a.add_r2(t, p, width.max(1)),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scores of `bench/reference/sequence_loss.py`, (examples, classes, positions): the
    /// best class is the label at 4 of the 8 positions, PyTorch's 0.5.
    #[test]
    fn accuracy_at_every_position_matches_pytorch() {
        let scores = [
            0.2, -1.0, 0.5, 2.0, 1.5, 0.3, -0.7, 0.1, -0.4, 0.9, 1.1, -2.0, //
            0.0, 0.8, -0.3, 1.2, -1.1, 0.6, 0.4, 0.7, 2.2, -0.5, 0.0, 0.3,
        ];
        let rows = positions_as_rows(&scores, 3, 4);
        assert_eq!(&rows[..6], [0.2, 1.5, -0.4, -1.0, 0.3, 0.9]);
        assert_eq!(accuracy_hits(&rows, 3, &[1, 0, 2, 0, 2, 1, 0, 1]), 4);
    }

    #[test]
    fn a_metric_of_an_every_block_reads_and_records_on_its_steps_only() {
        let text = "experiment t { seed = 1 }
data train = idx(images = \"i\", labels = \"l\", shape = (2, 2), classes = 2) | reshape(4) | batch(2)
model m { dense(units = 2) }
optimizer opt = sgd()
train { epochs = 1 }
step on train (x, y) {
  out = m(x, training = true)
  loss = mean(out * out)
  update opt minimizing loss
  every 4 steps {
    wide = mean(out)
  }
}
metrics {
  all = mean(loss) on train
  fourth = mean(wide) on train
}";
        let file = crate::syntax::parse_file(text).expect("parses");
        let exp = crate::check::check(&file).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(exp.metrics[1].every, 4);
        let batch = Batch {
            x: vec![0.0; 8],
            shape: vec![2, 4],
            labels: vec![0, 1],
            dense_y: None,
        };
        let mut set = MetricSet::new(&exp.metrics);
        for number in 1..=8 {
            let reads = reads(&exp, 0, number, &batch);
            assert_eq!(reads.len(), if number % 4 == 0 { 2 } else { 1 }, "{number}");
            let values = vec![vec![number as f32]; reads.len()];
            set.record(&exp, (0, number), &batch, &values);
        }
        // `all` averages steps 1..=8; `fourth` steps 4 and 8 only.
        assert_eq!(set.parts()[0][..2], [36.0, 8.0]);
        assert_eq!(set.parts()[1][..2], [12.0, 2.0]);
    }

    /// Keras 3's `SparseTopKCategoricalAccuracy` on these rows (ties with the label's score
    /// count in): 1/6, 3/6 and 5/6 for k = 1, 2, 3, and the same for one-hot labels.
    #[test]
    fn top_k_accuracy_matches_keras() {
        #[rustfmt::skip]
        let p = [
            0.1f32, 0.5, 0.2, 0.9, 0.3, 2.0, -1.0, 0.5, 0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0,
            0.3, 0.2, 0.1, 0.4, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 0.5, 0.4, 0.45, 0.1, 0.2,
        ];
        let labels = [1, 3, 4, 0, 1, 2];
        for (k, want) in [(1, 1), (2, 3), (3, 5), (5, 6)] {
            assert_eq!(top_k_hits(&p, 5, &labels, k), want, "k = {k}");
        }
    }

    #[test]
    fn accuracy_takes_the_first_maximum() {
        let p = [0.1, 0.7, 0.2, 0.5, 0.5, 0.0];
        assert_eq!(accuracy_hits(&p, 3, &[1, 0]), 2);
        assert_eq!(accuracy_hits(&p, 3, &[2, 1]), 0);
    }

    #[test]
    fn mean_weighs_each_update_once_and_is_nan_when_empty() {
        let mut a = Accumulator::default();
        assert!(a.value(Finish::Mean).is_nan());
        a.add_mean(1.0);
        a.add_mean(2.0);
        assert!((a.value(Finish::Mean) - 1.5).abs() < 1e-12);
    }

    #[test]
    fn r2_matches_keras_across_batches_and_checkpoints() {
        // keras.metrics.R2Score() on y = [3, -0.5, 2, 7], p = [2.5, 0, 2, 8] with
        // TensorFlow 2.21: 0.9486081600189209. Fed in two batches, through a checkpoint.
        let mut a = Accumulator::default();
        a.add_r2(&[3.0, -0.5], &[2.5, 0.0], 1);
        let mut b = Accumulator::from_parts(&a.parts());
        assert_eq!(a, b);
        b.add_r2(&[2.0, 7.0], &[2.0, 8.0], 1);
        assert!((b.value(Finish::R2) - 0.948_608_16).abs() < 1e-7);
        // Two outputs: the mean of each output's score.
        let mut two = Accumulator::default();
        two.add_r2(
            &[3.0, 1.0, -0.5, 2.0, 2.0, 3.0, 7.0, 5.0],
            &[2.5, 1.0, 0.0, 2.0, 2.0, 3.0, 8.0, 5.0],
            2,
        );
        assert!((two.value(Finish::R2) - f64::midpoint(0.948_608_16, 1.0)).abs() < 1e-7);
        // An old checkpoint's (sum, count) still reads.
        assert_eq!(
            Accumulator::from_parts(&[3.0, 2.0]).value(Finish::Mean),
            1.5
        );
    }
}
