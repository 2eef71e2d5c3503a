//! See `tests/hostile.rs`. Files that try to crash or confuse the front end, one file per
//! concern; each test fails on the code before issue 20.

/// Expressions nested past the limit (operator chains, signs, brackets, calls, fields):
/// a diagnostic from every command, never a stack overflow.
#[path = "input/deep.rs"]
mod deep;

/// Long lines, escape sequences, byte order marks and invalid UTF-8 in diagnostics.
#[path = "input/text.rs"]
mod text;

/// Numbers too large, exact seeds, one diagnostic per mistake, the thread cap.
#[path = "input/numbers.rs"]
mod numbers;

/// The command line: `expr check` with no files, `--set` values, the labels file named.
#[path = "input/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};
use std::process::Output;

/// A valid experiment that needs no data on disk (MNIST is only read by `run`).
pub const BASE: &str = include_str!("../../experiments/mnist.exp");

/// `BASE` with its learning rate replaced by `lr`.
pub fn with_lr(lr: &str) -> String {
    let at = BASE.find("adam(lr = 1e-3").expect("mnist.exp's optimizer");
    format!(
        "{}adam(lr = {lr}{}",
        &BASE[..at],
        &BASE[at + "adam(lr = 1e-3".len()..]
    )
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary with `args` in `dir`.
pub fn expr(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(crate::common::expr_bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit code, which must exist: a crash (abort, stack overflow) has none.
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or_else(|| {
        panic!(
            "killed by a signal ({:?}); stderr:\n{}",
            out.status,
            stderr(out)
        )
    })
}

/// Runs `f` on a thread with the 2 MiB stack Rust gives spawned threads, as a library user
/// (or a test) would: a deep tree must not need more.
pub fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}
