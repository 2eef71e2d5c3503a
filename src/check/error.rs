//! Check diagnostics. Every constructor below is one kind of error, and all
//! the wording lives here: the title says what went wrong, the label what is
//! at the span, the help what to do.

use std::fmt;

use miette::{Diagnostic, LabeledSpan};

use crate::source::Span;
pub use crate::suggest::did_you_mean;

#[derive(Debug, Clone, PartialEq)]
pub struct CheckError {
    /// `expr::check::<kind>`.
    pub code: &'static str,
    pub title: String,
    pub label: String,
    pub span: Span,
    pub help: Option<String>,
    /// A second place worth showing, e.g. the first of two duplicate names.
    pub related: Option<(Span, String)>,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for CheckError {}

impl Diagnostic for CheckError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("expr::check::{}", self.code)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span);
        let related = self
            .related
            .iter()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

impl CheckError {
    fn new(code: &'static str, title: String, label: impl Into<String>, span: Span) -> Self {
        CheckError {
            code,
            title,
            label: label.into(),
            span,
            help: None,
            related: None,
        }
    }

    /// A misuse of a `sweep { }` block (`expr::check::sweep`).
    pub fn sweep(title: String, label: impl Into<String>, span: Span) -> Self {
        Self::new("sweep", title, label, span)
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related = Some((span, label.into()));
        self
    }

    /// `what` is e.g. "layer", "loss", "optimizer"; `known` the names that exist.
    pub fn unknown(what: &str, name: &str, span: Span, known: &[&str]) -> Self {
        let err = CheckError::new(
            "unknown_name",
            format!("unknown {what} `{name}`"),
            format!("not a known {what}"),
            span,
        );
        match did_you_mean(name, known) {
            Some(best) => err.with_help(format!("did you mean `{best}`?")),
            None if known.is_empty() => err,
            None => err.with_help(format!("known {what}s: {}", backticked(known))),
        }
    }

    pub fn unknown_parameter(callee: &str, name: &str, span: Span, known: &[&str]) -> Self {
        let err = CheckError::new(
            "unknown_parameter",
            format!("`{callee}` has no parameter `{name}`"),
            "unknown parameter",
            span,
        );
        match did_you_mean(name, known) {
            Some(best) => err.with_help(format!("did you mean `{best}`?")),
            None if known.is_empty() => err.with_help(format!("`{callee}` takes no parameters")),
            None => err.with_help(format!("`{callee}` takes {}", backticked(known))),
        }
    }

    pub fn missing_argument(callee: &str, param: &str, span: Span) -> Self {
        CheckError::new(
            "missing_argument",
            format!("`{callee}` needs `{param}`"),
            format!("`{param}` is missing here"),
            span,
        )
        .with_help(format!("add `{param} = ...` to the call"))
    }

    pub fn too_many_arguments(callee: &str, max: usize, span: Span) -> Self {
        CheckError::new(
            "too_many_arguments",
            format!(
                "`{callee}` takes at most {max} positional argument{}",
                plural(max)
            ),
            "extra argument",
            span,
        )
        .with_help("name the argument (`name = value`) or remove it")
    }

    pub fn duplicate_argument(name: &str, span: Span, first: Span) -> Self {
        CheckError::new(
            "duplicate_argument",
            format!("`{name}` is given twice"),
            "given again here",
            span,
        )
        .with_related(first, "first given here")
        .with_help("remove one of them")
    }

    pub fn wrong_type(what: &str, expected: &str, found: &str, span: Span) -> Self {
        CheckError::new(
            "wrong_type",
            format!("`{what}` must be {expected}"),
            format!("this is {found}"),
            span,
        )
    }

    pub fn out_of_range(what: &str, value: f64, expected: &str, span: Span) -> Self {
        CheckError::new(
            "out_of_range",
            format!("`{what}` must be {expected}"),
            format!("{} is out of range", fmt_number(value)),
            span,
        )
    }

    pub fn duplicate(what: &str, name: &str, span: Span, first: Span) -> Self {
        CheckError::new(
            "duplicate_name",
            format!("{what} `{name}` is declared twice"),
            "declared again here",
            span,
        )
        .with_related(first, "first declared here")
        .with_help("rename one of them")
    }

    pub fn missing(what: &str, title: String, span: Span, help: impl Into<String>) -> Self {
        CheckError::new("missing", title, what.to_string(), span).with_help(help)
    }

    pub fn shape(title: String, label: String, span: Span, help: impl Into<String>) -> Self {
        CheckError::new("shape", title, label, span).with_help(help)
    }

    pub fn incompatible(title: String, label: String, span: Span, help: impl Into<String>) -> Self {
        CheckError::new("incompatible", title, label, span).with_help(help)
    }

    pub fn misplaced(title: String, label: String, span: Span, help: impl Into<String>) -> Self {
        CheckError::new("misplaced", title, label, span).with_help(help)
    }

    pub fn invalid(title: String, label: String, span: Span) -> Self {
        CheckError::new("invalid", title, label, span)
    }
}

fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}
