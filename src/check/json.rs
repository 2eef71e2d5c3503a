//! `expr check --format json`: every diagnostic with its place in the file,
//! and every model's summary, for editors and scripts. Works on any
//! `miette::Diagnostic`, so syntax and check errors come out alike.

use miette::Diagnostic;
use serde::Serialize;

use super::plan::{Experiment, Model};
use super::summary::type_name;
use crate::source::{Source, Span};

/// The result for one file.
#[derive(Debug, Serialize)]
pub struct FileReport {
    pub file: String,
    /// `true` when the file checked clean.
    pub ok: bool,
    /// Set when the file could not be read; nothing else is known then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
    pub diagnostics: Vec<JsonDiagnostic>,
    pub models: Vec<JsonModel>,
}

/// A 1-based line and column (in bytes) of a place in the file.
#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
pub struct Position {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    /// Start of the primary span.
    pub line: usize,
    pub col: usize,
    /// One past the end of the primary span.
    pub end: Position,
    pub code: String,
    pub title: String,
    pub label: String,
    pub help: Option<String>,
    /// Other labelled places, e.g. the first of two duplicate names.
    pub related: Vec<JsonLabel>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel {
    pub line: usize,
    pub col: usize,
    pub end: Position,
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct JsonModel {
    pub name: String,
    pub input_shape: Vec<usize>,
    pub output_shape: Vec<usize>,
    pub parameters: usize,
    pub layers: Vec<JsonLayer>,
}

#[derive(Debug, Serialize)]
pub struct JsonLayer {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub output_shape: Vec<usize>,
    pub parameters: usize,
}

impl FileReport {
    pub fn clean(file: String, experiment: &Experiment) -> Self {
        FileReport {
            file,
            ok: true,
            read_error: None,
            diagnostics: Vec::new(),
            models: experiment.models.iter().map(json_model).collect(),
        }
    }

    pub fn unreadable(file: String, error: &std::io::Error) -> Self {
        FileReport {
            file,
            ok: false,
            read_error: Some(error.to_string()),
            diagnostics: Vec::new(),
            models: Vec::new(),
        }
    }

    pub fn failed(file: String, diagnostics: &[(&dyn Diagnostic, Option<&Source>)]) -> Self {
        let diagnostics = diagnostics
            .iter()
            .map(|(d, source)| json_diagnostic(&file, *d, *source))
            .collect();
        FileReport {
            file,
            ok: false,
            read_error: None,
            diagnostics,
            models: Vec::new(),
        }
    }
}

pub fn json_diagnostic(file: &str, d: &dyn Diagnostic, source: Option<&Source>) -> JsonDiagnostic {
    let place = |span: Span| match source {
        Some(src) => {
            let (line, col) = src.line_col(span.start);
            let (end_line, end_col) = src.line_col(span.end);
            (
                line,
                col,
                Position {
                    line: end_line,
                    col: end_col,
                },
            )
        }
        None => (0, 0, Position { line: 0, col: 0 }),
    };
    let mut labels: Vec<_> = d.labels().map(Iterator::collect).unwrap_or_default();
    let primary = labels
        .iter()
        .position(miette::LabeledSpan::primary)
        .unwrap_or(0);
    let (span, label) = if labels.is_empty() {
        (Span::new(0, 0), String::new())
    } else {
        let l = labels.remove(primary);
        (to_span(&l), l.label().unwrap_or_default().to_string())
    };
    let (line, col, end) = place(span);
    JsonDiagnostic {
        file: file.to_string(),
        line,
        col,
        end,
        code: d.code().map(|c| c.to_string()).unwrap_or_default(),
        title: d.to_string(),
        label,
        help: d.help().map(|h| h.to_string()),
        related: labels
            .iter()
            .map(|l| {
                let (line, col, end) = place(to_span(l));
                JsonLabel {
                    line,
                    col,
                    end,
                    label: l.label().unwrap_or_default().to_string(),
                }
            })
            .collect(),
    }
}

fn to_span(label: &miette::LabeledSpan) -> Span {
    Span::new(label.offset(), label.offset() + label.len())
}

fn json_model(model: &Model) -> JsonModel {
    JsonModel {
        name: model.name.clone(),
        input_shape: model.input_shape.clone(),
        output_shape: model.output_shape().to_vec(),
        parameters: model.parameter_count(),
        layers: model
            .layers
            .iter()
            .map(|l| JsonLayer {
                name: l.name.clone(),
                kind: type_name(l),
                output_shape: l.output_shape.clone(),
                parameters: l.parameter_count(),
            })
            .collect(),
    }
}
