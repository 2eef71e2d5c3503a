//! From a file on disk to a checked experiment: read, parse, check. Errors come
//! back as rendered-ready diagnostics with their source.

use std::path::Path;

use miette::Diagnostic;

use crate::check::{self, Experiment};
use crate::source::Source;
use crate::syntax::{self, ast};

/// Everything that can stop a file from becoming an experiment.
pub enum FrontendError {
    Read(std::io::Error),
    Syntax(Source, Box<syntax::SyntaxError>),
    Check(Source, Vec<check::CheckError>),
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
        }
    }
}

pub fn parse_path(path: &Path) -> Result<(Source, ast::File), FrontendError> {
    let source = Source::read(path).map_err(FrontendError::Read)?;
    parse_source(source)
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
