//! The command line: coreutils `expr` keeps working, our subcommands answer
//! with the right exit codes.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::process::Command;

fn expr(args: &[&str]) -> std::process::Output {
    Command::new(common::expr_bin())
        .args(args)
        .output()
        .expect("runs")
}

fn gnu(args: &[&str]) -> std::process::Output {
    Command::new("/usr/bin/expr")
        .args(args)
        .output()
        .expect("system expr runs")
}

#[test]
fn anything_else_goes_to_coreutils_expr_unchanged() {
    for args in [
        &["1", "+", "2"][..],
        &["length", "abc"],
        &["substr", "hello", "2", "3"],
        &["index", "abc", "c"],
        &["match", "abc", "a.c"],
        &["0"],
        &["3", "/", "0"],
        &[],
    ] {
        let ours = expr(args);
        let theirs = gnu(args);
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "exit code of expr {args:?}"
        );
        assert_eq!(ours.stdout, theirs.stdout, "stdout of expr {args:?}");
    }
    assert_eq!(expr(&["1", "+", "2"]).stdout, b"3\n");
    assert_eq!(expr(&["length", "abc"]).stdout, b"3\n");
}

#[test]
fn check_accepts_the_shipped_experiments_and_prints_the_summary() {
    for file in ["experiments/mnist.exp", "experiments/mnist_hooks.exp"] {
        let out = expr(&["check", file]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Total params: 347,146"), "{text}");
    }
}

#[test]
fn check_reports_errors_with_file_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.exp");
    let text = std::fs::read_to_string("experiments/mnist.exp")
        .unwrap()
        .replace("dense(units = 64", "dens(units = 64");
    let line = 1 + text.lines().position(|l| l.contains("dens(")).unwrap();
    let column = 1 + text.lines().nth(line - 1).unwrap().find("dens(").unwrap();
    std::fs::write(&bad, &text).unwrap();
    let out = expr(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown layer `dens`"), "{err}");
    assert!(err.contains("did you mean `dense`?"), "{err}");
    assert!(err.contains(&format!("bad.exp:{line}:{column}")), "{err}");
}

#[test]
fn run_with_a_missing_data_directory_says_where_it_looked() {
    let out = Command::new(common::expr_bin())
        .args(["run", "experiments/mnist.exp", "--epochs", "1"])
        .env("EXPR_DATA", "/nonexistent/data")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "the data is at fault");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/data"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
