//! `train { ema = ema(net, decay) }` in whole runs: training is untouched, and the
//! evaluation steps see the average. (The formula against PyTorch is pinned in
//! `src/lower/average/tests.rs`; kills and resumes in `tests/reliability.rs`, whose
//! fixtures average their models.)
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use common::{metric, mlp_experiment, run_text};

const METRICS: [&str; 4] = ["train_loss", "train_accuracy", "test_loss", "test_accuracy"];

/// The small MLP, averaged with `decay` when given.
fn run(decay: Option<&str>) -> expr::run::RunResult {
    let dir = tempfile::tempdir().unwrap();
    let mut text = mlp_experiment(dir.path(), false, "");
    if let Some(decay) = decay {
        let with = format!("  epochs = 3\n  ema = ema(net, decay = {decay})\n");
        text = text.replace("  epochs = 3\n", &with);
        assert!(text.contains("ema = ema"));
    }
    run_text(dir.path(), &text)
}

fn bits(r: &expr::run::RunResult, name: &str) -> Vec<u64> {
    metric(r, name).iter().map(|v| v.to_bits()).collect()
}

#[test]
fn an_average_with_decay_zero_is_the_model_itself() {
    let plain = run(None);
    let averaged = run(Some("0"));
    for name in METRICS {
        assert_eq!(bits(&averaged, name), bits(&plain, name), "{name}");
    }
}

#[test]
fn evaluation_sees_the_average_and_training_does_not() {
    let plain = run(None);
    // An average that barely moves from the initial weights.
    let averaged = run(Some("0.9999999"));
    for name in ["train_loss", "train_accuracy"] {
        assert_eq!(bits(&averaged, name), bits(&plain, name), "{name}");
    }
    let (still, trained) = (metric(&averaged, "test_loss"), metric(&plain, "test_loss"));
    assert!(
        (still[2] - still[0]).abs() < 1e-4,
        "the average's test loss stays: {still:?}"
    );
    assert!(
        (trained[2] - trained[0]).abs() > 1e-2,
        "the trained model's test loss moves: {trained:?}"
    );
}
