//! Where an experiment may write and read (issue 20): outputs confined to the run
//! directory and checked by `expr check`; writes that never replace anything but a
//! regular file; reads of regular files only, sized before reading, never blocking;
//! `after` actions that all run and are all recorded. See `docs/security.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;

/// Runs `expr ARGS` in `dir`, killing it (and failing the test) if it takes more than
/// 60 s: a read that blocks on a FIFO must show up as a failure, not a hung suite.
fn expr_in(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(common::expr_bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`expr {}` blocked; stderr: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// The small MLP over generated data in `dir`, with `extra` appended, written to `dir/e.exp`.
fn experiment(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("e.exp");
    std::fs::write(&path, common::mlp_experiment(dir, false, extra)).unwrap();
    path
}

/// `expr check` on the small MLP with `extra` appended: exit code and stderr.
fn check(extra: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), extra);
    let out = expr_in(dir.path(), &["check", file.to_str().unwrap()]);
    (out.status.code(), stderr(&out))
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                names.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    names.sort();
    names
}

/// `to = "..."` checked, and writes that replace only regular files.
#[path = "paths/writes.rs"]
mod writes;

/// Experiments, records, models and data: regular files of bounded size.
#[path = "paths/reads.rs"]
mod reads;

/// Every `after` action runs and is recorded.
#[path = "paths/after.rs"]
mod after;
