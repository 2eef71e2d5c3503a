//! Reading an experiment for a run: the file, or a run record's text, with overrides applied,
//! parsed and checked, plus what the run record needs to know about where it came from.

use std::path::{Path, PathBuf};

use super::{apply_located, Override, OverrideFailure, SetValue};
use crate::check::Experiment;
use crate::frontend::{self, FrontendError};
use crate::record::{self, Provenance, RecordError, RunRecord};
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
/// the overridden text are reported against that text, under the file's name, except those
/// inside a `--set` value, which are shown as the command line's (`--set opt.lr=`).
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Loaded, LoadError> {
    let original = frontend::read(path).map_err(|e| LoadError::Frontend(Box::new(e)))?;
    let (original, file) =
        frontend::parse_source(original).map_err(|e| LoadError::Frontend(Box::new(e)))?;
    let (resolved, values) = if overrides.is_empty() {
        (original.text.to_string(), Vec::new())
    } else {
        let applied = apply_located(&original, &file, overrides).map_err(LoadError::Override)?;
        (applied.text, applied.values)
    };
    let source = Source::new(path, resolved.as_str());
    let experiment = check_source(source, &frontend::base_folder(path), true)
        .map_err(|e| blame_command_line(e, &values))?;
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

/// Check errors inside a `--set` value are shown against the command line's text
/// (`--set opt.lr=`), not inside the file as if written there; the others stay the file's.
fn blame_command_line(error: LoadError, values: &[SetValue]) -> LoadError {
    let LoadError::Frontend(frontend) = error else {
        return error;
    };
    let FrontendError::Check(source, errors) = *frontend else {
        return LoadError::Frontend(frontend);
    };
    if values.is_empty() {
        return LoadError::Frontend(Box::new(FrontendError::Check(source, errors)));
    }
    let placed = errors
        .into_iter()
        .map(|e| {
            values
                .iter()
                .find_map(|v| v.claim(&e).map(|moved| (v.source.clone(), moved)))
                .unwrap_or_else(|| (source.clone(), e))
        })
        .collect();
    LoadError::Frontend(Box::new(FrontendError::Placed(placed)))
}

/// Parses and checks a text that is not a file of its own (a run record's `source.resolved`),
/// naming it `name` in diagnostics; relative data paths are read from `base` (and left
/// relative: the caller resolves them).
pub fn load_text(name: &str, text: &str, base: &Path) -> Result<Experiment, LoadError> {
    check_source(Source::new(name, text), base, false)
}

/// Parses and checks `source`, reading the data files it names relative to `base`; with
/// `locate` (a file's own folder), also resolves its relative paths and checks the files
/// it reads as far as their headers (`frontend::locate_in`).
fn check_source(source: Source, base: &Path, locate: bool) -> Result<Experiment, LoadError> {
    let (source, file) =
        frontend::parse_source(source).map_err(|e| LoadError::Frontend(Box::new(e)))?;
    let fail = |source, errors| LoadError::Frontend(Box::new(FrontendError::Check(source, errors)));
    let mut experiment =
        frontend::check_at(&file, base).map_err(|errors| fail(source.clone(), errors))?;
    if locate {
        let errors = frontend::locate_in(&mut experiment, base);
        if !errors.is_empty() {
            return Err(fail(source, errors));
        }
    }
    Ok(experiment)
}

/// A recorded experiment, checked again and ready to run.
pub struct Recorded {
    /// With the thread count the record ran with.
    pub experiment: Experiment,
    /// The record's: file, hash, text and overrides. `rerun_of` is left empty: a resume
    /// continues the run, a rerun sets it.
    pub provenance: Provenance,
    pub record: RunRecord,
}

/// Why a record's experiment cannot run again.
pub enum SourceError {
    /// The record cannot be read, or holds no experiment text.
    Record(RecordError),
    /// Its text no longer parses or checks (a newer expr), reported under the record's path.
    Load(LoadError),
}

/// The experiment of the run record at `path` (a `run.yaml`, or a run directory): its
/// `source.resolved` text, parsed and checked, with the threads it ran with.
pub fn load_recorded(path: &Path) -> Result<Recorded, SourceError> {
    let record = record::load(path).map_err(SourceError::Record)?;
    let Some(text) = record.source.resolved.clone() else {
        return Err(SourceError::Record(RecordError::NoSource {
            path: path.to_path_buf(),
        }));
    };
    let name = format!("{} (source.resolved)", path.display());
    // The same files as the run read, wherever this runs from.
    let base = record::verify::data_base(&record);
    let mut experiment = load_text(&name, &text, base.as_deref().unwrap_or(Path::new(".")))
        .map_err(SourceError::Load)?;
    if let Some(base) = &base {
        experiment.resolve_paths(base);
    }
    // The same threads as the record: a rerun repeats how it ran, a resume continues it.
    experiment.threads = Some(record.threads);
    let provenance = Provenance {
        path: record.source.path.as_ref().map(PathBuf::from),
        file_sha256: record.source.sha256.clone(),
        resolved: Some(text),
        overrides: record.overrides.clone(),
        rerun_of: None,
        data_base: base,
    };
    Ok(Recorded {
        experiment,
        provenance,
        record,
    })
}
