//! `expr diff` hands revisions to `git show`: a spec that looks like an option is refused
//! before git runs, and git is told where its options end, so no spec makes git write a file.

use std::path::Path;
use std::process::{Command, Output};

use crate::common;

/// A git repository with one commit holding `new.exp`.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(ok.status.success(), "{ok:?}");
    };
    git(&["init", "-q"]);
    std::fs::copy("experiments/mnist.exp", dir.path().join("new.exp")).unwrap();
    git(&["add", "new.exp"]);
    git(&["commit", "-qm", "one"]);
    dir
}

fn diff(dir: &Path, args: &[&str]) -> Output {
    Command::new(common::expr_bin())
        .arg("diff")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn refused(out: &Output, spec: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("`{spec}` looks like an option")),
        "{err}"
    );
}

#[test]
fn an_option_as_the_first_side_makes_git_write_nothing() {
    let dir = repo();
    let target = dir.path().join("written");
    let spec = format!("--output={}:x", target.display());
    let out = diff(dir.path(), &["--", &spec, "new.exp"]);
    refused(&out, &spec);
    assert!(!dir.path().join("written:x").exists());
}

#[test]
fn an_option_as_the_second_side_is_refused_too() {
    let dir = repo();
    let spec = format!("--output={}/b:HEAD", dir.path().display());
    let out = diff(dir.path(), &["--", "new.exp", &spec]);
    refused(&out, &spec);
    assert!(!dir.path().join("b:HEAD").exists());
}

#[test]
fn an_option_as_the_revision_is_refused() {
    let dir = repo();
    let rev = format!("--output={}/r", dir.path().display());
    let out = diff(dir.path(), &[&format!("--rev={rev}"), "new.exp"]);
    refused(&out, &rev);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2); // .git and new.exp
}

#[test]
fn an_option_for_textconv_is_refused() {
    let dir = repo();
    let spec = format!("--output={}/t:x", dir.path().display());
    let out = diff(dir.path(), &["--textconv", "--", &spec]);
    refused(&out, &spec);
    assert!(!dir.path().join("t:x").exists());
}

#[test]
fn a_file_whose_name_starts_with_a_dash_is_still_read_and_revisions_still_work() {
    let dir = repo();
    std::fs::copy("experiments/mnist.exp", dir.path().join("-old.exp")).unwrap();
    let out = diff(dir.path(), &["--", "-old.exp", "HEAD:new.exp"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = diff(dir.path(), &["--rev", "HEAD", "new.exp"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn git_itself_reads_an_option_like_spec_as_a_revision() {
    // The library's reader, below the command's refusal: `--end-of-options` guards it.
    // It runs git here, in the project's own repository.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("lib");
    let spec = format!("--output={}:x", target.display());
    let read = expr::diff::read_text(&spec);
    assert!(read.is_err());
    assert!(!dir.path().join("lib:x").exists());
}
