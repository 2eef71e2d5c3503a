//! One behaviour per file: every `.exp` under `tests/cases/{syntax,check,valid}` is checked.
//! (`tests/cases/run/` holds whole experiments that other tests run, not cases.)
//!
//! Conventions for a case file `tests/cases/<stage>/<behaviour>.exp`:
//! - Its first line is a comment saying what it shows.
//! - `// error: L:C-L:C title` states one expected diagnostic: the span of its
//!   primary label (1-based line and column of its first character, then of one
//!   past its last; `L:C-C` when both are on one line) and its title, verbatim.
//!   The annotation may sit anywhere (by convention, right after the line at fault).
//! - The file's diagnostics must be exactly its annotations, in order: a missing
//!   one fails, and so does an extra one, so that one mistake gives one diagnostic.
//! - Cases under `valid/` have no annotation and must check clean; cases under
//!   `check/` and `syntax/` have at least one.
//! - The rendered diagnostics of every invalid case (no colour, 100 columns) are
//!   snapshotted in `tests/cases/snapshots/<stage>__<behaviour>.snap`.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::path::{Path, PathBuf};

use expr::frontend::{self, FrontendError};
use expr::report;
use expr::source::Source;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut out = Vec::new();
    for stage in ["syntax", "check", "valid"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(stage))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "exp"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// The `// error:` annotations of a case, as `L:C-L:C title` strings.
fn annotations(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_once("// error: ").map(|(_, rest)| rest.trim()))
        .map(normalise)
        .collect()
}

/// `L:C-C title` → `L:C-L:C title`.
fn normalise(annotation: &str) -> String {
    let (span, title) = annotation.split_once(' ').unwrap_or((annotation, ""));
    let (start, end) = span.split_once('-').unwrap_or((span, span));
    let line = start.split(':').next().unwrap_or("");
    let end = if end.contains(':') {
        end.to_string()
    } else {
        format!("{line}:{end}")
    };
    format!("{start}-{end} {title}")
}

/// The file's diagnostics in annotation form, and their rendering.
#[allow(clippy::result_large_err)]
fn diagnose(path: &Path, source: &Source) -> (Vec<String>, String) {
    let result =
        frontend::parse_source(source.clone()).and_then(|(source, file)| match expr::check::check(
            &file,
        ) {
            Ok(_) => Ok(()),
            Err(errors) => Err(FrontendError::Check(source, errors)),
        });
    let Err(err) = result else {
        return (Vec::new(), String::new());
    };
    let mut found = Vec::new();
    let mut rendered = String::new();
    for (d, src) in err.diagnostics() {
        let json = expr::check::json::json_diagnostic(&path.display().to_string(), d, src);
        found.push(format!(
            "{}:{}-{}:{} {}",
            json.line, json.col, json.end.line, json.end.col, json.title
        ));
        rendered.push_str(&report::render(d, src, false));
    }
    (found, rendered)
}

#[test]
fn every_case_gives_exactly_its_annotated_diagnostics() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut invalid = 0;
    for path in &cases {
        let rel = path.strip_prefix(root).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let source = Source::new(rel, text.as_str());
        let expected = annotations(&text);
        let stage = rel
            .parent()
            .and_then(Path::file_name)
            .unwrap()
            .to_string_lossy();
        if (stage == "valid") != expected.is_empty() {
            failures.push(format!(
                "{}: `valid/` cases and only they have no annotation",
                rel.display()
            ));
        }
        let (found, rendered) = diagnose(rel, &source);
        if found != expected {
            failures.push(format!(
                "{}:\n  expected {expected:#?}\n  found {found:#?}\n{rendered}",
                rel.display()
            ));
        }
        if !expected.is_empty() {
            invalid += 1;
            let name = format!("{stage}__{}", path.file_stem().unwrap().to_string_lossy());
            insta::with_settings!({
                snapshot_path => root.join("tests/cases/snapshots"),
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(name, rendered);
            });
        }
    }
    assert!(
        invalid * 2 >= cases.len(),
        "half the cases should be invalid"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn expr_bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_expr"))
}

#[test]
fn json_format_gives_places_codes_and_summaries_with_exit_codes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bad = root.join("tests/cases/check/unknown_layer.exp");
    let good = root.join("tests/cases/valid/minimal_mlp.exp");
    let out = expr_bin()
        .args(["check", "--format", "json"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files[0]["ok"], true);
    assert_eq!(files[0]["models"][0]["name"], "net");
    assert_eq!(files[0]["models"][0]["parameters"], 7850);
    let d = &files[1]["diagnostics"][0];
    assert_eq!(d["code"], "expr::check::unknown_name");
    assert_eq!(d["title"], "unknown layer `dens`");
    assert_eq!(d["label"], "not a known layer");
    assert_eq!(d["help"], "did you mean `dense`?");
    assert_eq!((d["line"].as_u64(), d["col"].as_u64()), (Some(11), Some(3)));
    assert_eq!(d["end"]["col"], 7);

    let out = expr_bin()
        .args(["check", "--format", "json"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = expr_bin()
        .args(["check", "--format", "json", "/nonexistent/x.exp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["files"][0]["read_error"].is_string());
    let out = expr_bin()
        .args(["check", "/nonexistent/x.exp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ten_megabytes_of_nonsense_are_rejected_fast() {
    let mut text = String::with_capacity(10 << 20);
    let mut x: u32 = 1;
    while text.len() < 10 << 20 {
        // A fixed xorshift stream of printable bytes, brackets included.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        text.push(char::from(b' ' + (x % 95) as u8));
    }
    let start = std::time::Instant::now();
    assert!(expr::syntax::parse_file(&text).is_err());
    let nested = format!(
        "experiment t {{ seed = {}1{} }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(expr::syntax::parse_file(&nested).is_err());
    assert!(
        start.elapsed() < std::time::Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
}
