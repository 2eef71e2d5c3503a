//! `expr diff A B`: what changed between two experiments, by meaning — hyperparameters
//! (old → new), layers added, removed or changed (with the parameter-count delta), hooks and
//! blocks; not formatting, comments or the order of declarations.
//!
//! A and B are files or git revisions (`HEAD~1:experiments/mnist.exp`), or one file with
//! `--rev REV`. `--textconv FILE` prints one experiment canonically for git's textconv, and
//! seven arguments are git's external diff protocol (`diff.expr.command`): see docs/git.md.
//! The command itself (arguments, messages, exit codes) is `cli::diff`.

pub mod canon;
pub mod changes;
pub mod facts;
pub mod render;

use std::path::Path;

pub use changes::{changes, Change};
pub use facts::Facts;

use crate::frontend::{self, FrontendError};
use crate::source::Source;

/// How a diff is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Text,
    /// For programs.
    Yaml,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DiffError {
    #[error("cannot read `{spec}`: {message}")]
    #[diagnostic(
        code(expr::diff::read),
        help("give a file, or a git revision and path such as `HEAD~1:experiments/mnist.exp`")
    )]
    Read { spec: String, message: String },

    #[error("`expr diff` takes two experiments, one with `--rev` or `--textconv`, or git's seven arguments; got {count}")]
    #[diagnostic(
        code(expr::diff::arguments),
        help("e.g. `expr diff old.exp new.exp` or `expr diff --rev HEAD~1 experiments/mnist.exp`")
    )]
    Arguments { count: usize },
}

/// One side of a diff: a name for the header and the parsed experiment.
pub struct Side {
    pub label: String,
    pub facts: Facts,
}

/// Reads a file, `REV:PATH` through `git show`, or `/dev/null` as the empty experiment.
pub fn read_text(spec: &str) -> Result<String, DiffError> {
    let path = Path::new(spec);
    // git names a missing side `/dev/null`, a device `read_text` refuses.
    if spec == "/dev/null" {
        return Ok(String::new());
    }
    if path.exists() {
        // A regular file of at most 1 MiB, refused before reading otherwise.
        return crate::source::read_text(path, crate::source::EXPERIMENT_LIMIT).map_err(|e| {
            DiffError::Read {
                spec: spec.to_string(),
                message: e.to_string(),
            }
        });
    }
    if spec.contains(':') {
        // `--end-of-options` (git 2.24+): the spec is a revision even if it looks like an
        // option (`--output=FILE:x` would make git write FILE).
        let output = std::process::Command::new("git")
            .args(["show", "--end-of-options", spec])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| DiffError::Read {
                spec: spec.to_string(),
                message: format!("cannot run git: {e}"),
            })?;
        if output.status.success() {
            return String::from_utf8(output.stdout).map_err(|_| DiffError::Read {
                spec: spec.to_string(),
                message: "not UTF-8 text".into(),
            });
        }
        let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(DiffError::Read {
            spec: spec.to_string(),
            message: message.replace("fatal: ", ""),
        });
    }
    Err(DiffError::Read {
        spec: spec.to_string(),
        message: "no such file".into(),
    })
}

/// Parses a side; a syntax error is the user's to fix and comes back as such.
pub fn side(label: &str, text: &str) -> Result<Side, Box<FrontendError>> {
    let (_, file) = frontend::parse_source(Source::new(label, text)).map_err(Box::new)?;
    Ok(Side {
        label: label.to_string(),
        facts: Facts::of(&file),
    })
}

/// The diff of two experiment texts, rendered in `format`.
pub fn diff_texts(
    a: (&str, &str),
    b: (&str, &str),
    format: Format,
) -> Result<String, Box<FrontendError>> {
    compare_texts(a, b, format).map(|d| d.out)
}

/// A rendered comparison, and whether the experiments differ in meaning (the exit status
/// of `expr diff`, as `diff`'s and `git diff --exit-code`'s).
pub struct Compared {
    pub out: String,
    pub changed: bool,
}

/// [`diff_texts`], also saying whether anything changed.
pub fn compare_texts(
    a: (&str, &str),
    b: (&str, &str),
    format: Format,
) -> Result<Compared, Box<FrontendError>> {
    let (a, b) = (side(a.0, a.1)?, side(b.0, b.1)?);
    let found = changes(&a.facts, &b.facts);
    let out = match format {
        Format::Text => format!("--- {}\n+++ {}\n{}", a.label, b.label, render::text(&found)),
        Format::Yaml => serde_yaml::to_string(&YamlDiff {
            a: &a.label,
            b: &b.label,
            changes: &found,
        })
        .unwrap_or_default(),
    };
    Ok(Compared {
        out,
        changed: !found.is_empty(),
    })
}

#[derive(serde::Serialize)]
struct YamlDiff<'a> {
    a: &'a str,
    b: &'a str,
    changes: &'a [Change],
}

/// What `expr diff` compares: two things to read (files or `REV:PATH`) and their header labels.
pub struct Specs {
    pub a: String,
    pub b: String,
    pub labels: (String, String),
}

/// The experiments the arguments name: `A B`, one file with `rev`, or git's seven.
pub fn specs(inputs: &[String], rev: Option<&str>) -> Result<Specs, DiffError> {
    let (a, b) = match (inputs, rev) {
        ([file], Some(rev)) => (format!("{rev}:./{file}"), file.clone()),
        ([a, b], None) => (a.clone(), b.clone()),
        // git's external diff: path old-file old-hex old-mode new-file new-hex new-mode.
        ([_, old, _, _, new, _, _], None) => (old.clone(), new.clone()),
        (inputs, _) => {
            return Err(DiffError::Arguments {
                count: inputs.len(),
            })
        }
    };
    let labels = match inputs {
        [path, _, _, _, _, _, _] => (format!("a/{path}"), format!("b/{path}")),
        _ => (a.clone(), b.clone()),
    };
    Ok(Specs { a, b, labels })
}

/// One experiment as sorted facts, for git's textconv. A text that does not parse is
/// returned as it is: git must still show something.
pub fn textconv(label: &str, text: &str) -> String {
    match side(label, text) {
        Ok(s) => render::canonical(&s.facts),
        Err(_) => text.to_string(),
    }
}
