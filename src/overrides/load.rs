//! Reading an experiment for a run: the file, or a run record's text, with overrides applied,
//! parsed and checked, plus what the run record needs to know about where it came from.

use std::path::Path;

use super::{apply, Override, OverrideFailure};
use crate::check::{self, Experiment};
use crate::frontend::{self, FrontendError};
use crate::record::Provenance;
use crate::source::Source;

/// Why an experiment could not be made ready to run.
pub enum LoadError {
    Frontend(Box<FrontendError>),
    Override(Box<OverrideFailure>),
}

/// A checked experiment and its provenance.
pub struct Loaded {
    pub experiment: Experiment,
    pub provenance: Provenance,
}

/// Reads `path`, applies `overrides` to its text, parses and checks the result. Errors in
/// the overridden text are reported against that text, under the file's name.
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Loaded, LoadError> {
    let original =
        Source::read(path).map_err(|e| LoadError::Frontend(Box::new(FrontendError::Read(e))))?;
    let (original, file) =
        frontend::parse_source(original).map_err(|e| LoadError::Frontend(Box::new(e)))?;
    let resolved = if overrides.is_empty() {
        original.text.to_string()
    } else {
        apply(&original, &file, overrides).map_err(LoadError::Override)?
    };
    let source = Source::new(path, resolved.as_str());
    let experiment = check_source(source)?;
    Ok(Loaded {
        experiment,
        provenance: Provenance::of_file(
            path,
            &original.text,
            &resolved,
            overrides.iter().map(ToString::to_string).collect(),
        ),
    })
}

/// Parses and checks a text that is not a file of its own (a run record's `source.resolved`),
/// naming it `name` in diagnostics.
pub fn load_text(name: &str, text: &str) -> Result<Experiment, LoadError> {
    check_source(Source::new(name, text))
}

fn check_source(source: Source) -> Result<Experiment, LoadError> {
    let (source, file) =
        frontend::parse_source(source).map_err(|e| LoadError::Frontend(Box::new(e)))?;
    check::check(&file)
        .map_err(|errors| LoadError::Frontend(Box::new(FrontendError::Check(source, errors))))
}
