//! From a file on disk to a checked experiment: read, parse, check. Errors come
//! back as rendered-ready diagnostics with their source.

use std::path::Path;

use miette::Diagnostic;

use crate::check::{self, Experiment};
use crate::source::{NotUtf8, Source};
use crate::syntax::{self, ast};

/// Everything that can stop a file from becoming an experiment.
pub enum FrontendError {
    Read(std::io::Error),
    Syntax(Source, Box<syntax::SyntaxError>),
    Check(Source, Vec<check::CheckError>),
    /// Check errors each against its own text: the file's, or a `--set` value's.
    Placed(Vec<(Source, check::CheckError)>),
}

impl FrontendError {
    /// Each diagnostic with its source, for rendering.
    pub fn diagnostics(&self) -> Vec<(&dyn Diagnostic, Option<&Source>)> {
        match self {
            FrontendError::Read(_) => Vec::new(),
            FrontendError::Syntax(src, e) => vec![(e.as_ref() as &dyn Diagnostic, Some(src))],
            FrontendError::Check(src, errors) => errors
                .iter()
                .map(|e| (e as &dyn Diagnostic, Some(src)))
                .collect(),
            FrontendError::Placed(errors) => errors
                .iter()
                .map(|(src, e)| (e as &dyn Diagnostic, Some(src)))
                .collect(),
        }
    }
}

pub fn parse_path(path: &Path) -> Result<(Source, ast::File), FrontendError> {
    parse_source(read(path)?)
}

/// Reads an experiment file. Text that is not UTF-8 is the user's to fix, shown like a
/// syntax error at the first bad byte; other failures are `Read`.
pub fn read(path: &Path) -> Result<Source, FrontendError> {
    Source::read(path).map_err(|io| match io.downcast::<NotUtf8>() {
        Ok(e) => not_utf8(e),
        Err(io) => FrontendError::Read(io),
    })
}

/// A file that is not UTF-8, as a syntax error at its first bad byte.
pub fn not_utf8(e: NotUtf8) -> FrontendError {
    let error = syntax::SyntaxError {
        expected: "UTF-8 text".into(),
        span: e.span,
        found: format!("byte 0x{:02x} is not UTF-8", e.byte),
        help: Some("save the file as UTF-8 (an experiment is plain text)".into()),
    };
    FrontendError::Syntax(e.source, Box::new(error))
}

pub fn parse_source(source: Source) -> Result<(Source, ast::File), FrontendError> {
    match syntax::parse_file(&source.text) {
        Ok(file) => Ok((source, file)),
        Err(e) => Err(FrontendError::Syntax(source, Box::new(e))),
    }
}

pub fn load(path: &Path) -> Result<(Source, Experiment), FrontendError> {
    let (source, file) = parse_path(path)?;
    match check::check(&file) {
        Ok(exp) => Ok((source, exp)),
        Err(errors) => Err(FrontendError::Check(source, errors)),
    }
}
