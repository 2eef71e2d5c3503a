//! One behaviour per file: every `.exp` under `tests/cases/` is checked.
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
        .map(|a| normalise(a))
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
