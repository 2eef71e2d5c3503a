//! `--set PATH=VALUE`: changing an experiment from the command line without editing the file.
//!
//! Overrides are applied to the text, before checking: each one replaces the value at its path
//! (or adds the setting or argument where the file leaves it out), and the result is an
//! ordinary `.exp` text. So check checks the text that will run, the run record stores that
//! text, and `--rerun` runs exactly it. A diagnostic inside a value is shown as the command
//! line's (`[--set opt.lr=:1:1]`, see `SetValue`), not inside the file as if written there.
//!
//! Paths (see docs/git.md):
//! - `experiment.seed`, `experiment.threads` (or `<experiment name>.seed`)
//! - `train.epochs` and the other `train { }` settings
//! - `<optimizer>.<param>`: `opt.lr`; `optimizer.lr` when the file has one optimizer
//! - `<loss>.<param>`: `xent.from_logits`; `loss.<param>` when the file has one loss
//! - `<data>.<transform>.<param>`, and `<data>.<transform>` for its first parameter:
//!   `train.batch=128`, `train.shuffle.buffer=1000`, `test.mnist.split=test`
//! - `<model>.<layer>.<param>`, layers named as in the summary: `net.dense.units=256`,
//!   `net.dense_1.activation=relu`
//!
//! A transform that appears twice in a pipeline is `scale`, then `scale_1`.

mod load;
mod paths;

use crate::source::{Source, Span};
use crate::syntax::{self, ast};

pub use load::{load_file, load_recorded, load_text, LoadError, Loaded, Recorded, SourceError};
pub use paths::{targets, Place, Target};

/// One `--set` argument, split.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub path: String,
    pub value: String,
}

impl Override {
    /// Splits `PATH=VALUE` at the first `=`.
    pub fn parse(arg: &str) -> Result<Self, Box<OverrideFailure>> {
        match arg.split_once('=') {
            Some((path, value)) if !path.trim().is_empty() && !value.trim().is_empty() => {
                Ok(Override {
                    path: path.trim().to_string(),
                    value: value.trim().to_string(),
                })
            }
            _ => Err(Box::new(OverrideFailure {
                error: OverrideError::Form {
                    arg: arg.to_string(),
                },
                source: None,
            })),
        }
    }
}

impl std::fmt::Display for Override {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OverrideError {
    #[error("`--set {arg}` is not `PATH=VALUE`")]
    #[diagnostic(
        code(expr::overrides::form),
        help("write e.g. `--set opt.lr=3e-4` or `--set train.epochs=1`")
    )]
    Form { arg: String },

    #[error("the value given to `--set {path}` is not an expression: expected {expected}")]
    #[diagnostic(
        code(expr::overrides::value),
        help("write the value as in the file: `3e-4`, `relu`, `(3, 3)`, `\"test\"`")
    )]
    Value {
        path: String,
        expected: String,
        #[label("{found}")]
        span: Span,
        found: String,
    },

    #[error("no override path `{path}` in this experiment")]
    #[diagnostic(code(expr::overrides::unknown_path), help("{help}"))]
    UnknownPath {
        path: String,
        #[label("{label}")]
        span: Option<Span>,
        label: String,
        help: String,
    },

    #[error("the override path `{path}` names {count} places")]
    #[diagnostic(code(expr::overrides::ambiguous), help("{help}"))]
    Ambiguous {
        path: String,
        count: usize,
        #[label("one of them is here")]
        span: Span,
        help: String,
    },
}

/// An error and the text its labels point into (the file, or the `--set` value).
#[derive(Debug)]
pub struct OverrideFailure {
    pub error: OverrideError,
    pub source: Option<Source>,
}

impl OverrideFailure {
    pub fn render(&self, colour: bool) -> String {
        crate::report::render(&self.error, self.source.as_ref(), colour)
    }
}

/// The file's text with every override applied. Later overrides of the same path win.
pub fn apply(
    source: &Source,
    file: &ast::File,
    overrides: &[Override],
) -> Result<String, Box<OverrideFailure>> {
    apply_located(source, file, overrides).map(|applied| applied.text)
}

/// The overridden text, and where each override's value sits in it.
pub struct Applied {
    pub text: String,
    pub values: Vec<SetValue>,
}

/// One `--set` value in the overridden text: a diagnostic inside `span` is about what the
/// command line says, and is shown as the command line's (`--set opt.lr=`), not the file's.
#[derive(Debug, Clone)]
pub struct SetValue {
    pub span: Span,
    pub source: Source,
}

impl SetValue {
    /// The value's own source and the error moved into it, when the error's span lies
    /// within the value; `None` for an error about the file.
    pub fn claim(&self, error: &crate::check::CheckError) -> Option<crate::check::CheckError> {
        let inside = |s: Span| self.span.start <= s.start && s.end <= self.span.end;
        if !inside(error.span) {
            return None;
        }
        let shift = |s: Span| Span::new(s.start - self.span.start, s.end - self.span.start);
        let mut moved = error.clone();
        moved.span = shift(error.span);
        moved.related = error
            .related
            .clone()
            .filter(|(s, _)| inside(*s))
            .map(|(s, label)| (shift(s), label));
        Some(moved)
    }
}

