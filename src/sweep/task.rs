//! One point as one task (`expr sweep --task SWEEP_DIR INDEX`): what a Slurm job array's
//! tasks run. The point's run is a child `expr run`; this process watches it.
//!
//! Slurm warns a task before its time limit with SIGUSR1 (`--signal=B:USR1@90`, sent to
//! this process only): the run is asked to stop (it checkpoints), and once it has, the
//! task requeues itself with `scontrol requeue`, so the next start resumes the run from
//! that checkpoint, bit for bit. SIGTERM (`scancel`, preemption) reaches every process of
//! the job, the run included, so it is not passed on: a second signal would stop the run
//! without its checkpoint. Outside Slurm, SIGINT and SIGTERM are passed on.

use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use super::launch::{self, Next};
use super::record::{self, SweepRecord, SweepRecordError};
use super::signals;

/// How the task ended.
#[derive(Debug, PartialEq, Eq)]
pub enum TaskEnd {
    /// The point's run had completed before: nothing ran.
    AlreadyDone,
    /// Another process holds the point's run directory.
    Busy,
    /// The run ended with this exit code; `requeued` when the task asked Slurm to run it again.
    Ran { code: i32, requeued: bool },
}

/// Runs point `index` of the sweep in `sweep_dir`, fresh with `threads` or resumed.
pub fn run(
    sweep_dir: &std::path::Path,
    index: usize,
    threads: Option<usize>,
    out: &mut dyn FnMut(&str),
) -> Result<TaskEnd, SweepRecordError> {
    signals::install();
    let sweep = record::load(sweep_dir)?;
    let point = sweep.point(index)?.clone();
    let args = match launch::next(&sweep, sweep_dir, &point, threads) {
        Next::Done => return Ok(TaskEnd::AlreadyDone),
        Next::Busy => return Ok(TaskEnd::Busy),
        Next::Run { args, .. } => args,
    };
    out(&format!(
        "sweep {} point {index}/{}: {} → {}",
        sweep.id,
        sweep.points.len(),
        point.overrides.join(" "),
        SweepRecord::run_dir(sweep_dir, &point).display()
    ));
    let io = |source| {
        SweepRecordError::Record(crate::record::RecordError::RunDir {
            path: sweep_dir.to_path_buf(),
            source,
        })
    };
    let mut child = Command::new(super::local::expr_binary())
        .args(&args)
        .stdin(Stdio::null())
        .spawn()
        .map_err(io)?;
    let in_slurm = slurm_task().is_some();
    let (mut warned, mut passed) = (false, 0);
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait().map_err(io)? {
            break status;
        }
        if signals::usr1() && !warned {
            warned = true;
            out("the time limit is near: checkpointing, then requeueing this task");
            signals::stop(child.id(), false);
        }
        if !in_slurm && signals::stops() > passed {
            passed = signals::stops();
            signals::stop(child.id(), passed > 1);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let code = status.code().unwrap_or(1);
    let interrupted = record::state_of(&SweepRecord::run_dir(sweep_dir, &point)) == "interrupted";
    let requeued = warned && interrupted && requeue(out);
    Ok(TaskEnd::Ran { code, requeued })
}

/// `JOBID_TASKID` of the Slurm array task this process runs in, if it does.
pub fn slurm_task() -> Option<String> {
    let job = std::env::var("SLURM_ARRAY_JOB_ID").ok()?;
    let task = std::env::var("SLURM_ARRAY_TASK_ID").ok()?;
    Some(format!("{job}_{task}"))
}

/// `scontrol requeue JOBID_TASKID`; whether it succeeded.
fn requeue(out: &mut dyn FnMut(&str)) -> bool {
    let Some(task) = slurm_task() else {
        out("not in a Slurm array task: not requeued; `expr sweep` again resumes the point");
        return false;
    };
    match Command::new("scontrol").args(["requeue", &task]).status() {
        Ok(s) if s.success() => {
            out(&format!("requeued {task}: it resumes from its checkpoint"));
            true
        }
        Ok(s) => {
            out(&format!(
                "`scontrol requeue {task}` failed ({s}); `expr sweep` again resumes the point"
            ));
            false
        }
        Err(e) => {
            out(&format!("cannot run `scontrol`: {e}"));
            false
        }
    }
}
