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

use std::collections::HashMap;

use super::error::CheckError;
use crate::source::Span;
use crate::syntax::ast::{Call, DeclKind, ExprKind, File, StmtKind};

/// Files the run itself writes at the top of its run directory (`record::RECORD_FILE`,
/// `record::METRICS_FILE`, TensorBoard's folder `output::tensorboard::DIR`, the confusion
/// matrices' `output::confusion::DIR`; `tests/hostile/paths.rs` checks they agree).
pub const RUN_FILES: &[&str] = &["run.yaml", "metrics.csv", "tb", "confusion"];
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
        "tb" => Some("the folder of TensorBoard's events"),
        "confusion" => Some("the folder of the confusion matrices"),
        _ if name.starts_with(CHECKPOINT_PREFIX) && name.ends_with(CHECKPOINT_SUFFIX) => {
            Some("a checkpoint's name")
        }
        // `.NAME.PID.N.tmp` temporaries (removed on `--resume`) and any lock file.
        _ if name.starts_with('.') => Some("a hidden name, kept for the run's own files"),
        _ => None,
    }
}

/// The outputs seen so far, indexed so that each new one is compared in about
/// constant time: a file of 25,000 `save` calls checks in a blink, not minutes.
#[derive(Default)]
struct Outputs {
    /// Each path, with the span of its first output.
    files: HashMap<String, Span>,
    /// Every folder some output needs (`a` and `a/b` for `a/b/c.png`).
    folders: HashMap<String, Span>,
    /// Grid paths with `{epoch}`, and the others: compared pairwise, within a budget.
    templates: Vec<(String, Span)>,
    literals: Vec<(String, Span)>,
    /// Template comparisons left; past it only exact clashes are reported.
    budget: usize,
}

/// At most this many `{epoch}` template comparisons (well under a second).
const TEMPLATE_BUDGET: usize = 1_000_000;

impl Outputs {
    /// A diagnostic if `path` clashes with an earlier output; then remembers it.
    fn add(&mut self, path: &str, span: Span) -> Option<CheckError> {
        let clash = self.clash(path);
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            self.folders.entry(parts[..i].join("/")).or_insert(span);
        }
        if path.contains("{epoch}") {
            self.templates.push((path.to_string(), span));
        } else {
            self.literals.push((path.to_string(), span));
        }
        self.files.entry(path.to_string()).or_insert(span);
        let (first, same) = clash?;
        let (title, help) = if same {
            (
                format!("two outputs are written to `{path}`"),
                "give each output its own path: the later one would overwrite the first",
            )
        } else {
            (
                format!("`{path}` clashes with another output's path"),
                "one of them needs the other as a folder: rename one",
            )
        };
        Some(
            error(title, "written again here", span)
                .with_related(first, "first written here")
                .with_help(help),
        )
    }

    /// The span of an earlier output `path` clashes with, and whether it is the same file.
    fn clash(&mut self, path: &str) -> Option<(Span, bool)> {
        if let Some(&first) = self.files.get(path) {
            return Some((first, true));
        }
        if let Some(&first) = self.folders.get(path) {
            return Some((first, false));
        }
        let mut folder = String::new();
        for part in path.split('/') {
            if let Some(&first) = self.files.get(&folder) {
                return Some((first, false));
            }
            if !folder.is_empty() {
                folder.push('/');
            }
            folder.push_str(part);
        }
        let others = if path.contains("{epoch}") {
            &self.literals
        } else {
            &self.templates
        };
        for (other, first) in others {
            if self.budget == 0 {
                break;
            }
            self.budget -= 1;
            if fills(other, path) || fills(path, other) {
                return Some((*first, true));
            }
        }
        None
    }
}

/// Checks every output path of `file`: each on its own, then every pair.
pub fn check_output_paths(file: &File, errors: &mut Vec<CheckError>) {
    let mut outputs = Outputs {
        budget: TEMPLATE_BUDGET,
        ..Outputs::default()
    };
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
                Ok(path) if call.name.name == "save" && !is_safetensors(&path) => {
                    errors.push(not_safetensors(text, span));
                }
                Ok(path) => errors.extend(outputs.add(&path, span)),
                Err(problem) => errors.push(diagnostic(text, &problem, span)),
            }
        }
    }
}

/// Whether a model file's name says what `save` writes: safetensors.
fn is_safetensors(path: &str) -> bool {
    std::path::Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
}

/// `save` writes safetensors only: a file named `model.onnx` or `model.pt` would hold
/// another format than its name says, and a runtime reading it would fail far from here.
/// ONNX files come from the run's model files afterwards (`expr export`), which needs no
/// ONNX at training time.
fn not_safetensors(text: &str, span: Span) -> CheckError {
    error(
        format!("`save` writes safetensors, but `{text}` names another format"),
        "not a `.safetensors` file",
        span,
    )
    .with_help(
        "name the file `.safetensors` (PyTorch reads it with `safetensors.torch.load_file`); \
         for ONNX, `expr export RUN_DIR --format onnx` converts the saved file after the run",
    )
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

/// Whether a grid's `template` becomes `literal` at some epoch (`g_{epoch}.png` and
/// `g_3.png`). Every `{epoch}` is the same number, so the first one's digits in
/// `literal` fix it: a few candidates, each checked by one substitution.
fn fills(template: &str, literal: &str) -> bool {
    let Some((head, _)) = template.split_once("{epoch}") else {
        return false;
    };
    let Some(rest) = literal.strip_prefix(head) else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (1..=digits.min(20)).any(|n| template.replace("{epoch}", &rest[..n]) == literal)
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
            "choose another name: the run directory keeps `run.yaml`, `metrics.csv`, `tb/`, `confusion/`, \
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
    fn a_grid_template_matches_the_files_it_becomes() {
        assert!(fills("g/{epoch}.png", "g/12.png"));
        assert!(fills("e{epoch}_{epoch}.png", "e12_12.png"));
        assert!(!fills("e{epoch}_{epoch}.png", "e1_2.png"));
        assert!(!fills("g/{epoch}.png", "g/.png"));
        assert!(!fills("g/{epoch}.png", "g/x.png"));
        assert!(!fills("g/{epoch}.png", "g/{epoch}.png"));
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
