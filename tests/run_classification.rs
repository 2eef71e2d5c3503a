//! The classification metrics on small runs: each logged number recomputed from the run's
//! own confusion matrix CSV, whose counts add up to the test set and whose diagonal gives
//! the accuracy the run's `sparse_categorical_accuracy` logs.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

/// The CSV's header names and its counts, rows = true classes.
fn read_matrix(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    assert_eq!(header[0], "true\\predicted");
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').skip(1).map(|c| c.parse().unwrap()).collect())
        .collect();
    (header[1..].to_vec(), rows)
}

fn last(r: &expr::run::RunResult, name: &str) -> f64 {
    *common::metric(r, name).last().unwrap()
}

/// Per class: (true positives, predicted, actual).
fn per_class(m: &[Vec<f64>]) -> Vec<(f64, f64, f64)> {
    (0..m.len())
        .map(|k| {
            let predicted = m.iter().map(|row| row[k]).sum();
            (m[k][k], predicted, m[k].iter().sum())
        })
        .collect()
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

#[test]
fn multiclass_metrics_agree_with_the_runs_confusion_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::mlp_experiment(
        dir.path(),
        false,
        "metrics {
  test_precision = precision(y, logits) on test
  test_recall = recall(y, logits) on test
  test_f1 = f1(y, logits, average = weighted) on test
  test_micro = precision(y, logits, average = micro) on test
  test_recall_2 = recall(y, logits, class_id = 2) on test
  test_confusion = confusion_matrix(y, logits) on test
}",
    )
    .replace("epochs = 3", "epochs = 1")
    // A model far from trained, so that the counts are spread over the matrix.
    .replace("lr = 1e-2", "lr = 1e-3");
    let r = common::run_text(dir.path(), &text);
    let (names, m) = read_matrix(&r.dir.join("confusion/test_confusion.csv"));
    // The IDX data has no class names: indices.
    assert_eq!(names, ["0", "1", "2", "3"]);
    // Far from trained, the counts are spread (on this machine, class 2 is never
    // predicted), so that the averages differ.
    let off_diagonal: f64 = (0..4)
        .flat_map(|t| (0..4).filter(move |&p| p != t).map(move |p| (t, p)))
        .map(|(t, p)| m[t][p])
        .sum();
    assert!(off_diagonal > 30.0, "{m:?}");
    let total: f64 = m.iter().flatten().sum();
    assert_eq!(total, 128.0, "every test example counted once");
    let classes = per_class(&m);
    let trace: f64 = classes.iter().map(|c| c.0).sum();
    assert_eq!(last(&r, "test_accuracy"), trace / total);
    assert_eq!(last(&r, "test_micro"), trace / total);
    // Every class occurs in the balanced test set: macro is the plain mean.
    let macro_of = |f: &dyn Fn(&(f64, f64, f64)) -> f64| {
        classes.iter().map(f).sum::<f64>() / classes.len() as f64
    };
    let close = |name: &str, want: f64| {
        let got = last(&r, name);
        assert!((got - want).abs() < 1e-12, "{name}: {got} against {want}");
    };
    close("test_precision", macro_of(&|c| ratio(c.0, c.1)));
    close("test_recall", macro_of(&|c| ratio(c.0, c.2)));
    let weighted_f1: f64 = classes
        .iter()
        .map(|c| ratio(2.0 * c.0, c.1 + c.2) * c.2)
        .sum::<f64>()
        / total;
    close("test_f1", weighted_f1);
    close("test_recall_2", ratio(classes[2].0, classes[2].2));
    // The matrix is a file, not a number: not in the history or metrics.csv.
    assert!(!r.names.iter().any(|n| n == "test_confusion"));
    let csv = std::fs::read_to_string(r.dir.join("metrics.csv")).unwrap();
    assert!(!csv.contains("test_confusion") && csv.contains("test_precision"));
    // The heat map: 4 cells of 32 pixels (two-digit counts and their margins), 5 lines of 1.
    let png = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(r.dir.join("confusion/test_confusion.png")).unwrap(),
    ));
    let info = png.read_info().unwrap();
    assert_eq!((info.info().width, info.info().height), (133, 133));
    assert!(r
        .record
        .artifacts
        .iter()
        .any(|a| a.kind == "confusion_matrix" && a.path == "confusion/test_confusion.csv"));
}

