//! Where an experiment may write: every `to = "..."` of `save`, `plot` and `grid`
//! names a file inside the run directory, and no two outputs name the same one.
//!
//! An experiment may come from a stranger, so a path that would leave the run
//! directory (absolute, or through `..`), that names no file (`""`, `"."`, a
//! trailing `/`), or that would overwrite a file the run writes itself (the
//! record, `metrics.csv`, checkpoints) is a diagnostic here, before any training,
//! rather than a write that fails (or succeeds somewhere else) hours later. The
//! run checks again when it writes ([`normalise`] is called by
//! `output::confine`), so a plan that did not come through `check` cannot
//! escape either.

use super::error::CheckError;
use crate::source::Span;
use crate::syntax::ast::{Call, DeclKind, ExprKind, File, StmtKind};

/// Files the run itself writes at the top of its run directory (`record::RECORD_FILE`,
/// `record::METRICS_FILE`; `tests/hostile/paths.rs` checks they agree).
pub const RUN_FILES: &[&str] = &["run.yaml", "metrics.csv"];
/// Checkpoints are `checkpoint-<step>.safetensors` (`run::checkpoint`).
pub const CHECKPOINT_PREFIX: &str = "checkpoint-";
pub const CHECKPOINT_SUFFIX: &str = ".safetensors";

/// Why an output path cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    Empty,
    Absolute,
    ParentDir,
    /// `.`, `a/..`-free paths that end in `/`: no file name.
    NotAFile,
    /// The run writes a file of this name itself (the words say which).
    RunFile(&'static str),
}

/// `path` relative to the run directory with `.` and empty components dropped
/// (`a/./b` and `a//b` are `a/b`), or why it cannot be an output. `{epoch}` in a
/// grid's path is checked as the file name it becomes.
///
/// # Errors
/// The [`PathProblem`] of the path.
pub fn normalise(path: &str) -> Result<String, PathProblem> {
    if path.is_empty() {
        return Err(PathProblem::Empty);
    }
    if std::path::Path::new(path).has_root() || path.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(PathProblem::ParentDir),
            _ => parts.push(part),
        }
    }
    if parts.is_empty() || path.ends_with('/') || path.ends_with("/.") {
        return Err(PathProblem::NotAFile);
    }
    let first = parts[0].replace("{epoch}", "1");
    if let Some(words) = run_file(&first) {
        return Err(PathProblem::RunFile(words));
    }
    Ok(parts.join("/"))
}

/// What the run keeps at the top of its directory under `name`, if anything.
fn run_file(name: &str) -> Option<&'static str> {
    match name {
        "run.yaml" => Some("the run record"),
        "metrics.csv" => Some("the metrics table"),
        _ if name.starts_with(CHECKPOINT_PREFIX) && name.ends_with(CHECKPOINT_SUFFIX) => {
            Some("a checkpoint's name")
        }
        // `.NAME.PID.N.tmp` temporaries (removed on `--resume`) and any lock file.
        _ if name.starts_with('.') => Some("a hidden name, kept for the run's own files"),
        _ => None,
    }
}

/// One output of the experiment: the normalised path and the span of its string.
struct Output {
    path: String,
    span: Span,
}

/// Checks every output path of `file`: each on its own, then every pair.
pub fn check_output_paths(file: &File, errors: &mut Vec<CheckError>) {
    let mut outputs: Vec<Output> = Vec::new();
    for decl in &file.decls {
        let (DeclKind::Hook { body, .. } | DeclKind::Before { body } | DeclKind::After { body }) =
            &decl.kind
        else {
            continue;
        };
        for stmt in body {
            let StmtKind::Call(call) = &stmt.kind else {
                continue;
            };
            let Some((text, span)) = output_string(call) else {
                continue;
            };
            match normalise(text) {
                Ok(path) => {
                    if let Some(e) = clash(&outputs, &path, span) {
                        errors.push(e);
                    }
                    outputs.push(Output { path, span });
                }
                Err(problem) => errors.push(diagnostic(text, &problem, span)),
            }
        }
    }
}

/// The `to` string of a `save`, `plot` or `grid` call, with its span.
fn output_string(call: &Call) -> Option<(&str, Span)> {
    let arg = match call.name.name.as_str() {
        // `save(net, "m.safetensors")` passes `to` by position too.
        "save" => call.arg(1, "to"),
        "plot" | "grid" => call
            .args
            .iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == "to")),
        _ => None,
    }?;
    match &arg.value.kind {
        ExprKind::Str(s) => Some((&s.value, arg.value.span)),
        _ => None,
    }
}

