//! The coreutils passthrough: with copies of our binary ahead of coreutils on PATH, every
//! coreutils expression gives what `/usr/bin/expr` gives, and nothing loops. Each command
//! runs under a deadline, so a loop fails the test instead of hanging it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;

/// Runs `cmd`, killing it (and failing) if it has not finished in 20 s.
fn run_bounded(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("`{what}` did not finish in 20 s: the hand-off loops");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Copies of our binary in `dirs` (one file `expr` each), for PATH.
fn copies(root: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let dir = root.join(format!("bin{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(common::expr_bin(), dir.join("expr")).unwrap();
            dir
        })
        .collect()
}

fn path_of(dirs: &[&Path]) -> std::ffi::OsString {
    std::env::join_paths(dirs).unwrap()
}

/// Our binary, first on a PATH of `dirs`.
fn ours(dirs: &[&Path], args: &[&str]) -> Output {
    let mut cmd = Command::new(dirs[0].join("expr"));
    cmd.args(args)
        .env("PATH", path_of(dirs))
        .env_remove("EXPR_COREUTILS_TRAIL");
    run_bounded(cmd, &format!("expr {}", args.join(" ")))
}

fn gnu(args: &[&str]) -> Output {
    let mut cmd = Command::new("/usr/bin/expr");
    cmd.args(args);
    run_bounded(cmd, "/usr/bin/expr")
}

fn same_as_gnu(dirs: &[&Path], args: &[&str]) {
    let (o, g) = (ours(dirs, args), gnu(args));
    assert_eq!(
        o.status.code(),
        g.status.code(),
        "exit status of expr {args:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&g.stdout),
        "stdout of expr {args:?}"
    );
}

/// Fifty expressions: arithmetic, comparisons, logic, regex, keywords, errors (statuses 0,
/// 1 and 2), and ones that start with our subcommands' names.
const EXPRESSIONS: &[&[&str]] = &[
    &["1", "+", "2"],
    &["10", "-", "3"],
    &["6", "*", "7"],
    &["7", "/", "2"],
    &["7", "%", "3"],
    &["-5", "+", "2"],
    &["1", "-", "1"],
    &["0"],
    &[""],
    &["1", "+", "a"],
    &["3", "/", "0"],
    &["1", "<", "2"],
    &["2", "<", "1"],
    &["abc", "=", "abc"],
    &["abc", "!=", "abd"],
    &["10", ">", "9"],
    &["a", ">=", "b"],
    &["a", "<=", "b"],
    &["1", "==", "1"],
    &["0", "|", "5"],
    &["", "|", "0"],
    &["3", "&", "4"],
    &["0", "&", "4"],
    &["abc", ":", "a\\(.\\)c"],
    &["abc", ":", "x"],
    &["hello", ":", "h.*"],
    &["match", "abc", "a."],
    &["substr", "hello", "2", "3"],
    &["substr", "hello", "10", "1"],
    &["index", "abc", "c"],
    &["index", "abc", "z"],
    &["length", "abc"],
    &["length", ""],
    &["+", "length"],
    &["(", "1", "+", "2", ")", "*", "3"],
    &["1", "+"],
    &["(", "1"],
    &["1", "2"],
    &["a", ":", "\\("],
    &[],
    &["run", "=", "run"],
    &["check", ":", "c\\(.*\\)"],
    &["diff", "+", "1"],
    &["fmt", "!=", "fmt"],
    &["runs", "|", "0"],
    &["compare", "=", "compare"],
    &["help", ":", "h\\(.*\\)"],
    &["run", "<", "zzz"],
    &["check", "-", "1"],
    &["runs", ">", "check"],
];

#[test]
fn fifty_expressions_match_coreutils_with_two_copies_of_us_on_path() {
    assert_eq!(EXPRESSIONS.len(), 50);
    let root = tempfile::tempdir().unwrap();
    let bins = copies(root.path(), 2);
    let dirs = [bins[0].as_path(), bins[1].as_path(), Path::new("/usr/bin")];
    for args in EXPRESSIONS {
        same_as_gnu(&dirs, args);
    }
    assert_eq!(ours(&dirs, &["1", "+", "2"]).stdout, b"3\n");
}

#[test]
fn a_symlinked_copy_ahead_of_us_is_not_mistaken_for_coreutils() {
    let root = tempfile::tempdir().unwrap();
    let bins = copies(root.path(), 1);
    let link = root.path().join("linked");
    std::fs::create_dir(&link).unwrap();
    std::os::unix::fs::symlink(bins[0].join("expr"), link.join("expr")).unwrap();
    let dirs = [link.as_path(), bins[0].as_path(), Path::new("/usr/bin")];
    same_as_gnu(&dirs, &["length", "abcd"]);
    same_as_gnu(&dirs, &["run", "=", "run"]);
}

#[test]
fn another_version_of_us_on_path_is_passed_through_to_coreutils() {
    // Not byte-identical (another build): identity cannot tell, the trail must.
    let root = tempfile::tempdir().unwrap();
    let bins = copies(root.path(), 2);
    let other = bins[1].join("expr");
    let mut bytes = std::fs::read(&other).unwrap();
    bytes.extend_from_slice(b"another build");
    std::fs::write(&other, bytes).unwrap();
    let dirs = [bins[0].as_path(), bins[1].as_path(), Path::new("/usr/bin")];
    same_as_gnu(&dirs, &["2", "*", "21"]);
    same_as_gnu(&dirs, &["check", ":", "c\\(.*\\)"]);
}

#[test]
fn a_shell_wrapper_that_runs_us_is_skipped_on_the_second_pass() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let bins = copies(root.path(), 1);
    let wrap = root.path().join("wrap");
    std::fs::create_dir(&wrap).unwrap();
    let script = wrap.join("expr");
    let real = bins[0].join("expr");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", real.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dirs = [bins[0].as_path(), wrap.as_path(), Path::new("/usr/bin")];
    same_as_gnu(&dirs, &["substr", "passthrough", "5", "4"]);
    same_as_gnu(&dirs, &["1", "/", "0"]);
}

#[test]
fn with_no_coreutils_expr_the_hand_off_fails_clearly_with_status_3() {
    let root = tempfile::tempdir().unwrap();
    let bins = copies(root.path(), 2);
    let mut cmd = Command::new(bins[0].join("expr"));
    // /usr/bin and /bin are the fallbacks: listing them on the trail stands for their absence.
    cmd.args(["1", "+", "2"])
        .env("PATH", path_of(&[&bins[0], &bins[1]]))
        .env("EXPR_COREUTILS_TRAIL", "/usr/bin/expr:/bin/expr");
    let out = run_bounded(cmd, "expr 1 + 2 without coreutils");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no coreutils `expr` found"), "{err}");
    assert!(err.contains("install coreutils"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn subcommands_with_file_arguments_stay_ours() {
    let root = tempfile::tempdir().unwrap();
    let bins = copies(root.path(), 2);
    let dirs = [bins[0].as_path(), bins[1].as_path(), Path::new("/usr/bin")];
    let out = ours(&dirs, &["check", "experiments/mnist.exp"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Total params"));
    let missing = ours(&dirs, &["run", "--resume", "/nonexistent/run"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&missing.stderr).contains("syntax error"));
}
