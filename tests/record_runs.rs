//! `expr runs` and `expr compare` over real recorded runs.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn expr(cwd: &Path, args: &[&str]) -> Output {
    Command::new(common::expr_bin())
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("expr runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two recorded runs of the small experiment: learning rates 1e-2 (the file's) and 1e-4.
fn two_runs() -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("small.exp"), common::mlp_experiment(d, false, "")).unwrap();
    ok(&expr(d, &["run", "small.exp", "--epochs", "2"]));
    ok(&expr(
        d,
        &["run", "small.exp", "--epochs", "2", "--set", "opt.lr=1e-4"],
    ));
    let dirs = expr::record::find_all(&d.join("runs"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    (dir, dirs)
}

#[test]
fn runs_lists_every_run_and_sorts_by_a_metric() {
    let (dir, dirs) = two_runs();
    let table = ok(&expr(dir.path(), &["runs"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for column in [
        "started",
        "experiment",
        "run",
        "commit",
        "parameters",
        "test_accuracy",
        "status",
    ] {
        assert!(lines[0].contains(column), "{table}");
    }
    let first_id = dirs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        lines[1].contains(&first_id),
        "chronological by default: {table}"
    );
    assert!(
        lines[2].contains("opt.lr=1e-4") && lines[2].ends_with("completed"),
        "{table}"
    );
    // The slow learning rate has the higher loss: lowest loss first with --reverse.
    let by_loss = ok(&expr(
        dir.path(),
        &["runs", "--sort", "train_loss", "--reverse"],
    ));
    assert!(
        !by_loss.lines().nth(1).unwrap().contains("opt.lr=1e-4"),
        "{by_loss}"
    );
    let by_loss = ok(&expr(
        dir.path(),
        &["runs", "runs/small", "--sort", "train_loss"],
    ));
    assert!(
        by_loss.lines().nth(1).unwrap().contains("opt.lr=1e-4"),
        "{by_loss}"
    );
    let bad = expr(dir.path(), &["runs", "--sort", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no run has a metric `nope`"));
}

#[test]
fn compare_shows_the_parameter_diff_metric_deltas_and_a_plot() {
    let (dir, dirs) = two_runs();
    let a = dirs[0].to_str().unwrap();
    let b = dirs[1].join("run.yaml");
    let out = ok(&expr(
        dir.path(),
        &["compare", a, b.to_str().unwrap(), "--plot", "cmp.png"],
    ));
    assert!(
        out.contains("r1 → r2:\n  ~ optimizer opt.lr: 0.01 → 0.0001\n"),
        "{out}"
    );
    let records: Vec<_> = dirs
        .iter()
        .map(|d| expr::record::load(d).unwrap())
        .collect();
    let (x, y) = (
        records[0].final_metrics["test_loss"],
        records[1].final_metrics["test_loss"],
    );
    let row = format!("test_loss       {x:.4}  {y:.4} ({:+.4})", y - x);
    assert!(out.contains(&row), "{row}\n{out}");
    let png = std::fs::read(dir.path().join("cmp.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}
