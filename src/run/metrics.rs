//! Metric accumulators, reset at the start of each epoch (Keras' `reset_state`).

use super::classify;
use crate::check::plan::{
    ClassMetric, Decision, Experiment, Metric, MetricKind, RegressionMetric, TensorExpr,
};
use crate::data::Batch;

/// What a metric has seen of the epoch so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accumulator {
    sum: f64,
    count: f64,
    /// `r2` only: per output, (Σ target, Σ target², Σ (target - prediction)²); `count`
    /// counts the rows.
    columns: Vec<[f64; 3]>,
    /// The classification metrics only: a confusion matrix, or `auc`'s threshold buckets
    /// (`run::classify`); `count` counts the examples.
    counts: Vec<f64>,
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
    /// A classification metric's score of `counts`.
    Counts(ClassMetric),
    /// A `multi_label` classification metric's score of its per-label `counts`.
    LabelCounts(ClassMetric),
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
            MetricKind::Classification {
                metric,
                decision: Decision::Labels { .. },
                ..
            } => Finish::LabelCounts(*metric),
            MetricKind::Classification { metric, .. } => Finish::Counts(*metric),
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
            Finish::Counts(ClassMetric::Auc {
                curve, thresholds, ..
            }) => classify::auc_of(&self.counts, thresholds, curve),
            // A matrix has no value of its own: its counts are written to files.
            Finish::Counts(ClassMetric::ConfusionMatrix) => f64::NAN,
            Finish::Counts(metric) => classify::score(&self.counts, metric),
            Finish::LabelCounts(metric) => classify::score_labels(&self.counts, metric),
        }
    }

    /// The counts of a classification metric (a confusion matrix, row = true class).
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// The state, for checkpoints: `[sum, count]`, then each `r2` column's three sums or a
    /// classification metric's counts.
    fn parts(&self) -> Vec<f64> {
        let mut out = vec![self.sum, self.count];
        out.extend(self.columns.iter().flatten());
        out.extend(&self.counts);
        out
    }

    /// The accumulator [`Accumulator::parts`] describes, for a metric that finishes so.
    fn from_parts(parts: &[f64], finish: Finish) -> Self {
        let (head, rest) = parts.split_at(parts.len().min(2));
        let counts = matches!(finish, Finish::Counts(_));
        Accumulator {
            sum: head.first().copied().unwrap_or(0.0),
            count: head.get(1).copied().unwrap_or(0.0),
            columns: if counts {
                Vec::new()
            } else {
                rest.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
            },
            counts: if counts { rest.to_vec() } else { Vec::new() },
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

pub(super) fn argmax(row: &[f32]) -> usize {
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
    /// The metrics with a value (`Experiment::metrics`).
    pub names: Vec<String>,
    finish: Vec<Finish>,
    /// The accumulators of `Experiment::metrics`, then of `Experiment::matrices`.
    pub current: Vec<Accumulator>,
    /// history[metric][epoch]
    pub history: Vec<Vec<f64>>,
}

impl MetricSet {
    pub fn new(metrics: &[Metric], matrices: &[Metric]) -> Self {
        let all = metrics.iter().chain(matrices);
        MetricSet {
            names: metrics.iter().map(|m| m.name.clone()).collect(),
            finish: all.map(|m| Finish::of(&m.kind)).collect(),
            current: vec![Accumulator::default(); metrics.len() + matrices.len()],
            history: vec![Vec::new(); metrics.len()],
        }
    }

    /// The counts of matrix `j` (of `Experiment::matrices`) so far this epoch.
    pub fn matrix(&self, j: usize) -> &[f64] {
        self.current[self.names.len() + j].counts()
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
        for ((a, p), &f) in self.current.iter_mut().zip(parts).zip(&self.finish) {
            *a = Accumulator::from_parts(p, f);
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
    for m in all(exp).filter(|m| records(m, step, number)) {
        match &m.kind {
            MetricKind::Mean(e) => out.push(e),
            MetricKind::Accuracy {
                labels,
                predictions,
                ..
            }
            | MetricKind::Classification {
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

/// Every metric, in the order of [`MetricSet::current`].
fn all(exp: &Experiment) -> impl Iterator<Item = &Metric> {
    exp.metrics.iter().chain(&exp.matrices)
}

/// Class indices as one-hot rows of `classes` columns.
fn one_hot_rows(labels: &[usize], classes: usize) -> Vec<f32> {
    let mut rows = vec![0.0; labels.len() * classes];
    for (row, &label) in rows.chunks_exact_mut(classes).zip(labels) {
        row[label] = 1.0;
    }
    rows
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
        for (i, m) in all(exp)
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
                MetricKind::Classification {
                    metric,
                    labels,
                    decision,
                    ..
                } => {
                    let p = next();
                    let class_labels = is_class_labels(labels, y, batch);
                    let a = &mut self.current[i];
                    match *decision {
                        Decision::Binary { threshold } => {
                            let from_batch: Vec<f32>;
                            let l: &[f32] = if class_labels {
                                from_batch = batch.labels.iter().map(|&c| c as f32).collect();
                                &from_batch
                            } else {
                                next()
                            };
                            match *metric {
                                ClassMetric::Auc {
                                    thresholds,
                                    from_logits,
                                    ..
                                } => classify::count_buckets(
                                    &mut a.counts,
                                    (thresholds, 1),
                                    p,
                                    l,
                                    from_logits,
                                ),
                                _ => classify::count_binary(&mut a.counts, p, l, threshold),
                            }
                            a.count += p.len() as f64;
                        }
                        Decision::Classes { classes } => {
                            if let ClassMetric::Auc {
                                thresholds,
                                from_logits,
                                multi_label,
                                ..
                            } = *metric
                            {
                                let one_hot: Vec<f32>;
                                let l: &[f32] = if class_labels {
                                    one_hot = one_hot_rows(&batch.labels, classes);
                                    &one_hot
                                } else {
                                    next()
                                };
                                let curves = if multi_label { classes } else { 1 };
                                let buckets = (thresholds, curves);
                                classify::count_buckets(&mut a.counts, buckets, p, l, from_logits);
                                a.count += (p.len() / classes) as f64;
                                continue;
                            }
                            let one_hot: Vec<usize>;
                            let l: &[usize] = if class_labels {
                                &batch.labels
                            } else {
                                one_hot = next().chunks(classes).map(argmax).collect();
                                &one_hot
                            };
                            classify::count_classes(&mut a.counts, classes, p, l);
                            a.count += l.len() as f64;
                        }
                        Decision::Labels { labels, threshold } => {
                            classify::count_labels(&mut a.counts, labels, p, next(), threshold);
                            a.count += (p.len() / labels) as f64;
                        }
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
        let mut set = MetricSet::new(&exp.metrics, &exp.matrices);
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
        let mut b = Accumulator::from_parts(&a.parts(), Finish::R2);
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
            Accumulator::from_parts(&[3.0, 2.0], Finish::Mean).value(Finish::Mean),
            1.5
        );
    }

    #[test]
    fn classification_counts_survive_a_checkpoint_mid_epoch() {
        use crate::check::plan::{ClassAverage, Curve};
        let precision = Finish::Counts(ClassMetric::Precision(ClassAverage::Binary));
        let mut a = Accumulator::default();
        classify::count_binary(
            &mut a.counts,
            &[0.1, 0.6, 0.35, 0.8],
            &[0.0, 1.0, 1.0, 0.0],
            0.5,
        );
        a.count += 4.0;
        let mut b = Accumulator::from_parts(&a.parts(), precision);
        assert_eq!(a, b);
        classify::count_binary(&mut b.counts, &[0.5, 0.9], &[1.0, 1.0], 0.5);
        b.count += 2.0;
        // tp 2 (0.6, 0.9), fp 1 (0.8).
        assert!((b.value(precision) - 2.0 / 3.0).abs() < 1e-12);
        let auc = Finish::Counts(ClassMetric::Auc {
            curve: Curve::Roc,
            thresholds: 5,
            from_logits: false,
            multi_label: false,
        });
        let mut c = Accumulator::default();
        classify::count_buckets(&mut c.counts, (5, 1), &[0.2, 0.9], &[0.0, 1.0], false);
        c.count += 2.0;
        let d = Accumulator::from_parts(&c.parts(), auc);
        assert_eq!(c, d);
        assert_eq!(d.value(auc), 1.0);
    }
}
