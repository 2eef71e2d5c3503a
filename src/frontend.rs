//! From a file on disk to a checked experiment: read, parse, check. Errors come
//! back as rendered-ready diagnostics with their source.

use std::path::{Path, PathBuf};

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
    match check_at(&file, &base_folder(path)) {
        Ok(mut exp) => {
            let mut errors = locate(&mut exp, path);
            if errors.is_empty() {
                // The sweep block's values, each on the file as `expr sweep` applies it.
                let base = base_folder(path);
                let check = |ast: &ast::File| check_at(ast, &base).map(|_| ());
                errors = crate::sweep::block::check_values(&source, &file, check);
            }
            if errors.is_empty() {
                Ok((source, exp))
            } else {
                Err(FrontendError::Check(source, errors))
            }
        }
        Err(errors) => Err(FrontendError::Check(source, errors)),
    }
}

/// Checks `file`, reading the data files it names relative to `base`.
pub fn check_at(file: &ast::File, base: &Path) -> Result<Experiment, Vec<check::CheckError>> {
    check::check_with(file, &crate::data::preflight::OnDisk::new(base))
}

/// The folder an experiment's relative paths are read from: its file's own folder, made
/// absolute, so that `expr run some/dir/e.exp` reads the same data from anywhere and the
/// run record says where the data was.
pub fn base_folder(path: &Path) -> PathBuf {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf())
}

/// Resolves the paths `exp` reads against the folder of its file at `path`, then checks
/// those files as far as their headers (`data::preflight`): a missing file or a header
/// that does not fit the declaration is a diagnostic before anything runs.
pub fn locate(exp: &mut Experiment, path: &Path) -> Vec<check::CheckError> {
    locate_in(exp, &base_folder(path))
}

/// [`locate`] with the folder relative paths are read from.
pub fn locate_in(exp: &mut Experiment, base: &Path) -> Vec<check::CheckError> {
    exp.resolve_paths(base);
    crate::data::preflight::check_files(exp)
}
