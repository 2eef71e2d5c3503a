//! Run records end to end through the binary: what `run.yaml` and `metrics.csv` hold,
//! overrides recorded, `--rerun` matching bit for bit, and Ctrl-C leaving a valid record.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion
#![allow(clippy::case_sensitive_file_extension_comparisons)] // we name the `.tmp` files, lowercase

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use expr::record::{self, RunRecord, Status};

fn expr(cwd: &Path, args: &[&str]) -> Output {
    Command::new(common::expr_bin())
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("expr runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small experiment file in `dir`, with a plot and a saved model.
fn write_experiment(dir: &Path) -> PathBuf {
    let after = "after {\n  plot(train_loss, test_loss, to = \"loss.png\")\n  save(net, to = \"net.safetensors\")\n}\n";
    let path = dir.join("small.exp");
    std::fs::write(&path, common::mlp_experiment(dir, false, after)).unwrap();
    path
}

fn run_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = record::find_all(&dir.join("runs"))
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    dirs.sort();
    dirs
}

fn only_record(dir: &Path) -> (PathBuf, RunRecord) {
    let dirs = run_dirs(dir);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let rec = record::load(&dirs[0]).expect("record loads");
    (dirs[0].clone(), rec)
}

#[test]
fn a_run_writes_a_complete_record_with_overrides_applied() {
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path());
    let out = expr(
        dir.path(),
        &[
            "run",
            "small.exp",
            "--set",
            "opt.lr=3e-3",
            "--set",
            "train.batch=16",
            "--epochs",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (run_dir, rec) = only_record(dir.path());

    assert_eq!(rec.status, Status::Completed);
    assert_eq!(rec.experiment, "small");
    assert_eq!((rec.seed, rec.epochs), (7, 2));
    assert_eq!(
        rec.overrides,
        ["opt.lr=3e-3", "train.batch=16", "train.epochs=2"]
    );
    let resolved = rec.source.resolved.as_deref().unwrap();
    assert!(resolved.contains("adam(lr = 3e-3)"), "{resolved}");
    assert!(resolved.contains("| batch(16)"), "{resolved}");
    assert!(resolved.contains("epochs = 2"), "{resolved}");
    let original = std::fs::read(dir.path().join("small.exp")).unwrap();
    assert_eq!(
        rec.source.sha256.as_deref(),
        Some(record::provenance::sha256_bytes(&original).as_str())
    );
    // Four distinct data files, hashed as on disk.
    assert_eq!(rec.data.len(), 4);
    let images = &rec.data[0];
    assert_eq!(
        images.sha256,
        record::provenance::sha256_file(Path::new(&images.path)).unwrap()
    );
    assert_eq!(rec.versions.dfdx, "0.13.0");
    assert!(rec.ended.is_some() && rec.started < *rec.ended.as_ref().unwrap());
    assert_eq!(
        rec.metrics,
        ["train_loss", "train_accuracy", "test_loss", "test_accuracy"]
    );
    assert!(rec.history.values().all(|h| h.len() == 2));
    assert_eq!(
        rec.final_metrics["test_accuracy"],
        rec.history["test_accuracy"][1]
    );
    assert_eq!(rec.weights_sha256.as_ref().map(String::len), Some(64));
    let kinds: Vec<(&str, &str)> = rec
        .artifacts
        .iter()
        .map(|a| (a.kind.as_str(), a.path.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("metrics", "metrics.csv"),
            ("tensorboard", "tb"),
            ("plot", "loss.png"),
            ("model", "net.safetensors")
        ]
    );
    for a in &rec.artifacts {
        assert!(run_dir.join(&a.path).exists(), "{} missing", a.path);
    }
    assert_eq!(
        rec.log.len(),
        4,
        "two epoch lines, plot and model: {:?}",
        rec.log
    );

    // metrics.csv: a header and one row per epoch, with the exact values of run.yaml.
    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,train_loss,train_accuracy,test_loss,test_accuracy,train_seconds,eval_seconds"
    );
    assert_eq!(lines.len(), 3);
    let row: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(row[0], "2");
    assert_eq!(
        row[4].parse::<f64>().unwrap(),
        rec.history["test_accuracy"][1]
    );
    // No temporary files left behind.
    let names: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn rerun_repeats_the_recorded_experiment_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path());
    let first = expr(
        dir.path(),
        &["run", "small.exp", "--set", "experiment.seed=11"],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let (run_dir, original) = only_record(dir.path());
    // The file changes afterwards: the rerun must not read it.
    std::fs::write(dir.path().join("small.exp"), "this is not an experiment").unwrap();
    let yaml = run_dir.join("run.yaml");
    let again = expr(dir.path(), &["run", "--rerun", yaml.to_str().unwrap()]);
    assert!(
        again.status.success(),
        "{}{}",
        stdout(&again),
        stderr(&again)
    );
    assert!(
        stdout(&again).contains(&format!(
            "rerun of {}: all 12 metric values and the trained parameters match bit for bit",
            original.id
        )),
        "{}",
        stdout(&again)
    );
    let dirs = run_dirs(dir.path());
    assert_eq!(dirs.len(), 2);
    let rerun = record::load(&dirs[1]).unwrap();
    assert_eq!(rerun.rerun_of.as_deref(), Some(original.id.as_str()));
    assert_eq!(rerun.seed, 11);
    assert_eq!(rerun.weights_sha256, original.weights_sha256);
}

#[test]
fn rerun_reports_numbers_that_differ() {
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path());
    assert!(expr(dir.path(), &["run", "small.exp", "--epochs", "1"])
        .status
        .success());
    let (run_dir, mut rec) = only_record(dir.path());
    // Doctor the record: one metric value off by one ulp.
    let v = rec.history.get_mut("test_loss").unwrap();
    v[0] = f64::from_bits(v[0].to_bits() + 1);
    record::writer::write_record(&run_dir.join("run.yaml"), &rec).unwrap();
    let out = expr(dir.path(), &["run", "--rerun", run_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("1 numbers differ"), "{text}");
    assert!(text.contains("`test_loss` after epoch 1"), "{text}");
}

#[test]
fn run_ids_are_unique_and_sort_by_start() {
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path());
    for _ in 0..2 {
        assert!(expr(dir.path(), &["run", "small.exp", "--epochs", "1"])
            .status
            .success());
    }
    let records: Vec<RunRecord> = run_dirs(dir.path())
        .iter()
        .map(|d| record::load(d).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert!(records[0].id < records[1].id);
    assert!(records[0].started <= records[1].started);
}

#[cfg(unix)]
#[test]
fn ctrl_c_leaves_a_valid_record_marked_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path());
    let child = Command::new(common::expr_bin())
        .current_dir(dir.path())
        .args(["run", "small.exp", "--epochs", "100000", "--no-progress"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until at least one epoch is on record.
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    loop {
        let done = run_dirs(dir.path())
            .first()
            .and_then(|d| record::load(d).ok())
            .is_some_and(|r| r.epochs_done() >= 1);
        if done {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no epoch recorded");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: signals our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted: run record saved in"));
    let (_, rec) = only_record(dir.path());
    assert_eq!(
        rec.status,
        Status::Interrupted {
            signal: "SIGINT".into()
        }
    );
    let done = rec.epochs_done();
    assert!((1..100_000).contains(&done), "{done} epochs");
    assert!(rec.ended.is_some());
}

#[test]
fn logged_steps_get_rows_in_metrics_csv_and_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let hook = "on every 5 steps {\n  log \"step {step}: {train_loss:.4f}\"\n}\n";
    std::fs::write(
        dir.path().join("small.exp"),
        common::mlp_experiment(dir.path(), false, hook),
    )
    .unwrap();
    let out = expr(dir.path(), &["run", "small.exp", "--no-progress"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (run_dir, rec) = only_record(dir.path());
    // 512 examples in batches of 32: 16 steps an epoch, 48 in 3 epochs, a row every 5.
    let steps: Vec<u64> = rec.steps.iter().map(|r| r.step).collect();
    assert_eq!(steps, (1..=9).map(|k| 5 * k).collect::<Vec<u64>>());
    assert_eq!(rec.steps[3].epoch, 2, "step 20 is in epoch 2");
    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("epoch,step,train_loss,"), "{csv}");
    assert_eq!(lines.len(), 1 + 9 + 3, "{csv}");
    // Epoch 1: steps 5, 10, 15, then the epoch row with an empty step cell.
    assert!(lines[1].starts_with("1,5,"), "{csv}");
    assert!(lines[4].starts_with("1,,"), "{csv}");
    let logged: f64 = lines[1].split(',').nth(2).unwrap().parse().unwrap();
    assert_eq!(logged, rec.steps[0].values[0]);
    assert!(logged.is_finite());
}

/// Grids drawn by `on epoch_end` are artifacts of the record, one per epoch's file, as
/// `after { }`'s are (so `expr report` shows them).
#[test]
fn grids_drawn_each_epoch_are_artifacts_of_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let text = common::mlp_experiment(
        dir.path(),
        false,
        "on epoch_end {\n  grid(x, count = 4, on = test, to = \"samples_{epoch}.png\")\n}",
    );
    let r = common::run_text(dir.path(), &text.replace("epochs = 3", "epochs = 2"));
    let grids: Vec<&str> = r
        .record
        .artifacts
        .iter()
        .filter(|a| a.kind == "grid" && a.written)
        .map(|a| a.path.as_str())
        .collect();
    assert_eq!(grids, ["samples_1.png", "samples_2.png"]);
}
