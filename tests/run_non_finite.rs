//! `train { on_nan, max_time }`: what a run does after a non-finite step, and how it stops
//! when its time is up. The non-finite steps are made on purpose: a learning-rate hook
//! raises the rate to 1e38 for one step, which throws the weights far enough that the next
//! step's loss overflows.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::sync::Arc;

use expr::run::{run, RunOptions};

/// The small MLP (16 steps an epoch, 3 epochs) with `settings` added to `train { }` and a
/// rate of 1e38 at the training step `spike` (counted from 0; `None` for every step).
fn spiked(dir: &std::path::Path, settings: &str, spike: Option<u64>) -> String {
    let rate = match spike {
        Some(s) => format!(
            "opt.lr = 1e-2 + 1e38 * max(0, min(step - {}, {} - step))",
            s - 1,
            s + 1
        ),
        None => "opt.lr = 1e38".into(),
    };
    common::mlp_experiment(dir, false, &format!("on step {{\n  {rate}\n}}\n"))
        .replace("  epochs = 3\n", &format!("  epochs = 3\n{settings}"))
}

/// Runs `text` to its end or its error, keeping the lines it logged.
fn run_logged(
    dir: &std::path::Path,
    text: &str,
) -> (
    Result<expr::run::RunResult, expr::run::RunError>,
    Vec<String>,
) {
    let file = expr::syntax::parse_file(text).unwrap();
    let exp = expr::check::check(&file).unwrap();
    let mut lines = Vec::new();
    let mut out = |l: &str| lines.push(l.to_string());
    let result = run(
        &Arc::new(exp),
        &dir.join("runs"),
        &RunOptions::default(),
        &mut out,
    );
    (result, lines)
}

/// `restore_last` puts back the weights of the last checkpoint (step 16, with a checkpoint
/// every 8 steps) when the step after the spike overflows, and the run learns on; under
/// `skip_batch` the thrown weights stay, and every later step is skipped.
#[test]
fn restore_last_goes_back_to_the_last_checkpoint_and_the_run_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let restore = spiked(
        dir.path(),
        "  on_nan = restore_last\n  checkpoint_steps = 8\n",
        Some(20),
    );
    let (r, lines) = run_logged(dir.path(), &restore);
    let r = r.unwrap();
    let restored: Vec<&String> = lines.iter().filter(|l| l.contains("restored")).collect();
    assert_eq!(restored.len(), 1, "{lines:?}");
    assert!(
        restored[0].starts_with("Epoch 2, step 22: ")
            && restored[0].ends_with("; restored the weights of step 16 (1 of 3)"),
        "{restored:?}"
    );
    assert_eq!(r.record.non_finite.restored, 1);
    assert_eq!(r.record.non_finite.skipped, 0);
    let acc = common::metric(&r, "test_accuracy");
    assert!(acc[2] > 0.9, "it learns on: {acc:?}");

    let skip = spiked(
        dir.path(),
        "  on_nan = skip_batch\n  checkpoint_steps = 8\n",
        Some(20),
    );
    let (s, lines) = run_logged(dir.path(), &skip);
    let s = s.unwrap();
    assert!(s.record.non_finite.skipped > 20, "{lines:?}");
    assert_eq!(s.record.non_finite.restored, 0);
    assert!(lines.iter().any(|l| l.ends_with("; skipped the update")));
    assert!(common::metric(&s, "test_accuracy")[2] < acc[2]);
}

/// A step that is non-finite again after every restore stops the run once it has gone
/// back to the same weights three times.
#[test]
fn restore_last_stops_after_three_restores_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let text = spiked(dir.path(), "  on_nan = restore_last\n", None);
    let (r, lines) = run_logged(dir.path(), &text);
    let msg = r.err().expect("the run stops").to_string();
    assert!(
        msg.contains("after going back to the weights of step 0 3 times"),
        "{msg}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("restored the weights"))
            .count(),
        3,
        "{lines:?}"
    );
}

/// `max_time` stops after the step in which the time ran out: with a nanosecond, the
/// first. The run is complete, `after { }` saves its model, the record says why it
/// stopped, and a checkpoint holds its place and its time.
#[test]
fn max_time_stops_after_the_step_that_runs_out_of_time() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::mlp_experiment(
        dir.path(),
        false,
        "after {\n  save(net, to = \"net.safetensors\")\n}\n",
    )
    .replace("  epochs = 3\n", "  epochs = 3\n  max_time = \"1ns\"\n");
    let (r, lines) = run_logged(dir.path(), &text);
    let r = r.unwrap();
    let stopped = r.record.stopped.as_ref().unwrap();
    assert_eq!(
        (stopped.reason.as_str(), stopped.epoch, stopped.step),
        ("max_time", 1, Some(1))
    );
    assert!(stopped.watched.is_none());
    assert!(lines
        .iter()
        .any(|l| l == "Epoch 1, step 1: stopping: `max_time` (1ns) has passed"));
    assert!(r.history.iter().all(Vec::is_empty), "no epoch ended");
    assert!(r.dir.join("net.safetensors").exists());
    let checkpoints = expr::run::checkpoint::list(&r.dir);
    let last = expr::run::checkpoint::read(checkpoints.last().unwrap()).unwrap();
    assert_eq!(
        (last.position.global_step, last.position.next_batch),
        (1, 1)
    );
    assert!(last.position.elapsed > 0.0);
}

/// Time a run does not use changes nothing: the same bits as without `max_time`.
#[test]
fn max_time_that_is_not_reached_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plain = common::mlp_experiment(dir.path(), false, "");
    let timed = plain.replace("  epochs = 3\n", "  epochs = 3\n  max_time = \"1h\"\n");
    let a = common::run_text(dir.path(), &plain);
    let b = common::run_text(dir.path(), &timed);
    assert_eq!(a.parameters, b.parameters);
    assert_eq!(a.history, b.history);
    assert!(b.record.stopped.is_none());
}
