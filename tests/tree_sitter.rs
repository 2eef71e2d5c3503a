//! `editors/tree-sitter-exp`: the tree-sitter grammar, generated and run by the tree-sitter
//! CLI, parses every shipped experiment, every valid test case and every run fixture
//! without an error node. Skips, saying so, without the CLI (`.ci/run` installs it with
//! `cargo install tree-sitter-cli`).
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `tree-sitter` binary: on PATH, or where `cargo install` puts it.
fn cli() -> Option<PathBuf> {
    let installed = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin/tree-sitter"));
    std::iter::once(PathBuf::from("tree-sitter"))
        .chain(installed)
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn exp_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "exp"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_tree_sitter_grammar_parses_every_experiment_and_valid_case() {
    let Some(cli) = cli() else {
        println!("SKIPPED: no `tree-sitter` CLI (cargo install tree-sitter-cli)");
        return;
    };
    // Generated into a copy: the test writes nothing into the repository.
    let grammar = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors/tree-sitter-exp");
    for file in ["grammar.js", "tree-sitter.json"] {
        std::fs::copy(source.join(file), grammar.path().join(file)).unwrap();
    }
    let generate = Command::new(&cli)
        .arg("generate")
        .current_dir(grammar.path())
        .output()
        .unwrap();
    assert!(
        generate.status.success(),
        "{}",
        String::from_utf8_lossy(&generate.stderr)
    );
    let files: Vec<PathBuf> = ["experiments", "tests/cases/valid", "tests/cases/run"]
        .iter()
        .flat_map(|d| exp_files(d))
        .collect();
    assert!(files.len() > 60, "{}", files.len());
    let cache = tempfile::tempdir().unwrap();
    let parse = Command::new(&cli)
        .args(["parse", "--quiet", "-p"])
        .arg(grammar.path())
        .args(&files)
        // Its compiled parser goes to the cache folder: a fresh one, not the user's.
        .env("XDG_CACHE_HOME", cache.path())
        .env("TREE_SITTER_DIR", cache.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&parse.stdout);
    assert!(
        parse.status.success(),
        "error nodes:\n{report}{}",
        String::from_utf8_lossy(&parse.stderr)
    );
    // A broken file must fail: the check above can fail.
    let broken = grammar.path().join("broken.exp");
    std::fs::write(&broken, "model m {\n  dense(units = )\n}\n").unwrap();
    let parse = Command::new(&cli)
        .args(["parse", "--quiet", "-p"])
        .arg(grammar.path())
        .arg(&broken)
        .env("XDG_CACHE_HOME", cache.path())
        .env("TREE_SITTER_DIR", cache.path())
        .output()
        .unwrap();
    assert!(!parse.status.success());
    assert!(String::from_utf8_lossy(&parse.stdout).contains("ERROR [1, 14]"));
}
