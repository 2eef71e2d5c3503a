//! Running a sweep's points on this machine, `jobs` at a time, each a child `expr run`
//! whose output goes to `point-<index>.log` in the sweep directory.
//!
//! The children run in process groups of their own, so a Ctrl-C at the terminal reaches
//! this process only; it passes one SIGTERM to each run (which checkpoints and stops
//! `interrupted`) and waits for them. A second Ctrl-C kills them. A child also gets
//! SIGTERM when this process dies, so no run is left behind unwatched.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::launch::{self, Next};
use super::record::{SweepRecord, SweepRecordError};
use super::signals;

/// How the points end.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Points that completed now or before.
    pub completed: Vec<usize>,
    /// Points whose run failed, or another process held.
    pub failed: Vec<usize>,
    pub interrupted: bool,
}

struct Running {
    index: usize,
    child: Child,
    started: Instant,
}

/// Runs every point of `sweep` not yet completed, `jobs` at a time, fresh runs with
/// `threads` each; rewrites `sweep.yaml` as each point ends. `out` gets a line per event.
pub fn run(
    sweep: &mut SweepRecord,
    dir: &Path,
    jobs: usize,
    threads: Option<usize>,
    out: &mut dyn FnMut(&str),
) -> Result<Outcome, SweepRecordError> {
    signals::install();
    let total = sweep.points.len();
    let mut queue: std::collections::VecDeque<usize> = (1..=total).collect();
    let mut running: Vec<Running> = Vec::new();
    let mut outcome = Outcome::default();
    let (mut asked, mut killed) = (false, false);
    loop {
        while running.len() < jobs.max(1) && !asked {
            let Some(index) = queue.pop_front() else {
                break;
            };
            let point = sweep.point(index)?.clone();
            match launch::next(sweep, dir, &point, threads) {
                Next::Done => outcome.completed.push(index),
                Next::Busy => {
                    out(&format!("point {index}/{total}: its run directory is in use by another process; skipped"));
                    outcome.failed.push(index);
                }
                Next::Run { args, resume } => {
                    let log = dir.join(format!("point-{index}.log"));
                    let child = spawn(&args, &log).map_err(|source| {
                        SweepRecordError::Record(crate::record::RecordError::RunDir {
                            path: log.clone(),
                            source,
                        })
                    })?;
                    let verb = if resume { "resumed" } else { "started" };
                    out(&format!(
                        "point {index}/{total} {verb}: {} → {} (log: {})",
                        point.overrides.join(" "),
                        SweepRecord::run_dir(dir, &point).display(),
                        log.display()
                    ));
                    running.push(Running {
                        index,
                        child,
                        started: Instant::now(),
                    });
                }
            }
        }
        if running.is_empty() && (queue.is_empty() || asked) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if signals::stops() >= 1 && !asked {
            asked = true;
            out("stopping: each running point checkpoints and stops (Ctrl-C again to kill them)");
            for r in &running {
                signals::stop(r.child.id(), false);
            }
        }
        if signals::stops() >= 2 && !killed {
            killed = true;
            for r in &running {
                signals::stop(r.child.id(), true);
            }
        }
        let mut i = 0;
        while i < running.len() {
            let Ok(Some(status)) = running[i].child.try_wait() else {
                i += 1;
                continue;
            };
            let r = running.swap_remove(i);
            let point = sweep.point(r.index)?.clone();
            let run_dir = SweepRecord::run_dir(dir, &point);
            let state = super::record::state_of(&run_dir);
            let seconds = r.started.elapsed().as_secs_f64();
            match state {
                "completed" => outcome.completed.push(r.index),
                "interrupted" => outcome.interrupted = true,
                _ => outcome.failed.push(r.index),
            }
            let code = status
                .code()
                .map_or_else(|| "a signal".into(), |c| format!("exit code {c}"));
            out(&format!(
                "point {}/{total} {state} after {seconds:.1} s ({code}){}",
                r.index,
                metrics_line(&run_dir)
            ));
            sweep.refresh_states(dir);
            sweep.save(dir)?;
        }
    }
    if asked {
        outcome.interrupted = true;
    }
    sweep.refresh_states(dir);
    sweep.save(dir)?;
    outcome.completed.sort_unstable();
    outcome.failed.sort_unstable();
    Ok(outcome)
}

/// `: test_accuracy=0.9100 ...`, the run's final metrics, when it has any.
fn metrics_line(run_dir: &Path) -> String {
    let Ok(r) = crate::record::load(run_dir) else {
        return String::new();
    };
    let parts: Vec<String> = r
        .metrics
        .iter()
        .filter_map(|m| r.final_metrics.get(m).map(|v| format!("{m}={v:.4}")))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(" "))
    }
}

/// The binary that runs points: this one.
pub fn expr_binary() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("expr"))
}

/// Starts `expr ARGS` in a process group of its own, output appended to `log`.
fn spawn(args: &[OsString], log: &Path) -> std::io::Result<Child> {
    let file = OpenOptions::new().create(true).append(true).open(log)?;
    let mut command = Command::new(expr_binary());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent's.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    command.spawn()
}
