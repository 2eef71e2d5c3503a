//! See `tests/hostile.rs`. Checkpoints and run records that were tampered with, data that
//! changed, a run directory used twice at once, and resume at awkward kill points. Each
//! test starts from a small run (`tests/cases/run/small_mlp.exp`: 3 epochs, a checkpoint
//! each, a plot and a saved model) that takes well under a second.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;
use expr::record::{self, RunRecord, Status};

#[path = "resume/checkpoints.rs"]
mod checkpoints;
#[path = "resume/directory.rs"]
mod directory;
#[path = "resume/records.rs"]
mod records;

const AFTER: &str =
    "after {\n  plot(train_loss, test_loss, to = \"loss.png\")\n  save(net, to = \"net.safetensors\")\n}\n";

/// `expr ARGS` in `cwd`.
fn expr(cwd: &Path, args: &[&str]) -> Output {
    Command::new(common::expr_bin())
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("expr runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The small experiment over generated data in `dir`, written to `dir/small.exp`.
fn experiment(dir: &Path) -> PathBuf {
    let path = dir.join("small.exp");
    std::fs::write(&path, common::mlp_experiment(dir, false, AFTER)).unwrap();
    path
}

/// Runs `file` to its end in `runs`; its run directory.
fn run_to_end(cwd: &Path, file: &Path, runs: &Path) -> PathBuf {
    let out = Command::new(common::expr_bin())
        .current_dir(cwd)
        .args(["run", "--no-progress", "--runs-dir"])
        .arg(runs)
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut dirs: Vec<PathBuf> = record::find_all(runs).into_iter().map(|(d, _)| d).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

/// `--resume RUN_DIR` (plus `extra` arguments) from `cwd`.
fn resume(cwd: &Path, run_dir: &Path, extra: &[&str]) -> Output {
    let dir = run_dir.display().to_string();
    let mut args = vec!["run", "--no-progress", "--resume", &dir];
    args.extend_from_slice(extra);
    expr(cwd, &args)
}

/// A finished run, and a copy of it made to look interrupted before its last epoch: the
/// newest checkpoint (after epoch 3), the model and the plot removed, the record marked
/// `interrupted`. Resuming the copy must end like the finished run. Returns (clean, copy).
fn clean_and_interrupted(dir: &Path) -> (PathBuf, PathBuf) {
    let file = experiment(dir);
    let clean = run_to_end(dir, &file, &dir.join("clean"));
    let copy = dir.join("copy");
    copy_dir(&clean, &copy);
    let newest = expr::run::checkpoint::list(&copy).pop().unwrap();
    std::fs::remove_file(newest).unwrap();
    std::fs::remove_file(copy.join("net.safetensors")).unwrap();
    std::fs::remove_file(copy.join("loss.png")).unwrap();
    edit_record(&copy, |r| {
        r.status = Status::Interrupted {
            signal: "SIGINT".into(),
        };
    });
    (clean, copy)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Rewrites the run record of `run_dir` after `edit`.
fn edit_record(run_dir: &Path, edit: impl FnOnce(&mut RunRecord)) {
    let path = run_dir.join(record::RECORD_FILE);
    let mut r = record::load(&path).unwrap();
    edit(&mut r);
    record::writer::write_record(&path, &r).unwrap();
}

/// The saved model's tensors, as bits.
fn weights(run_dir: &Path) -> Vec<(String, Vec<u32>)> {
    let (tensors, _) = expr::output::model_file::load_tensors(&run_dir.join("net.safetensors"))
        .expect("the model was saved");
    tensors
        .into_iter()
        .map(|t| (t.name, t.data.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

/// Asserts that `copy` finished exactly as `clean`: weights, history, final metrics.
fn assert_same_end(copy: &Path, clean: &Path) {
    assert_eq!(weights(copy), weights(clean));
    let a = record::load(copy).unwrap();
    let b = record::load(clean).unwrap();
    assert_eq!(a.status, Status::Completed);
    assert_eq!(a.history, b.history);
    assert_eq!(a.final_metrics, b.final_metrics);
    assert_eq!(a.weights_sha256, b.weights_sha256);
}

/// Every file of `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p.clone(), std::fs::read(&p).unwrap(), modified)
        })
        .collect();
    out.sort();
    out
}
