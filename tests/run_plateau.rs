//! `reduce_on_plateau(...)` on small runs: the rate it gives is the one a hand-written
//! schedule gives for the same plateaus (the same bits of every weight), and each
//! reduction is said on the log. Its rule against Keras' numbers is in `src/run/plateau.rs`;
//! its state across kills in `tests/reliability.rs`.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

fn experiment(dir: &std::path::Path, epochs: usize, hook: &str) -> String {
    common::mlp_experiment(dir, false, &format!("\non epoch_start {{\n  {hook}\n}}"))
        .replace("epochs = 3", &format!("epochs = {epochs}"))
}

/// The test loss falls every epoch; watched as if it should rise (`mode = max`), epoch 1 is
/// the best and every later epoch a plateau of patience 1: the rate halves after epochs 2
/// and 3, which is `1e-2 * 0.5 ** max(0, epoch - 1)` at each epoch's start.
#[test]
fn the_rate_halves_after_each_plateau_as_a_hand_written_schedule_would() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "opt.lr = reduce_on_plateau(test_loss, 0.5, 1, mode = max, initial = 1e-2)";
    let ruled = common::run_text(dir.path(), &experiment(dir.path(), 4, rule));
    let loss = common::metric(&ruled, "test_loss");
    assert!(
        loss.windows(2).all(|w| w[1] < w[0]),
        "the loss falls: {loss:?}"
    );
    let hand = "opt.lr = 1e-2 * 0.5 ** max(0, epoch - 1)";
    let written = common::run_text(dir.path(), &experiment(dir.path(), 4, hand));
    assert_eq!(ruled.parameters, written.parameters);
    let said: Vec<&String> = ruled
        .record
        .log
        .iter()
        .filter(|l| l.contains("reduce_on_plateau"))
        .collect();
    assert_eq!(
        said,
        [
            "Epoch 2: reduce_on_plateau: `test_loss` has not improved for 1 epoch: 1.0000e-2 -> 5.0000e-3",
            "Epoch 3: reduce_on_plateau: `test_loss` has not improved for 1 epoch: 5.0000e-3 -> 2.5000e-3",
            "Epoch 4: reduce_on_plateau: `test_loss` has not improved for 1 epoch: 2.5000e-3 -> 1.2500e-3",
        ]
    );
    // Watched the right way round, the falling loss improves every epoch: no reduction,
    // and the rate is `initial` throughout, as a constant one.
    let right = "opt.lr = reduce_on_plateau(test_loss, 0.5, 1, initial = 1e-2)";
    let improving = common::run_text(dir.path(), &experiment(dir.path(), 4, right));
    let constant = common::run_text(dir.path(), &experiment(dir.path(), 4, "opt.lr = 1e-2"));
    assert_eq!(improving.parameters, constant.parameters);
    assert!(!improving
        .record
        .log
        .iter()
        .any(|l| l.contains("reduce_on_plateau")));
}

/// Two optimizers' rates from two rules, each with its own state: one reduces, the other
/// (watching the same metric the right way round) never does.
#[test]
fn each_call_is_a_rule_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let both = "opt.lr = reduce_on_plateau(test_loss, 0.5, 1, mode = max, initial = 1e-2) \
                * reduce_on_plateau(test_loss, 0.1, 1, initial = 1)";
    let ruled = common::run_text(dir.path(), &experiment(dir.path(), 3, both));
    let hand = "opt.lr = 1e-2 * 0.5 ** max(0, epoch - 1)";
    let written = common::run_text(dir.path(), &experiment(dir.path(), 3, hand));
    assert_eq!(ruled.parameters, written.parameters);
}
