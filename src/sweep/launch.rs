//! What to run for one point: nothing when its run completed, `expr run --resume` when its
//! run started, else `expr run FILE --set ...` with the point's run id.

use std::ffi::OsString;
use std::path::Path;

use super::record::{self, Point, SweepRecord};

/// The next step of a point.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Its run completed: nothing to do.
    Done,
    /// Another process holds its run directory (another sweep command, a Slurm task).
    Busy,
    /// `expr` with these arguments starts or resumes it.
    Run { args: Vec<OsString>, resume: bool },
}

/// The point's next step. `threads` is given to a fresh run only: a resumed run keeps the
/// threads it started with, which its numbers depend on.
pub fn next(sweep: &SweepRecord, sweep_dir: &Path, point: &Point, threads: Option<usize>) -> Next {
    let run_dir = SweepRecord::run_dir(sweep_dir, point);
    if record::completed(&run_dir) {
        return Next::Done;
    }
    if run_dir.is_dir() {
        let Ok(lock) = crate::run::lock::RunLock::acquire(&run_dir) else {
            return Next::Busy;
        };
        if resumable(&run_dir) {
            let args = vec![
                "run".into(),
                "--resume".into(),
                run_dir.into(),
                "--no-progress".into(),
            ];
            return Next::Run { args, resume: true };
        }
        // A run stopped before its record or its first epoch holds nothing to resume: it
        // starts again in the same directory.
        drop(lock);
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    let runs_root = record::experiment_dir(sweep_dir)
        .parent()
        .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
    let mut args: Vec<OsString> = vec!["run".into(), sweep.file.clone().into()];
    for o in &point.overrides {
        args.push("--set".into());
        args.push(o.into());
    }
    args.extend([
        "--runs-dir".into(),
        runs_root.into(),
        "--run-id".into(),
        point.run.clone().into(),
        "--no-progress".into(),
    ]);
    if let Some(t) = threads {
        args.extend(["--threads".into(), t.to_string().into()]);
    }
    Next::Run {
        args,
        resume: false,
    }
}

/// Whether `run_dir` holds a run record with a checkpoint or a finished epoch (`--resume`
/// then continues it, or says why it cannot).
fn resumable(run_dir: &Path) -> bool {
    let Ok(run) = crate::record::load(run_dir) else {
        return false;
    };
    !crate::run::checkpoint::list(run_dir).is_empty() || run.epochs_done() > 0
}
