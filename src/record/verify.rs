//! Checking a run record before `--resume` or `--rerun` trusts it: the experiment text
//! against its SHA-256, the data files against theirs (read from where the run read them),
//! and the metric history against the checkpoint's. A record is a text file anyone can
//! edit; an edit must not silently change what a resume trains.

use std::path::{Path, PathBuf};

use super::provenance::{data_files, sha256_bytes};
use super::schema::RunRecord;
use super::RecordError;
use crate::check::plan::Experiment;

/// Checks `source.resolved` against `source.resolved_sha256`, or, in a record without
/// overrides, against `source.sha256` (the file's, which is then the same text).
///
/// # Errors
/// [`RecordError::Edited`] naming the field that does not match or is missing.
pub fn source(record: &RunRecord, path: &Path) -> Result<(), RecordError> {
    let source = &record.source;
    let Some(text) = &source.resolved else {
        return Ok(()); // nothing to run: `NoSource` says so where it matters
    };
    let actual = sha256_bytes(text.as_bytes());
    let (field, stored) = match (&source.resolved_sha256, &source.sha256) {
        (Some(h), _) => ("source.resolved_sha256", h),
        (None, Some(h)) if record.overrides.is_empty() => ("source.sha256", h),
        _ => {
            return Err(RecordError::Edited {
                path: path.to_path_buf(),
                field: "source.resolved".into(),
                problem: "it has no `source.resolved_sha256` to check `source.resolved` against"
                    .into(),
            })
        }
    };
    if &actual == stored {
        return Ok(());
    }
    Err(RecordError::Edited {
        path: path.to_path_buf(),
        field: "source.resolved".into(),
        problem: format!(
            "`source.resolved` hashes to {}…, `{field}` says {}…",
            &actual[..12],
            &stored[..stored.len().min(12)]
        ),
    })
}

/// The folder the run read its relative paths from: the experiment file's (`data_base`),
/// or, for a record written before that field, the directory it started in (`workdir`).
/// `None` for a record with neither: the current directory, as then.
pub fn data_base(record: &RunRecord) -> Option<PathBuf> {
    record
        .data_base
        .as_deref()
        .or(record.workdir.as_deref())
        .map(PathBuf::from)
}

/// Makes the experiment's relative paths relative to the folder the original run read
/// them from ([`data_base`]), wherever `--resume` is run from.
pub fn resolve_data(exp: &mut Experiment, record: &RunRecord) {
    if let Some(base) = data_base(record) {
        exp.resolve_paths(&base);
    }
}

/// Checks that every data file the experiment reads now has the SHA-256 the record lists.
///
/// # Errors
/// [`RecordError::DataChanged`] for the first file whose bytes differ.
pub fn data(exp: &Experiment, record: &RunRecord, path: &Path) -> Result<(), RecordError> {
    let now = data_files(exp);
    let name = |p: &str| Path::new(p).file_name().map(std::ffi::OsStr::to_os_string);
    for then in &record.data {
        // The same data set's file of the same name, read from where the run read it. A file
        // that is gone has no entry: loading it says so.
        let Some(now) = now
            .iter()
            .find(|n| n.data == then.data && name(&n.path) == name(&then.path))
        else {
            continue;
        };
        if then.sha256 != now.sha256 {
            return Err(RecordError::DataChanged {
                path: path.to_path_buf(),
                data: then.data.clone(),
                file: now.path.clone(),
                recorded: then.sha256.clone(),
                found: now.sha256.clone(),
            });
        }
    }
    Ok(())
}

/// Checks that the record's metric history agrees with the checkpoint's for every epoch
/// both hold (the record may be an epoch behind or ahead of the checkpoint, never different).
///
/// # Errors
/// [`RecordError::Edited`] naming `history.<metric>` and the epoch.
pub fn history(
    record: &RunRecord,
    names: &[String],
    checkpoint: &[Vec<f64>],
    path: &Path,
) -> Result<(), RecordError> {
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    for (name, values) in names.iter().zip(checkpoint) {
        let recorded = record.history.get(name).map_or(&[][..], Vec::as_slice);
        if let Some(e) =
            (0..recorded.len().min(values.len())).find(|&e| !same(recorded[e], values[e]))
        {
            return Err(RecordError::Edited {
                path: path.to_path_buf(),
                field: format!("history.{name}"),
                problem: format!(
                    "`history.{name}` after epoch {} is {}, the checkpoint says {}",
                    e + 1,
                    recorded[e],
                    values[e]
                ),
            });
        }
    }
    Ok(())
}