/// An experiment training one `dense` layer (one unit on two classes) for an epoch on
/// generated 8×8 IDX images of `classes` classes (`train` examples, 64 to test), with
/// `loss`, SGD at `lr` and `metrics` on the test set, saving `net.safetensors`; and the
/// test set's (images, labels) files.
fn dense_on_idx(
    dir: &Path,
    (classes, train): (usize, usize),
    loss: &str,
    lr: &str,
    metrics: &str,
) -> (String, (std::path::PathBuf, std::path::PathBuf)) {
    let (tri, trl) = common::write_idx_set(dir, "train", train, 8, classes);
    let (tei, tel) = common::write_idx_set(dir, "test", 64, 8, classes);
    let units = if classes == 2 { 1 } else { classes };
    let text = format!(
        "experiment dense {{
  seed = 5
}}

data train = idx(images = \"{}\", labels = \"{}\", shape = (8, 8), classes = {classes})
  | scale(1 / 255)
  | batch(32)

data test = idx(images = \"{}\", labels = \"{}\", shape = (8, 8), classes = {classes})
  | scale(1 / 255)
  | batch(24)

model net {{
  flatten()
  dense(units = {units})
}}

loss xent = {loss}

optimizer opt = sgd(lr = {lr})

train {{
  model = net
  data = train
  validate = test
  loss = xent
  optimizer = opt
  epochs = 1
}}

metrics {{
{metrics}
}}

after {{
  save(net, to = \"net.safetensors\")
}}
",
        tri.display(),
        trl.display(),
        tei.display(),
        tel.display()
    );
    (text, (tei, tel))
}

/// One sigmoid unit on two classes: precision and recall at a threshold of 0.7 from the
/// matrix at the same threshold, f1 from the matrix at 0.5, and the matrix of the logits at
/// 0 equal to the one of `sigmoid(logits)` at 0.5.
#[test]
fn binary_metrics_agree_with_the_runs_confusion_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let (text, _) = dense_on_idx(
        dir.path(),
        (2, 256),
        "binary_crossentropy(from_logits = true)",
        "0.00001",
        "  test_precision = precision(y, sigmoid(logits), threshold = 0.7) on test
  test_recall = recall(y, sigmoid(logits), threshold = 0.7) on test
  test_f1 = f1(y, logits, threshold = 0) on test
  test_auc = auc(y, logits, from_logits = true) on test
  at_zero = confusion_matrix(y, logits, threshold = 0) on test
  at_half = confusion_matrix(y, sigmoid(logits)) on test
  at_high = confusion_matrix(y, sigmoid(logits), threshold = 0.7) on test",
    );
    let r = common::run_text(dir.path(), &text);
    let (_, m) = read_matrix(&r.dir.join("confusion/at_zero.csv"));
    assert_eq!(read_matrix(&r.dir.join("confusion/at_half.csv")).1, m);
    assert_eq!(m.iter().flatten().sum::<f64>(), 64.0);
    let (tp, fp, fn_) = (m[1][1], m[0][1], m[1][0]);
    let f1 = last(&r, "test_f1");
    assert!((f1 - ratio(2.0 * tp, 2.0 * tp + fp + fn_)).abs() < 1e-12);
    let (_, high) = read_matrix(&r.dir.join("confusion/at_high.csv"));
    // Some positives below 0.7 (on this machine, 27 of 32).
    assert!(high[1][0] > 0.0, "{high:?}");
    let (tp, fp, fn_) = (high[1][1], high[0][1], high[1][0]);
    assert_eq!(last(&r, "test_precision"), ratio(tp, tp + fp));
    assert_eq!(last(&r, "test_recall"), ratio(tp, tp + fn_));
    let auc = last(&r, "test_auc");
    assert!((0.0..=1.0).contains(&auc), "{auc}");
}

/// A CSV of four features and three 0/1 label columns (several labels per example), with
/// one example in eight given a wrong first label so that no label is learnt perfectly.
fn write_multi_label_csv(path: &Path, rows: usize, seed: u64) {
    let mut state = seed;
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let mut text = String::from("x0,x1,x2,x3,a,b,c\n");
    for i in 0..rows {
        let x: Vec<f32> = (0..4).map(|_| uniform()).collect();
        let a = (x[0] + 0.5 * x[1] > 0.0) != (i % 8 == 3);
        let b = x[2] > 0.3;
        let c = x[0] - x[3] > 0.2;
        let cells: Vec<String> = x.iter().map(|v| format!("{v}")).collect();
        let labels = [a, b, c].map(|l| if l { "1" } else { "0" });
        text += &cells.join(",");
        text += ",";
        text += &labels.join(",");
        text += "\n";
    }
    std::fs::write(path, text).unwrap();
}