/// `apply`, keeping where each value went.
pub fn apply_located(
    source: &Source,
    file: &ast::File,
    overrides: &[Override],
) -> Result<Applied, Box<OverrideFailure>> {
    let all = targets(file);
    let mut edits: Vec<Edit> = Vec::new();
    for o in overrides {
        let value = syntax::parse_expr_at(&o.value, 0).map_err(|e| {
            Box::new(OverrideFailure {
                error: OverrideError::Value {
                    path: o.path.clone(),
                    expected: e.expected.clone(),
                    span: e.span,
                    found: e.found.clone(),
                },
                source: Some(Source::new(format!("--set {}=", o.path), o.value.as_str())),
            })
        })?;
        let target = resolve(&all, &o.path).map_err(|error| {
            Box::new(OverrideFailure {
                error,
                source: Some(source.clone()),
            })
        })?;
        let (span, text, value_at) = target.place.edit(&source.text, &o.value, &value);
        edits.retain(|edit| edit.path != target.path);
        edits.push(Edit {
            path: target.path.clone(),
            span,
            text,
            value_at,
        });
    }
    // Back to front, so earlier offsets stay valid.
    edits.sort_by_key(|e| std::cmp::Reverse((e.span.start, e.span.end)));
    let mut text = source.text.to_string();
    for edit in &edits {
        text.replace_range(edit.span.start..edit.span.end, &edit.text);
    }
    // Front to back, each value moved by what the edits before it added or removed.
    let mut values = Vec::new();
    let mut delta: isize = 0;
    for edit in edits.iter().rev() {
        let start = edit.span.start.saturating_add_signed(delta);
        let value = &edit.text[edit.value_at.clone()];
        values.push(SetValue {
            span: Span::new(start + edit.value_at.start, start + edit.value_at.end),
            source: Source::new(format!("--set {}=", edit.path), value),
        });
        // Spans and replacements are far below isize::MAX (the file is at most 1 MiB).
        #[allow(clippy::cast_possible_wrap)]
        {
            delta += edit.text.len() as isize - edit.span.len() as isize;
        }
    }
    Ok(Applied { text, values })
}

/// One override's change to the file's text.
struct Edit {
    path: String,
    span: Span,
    text: String,
    /// Where the value is within `text`.
    value_at: std::ops::Range<usize>,
}

/// Whether `path` names one overridable place of `file`: `Err` says what it could have been.
pub fn check_path(file: &ast::File, path: &str) -> Result<(), OverrideError> {
    let all = targets(file);
    resolve(&all, path).map(|_| ())
}

/// The one target a path names, or an error listing what it could have been.
fn resolve<'a>(all: &'a [Target<'a>], path: &str) -> Result<&'a Target<'a>, OverrideError> {
    let matches: Vec<&Target> = all.iter().filter(|t| t.names(path)).collect();
    let mut places: Vec<&Target> = Vec::new();
    for m in &matches {
        if !places.iter().any(|p| p.place.same_as(&m.place)) {
            places.push(m);
        }
    }
    match places.as_slice() {
        [one] => Ok(one),
        [] => Err(unknown_path(all, path)),
        [first, ..] => Err(OverrideError::Ambiguous {
            path: path.to_string(),
            count: places.len(),
            span: first.decl_span,
            help: format!(
                "name the declaration instead: {}",
                list(places.iter().map(|p| p.path.as_str()))
            ),
        }),
    }
}

fn unknown_path(all: &[Target], path: &str) -> OverrideError {
    let head = path.split('.').next().unwrap_or(path);
    let under: Vec<&Target> = all.iter().filter(|t| t.head() == head).collect();
    if let Some(first) = under.first() {
        return OverrideError::UnknownPath {
            path: path.to_string(),
            span: Some(first.decl_span),
            label: format!("`{head}` is declared here"),
            help: format!(
                "`{head}` has: {}",
                list(under.iter().map(|t| t.path.as_str()))
            ),
        };
    }
    let mut suggestion = String::new();
    if let Some(close) = all
        .iter()
        .map(|t| t.path.as_str())
        .min_by(|a, b| strsim::levenshtein(a, path).cmp(&strsim::levenshtein(b, path)))
        .filter(|c| strsim::levenshtein(c, path) <= 3)
    {
        suggestion = format!("did you mean `{close}`? ");
    }
    OverrideError::UnknownPath {
        path: path.to_string(),
        span: None,
        label: String::new(),
        help: format!(
            "{suggestion}valid paths: {}",
            list(all.iter().filter(|t| !t.alias).map(|t| t.path.as_str()))
        ),
    }
}

fn list<'a>(paths: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for p in paths {
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    seen.iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod graph_tests {
    use super::*;

    #[test]
    fn a_layer_of_a_graph_model_is_overridden_by_its_keras_name() {
        let text = "model net (x) {\n  h = x | flatten() | dense(16)\n  a = h | dense(4)\n  return concat(h, a) | dense(10)\n}\n";
        let source = Source::new("t.exp", text);
        let file = crate::syntax::parse_file(text).expect("parses");
        let set = Override::parse("net.dense_1.units=8").unwrap_or_else(|e| panic!("{e:?}"));
        let out = apply(&source, &file, &[set]).unwrap_or_else(|e| panic!("{}", e.render(false)));
        assert!(out.contains("a = h | dense(8)"), "{out}");
        assert!(
            out.contains("dense(16)") && out.contains("dense(10)"),
            "{out}"
        );
    }
}
