//! One epoch of the shipped experiments/mnist.exp on the full MNIST, through
//! the binary, as a user runs it. Release builds only: a debug build of the
//! engine is far too slow for a full epoch.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::process::Command;

/// `Test Accuracy: 98.04%` → 98.04
fn last_test_accuracy(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .rev()
        .filter_map(|l| l.split("Test Accuracy: ").nth(1))
        .find_map(|s| s.trim_end_matches('%').trim().parse().ok())
}

/// Runs one epoch of experiments/mnist.exp through the binary, with `env` set, into `runs`;
/// returns its standard output after checking that it succeeded.
fn one_epoch(runs: &std::path::Path, env: &[(&str, &str)]) -> String {
    let out = Command::new(common::expr_bin())
        .envs(env.iter().copied())
        .args([
            "run",
            "experiments/mnist.exp",
            "--epochs",
            "1",
            "--no-progress",
            "--runs-dir",
        ])
        .arg(runs)
        .output()
        .expect("expr runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a full MNIST epoch needs a release build: cargo test --release"
)]
fn mnist_exp_trains_to_97_percent_in_one_epoch() {
    let runs = tempfile::tempdir().unwrap();
    let stdout = one_epoch(runs.path(), &[]);
    // The tutorial's own line, per epoch.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Epoch 1, Loss: "))
        .expect("epoch line");
    assert!(
        line.contains(", Accuracy: ") && line.contains(", Test Loss: "),
        "{line}"
    );
    let acc = last_test_accuracy(&stdout).expect("a test accuracy");
    assert!(acc >= 97.0, "test accuracy after one epoch: {acc}%");
    // The plot and the model are written into the run directory.
    let run_dir = std::fs::read_dir(runs.path().join("mnist"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(run_dir.join("accuracy.png").is_file());
    assert!(run_dir.join("classifier.safetensors").is_file());
}

/// The portable kernels (dfdx's matmul, the AVX2/SSE conv), which CPUs without AVX-512 run:
/// forced with `EXPR_PORTABLE`, the tutorial still learns, and two runs agree bit for bit.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a full MNIST epoch needs a release build: cargo test --release"
)]
fn the_portable_kernels_train_the_tutorial_too() {
    let runs = tempfile::tempdir().unwrap();
    let run = || {
        one_epoch(runs.path(), &[("EXPR_PORTABLE", "1")])
            .lines()
            .find(|l| l.starts_with("Epoch 1, "))
            .expect("epoch line")
            .to_string()
    };
    let first = run();
    let acc = last_test_accuracy(&first).expect("a test accuracy");
    assert!(acc >= 97.0, "test accuracy after one epoch: {acc}%");
    assert_eq!(first, run(), "two portable runs differ");
}
