//! Sweeps: one experiment run at many points (`expr sweep FILE --grid opt.lr=1e-3,3e-4`).
//!
//! A point is a list of overrides, applied as `expr run --set` applies them; every point is
//! checked before any runs. The sweep lives in `runs/<experiment>/sweeps/<id>/sweep.yaml`
//! (`record`), each point in an ordinary run directory beside the experiment's other runs,
//! named after the sweep's start and the point (`<run id>-p3`). A point runs as a child
//! process, `expr run` with a fixed run id (`launch`), side by side on this machine
//! (`local`) or as one task of a Slurm job array (`slurm`, `task`); running the same sweep
//! again resumes what was interrupted and skips what completed.

pub mod block;
pub mod compare;
pub mod launch;
pub mod local;
pub mod record;
pub mod signals;
pub mod slurm;
pub mod space;
pub mod table;
pub mod task;

use std::path::{Path, PathBuf};

use crate::overrides::{self, LoadError, Override};
use record::{Point, SweepRecord};

/// A sweep ready to run: its record (new, or as found and refreshed) and its directory.
pub struct Prepared {
    pub record: SweepRecord,
    pub dir: PathBuf,
    /// Whether the sweep existed before this command.
    pub continued: bool,
    /// The file's `threads`, when it sets one: a point then runs with it.
    pub file_threads: Option<usize>,
}

/// Why a sweep cannot start.
pub enum PrepareError {
    /// Points whose experiment does not load, each with its index (from 1), overrides and
    /// error. Every point is tried.
    Points(Vec<(usize, Vec<Override>, LoadError)>),
    Record(record::SweepRecordError),
}

/// What the sweep record says of where the points came from.
pub struct Described {
    /// The arguments that made the points: `--grid opt.lr=1e-3,3e-4`, ...
    pub space: Vec<String>,
    /// The paths swept (not those every point sets alike, as `--epochs` does).
    pub swept: Vec<String>,
}

/// Checks every point of `points` (each as `expr check` would, with its overrides) and finds
/// or creates the sweep's record under `runs_dir`.
pub fn prepare(
    file: &Path,
    points: &[Vec<Override>],
    described: Described,
    runs_dir: &Path,
) -> Result<Prepared, PrepareError> {
    let mut bad = Vec::new();
    let mut first = None;
    for (i, point) in points.iter().enumerate() {
        match overrides::load_file(file, point) {
            Ok(loaded) => {
                first.get_or_insert(loaded);
            }
            Err(e) => bad.push((i + 1, point.clone(), e)),
        }
    }
    let (Some(first), true) = (first, bad.is_empty()) else {
        return Err(PrepareError::Points(bad));
    };
    let experiment = first.experiment.name.clone();
    let file_sha256 = first.provenance.file_sha256.clone().unwrap_or_default();
    let id = record::sweep_id(&file_sha256, points);
    let dir = SweepRecord::dir_in(runs_dir, &experiment, &id);
    let file_threads = first.experiment.threads;
    if dir.join(record::SWEEP_FILE).is_file() {
        let mut found = record::load(&dir).map_err(PrepareError::Record)?;
        found.refresh_states(&dir);
        return Ok(Prepared {
            record: found,
            dir,
            continued: true,
            file_threads,
        });
    }
    std::fs::create_dir_all(&dir).map_err(|source| {
        PrepareError::Record(record::SweepRecordError::Record(
            crate::record::RecordError::RunDir {
                path: dir.clone(),
                source,
            },
        ))
    })?;
    let stem = crate::record::id::run_id(std::time::SystemTime::now(), std::process::id());
    let record = SweepRecord {
        format: record::FORMAT,
        id,
        experiment,
        file: file.display().to_string(),
        file_sha256,
        created: crate::record::provenance::now(),
        space: described.space,
        swept: described.swept,
        points: points
            .iter()
            .enumerate()
            .map(|(i, p)| Point {
                index: i + 1,
                overrides: p.iter().map(ToString::to_string).collect(),
                run: format!("{stem}-p{}", i + 1),
                state: "pending".into(),
            })
            .collect(),
        slurm: None,
    };
    record.save(&dir).map_err(PrepareError::Record)?;
    Ok(Prepared {
        record,
        dir,
        continued: false,
        file_threads,
    })
}
