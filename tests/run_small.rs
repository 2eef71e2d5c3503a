//! End-to-end runs on small generated data: training learns, runs are
//! deterministic, and the explicit step equals the sugared one bit for bit.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::sync::Arc;

use expr::run::{run, RunOptions};

#[test]
fn small_mlp_learns_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::run_text(dir.path(), &common::mlp_experiment(dir.path(), false, ""));
    let acc = common::metric(&r, "test_accuracy");
    assert_eq!(acc.len(), 3);
    assert!(acc[2] > 0.9, "test accuracy after 3 epochs: {acc:?}");
    let loss = common::metric(&r, "train_loss");
    assert!(loss[2] < loss[0], "loss falls: {loss:?}");
}

#[test]
fn same_seed_gives_bit_identical_runs() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::mlp_experiment(dir.path(), false, "");
    let a = common::run_text(dir.path(), &text);
    let b = common::run_text(dir.path(), &text);
    assert_eq!(a.history, b.history);
    assert_eq!(a.parameters, b.parameters);
    let other = common::run_text(dir.path(), &text.replace("seed = 7", "seed = 8"));
    assert_ne!(a.parameters, other.parameters, "the seed matters");
}

#[test]
fn explicit_step_equals_the_standard_step_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let sugared = common::run_text(dir.path(), &common::mlp_experiment(dir.path(), false, ""));
    let explicit = common::run_text(dir.path(), &common::mlp_experiment(dir.path(), true, ""));
    assert_eq!(sugared.history, explicit.history);
    assert_eq!(sugared.parameters, explicit.parameters);
}

#[test]
fn learning_rate_hooks_change_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let plain = common::run_text(dir.path(), &common::mlp_experiment(dir.path(), false, ""));
    let hooked = common::run_text(
        dir.path(),
        &common::mlp_experiment(
            dir.path(),
            false,
            "on step {\n  clip(norm = 1.0)\n}\n\non epoch_start {\n  opt.lr = 1e-2 * 0.5 ** epoch\n}\n",
        ),
    );
    assert_ne!(plain.parameters, hooked.parameters);
    assert!(common::metric(&hooked, "test_accuracy")[2] > 0.8);
}

#[test]
fn an_absurd_learning_rate_stops_with_the_step_and_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        common::mlp_experiment(dir.path(), false, "").replace("adam(lr = 1e-2)", "sgd(lr = 1e30)");
    let file = expr::syntax::parse_file(&text).unwrap();
    let exp = expr::check::check(&file).unwrap();
    let mut out = |_: &str| {};
    let err = run(
        &Arc::new(exp),
        &dir.path().join("runs"),
        &RunOptions::default(),
        &mut out,
    )
    .err()
    .expect("the run stops");
    let msg = err.to_string();
    assert!(msg.starts_with("stopped at epoch 1, step "), "{msg}");
    assert!(
        msg.contains("not finite") || msg.contains("NaN") || msg.contains("inf"),
        "{msg}"
    );
    assert!(
        msg.contains("last good checkpoint: ") || msg.ends_with("no checkpoint yet"),
        "{msg}"
    );
}

#[test]
fn on_nan_skip_goes_on_past_bad_steps() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::mlp_experiment(dir.path(), false, "")
        .replace("adam(lr = 1e-2)", "sgd(lr = 1e30)")
        .replace("  epochs = 3\n", "  epochs = 3\n  on_nan = skip\n");
    let r = common::run_text(dir.path(), &text);
    assert_eq!(common::metric(&r, "test_accuracy").len(), 3);
}
