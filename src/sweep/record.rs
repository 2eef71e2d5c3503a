//! The sweep record, `runs/<experiment>/sweeps/<id>/sweep.yaml`: the points, each one's
//! overrides and run directory, and their states as last seen.
//!
//! Only the process that starts or continues a sweep writes it; a point's truth is its own
//! run record (`<run>/run.yaml`), which only the point's run writes. So Slurm's array tasks
//! share no file, and `states` reads the run records afresh rather than trusting this one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::overrides::Override;
use crate::record::{self, RecordError, Status};

/// Bumped when a field changes meaning; readers refuse formats they do not know.
pub const FORMAT: u32 = 1;
pub const SWEEP_FILE: &str = "sweep.yaml";
/// The folder of an experiment's sweeps, beside its run directories.
pub const SWEEPS_DIR: &str = "sweeps";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    pub format: u32,
    /// The first 12 hex digits of the SHA-256 of the file and the points: the same command
    /// on the same file finds the same sweep.
    pub id: String,
    pub experiment: String,
    /// The `.exp` file as given, and the SHA-256 of its bytes.
    pub file: String,
    pub file_sha256: String,
    /// RFC 3339, UTC: when the sweep was first started.
    pub created: String,
    /// The arguments that made the points: `--grid opt.lr=1e-3,3e-4`, ...
    pub space: Vec<String>,
    /// The paths swept, in order: the table's columns.
    pub swept: Vec<String>,
    pub points: Vec<Point>,
    /// The job array the sweep was submitted as, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmJob>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// From 1, as Slurm's array index.
    pub index: usize,
    /// `PATH=VALUE`, as `expr run --set` takes them.
    pub overrides: Vec<String>,
    /// The run's id: its directory is `runs/<experiment>/<run>`.
    pub run: String,
    /// `pending` before its run starts, then its run record's status.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlurmJob {
    pub job_id: String,
    /// The script, relative to the sweep directory.
    pub script: String,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SweepRecordError {
    #[error("cannot read sweep record `{path}`: {message}")]
    #[diagnostic(code(expr::sweep::record))]
    Invalid { path: PathBuf, message: String },
    #[error("no sweep `{id}` under `{root}`")]
    #[diagnostic(code(expr::sweep::unknown), help("{help}"))]
    Unknown {
        id: String,
        root: PathBuf,
        help: String,
    },
    #[error("`{path}` is sweep record format {found}; this expr reads format {FORMAT}")]
    #[diagnostic(code(expr::sweep::format))]
    Format { path: PathBuf, found: u32 },
    #[error("no point {index} in sweep `{id}` (it has {count})")]
    #[diagnostic(code(expr::sweep::no_point))]
    NoPoint {
        id: String,
        index: usize,
        count: usize,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::output::OutputError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Record(#[from] RecordError),
}

/// The sweep's id: the same file and points make the same id.
pub fn sweep_id(file_sha256: &str, points: &[Vec<Override>]) -> String {
    let mut key = String::from(file_sha256);
    for p in points {
        key.push('\n');
        for o in p {
            key.push_str(&o.to_string());
            key.push('\0');
        }
    }
    let digest = record::provenance::sha256_bytes(key.as_bytes());
    digest[..12].to_string()
}

impl SweepRecord {
    /// `runs/<experiment>/sweeps/<id>`.
    pub fn dir_in(runs_dir: &Path, experiment: &str, id: &str) -> PathBuf {
        runs_dir.join(experiment).join(SWEEPS_DIR).join(id)
    }

    /// The run directory of point `index` (from 1), given the sweep's directory.
    pub fn run_dir(sweep_dir: &Path, point: &Point) -> PathBuf {
        experiment_dir(sweep_dir).join(&point.run)
    }

    pub fn point(&self, index: usize) -> Result<&Point, SweepRecordError> {
        self.points
            .iter()
            .find(|p| p.index == index)
            .ok_or(SweepRecordError::NoPoint {
                id: self.id.clone(),
                index,
                count: self.points.len(),
            })
    }

    /// Reads each point's run record and notes its status in `state`.
    pub fn refresh_states(&mut self, sweep_dir: &Path) {
        for p in &mut self.points {
            p.state = state_of(&Self::run_dir(sweep_dir, p)).to_string();
        }
    }

    /// Writes `sweep.yaml` into `sweep_dir` (temporary file and rename).
    pub fn save(&self, sweep_dir: &Path) -> Result<(), SweepRecordError> {
        let text = serde_yaml::to_string(self).map_err(|e| SweepRecordError::Invalid {
            path: sweep_dir.join(SWEEP_FILE),
            message: e.to_string(),
        })?;
        crate::output::atomic::write_atomic(&sweep_dir.join(SWEEP_FILE), |w| {
            std::io::Write::write_all(w, text.as_bytes())
        })?;
        Ok(())
    }
}

/// `runs/<experiment>` from `runs/<experiment>/sweeps/<id>`.
pub fn experiment_dir(sweep_dir: &Path) -> PathBuf {
    sweep_dir
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `pending` (no run record yet), or the run record's status label; `unreadable` when the
/// record cannot be read.
pub fn state_of(run_dir: &Path) -> &'static str {
    if !run_dir.join(record::RECORD_FILE).is_file() {
        return "pending";
    }
    match record::load(run_dir) {
        Ok(r) => r.status.label(),
        Err(_) => "unreadable",
    }
}

/// Whether the run in `run_dir` completed.
pub fn completed(run_dir: &Path) -> bool {
    record::load(run_dir).is_ok_and(|r| r.status == Status::Completed)
}

/// Reads `sweep.yaml` in `sweep_dir`.
pub fn load(sweep_dir: &Path) -> Result<SweepRecord, SweepRecordError> {
    let path = sweep_dir.join(SWEEP_FILE);
    let text = crate::source::read_text(&path, record::RECORD_LIMIT).map_err(|e| {
        SweepRecordError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        }
    })?;
    let sweep: SweepRecord =
        serde_yaml::from_str(&text).map_err(|e| SweepRecordError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
    if sweep.format != FORMAT {
        return Err(SweepRecordError::Format {
            path,
            found: sweep.format,
        });
    }
    Ok(sweep)
}

/// The directory of sweep `id` under a runs directory (`runs/`, `runs/<experiment>`), or
/// `id` itself when it is a sweep directory.
pub fn find(root: &Path, id: &str) -> Result<PathBuf, SweepRecordError> {
    let given = Path::new(id);
    if given.join(SWEEP_FILE).is_file() {
        return Ok(given.to_path_buf());
    }
    let mut known = Vec::new();
    let experiments: Vec<PathBuf> = if root.join(SWEEPS_DIR).is_dir() {
        vec![root.to_path_buf()]
    } else {
        std::fs::read_dir(root)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    for exp in experiments {
        let dir = exp.join(SWEEPS_DIR).join(id);
        if dir.join(SWEEP_FILE).is_file() {
            return Ok(dir);
        }
        if let Ok(entries) = std::fs::read_dir(exp.join(SWEEPS_DIR)) {
            known.extend(
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned()),
            );
        }
    }
    known.sort();
    let help = if known.is_empty() {
        "`expr sweep FILE --grid PATH=V1,V2` starts one".to_string()
    } else {
        format!("the sweeps there: {}", known.join(", "))
    };
    Err(SweepRecordError::Unknown {
        id: id.to_string(),
        root: root.to_path_buf(),
        help,
    })
}
