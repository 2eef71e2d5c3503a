//! `train { stop = early_stopping(...) }` on small runs: the loop stops where Keras'
//! `EarlyStopping` would, puts back the best epoch's weights, and says so on the console and
//! in the record, with the standard step and with `step` blocks alike.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

/// `small_mlp` (standard step, or its `step` blocks) for `epochs`, with a `train` setting added.
fn experiment(dir: &std::path::Path, explicit_steps: bool, epochs: usize, setting: &str) -> String {
    let text = common::mlp_experiment(dir, explicit_steps, "")
        .replace("epochs = 3", &format!("epochs = {epochs}\n  {setting}"));
    assert!(text.contains(&format!("epochs = {epochs}")));
    text
}

/// The test loss falls epoch after epoch (the precondition below checks it). Watched as if
/// it should rise (`mode = max`), epoch 1 is the best and never beaten: with patience 2,
/// Keras' rule waits through epochs 2 and 3 and stops after epoch 3, and the weights put
/// back are epoch 1's, bit for bit those of a one-epoch run.
#[test]
fn a_curve_that_never_beats_its_first_epoch_stops_after_patience_and_restores_it() {
    for explicit_steps in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let rule = "stop = early_stopping(monitor = test_loss, mode = max, patience = 2)";
        let stopped = common::run_text(
            dir.path(),
            &experiment(dir.path(), explicit_steps, 10, rule),
        );
        let loss = common::metric(&stopped, "test_loss");
        assert_eq!(loss.len(), 3, "three epochs ran: {loss:?}");
        assert!(
            loss[1] < loss[0] && loss[2] < loss[0],
            "the loss falls: {loss:?}"
        );
        let one_epoch =
            common::run_text(dir.path(), &experiment(dir.path(), explicit_steps, 1, ""));
        assert_eq!(
            stopped.parameters, one_epoch.parameters,
            "epoch 1's weights"
        );
        let record = &stopped.record;
        let stopped = record.stopped.as_ref().unwrap();
        let s = stopped.watched.as_ref().unwrap();
        assert_eq!(
            (
                stopped.reason.as_str(),
                stopped.epoch,
                s.best_epoch,
                s.monitor.as_str(),
                s.restored_best
            ),
            ("early_stopping", 3, 1, "test_loss", true)
        );
        assert_eq!(s.best.to_bits(), loss[0].to_bits());
        assert!(record.log.iter().any(
            |l| l.starts_with("Epoch 3: early stopping: `test_loss` has not improved for 2 epochs")
        ));
        assert!(record
            .log
            .iter()
            .any(|l| l.starts_with("restored the weights of epoch 1")));
        // The weights hash in the record is of the restored weights.
        assert_eq!(record.weights_sha256, one_epoch.record.weights_sha256);
    }
}

/// Watched the right way round, the falling loss improves every epoch: the run goes to its
/// last epoch, and the record says so (the best is the last).
#[test]
fn an_improving_curve_runs_every_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "stop = early_stopping(monitor = test_loss, patience = 1)";
    let r = common::run_text(dir.path(), &experiment(dir.path(), false, 3, rule));
    let loss = common::metric(&r, "test_loss");
    assert!(
        loss[1] < loss[0] && loss[2] < loss[1],
        "the loss falls: {loss:?}"
    );
    let s = r.record.stopped.as_ref().unwrap();
    assert_eq!(
        (
            s.reason.as_str(),
            s.epoch,
            s.watched.as_ref().unwrap().best_epoch
        ),
        ("epochs", 3, 3)
    );
    let plain = common::run_text(dir.path(), &experiment(dir.path(), false, 3, ""));
    assert_eq!(r.parameters, plain.parameters);
}

/// `restore_best = false` keeps the last epoch's weights, as Keras does.
#[test]
fn without_restore_best_the_last_weights_stay() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "stop = early_stopping(monitor = test_loss, mode = max, patience = 2, restore_best = false)";
    let stopped = common::run_text(dir.path(), &experiment(dir.path(), false, 10, rule));
    let three = common::run_text(dir.path(), &experiment(dir.path(), false, 3, ""));
    assert_eq!(stopped.parameters, three.parameters);
    let s = stopped.record.stopped.as_ref().unwrap();
    assert!(!s.watched.as_ref().unwrap().restored_best);
}

/// `on improved(metric)` runs after each epoch whose metric beats every earlier one's
/// (Keras' `ModelCheckpoint(save_best_only = True)`): with the falling test loss, every
/// epoch for `auto` (a loss: lower is better), only the first for `mode = max`.
#[test]
fn on_improved_runs_when_the_metric_beats_its_best() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = "on improved(test_loss) {\n  log \"lower {test_loss:.6f}\"\n  save(net, to = \"lowest.safetensors\")\n}\n\non improved(test_loss, mode = max) {\n  log \"higher {test_loss:.6f}\"\n  save(net, to = \"highest.safetensors\")\n}\n\nafter {\n  save(net, to = \"net.safetensors\")\n}";
    let text = common::mlp_experiment(dir.path(), false, hooks);
    let r = common::run_text(dir.path(), &text);
    let loss = common::metric(&r, "test_loss");
    assert!(
        loss[1] < loss[0] && loss[2] < loss[1],
        "the loss falls: {loss:?}"
    );
    let lines: Vec<&String> = r
        .record
        .log
        .iter()
        .filter(|l| l.starts_with("lower") || l.starts_with("higher"))
        .collect();
    let expected = [
        format!("lower {:.6}", loss[0]),
        format!("higher {:.6}", loss[0]),
        format!("lower {:.6}", loss[1]),
        format!("lower {:.6}", loss[2]),
    ];
    assert_eq!(lines, expected.iter().collect::<Vec<_>>());
    // The lowest is the last epoch's model, the highest the first's.
    let file = |dir: &std::path::Path, name: &str| std::fs::read(dir.join(name)).unwrap();
    assert_eq!(
        file(&r.dir, "lowest.safetensors"),
        file(&r.dir, "net.safetensors")
    );
    let one_epoch = common::run_text(dir.path(), &text.replace("epochs = 3", "epochs = 1"));
    assert_eq!(
        file(&r.dir, "highest.safetensors"),
        file(&one_epoch.dir, "net.safetensors")
    );
    let artifacts: Vec<&str> = r.record.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        artifacts,
        [
            "metrics.csv",
            "tb",
            "lowest.safetensors",
            "highest.safetensors",
            "net.safetensors"
        ]
    );
}
