//! A sweep as one Slurm job array: the script (`sweep.sbatch` in the sweep directory), its
//! submission with `sbatch`, and what `squeue` says of it. Slurm schedules; each array
//! task runs one point (`expr sweep --task`), and requeues itself before its time limit.

use std::fmt::Write as _; // write! into a String, which cannot fail: hence `let _ =`
use std::path::Path;
use std::process::Command;

/// `#SBATCH` settings from the command line; `None` leaves Slurm's default.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub time: Option<String>,
    pub cpus_per_task: Option<usize>,
    pub mem: Option<String>,
    /// At most this many tasks at once (`--array=...%N`).
    pub array_limit: Option<usize>,
    /// Further `#SBATCH` lines, as given (`--sbatch "--account=ml"` or `"#SBATCH --qos=low"`).
    pub extra: Vec<String>,
}

/// The script's file name in the sweep directory.
pub const SCRIPT: &str = "sweep.sbatch";

/// Seconds before the time limit at which Slurm warns a task with SIGUSR1: time enough to
/// finish a step and write a checkpoint.
pub const WARN_SECONDS: u32 = 90;

/// The job array script for `indices` (from 1) of the sweep in `sweep_dir` (absolute),
/// run from `workdir` with the binary `expr`.
pub fn script(
    sweep_id: &str,
    experiment: &str,
    sweep_dir: &Path,
    workdir: &Path,
    expr: &Path,
    indices: &[usize],
    options: &SlurmOptions,
) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let _ = writeln!(
        s,
        "# expr sweep {sweep_id} of `{experiment}`: one array task per point."
    );
    let _ = writeln!(s, "#SBATCH --job-name=expr-{experiment}-{sweep_id}");
    let limit = options
        .array_limit
        .map(|n| format!("%{n}"))
        .unwrap_or_default();
    let _ = writeln!(s, "#SBATCH --array={}{limit}", array_ranges(indices));
    let _ = writeln!(
        s,
        "#SBATCH --output={}/slurm-%A_%a.out",
        sweep_dir.display()
    );
    // Appended to: a requeued task's log continues the first start's.
    s.push_str("#SBATCH --open-mode=append\n#SBATCH --requeue\n");
    let _ = writeln!(s, "#SBATCH --signal=B:USR1@{WARN_SECONDS}");
    if let Some(p) = &options.partition {
        let _ = writeln!(s, "#SBATCH --partition={p}");
    }
    if let Some(t) = &options.time {
        let _ = writeln!(s, "#SBATCH --time={t}");
    }
    let _ = writeln!(
        s,
        "#SBATCH --cpus-per-task={}",
        options.cpus_per_task.unwrap_or(1)
    );
    if let Some(m) = &options.mem {
        let _ = writeln!(s, "#SBATCH --mem={m}");
    }
    for line in &options.extra {
        let line = line.trim();
        if line.starts_with("#SBATCH") {
            let _ = writeln!(s, "{line}");
        } else {
            let _ = writeln!(s, "#SBATCH {line}");
        }
    }
    let _ = writeln!(
        s,
        "\ncd {} || exit 1",
        quote(&workdir.display().to_string())
    );
    // `exec`: the task is the batch shell itself, so `B:USR1` reaches it.
    let _ = writeln!(
        s,
        "exec {} sweep --task {} \"$SLURM_ARRAY_TASK_ID\" --threads \"${{SLURM_CPUS_PER_TASK:-1}}\"",
        quote(&expr.display().to_string()),
        quote(&sweep_dir.display().to_string())
    );
    s
}

/// `1-4,7,9-10`: Slurm's array syntax for sorted indices.
pub fn array_ranges(indices: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            indices[i].to_string()
        } else {
            format!("{}-{}", indices[i], indices[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// A shell word: single-quoted unless it is plain.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SlurmError {
    #[error("cannot run `{program}`: {source}")]
    #[diagnostic(code(expr::sweep::slurm_missing), help("run on a machine with Slurm's commands on PATH (a login node), or sweep here with `--jobs N`"))]
    Missing {
        program: &'static str,
        source: std::io::Error,
    },
    #[error("`sbatch` refused the job array: {message}")]
    #[diagnostic(code(expr::sweep::sbatch), help("the script is `{script}`; fix the `--partition`, `--time`, ... given, or submit it by hand"))]
    Refused { message: String, script: String },
}

/// Submits the script with `sbatch --parsable`; the job id.
pub fn submit(script: &Path) -> Result<String, SlurmError> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .output()
        .map_err(|source| SlurmError::Missing {
            program: "sbatch",
            source,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(SlurmError::Refused {
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            script: script.display().to_string(),
        });
    }
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() {
        return Err(SlurmError::Refused {
            message: "it printed no job id".into(),
            script: script.display().to_string(),
        });
    }
    Ok(id)
}

/// What `squeue` says of each task of job `job_id` still queued or running: (array index,
/// state), e.g. (3, `RUNNING`). Tasks that ended are not listed; their run records say how.
pub fn queue_states(job_id: &str) -> Result<Vec<(usize, String)>, SlurmError> {
    let output = Command::new("squeue")
        .args(["--noheader", "--array", "--jobs", job_id, "--format=%i %T"])
        .output()
        .map_err(|source| SlurmError::Missing {
            program: "squeue",
            source,
        })?;
    Ok(parse_squeue(&String::from_utf8_lossy(&output.stdout)))
}

/// `123_4 RUNNING` lines, and `123_[5-8%2] PENDING` for tasks not yet started.
pub fn parse_squeue(text: &str) -> Vec<(usize, String)> {
    let mut states = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(id), Some(state)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((_, tasks)) = id.split_once('_') else {
            continue;
        };
        let tasks = tasks.trim_start_matches('[').trim_end_matches(']');
        let tasks = tasks.split('%').next().unwrap_or("");
        for part in tasks.split(',') {
            let bounds = part.split_once('-').map_or((part, part), |(a, b)| (a, b));
            if let (Ok(a), Ok(b)) = (bounds.0.parse::<usize>(), bounds.1.parse::<usize>()) {
                states.extend((a..=b).map(|i| (i, state.to_string())));
            }
        }
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_become_slurm_array_ranges() {
        assert_eq!(array_ranges(&[1, 2, 3, 4, 7, 9, 10]), "1-4,7,9-10");
        assert_eq!(array_ranges(&[5]), "5");
        assert_eq!(array_ranges(&[]), "");
    }

    #[test]
    fn squeue_lines_name_running_tasks_and_pending_ranges() {
        let text = "4242_2 RUNNING\n4242_[3-5,8%2] PENDING\n4243 RUNNING\n\n";
        assert_eq!(
            parse_squeue(text),
            [
                (2, "RUNNING".to_string()),
                (3, "PENDING".to_string()),
                (4, "PENDING".to_string()),
                (5, "PENDING".to_string()),
                (8, "PENDING".to_string()),
            ]
        );
    }

    #[test]
    fn shell_words_are_quoted_when_not_plain() {
        assert_eq!(quote("/home/a/runs"), "/home/a/runs");
        assert_eq!(quote("/home/a b/it's"), r"'/home/a b/it'\''s'");
    }
}
