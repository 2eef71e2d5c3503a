//! `expr eval` and `expr predict`: a saved model's metrics and per-example predictions,
//! checked against the run that trained it.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::{Path, PathBuf};

/// Trains the small MLP for one slow epoch (so that its test accuracy is not 1) with
/// `expr run`, saving `net.safetensors`; the experiment file, the run directory and the
/// run's last `Epoch` line.
fn trained(dir: &Path) -> (PathBuf, PathBuf, String) {
    let (stdout, run) = common::train_small_mlp(dir, &["opt.lr=2e-3"]);
    let last = stdout
        .lines()
        .find(|l| l.starts_with("Epoch 1"))
        .unwrap()
        .to_string();
    (dir.join("small.exp"), run, last)
}

/// `name: value` of a metrics line.
fn value(line: &str, name: &str) -> String {
    let at = line.find(&format!("{name}: ")).unwrap() + name.len() + 2;
    line[at..].split(',').next().unwrap().trim().to_string()
}

#[test]
fn eval_repeats_the_runs_test_metrics_and_predict_agrees_with_its_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let (_, run, last) = trained(dir.path());
    let weights = run.join("net.safetensors");
    let weights = weights.to_str().unwrap();
    let out = common::expr_in(dir.path(), &["eval", "small.exp", "--model", weights]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("Evaluation, test_loss: "), "{line}");
    assert!(!line.contains("train_"), "only evaluation metrics: {line}");
    for name in ["test_loss", "test_accuracy"] {
        assert_eq!(
            value(&line, name),
            value(&last, name),
            "{name}: {line} vs {last}"
        );
    }
    let accuracy: f64 = value(&line, "test_accuracy").parse().unwrap();
    assert!(
        accuracy < 1.0 && accuracy > 0.25,
        "a model still learning: {accuracy}"
    );
    // A run directory names the same weights; `NAME=PATH` too.
    let by_dir = common::expr_in(
        dir.path(),
        &[
            "eval",
            "small.exp",
            "--model",
            &format!("net={}", run.display()),
        ],
    );
    assert_eq!(String::from_utf8(by_dir.stdout).unwrap(), line);
    // A run directory without a model file (an interrupted run's, or one without `save`)
    // gives its newest checkpoint's weights: here the last epoch's, the same.
    let elsewhere = dir.path().join("net.safetensors");
    std::fs::rename(run.join("net.safetensors"), &elsewhere).unwrap();
    let by_checkpoint = common::expr_in(
        dir.path(),
        &["eval", "small.exp", "--model", run.to_str().unwrap()],
    );
    assert!(
        by_checkpoint.status.success(),
        "{}",
        common::stderr(&by_checkpoint)
    );
    assert!(common::stderr(&by_checkpoint).contains("checkpoint-"));
    assert_eq!(String::from_utf8(by_checkpoint.stdout).unwrap(), line);
    std::fs::rename(&elsewhere, run.join("net.safetensors")).unwrap();
    // Nothing written: no second run directory.
    assert_eq!(common::entries(&dir.path().join("runs/small")).len(), 1);

    let out = common::expr_in(
        dir.path(),
        &["predict", "small.exp", "--model", weights, "--to", "p.csv"],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("p.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("index,label,predicted,p0,p1,p2,p3"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 128, "every test example");
    let mut right = 0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], i.to_string());
        assert_eq!(row[1], (i % 4).to_string(), "the data's labels, in order");
        let p: Vec<f64> = row[3..].iter().map(|v| v.parse().unwrap()).collect();
        assert!(
            (p.iter().sum::<f64>() - 1.0).abs() < 1e-5,
            "softmax rows: {row:?}"
        );
        let best = (0..4).fold(0, |b, k| if p[k] > p[b] { k } else { b });
        assert_eq!(row[2], best.to_string(), "predicted = argmax: {row:?}");
        right += usize::from(row[1] == row[2]);
    }
    assert_eq!(
        format!("{:.4}", right as f64 / 128.0),
        value(&line, "test_accuracy")
    );
    // The same bits on a second run, and on standard output without `--to`.
    let again = common::expr_in(dir.path(), &["predict", "small.exp", "--model", weights]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), csv);

    // An image file: the first test example as a PNG, predicted as its CSV row says.
    let bytes = std::fs::read(dir.path().join("test-images-idx3-ubyte")).unwrap();
    let image = image::GrayImage::from_raw(8, 8, bytes[16..16 + 64].to_vec()).unwrap();
    image.save(dir.path().join("first.png")).unwrap();
    let out = common::expr_in(
        dir.path(),
        &[
            "predict",
            "small.exp",
            "--model",
            weights,
            "first.png",
            "--top",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let printed = String::from_utf8(out.stdout).unwrap();
    let p0: f64 = rows[0][3 + rows[0][2].parse::<usize>().unwrap()]
        .parse()
        .unwrap();
    assert!(
        printed.starts_with(&format!(
            "first.png: {} ({}: {p0:.4}, ",
            rows[0][2], rows[0][2]
        )),
        "{printed} vs {:?}",
        rows[0]
    );
}

#[test]
fn bad_weights_are_exit_2_with_the_tensor_named() {
    let dir = tempfile::tempdir().unwrap();
    let (file, run, _) = trained(dir.path());
    // The same experiment with a wider hidden layer: `dense.weight` no longer fits.
    let wider = std::fs::read_to_string(&file)
        .unwrap()
        .replace("dense(units = 16", "dense(units = 8");
    std::fs::write(dir.path().join("wider.exp"), wider).unwrap();
    let weights = run.join("net.safetensors");
    for command in ["eval", "predict"] {
        let out = common::expr_in(
            dir.path(),
            &[command, "wider.exp", "--model", weights.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = common::stderr(&out);
        assert!(
            err.contains("tensor `dense.weight`") && err.contains("needs [8, 64]"),
            "{command}: {err}"
        );
    }
    let out = common::expr_in(
        dir.path(),
        &["eval", "small.exp", "--model", "missing.safetensors"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("`missing.safetensors` does not exist"));
    let out = common::expr_in(dir.path(), &["eval", "small.exp", "--model", "other=x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("no model `other`"));
    let out = common::expr_in(
        dir.path(),
        &[
            "predict",
            "small.exp",
            "--model",
            weights.to_str().unwrap(),
            "--data",
            "nope",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("no data set `nope`"));
}
