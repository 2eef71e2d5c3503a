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

/// One sigmoid unit on two classes: precision and recall at a threshold of 0.7 from the
/// matrix at the same threshold, f1 from the matrix at 0.5, and the matrix of the logits at
/// 0 equal to the one of `sigmoid(logits)` at 0.5.
#[test]
fn binary_metrics_agree_with_the_runs_confusion_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let (tri, trl) = common::write_idx_set(dir.path(), "train", 256, 8, 2);
    let (tei, tel) = common::write_idx_set(dir.path(), "test", 64, 8, 2);
    let text = format!(
        "experiment binary {{
  seed = 5
}}

data train = idx(images = \"{}\", labels = \"{}\", shape = (8, 8), classes = 2)
  | scale(1 / 255)
  | batch(32)

data test = idx(images = \"{}\", labels = \"{}\", shape = (8, 8), classes = 2)
  | scale(1 / 255)
  | batch(16)

model net {{
  flatten()
  dense(units = 1)
}}

loss xent = binary_crossentropy(from_logits = true)

optimizer opt = sgd(lr = 0.00001)

train {{
  model = net
  data = train
  validate = test
  loss = xent
  optimizer = opt
  epochs = 1
}}

metrics {{
  test_precision = precision(y, sigmoid(logits), threshold = 0.7) on test
  test_recall = recall(y, sigmoid(logits), threshold = 0.7) on test
  test_f1 = f1(y, logits, threshold = 0) on test
  test_auc = auc(y, logits, from_logits = true) on test
  at_zero = confusion_matrix(y, logits, threshold = 0) on test
  at_half = confusion_matrix(y, sigmoid(logits)) on test
  at_high = confusion_matrix(y, sigmoid(logits), threshold = 0.7) on test
}}
",
        tri.display(),
        trl.display(),
        tei.display(),
        tel.display()
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
