//! Run records: every `expr run` leaves `runs/<experiment>/<run-id>/` with `run.yaml` (what ran,
//! on what, what came out), `metrics.csv`, the plots and the model. Records are rewritten
//! atomically at each epoch end, so a crash or Ctrl-C leaves a valid record saying so.

pub mod error;
pub mod id;
pub mod provenance;
pub mod rerun;
pub mod schema;
pub mod verify;
pub mod writer;

use std::path::{Path, PathBuf};

pub use error::{RecordError, RecordResult};
pub use schema::{RunRecord, Status};
pub use writer::{Recorder, METRICS_FILE, RECORD_FILE};

use crate::check::plan::Experiment;

/// Where the experiment came from, for the record. Runs built from text in memory (tests,
/// library callers) leave it empty.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The `.exp` file as given.
    pub path: Option<PathBuf>,
    /// SHA-256 of the file's bytes.
    pub file_sha256: Option<String>,
    /// The experiment text after overrides.
    pub resolved: Option<String>,
    /// `--set` arguments as given.
    pub overrides: Vec<String>,
    /// The id of the run being re-run.
    pub rerun_of: Option<String>,
    /// The folder the experiment's relative paths were resolved against (its file's
    /// folder), absolute; `None` for an experiment given as text.
    pub data_base: Option<PathBuf>,
}

impl Provenance {
    /// Provenance of a file read from disk, with the text that will run.
    pub fn of_file(path: &Path, original: &str, resolved: &str, overrides: Vec<String>) -> Self {
        Provenance {
            path: Some(path.to_path_buf()),
            file_sha256: Some(provenance::sha256_bytes(original.as_bytes())),
            resolved: Some(resolved.to_string()),
            overrides,
            rerun_of: None,
            data_base: Some(crate::frontend::base_folder(path)),
        }
    }
}

/// A fresh record (status `running`) for an experiment about to run.
pub fn new_record(exp: &Experiment, prov: &Provenance, id: String, threads: usize) -> RunRecord {
    let git_dir = prov.path.as_deref().and_then(Path::parent).map_or_else(
        || PathBuf::from("."),
        |p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        },
    );
    RunRecord {
        format: schema::FORMAT,
        id,
        experiment: exp.name.clone(),
        status: Status::Running,
        rerun_of: prov.rerun_of.clone(),
        source: schema::SourceInfo {
            path: prov.path.as_ref().map(|p| p.display().to_string()),
            sha256: prov.file_sha256.clone(),
            resolved: prov.resolved.clone(),
            resolved_sha256: prov
                .resolved
                .as_deref()
                .map(|t| provenance::sha256_bytes(t.as_bytes())),
        },
        overrides: prov.overrides.clone(),
        seed: exp.seed,
        epochs: exp.epochs,
        evaluation_only: exp.epochs == 0,
        threads,
        kernels: Some(crate::ops::cpu::simd::kernel_path().to_string()),
        workdir: std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string()),
        data_base: prov.data_base.as_ref().map(|d| d.display().to_string()),
        git: provenance::git_info(&git_dir),
        data: provenance::data_files(exp),
        encoding: std::collections::BTreeMap::new(),
        versions: provenance::versions(),
        machine: provenance::machine(),
        started: provenance::now(),
        ended: None,
        metrics: exp.metrics.iter().map(|m| m.name.clone()).collect(),
        history: exp
            .metrics
            .iter()
            .map(|m| (m.name.clone(), Vec::new()))
            .collect(),
        epoch_seconds: Vec::new(),
        final_metrics: std::collections::BTreeMap::new(),
        weights_sha256: None,
        parameters_sha256: None,
        artifacts: Vec::new(),
        log: Vec::new(),
        steps: Vec::new(),
        stopped: None,
        non_finite: schema::NonFiniteCounts::default(),
    }
}

/// The largest run record read: records hold the experiment (at most 1 MiB), the
/// history and the log lines, a few hundred kilobytes for long runs.
pub const RECORD_LIMIT: u64 = 256 << 20;

/// Reads a `run.yaml`, or the `run.yaml` inside a run directory.
pub fn load(path: &Path) -> RecordResult<RunRecord> {
    let path = if path.is_dir() {
        path.join(RECORD_FILE)
    } else {
        path.to_path_buf()
    };
    // A regular file, refused before reading otherwise (`--rerun /dev/zero`, a FIFO).
    let text =
        crate::source::read_text(&path, RECORD_LIMIT).map_err(|source| RecordError::Read {
            path: path.clone(),
            source,
        })?;
    let record: RunRecord = serde_yaml::from_str(&text).map_err(|e| RecordError::Invalid {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if record.format != schema::FORMAT {
        return Err(RecordError::Format {
            path,
            found: record.format,
            expected: schema::FORMAT,
        });
    }
    Ok(record)
}

/// Every run record under `root` (`root/<experiment>/<id>/run.yaml`, or `root` itself being
/// one experiment's folder), with its directory. Unreadable records are returned as errors
/// beside the good ones, so one broken file does not hide the others.
pub fn find_all(root: &Path) -> Vec<(PathBuf, RecordResult<RunRecord>)> {
    let mut dirs = Vec::new();
    collect_run_dirs(root, 0, &mut dirs);
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let record = load(&dir);
            (dir, record)
        })
        .collect()
}

fn collect_run_dirs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join(RECORD_FILE).is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if depth >= 2 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_run_dirs(&entry.path(), depth + 1, out);
        }
    }
}