/// The CSV's features and label columns, as the run reads them.
fn read_multi_label_csv(path: &Path) -> Vec<([f32; 4], [f32; 3])> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let v: Vec<f32> = l.split(',').map(|c| c.parse().unwrap()).collect();
            ([v[0], v[1], v[2], v[3]], [v[4], v[5], v[6]])
        })
        .collect()
}

/// The outputs of a saved one-`dense` model (`dense.weight`, PyTorch's (out, in) layout) on
/// `inputs`.
fn saved_dense_outputs(path: &Path, inputs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let model = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f32s = |name: &str| -> Vec<f32> {
        let t = model.tensor(name).unwrap();
        t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    };
    let (w, b) = (f32s("dense.weight"), f32s("dense.bias"));
    inputs
        .iter()
        .map(|x| {
            let row = |k: usize| w[k * x.len()..(k + 1) * x.len()].iter().zip(x);
            (0..b.len())
                .map(|k| b[k] + row(k).map(|(w, x)| w * x).sum::<f32>())
                .collect()
        })
        .collect()
}

/// ROC AUC by counting pairs (scikit-learn's exact figure): the share of (positive,
/// negative) pairs the scores order rightly, ties counting half.
fn exact_auc(scores: &[f32], labels: &[bool]) -> f64 {
    let (mut right, mut pairs) = (0.0, 0.0);
    for (&s, _) in scores.iter().zip(labels).filter(|(_, &l)| l) {
        for (&t, _) in scores.iter().zip(labels).filter(|(_, &l)| !l) {
            pairs += 1.0;
            right += if s > t {
                1.0
            } else if s == t {
                0.5
            } else {
                0.0
            };
        }
    }
    right / pairs
}

/// `multi_label = true` on three sigmoid columns read from a CSV of 0/1 label columns: every
/// logged score recomputed from the saved model's own predictions on the test rows.
#[test]
fn multi_label_metrics_agree_with_the_saved_models_predictions() {
    let dir = tempfile::tempdir().unwrap();
    write_multi_label_csv(&dir.path().join("train.csv"), 192, 11);
    write_multi_label_csv(&dir.path().join("test.csv"), 64, 12);
    let text = format!(
        "experiment tags {{
  seed = 2
}}

