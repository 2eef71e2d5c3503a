//! One document as `expr check` sees it: parsed, checked against the files beside it, its
//! findings as LSP diagnostics. The server keeps one per open document and answers every
//! request from it.

use std::path::Path;

use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Url,
};

use super::position::LineIndex;
use crate::check::{CheckError, Experiment};
use crate::syntax::{ast, SyntaxError};

/// A document's text, its syntax tree and checked plan where it has them, and its findings.
pub struct Analysis {
    pub text: String,
    pub file: Option<ast::File>,
    pub experiment: Option<Experiment>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    /// Parses and checks `text`; relative data paths are read from `base` (the document's
    /// folder), as `expr check FILE` reads them.
    pub fn of(text: String, uri: &Url, base: &Path) -> Analysis {
        let index = LineIndex::new(&text);
        let file = match crate::syntax::parse_file(&text) {
            Ok(file) => file,
            Err(e) => {
                let diagnostics = vec![syntax_diagnostic(&index, &e)];
                return Analysis {
                    text,
                    file: None,
                    experiment: None,
                    diagnostics,
                };
            }
        };
        let (experiment, errors) = match crate::frontend::check_at(&file, base) {
            Ok(mut exp) => {
                let errors = crate::frontend::locate_in(&mut exp, base);
                (Some(exp), errors)
            }
            Err(errors) => (None, errors),
        };
        let diagnostics = errors
            .iter()
            .map(|e| check_diagnostic(&index, uri, e))
            .collect();
        Analysis {
            text,
            file: Some(file),
            experiment,
            diagnostics,
        }
    }
}

fn syntax_diagnostic(index: &LineIndex<'_>, e: &SyntaxError) -> Diagnostic {
    let mut message = format!("expected {}, found {}", e.expected, e.found);
    if let Some(help) = &e.help {
        message = format!("{message}\nhelp: {help}");
    }
    Diagnostic {
        range: index.range(e.span),
        severity: Some(DiagnosticSeverity::ERROR),
        code: Some(NumberOrString::String("expr::syntax".into())),
        source: Some("expr".into()),
        message,
        ..Diagnostic::default()
    }
}

fn check_diagnostic(index: &LineIndex<'_>, uri: &Url, e: &CheckError) -> Diagnostic {
    let mut message = format!("{}\n{}", e.title, e.label);
    if let Some(help) = &e.help {
        message = format!("{message}\nhelp: {help}");
    }
    let related = e.related.as_ref().map(|(span, label)| {
        vec![DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), index.range(*span)),
            message: label.clone(),
        }]
    });
    Diagnostic {
        range: index.range(e.span),
        severity: Some(DiagnosticSeverity::ERROR),
        code: Some(NumberOrString::String(format!("expr::check::{}", e.code))),
        source: Some("expr".into()),
        message,
        related_information: related,
        ..Diagnostic::default()
    }
}
