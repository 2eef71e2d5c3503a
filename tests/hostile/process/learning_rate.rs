//! A learning rate set by a hook: a negative number written as the rate is refused by
//! `expr check`; a computed one is checked each time the hook runs, and a negative or
//! non-finite value stops the run with the hook's line, a `failed` record and exit 1,
//! instead of training by gradient ascent without a word. 0 is a rate (it freezes a model).

use std::path::Path;
use std::process::Output;

use expr::record::schema::Status;

use crate::common::{self, expr_in, stderr};

/// The small MLP (optimizer `opt`, 3 epochs of 16 steps) with `hook` appended: the
/// outcome of `expr check` and of `expr run`.
fn check_and_run(dir: &Path, hook: &str) -> (Output, Output) {
    let path = dir.join("lr.exp");
    std::fs::write(&path, common::mlp_experiment(dir, false, hook)).unwrap();
    let file = path.to_str().unwrap();
    let check = expr_in(dir, &["check", file]);
    let run = expr_in(dir, &["run", "--no-progress", file]);
    (check, run)
}

fn the_record(dir: &Path) -> expr::record::RunRecord {
    let mut all = expr::record::find_all(&dir.join("runs"));
    assert_eq!(all.len(), 1);
    all.remove(0).1.unwrap()
}

/// A computed rate that goes bad: check passes, the run stops with exit 1 at the hook.
fn stops_at_the_hook(hook: &str, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (check, run) = check_and_run(dir.path(), hook);
    assert!(check.status.success(), "{}", stderr(&check));
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("expr::run::learning_rate"), "{err}");
    assert!(err.contains(says), "{err}");
    // The hook's own line, under the file's name.
    let hook_line = hook.lines().find(|l| l.contains("lr =")).unwrap().trim();
    assert!(err.contains(hook_line), "{err}");
    assert!(err.contains("lr.exp:"), "{err}");
    assert!(err.contains("this hook"), "{err}");
    let record = the_record(dir.path());
    assert!(
        matches!(&record.status, Status::Failed { error } if error.contains(says)),
        "{:?}",
        record.status
    );
}

#[test]
fn a_negative_rate_written_in_a_hook_is_refused_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let (check, run) = check_and_run(dir.path(), "on epoch_start {\n  opt.lr = -1\n}\n");
    for out in [&check, &run] {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("a learning rate cannot be negative"), "{err}");
        assert!(err.contains("-1 would train by gradient ascent"), "{err}");
    }
    assert!(!dir.path().join("runs").exists(), "nothing ran");
}

#[test]
fn a_negative_rate_written_in_a_step_or_every_n_steps_hook_is_refused_by_check() {
    for hook in [
        "on step {\n  lr = -1e-3\n}\n",
        "on every 4 steps {\n  opt.lr = -(2e-3)\n}\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (check, _) = check_and_run(dir.path(), hook);
        let err = stderr(&check);
        assert_eq!(check.status.code(), Some(2), "{hook}: {err}");
        assert!(err.contains("would train by gradient ascent"), "{err}");
    }
}

#[test]
fn a_zero_rate_written_in_a_hook_freezes_the_model_and_trains_on() {
    let dir = tempfile::tempdir().unwrap();
    let (check, run) = check_and_run(dir.path(), "on epoch_start {\n  opt.lr = 0\n}\n");
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(matches!(the_record(dir.path()).status, Status::Completed));
}

#[test]
fn an_epoch_schedule_that_turns_negative_stops_the_run_at_the_hook() {
    // 1e-2, then -1e-2 in the second epoch.
    stops_at_the_hook(
        "on epoch_start {\n  opt.lr = 1e-2 * (1 - 2 * epoch)\n}\n",
        "a hook set `opt.lr` to -0.01",
    );
}

#[test]
fn a_step_schedule_that_turns_negative_stops_at_that_step() {
    stops_at_the_hook(
        "on step {\n  lr = 1e-3 * (2 - step)\n}\n",
        "stopped at epoch 1, step 4: a hook set `opt.lr` to -0.001",
    );
}

#[test]
fn a_non_finite_rate_stops_the_run() {
    // log(0) at the first epoch: minus infinity.
    stops_at_the_hook(
        "on epoch_start {\n  opt.lr = 1e-3 * log(epoch)\n}\n",
        "a hook set `opt.lr` to -inf",
    );
}

#[test]
fn a_nan_rate_from_every_n_steps_stops_the_run() {
    stops_at_the_hook(
        "on every 5 steps {\n  opt.lr = sqrt(0 - step)\n}\n",
        "a hook set `opt.lr` to NaN",
    );
}

#[test]
fn a_schedule_that_decays_to_zero_trains_to_the_end() {
    // Keras' CosineDecay with alpha = 0 ends at 0; that pauses updates, nothing more.
    let dir = tempfile::tempdir().unwrap();
    let (check, run) = check_and_run(dir.path(), "on step {\n  lr = cosine(1e-2, 20, 0)\n}\n");
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(matches!(the_record(dir.path()).status, Status::Completed));
}
