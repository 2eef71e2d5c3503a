//! Running a recorded experiment again (`--rerun`, `--resume`): its text from the record,
//! and the comparison of a rerun with the run it repeats, every metric of every epoch and the
//! trained parameters, bit for bit.

use std::path::{Path, PathBuf};

use super::schema::RunRecord;
use super::{Provenance, RecordError};
use crate::check::plan::Experiment;
use crate::overrides::{self, LoadError};

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
pub fn source_of(path: &Path) -> Result<Recorded, SourceError> {
    let record = super::load(path).map_err(SourceError::Record)?;
    let Some(text) = record.source.resolved.clone() else {
        return Err(SourceError::Record(RecordError::NoSource {
            path: path.to_path_buf(),
        }));
    };
    let name = format!("{} (source.resolved)", path.display());
    let mut experiment = overrides::load_text(&name, &text).map_err(SourceError::Load)?;
    // The same threads as the record: a rerun repeats how it ran, a resume continues it.
    experiment.threads = Some(record.threads);
    let provenance = Provenance {
        path: record.source.path.as_ref().map(PathBuf::from),
        file_sha256: record.source.sha256.clone(),
        resolved: Some(text),
        overrides: record.overrides.clone(),
        rerun_of: None,
    };
    Ok(Recorded {
        experiment,
        provenance,
        record,
    })
}

/// One number that differs between the original and the rerun.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    Metric {
        name: String,
        /// 1-based.
        epoch: usize,
        original: Option<f64>,
        rerun: Option<f64>,
    },
    Parameters {
        original: String,
        rerun: String,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<f64>| v.map_or_else(|| "missing".to_string(), |v| v.to_string());
        match self {
            Mismatch::Metric {
                name,
                epoch,
                original,
                rerun,
            } => write!(
                f,
                "`{name}` after epoch {epoch}: {} → {}",
                show(original),
                show(rerun)
            ),
            Mismatch::Parameters { original, rerun } => write!(
                f,
                "trained parameters: sha256 {} → {}",
                &original[..original.len().min(12)],
                &rerun[..rerun.len().min(12)]
            ),
        }
    }
}

/// Bit-level equality, so NaN equals NaN and 0.0 differs from -0.0.
fn same_bits(a: Option<f64>, b: Option<f64>) -> bool {
    a.map(f64::to_bits) == b.map(f64::to_bits)
}

/// Every difference between the two records' numbers; empty when the rerun matches.
pub fn compare(original: &RunRecord, rerun: &RunRecord) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut names: Vec<&String> = original.history.keys().collect();
    names.extend(
        rerun
            .history
            .keys()
            .filter(|k| !original.history.contains_key(*k)),
    );
    for name in names {
        let a = original.history.get(name).map_or(&[][..], Vec::as_slice);
        let b = rerun.history.get(name).map_or(&[][..], Vec::as_slice);
        for epoch in 0..a.len().max(b.len()) {
            let (x, y) = (a.get(epoch).copied(), b.get(epoch).copied());
            if !same_bits(x, y) {
                out.push(Mismatch::Metric {
                    name: name.clone(),
                    epoch: epoch + 1,
                    original: x,
                    rerun: y,
                });
            }
        }
    }
    if let (Some(a), Some(b)) = (&original.weights_sha256, &rerun.weights_sha256) {
        if a != b {
            out.push(Mismatch::Parameters {
                original: a.clone(),
                rerun: b.clone(),
            });
        }
    }
    out
}

/// What differs around the numbers: data files, versions, machine.
pub fn context_changes(original: &RunRecord, rerun: &RunRecord) -> Vec<String> {
    let mut out = Vec::new();
    for (a, b) in original.data.iter().zip(&rerun.data) {
        if a.sha256 != b.sha256 {
            out.push(format!(
                "data `{}` changed: `{}` has another sha256 than `{}` had",
                a.data, b.path, a.path
            ));
        }
    }
    if original.data.len() != rerun.data.len() {
        out.push("the runs read a different number of data files".into());
    }
    if original.versions != rerun.versions {
        out.push(format!(
            "versions differ: expr {} / dfdx {} then, expr {} / dfdx {} now",
            original.versions.expr,
            original.versions.dfdx,
            rerun.versions.expr,
            rerun.versions.dfdx
        ));
    }
    if original.machine.arch != rerun.machine.arch {
        out.push(format!(
            "the architecture differs: {} then, {} now",
            original.machine.arch, rerun.machine.arch
        ));
    }
    out
}