data train = csv(\"{0}/train.csv\", target = (\"a\", \"b\", \"c\"), task = regression) | batch(16)

data test = csv(\"{0}/test.csv\", target = (\"a\", \"b\", \"c\"), task = regression) | batch(20)

model net {{
  dense(units = 3)
}}

loss xent = binary_crossentropy(from_logits = true)

optimizer opt = adam(lr = 0.05)

train {{
  model = net
  data = train
  validate = test
  loss = xent
  optimizer = opt
  epochs = 2
}}

metrics {{
  p_micro = precision(y, sigmoid(logits), multi_label = true, average = micro) on test
  r_macro = recall(y, logits, multi_label = true, threshold = 0) on test
  f1_weighted = f1(y, sigmoid(logits), multi_label = true, average = weighted) on test
  p_b = precision(y, sigmoid(logits), multi_label = true, class_id = 1) on test
  auc_labels = auc(y, logits, from_logits = true, multi_label = true) on test
}}

after {{
  save(net, to = \"net.safetensors\")
}}
",
        dir.path().display()
    );
    let r = common::run_text(dir.path(), &text);
    let rows = read_multi_label_csv(&dir.path().join("test.csv"));
    let inputs: Vec<Vec<f32>> = rows.iter().map(|(x, _)| x.to_vec()).collect();
    let logits: Vec<Vec<f32>> = saved_dense_outputs(&r.dir.join("net.safetensors"), &inputs);
    // Per label: (true positives, predicted, actual) at sigmoid > 0.5, i.e. logit > 0.
    let counts: Vec<(f64, f64, f64)> = (0..3)
        .map(|k| {
            let (mut tp, mut predicted, mut actual) = (0.0, 0.0, 0.0);
            for (l, (_, y)) in logits.iter().zip(&rows) {
                let (p, t) = (l[k] > 0.0, y[k] > 0.5);
                tp += f64::from(u8::from(p && t));
                predicted += f64::from(u8::from(p));
                actual += f64::from(u8::from(t));
            }
            (tp, predicted, actual)
        })
        .collect();
    let sum = |f: &dyn Fn(&(f64, f64, f64)) -> f64| counts.iter().map(f).sum::<f64>();
    // The labels are not learnt perfectly, so the scores tell the averages apart.
    assert!(
        sum(&|c| c.1 - c.0) + sum(&|c| c.2 - c.0) > 5.0,
        "{counts:?}"
    );
    let close = |name: &str, want: f64| {
        let got = last(&r, name);
        assert!((got - want).abs() < 1e-12, "{name}: {got} against {want}");
    };
    close("p_micro", ratio(sum(&|c| c.0), sum(&|c| c.1)));
    close("r_macro", sum(&|c| ratio(c.0, c.2)) / 3.0);
    close(
        "f1_weighted",
        sum(&|c| ratio(2.0 * c.0, c.1 + c.2) * c.2) / sum(&|c| c.2),
    );
    close("p_b", ratio(counts[1].0, counts[1].1));
    // Keras' 200 thresholds approximate the exact area.
    let exact: f64 = (0..3)
        .map(|k| {
            let scores: Vec<f32> = logits.iter().map(|l| l[k]).collect();
            let labels: Vec<bool> = rows.iter().map(|(_, y)| y[k] > 0.5).collect();
            exact_auc(&scores, &labels)
        })
        .sum::<f64>()
        / 3.0;
    assert!(exact < 0.99, "{exact}");
    let got = last(&r, "auc_labels");
    assert!((got - exact).abs() < 0.01, "{got} against {exact}");
}

/// `auc` of a softmax output over four classes, the labels class indices: pooled over the
/// one-hot columns (Keras' default), and per class with `multi_label` (one-vs-rest), each
/// near the exact area of the saved model's own probabilities.
#[test]
fn multiclass_auc_agrees_with_the_saved_models_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let (text, (tei, tel)) = dense_on_idx(
        dir.path(),
        (4, 128),
        "sparse_categorical_crossentropy(from_logits = true)",
        "0.001",
        "  pooled = auc(y, softmax(logits)) on test
  per_class = auc(y, softmax(logits), multi_label = true) on test",
    );
    let r = common::run_text(dir.path(), &text);
    let images = std::fs::read(&tei).unwrap();
    let labels = std::fs::read(&tel).unwrap();
    let inputs: Vec<Vec<f32>> = images[16..]
        .chunks_exact(64)
        .map(|px| px.iter().map(|&p| f32::from(p) / 255.0).collect())
        .collect();
    let probs: Vec<Vec<f32>> = saved_dense_outputs(&r.dir.join("net.safetensors"), &inputs)
        .into_iter()
        .map(|l| {
            let top = l.iter().copied().fold(f32::MIN, f32::max);
            let e: Vec<f32> = l.iter().map(|v| (v - top).exp()).collect();
            let sum: f32 = e.iter().sum();
            e.iter().map(|v| v / sum).collect()
        })
        .collect();
    let truth =
        |k: usize| -> Vec<bool> { labels[8..].iter().map(|&c| usize::from(c) == k).collect() };
    let column = |k: usize| -> Vec<f32> { probs.iter().map(|p| p[k]).collect() };
    let per_class = (0..4)
        .map(|k| exact_auc(&column(k), &truth(k)))
        .sum::<f64>()
        / 4.0;
    let all_scores: Vec<f32> = (0..4).flat_map(column).collect();
    let all_truth: Vec<bool> = (0..4).flat_map(truth).collect();
    let pooled = exact_auc(&all_scores, &all_truth);
    // Far from trained: neither area is 1, and the two differ.
    assert!(per_class < 0.99 && pooled < 0.99, "{per_class} {pooled}");
    for (name, exact) in [("pooled", pooled), ("per_class", per_class)] {
        let got = last(&r, name);
        assert!((got - exact).abs() < 0.01, "{name}: {got} against {exact}");
    }
    assert!((last(&r, "pooled") - last(&r, "per_class")).abs() > 1e-6);
}
