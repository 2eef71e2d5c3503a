//! Issue 18's command-line conventions: `--help`, `-h`, `--version`, `-V` and `expr help
//! COMMAND` are ours; everything coreutils `expr` evaluates still is coreutils'; completion
//! scripts and the manual page generate; `expr diff` exits as `diff` does.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

fn expr(args: &[&str]) -> Output {
    Command::new(common::expr_bin())
        .args(args)
        .output()
        .expect("runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fifty expressions a shell script may hand `expr`, with every exit status coreutils
/// gives (0 true or non-null, 1 null or zero, 2 invalid, 3 an error), including ones that
/// start with our own words or options followed by an operator: these stay coreutils'.
const COREUTILS_TABLE: &[&[&str]] = &[
    &["1", "+", "2"],
    &["10", "-", "3"],
    &["6", "*", "7"],
    &["7", "/", "2"],
    &["7", "%", "3"],
    &["-7", "/", "2"],
    &["--", "-5", "+", "1"],
    &["2", "+", "3", "*", "4"],
    &["(", "2", "+", "3", ")", "*", "4"],
    &["1", "=", "1"],
    &["1", "=", "2"],
    &["abc", "<", "abd"],
    &["10", "<", "9"],
    &["10", ">=", "10"],
    &["a", "!=", "b"],
    &["a", "==", "a"],
    &["0", "|", "5"],
    &["0", "&", "5"],
    &["3", "&", "4"],
    &["", "|", "0"],
    &["length", "abc"],
    &["length", ""],
    &["substr", "hello", "2", "3"],
    &["substr", "hello", "9", "1"],
    &["index", "abcdef", "dc"],
    &["index", "abc", "z"],
    &["match", "abc", "a.c"],
    &["match", "abc", "\\(b\\)"],
    &["abc", ":", "a\\(.\\)c"],
    &["hello", ":", "hel"],
    &["hello", ":", "x"],
    &["+", "run"],
    &["quote", "length"],
    &["0"],
    &["00"],
    &["-0"],
    &[""],
    &["text"],
    &["3", "/", "0"],
    &["3", "%", "0"],
    &["a", "+", "1"],
    &["1", "+"],
    &["(", "1"],
    &["run", "=", "run"],
    &["check", ":", "c\\(.*\\)"],
    &["diff", "+", "1"],
    &["help", "!=", "help"],
    &["man", "<", "woman"],
    &["-h", "=", "-h"],
    &["--help", "=", "x"],
    &["-V", ":", "-\\(V\\)"],
    &["99999999999999999999999", "+", "1"],
];

#[test]
fn fifty_coreutils_expressions_give_coreutils_answers() {
    assert!(COREUTILS_TABLE.len() >= 50);
    for args in COREUTILS_TABLE {
        let ours = expr(args);
        // As a script calls it, so that its messages start `expr:` as ours do.
        let theirs = Command::new("/usr/bin/expr")
            .arg0("expr")
            .args(*args)
            .output()
            .unwrap();
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "exit status of expr {args:?}"
        );
        assert_eq!(ours.stdout, theirs.stdout, "stdout of expr {args:?}");
        assert_eq!(ours.stderr, theirs.stderr, "stderr of expr {args:?}");
    }
    // The table covers every answer coreutils gives to what it can evaluate.
    let statuses: std::collections::BTreeSet<i32> = COREUTILS_TABLE
        .iter()
        .filter_map(|a| expr(a).status.code())
        .collect();
    assert_eq!(statuses.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
    // 3, coreutils' "an error occurred" (GNU's bignum `expr` hardly gives it), is what ours
    // exits with when no coreutils `expr` is left to run: here every one is on the trail.
    let out = Command::new(common::expr_bin())
        .args(["1", "+", "2"])
        .env("EXPR_COREUTILS_TRAIL", "/usr/bin/expr:/bin/expr")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[test]
fn help_is_ours_and_ends_with_the_coreutils_passthrough() {
    for flag in ["--help", "-h"] {
        let out = expr(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = stdout(&out);
        assert!(text.contains("Usage: expr"), "{flag}: {text}");
        for command in ["run", "check", "fmt", "diff", "completions", "man", "lsp"] {
            assert!(text.contains(&format!("  {command} ")), "{flag}: {command}");
        }
        let last = text.trim_end().lines().last().unwrap();
        assert!(
            last.contains("coreutils `expr`") && last.contains("expr 1 + 2"),
            "{flag}: {last}"
        );
    }
}

#[test]
fn version_names_expr_and_the_coreutils_expr_it_hands_off_to() {
    let gnu = Command::new("/usr/bin/expr")
        .arg("--version")
        .output()
        .unwrap();
    let gnu_line = stdout(&gnu).lines().next().unwrap().to_string();
    for flag in ["--version", "-V"] {
        let out = expr(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = stdout(&out);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            format!("expr {} (expr experiments)", env!("CARGO_PKG_VERSION"))
        );
        let second = lines.next().unwrap();
        assert!(second.contains(&gnu_line), "{flag}: {second}");
    }
}

#[test]
fn help_takes_a_command() {
    let out = expr(&["help", "run"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("Usage: expr run"), "{text}");
    assert!(text.contains("--resume"), "{text}");
    let out = expr(&["help", "rn"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no command `rn`") && err.contains("run"),
        "{err}"
    );
    // `help` alone is the long help.
    assert!(stdout(&expr(&["help"])).contains("Usage: expr"));
}

#[test]
fn completion_scripts_generate_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = expr(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = stdout(&out);
        assert!(
            text.contains("completions") && text.contains("compare"),
            "{shell}"
        );
    }
    // bash reads the script without a syntax error, and it completes our commands.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("expr.bash");
    std::fs::write(&script, expr(&["completions", "bash"]).stdout).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(expr ch); COMP_CWORD=1; _expr expr ch expr; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), "check", "{out:?}");
    let out = expr(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_manual_page_generates() {
    let out = expr(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains(".TH expr 1"), "{text}");
    assert!(
        text.contains("completions") && text.contains("compare"),
        "{text}"
    );
    for command in ["completions", "man", "lsp", "compare"] {
        let help = stdout(&expr(&[command, "--help"]));
        assert!(help.contains("Examples:"), "{command}: {help}");
    }
}

#[test]
fn diff_exits_0_when_the_same_1_when_different_2_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.exp");
    let b = dir.path().join("b.exp");
    let c = dir.path().join("c.exp");
    let text = std::fs::read_to_string("experiments/mnist.exp").unwrap();
    std::fs::write(&a, &text).unwrap();
    // Reformatted and commented: the same experiment.
    std::fs::write(
        &b,
        format!("// a comment\n{}", text.replace("seed = 42", "seed=42")),
    )
    .unwrap();
    std::fs::write(&c, text.replace("lr = 1e-3", "lr = 3e-4")).unwrap();
    let diff = |x: &std::path::Path, y: &std::path::Path| {
        expr(&["diff", x.to_str().unwrap(), y.to_str().unwrap()])
    };
    assert_eq!(diff(&a, &b).status.code(), Some(0));
    let out = diff(&a, &c);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("0.001 → 0.0003"), "{}", stdout(&out));
    let missing = dir.path().join("missing.exp");
    assert_eq!(diff(&a, &missing).status.code(), Some(2));
}