/// A diagnostic when `path` is written by an earlier output too, or one of them
/// needs the other as a folder.
fn clash(outputs: &[Output], path: &str, span: Span) -> Option<CheckError> {
    let inside = |outer: &str, inner: &str| {
        inner.len() > outer.len()
            && inner.starts_with(outer)
            && inner[outer.len()..].starts_with('/')
    };
    let first = outputs
        .iter()
        .find(|o| o.path == path || inside(&o.path, path) || inside(path, &o.path))?;
    let (title, help) = if first.path == path {
        (
            format!("two outputs are written to `{path}`"),
            "give each output its own path: the later one would overwrite the first",
        )
    } else {
        (
            format!("`{}` and `{path}` cannot both be written", first.path),
            "one of them needs the other as a folder: rename one",
        )
    };
    Some(
        error(title, "written again here", span)
            .with_related(first.span, "first written here")
            .with_help(help),
    )
}

fn diagnostic(text: &str, problem: &PathProblem, span: Span) -> CheckError {
    let example = "e.g. `to = \"model.safetensors\"` or `to = \"plots/loss.png\"`";
    match problem {
        PathProblem::Empty => error("the output path is empty".into(), "no file name", span)
            .with_help(format!("name a file inside the run directory, {example}")),
        PathProblem::Absolute => error(
            format!("output path `{text}` is absolute"),
            "outside the run directory",
            span,
        )
        .with_help(format!(
            "outputs are written inside the run directory: give a relative path, {example}"
        )),
        PathProblem::ParentDir => error(
            format!("output path `{text}` leaves the run directory"),
            "`..` is not allowed in an output path",
            span,
        )
        .with_help(format!(
            "outputs are written inside the run directory: give a path without `..`, {example}"
        )),
        PathProblem::NotAFile => error(
            format!("output path `{text}` does not name a file"),
            "no file name",
            span,
        )
        .with_help(format!("end the path with a file name, {example}")),
        PathProblem::RunFile(words) => error(
            format!("output path `{text}` is {words} in the run directory"),
            "the run writes this file itself",
            span,
        )
        .with_help(
            "choose another name: the run directory keeps `run.yaml`, `metrics.csv`, \
             `checkpoint-*.safetensors` and hidden files for itself",
        ),
    }
}

fn error(title: String, label: &str, span: Span) -> CheckError {
    CheckError {
        code: "output_path",
        title,
        label: label.to_string(),
        span,
        help: None,
        related: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_inside_the_run_directory() {
        assert_eq!(normalise("a/./b.png").unwrap(), "a/b.png");
        assert_eq!(normalise("./a//b.png").unwrap(), "a/b.png");
        assert_eq!(
            normalise("samples/epoch_{epoch}.png").unwrap(),
            "samples/epoch_{epoch}.png"
        );
        assert_eq!(normalise("plots/run.yaml").unwrap(), "plots/run.yaml");
    }

    #[test]
    fn paths_that_leave_or_name_no_file_are_refused() {
        assert_eq!(normalise(""), Err(PathProblem::Empty));
        assert_eq!(normalise("/etc/x"), Err(PathProblem::Absolute));
        assert_eq!(normalise("../x"), Err(PathProblem::ParentDir));
        assert_eq!(normalise("a/../../x"), Err(PathProblem::ParentDir));
        assert_eq!(normalise("a/.."), Err(PathProblem::ParentDir));
        assert_eq!(normalise("."), Err(PathProblem::NotAFile));
        assert_eq!(normalise("a/"), Err(PathProblem::NotAFile));
        assert_eq!(normalise("a/."), Err(PathProblem::NotAFile));
        assert_eq!(normalise("//"), Err(PathProblem::Absolute));
    }

    #[test]
    fn the_run_s_own_files_are_refused() {
        for name in [
            "run.yaml",
            "./metrics.csv",
            "checkpoint-{epoch}.safetensors",
            ".x.1.2.tmp",
        ] {
            assert!(
                matches!(normalise(name), Err(PathProblem::RunFile(_))),
                "{name}"
            );
        }
        assert!(matches!(
            normalise("run.yaml/x.png"),
            Err(PathProblem::RunFile(_))
        ));
    }
}
