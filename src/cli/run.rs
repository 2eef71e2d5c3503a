//! `expr run FILE`, `expr run --resume RUN_DIR`, `expr run --rerun RUN_YAML`: reads the
//! experiment (with `--set` overrides, or from a run record), trains it through `crate::run`
//! with log lines on stdout, and turns the outcome into messages and exit codes.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use miette::Diagnostic;

use crate::check::plan::Experiment;
use crate::overrides::{self, LoadError, Override};
use crate::overrides::{load_recorded, Recorded, SourceError};
use crate::record::rerun;
use crate::record::{self, Provenance, RunRecord};
use crate::report;
use crate::run::{interrupt, resume, run, EditedRecord, RunError, RunOptions};

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The experiment file.
    #[arg(required_unless_present_any = ["resume", "rerun"])]
    pub file: Option<PathBuf>,
    /// Continue an interrupted run from its newest checkpoint: `--resume runs/mnist/<id>`.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["file", "set", "rerun"])]
    pub resume: Option<PathBuf>,
    /// Where run directories go: DIR/<experiment>/<run-id>/.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Train for this many epochs instead of the file's (the same as `--set train.epochs=N`).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Worker threads (default: the file's `threads`, else every core); at most 4 × the cores.
    #[arg(long, value_parser = threads_arg)]
    pub threads: Option<usize>,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Print each epoch's training and test seconds on stderr.
    #[arg(long)]
    pub timings: bool,
    /// Change a value without editing the file, e.g. `--set opt.lr=3e-4`; repeatable.
    /// Paths: `experiment.seed`, `train.epochs`, `<optimizer>.lr`, `<data>.batch`,
    /// `<model>.<layer>.<param>` (see docs/git.md).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Run the experiment of a run record again and report whether every number matches.
    #[arg(long, value_name = "RUN_YAML", conflicts_with_all = ["file", "set", "epochs"])]
    pub rerun: Option<PathBuf>,
    /// With `--resume` or `--rerun`: use a run record whose experiment text or history was
    /// changed after the run wrote it (refused otherwise, as it would not repeat what ran).
    #[arg(long)]
    pub accept_edited_record: bool,
    /// The run's id, for `expr sweep`'s points (made of the start time and the pid otherwise).
    #[arg(long, hide = true, value_parser = run_id_arg, conflicts_with_all = ["resume", "rerun"])]
    pub run_id: Option<String>,
}

/// `--run-id`: one directory name, no path.
fn run_id_arg(arg: &str) -> Result<String, String> {
    let plain = !arg.is_empty()
        && !arg.starts_with('.')
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        Ok(arg.to_string())
    } else {
        Err("a run id is letters, digits, `.`, `-` and `_`".into())
    }
}

/// `--threads N`, capped as the file's `threads` is (`check::file::max_threads`): a
/// thousand threads on a few cores run for minutes instead of seconds.
pub(super) fn threads_arg(arg: &str) -> Result<usize, String> {
    let n: usize = arg.parse().map_err(|e| format!("{e}"))?;
    let max = crate::check::file::max_threads();
    if n > max {
        return Err(format!(
            "must be at most {max} (4 × this machine's {} cores)",
            max / 4
        ));
    }
    Ok(n)
}

/// The experiment to run, where it came from, and for `--rerun` the record it repeats.
struct Prepared {
    experiment: Experiment,
    provenance: Provenance,
    original: Option<RunRecord>,
}

/// Exit codes: 0 when the run completed (and, with `--rerun`, every number matched), 1 when
/// it failed, a rerun differs or the file cannot be read, 2 when the experiment, an override
/// or the record is wrong, 130 when interrupted.
pub fn main(args: &RunArgs) -> ExitCode {
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let Prepared {
        experiment: mut exp,
        provenance,
        original,
    } = match prepare(args) {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    if args.resume.is_some() {
        if let Some(epochs) = args.epochs {
            exp.epochs = epochs.max(1);
        }
    }
    if let Some(t) = args.threads {
        exp.threads = Some(t.max(1));
    }
    interrupt::install();
    let mut stdout = std::io::stdout();
    let mut print = |line: &str| {
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    };
    let options = RunOptions {
        caller_joins_pool: true,
        show_progress,
        timings: args.timings,
        notices: Some(|line| eprintln!("{line}")),
        provenance,
        edited_record: if args.accept_edited_record {
            EditedRecord::Accept
        } else {
            EditedRecord::Refuse
        },
        run_id: args.run_id.clone(),
    };
    let result = match &args.resume {
        Some(dir) => resume(&Arc::new(exp), dir, &options, &mut print),
        None => run(&Arc::new(exp), &args.runs_dir, &options, &mut print),
    };
    match result {
        Ok(result) => {
            eprintln!("run saved in {}", result.dir.display());
            match original {
                Some(original) => report_rerun(&original, &result.record),
                None => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            // An error with a span (a hook's learning rate) is shown against the text that
            // ran: the file after its overrides, as the record keeps it.
            let provenance = &options.provenance;
            let source = match (&provenance.path, &provenance.resolved) {
                (Some(path), Some(text)) if e.labels().is_some() => {
                    Some(crate::source::Source::new(path.clone(), text.as_str()))
                }
                _ => None,
            };
            eprint!(
                "{}",
                report::render(&e, source.as_ref(), report::stderr_colour())
            );
            // 130 = 128 + SIGINT, what shells expect of an interrupted program; 2, as for
            // `expr check`'s diagnostics, when the data files are at fault.
            ExitCode::from(match &e {
                RunError::Interrupted { .. }
                | RunError::Data(crate::data::DataError::Interrupted { .. }) => 130,
                RunError::Data(data) if data.is_bad_data() => 2,
                RunError::DataMismatch { .. } => 2,
                _ => 1,
            })
        }
    }
}

/// The experiment of `--resume`, `--rerun` or the file with its overrides; or the exit code
/// after the errors were printed.
fn prepare(args: &RunArgs) -> Result<Prepared, ExitCode> {
    if let Some(dir) = &args.resume {
        let recorded = recorded(&dir.join(record::RECORD_FILE), args)?;
        let done = recorded.record.epochs;
        if recorded.record.status == record::Status::Completed
            && args.epochs.is_none_or(|e| e <= done)
        {
            let how = match &recorded.record.stopped {
                Some(s) if s.reason != "epochs" => {
                    let at = s
                        .step
                        .map_or(String::new(), |step| format!(", step {step}"));
                    format!(": stopped by `{}` at epoch {}{at};", s.reason, s.epoch)
                }
                _ => format!(" all {done} epochs:"),
            };
            eprintln!(
                "run `{}` already completed{how} nothing to resume, nothing changed",
                dir.display()
            );
            return Err(ExitCode::SUCCESS);
        }
        return Ok(Prepared {
            experiment: recorded.experiment,
            provenance: recorded.provenance,
            original: None,
        });
    }
    if let Some(path) = &args.rerun {
        let Recorded {
            experiment,
            mut provenance,
            record,
        } = recorded(path, args)?;
        provenance.rerun_of = Some(record.id.clone());
        return Ok(Prepared {
            experiment,
            provenance,
            original: Some(record),
        });
    }
    let file = args.file.clone().unwrap_or_default();
    let mut sets = Vec::new();
    for arg in &args.set {
        sets.push(Override::parse(arg).map_err(|f| {
            eprint!("{}", f.render(report::stderr_colour()));
            ExitCode::from(2)
        })?);
    }
    if let Some(epochs) = args.epochs {
        sets.push(Override {
            path: "train.epochs".into(),
            value: epochs.max(1).to_string(),
        });
    }
    let loaded = overrides::load_file(&file, &sets).map_err(|e| load_failed(&file, e))?;
    Ok(Prepared {
        experiment: loaded.experiment,
        provenance: loaded.provenance,
        original: None,
    })
}

/// The experiment a run record holds, its text checked against its SHA-256 unless
/// `--accept-edited-record`; or, with the errors printed, exit code 2.
fn recorded(path: &Path, args: &RunArgs) -> Result<Recorded, ExitCode> {
    let refused = |e: &record::RecordError| {
        super::print_error(e);
        ExitCode::from(2)
    };
    // Checked before the text is parsed: an edit is named as such, not as a syntax error.
    if !args.accept_edited_record {
        if let Ok(record) = record::load(path) {
            record::verify::source(&record, path).map_err(|e| refused(&e))?;
        }
    }
    load_recorded(path).map_err(|e| match e {
        SourceError::Record(e) => refused(&e),
        SourceError::Load(e) => load_failed(path, e),
    })
}

/// Prints why the experiment at `shown` cannot run and returns the exit code.
pub(super) fn load_failed(shown: &Path, e: LoadError) -> ExitCode {
    match e {
        LoadError::Frontend(e) => ExitCode::from(super::print_frontend_error(shown, &e)),
        LoadError::Override(f) => {
            eprint!("{}", f.render(report::stderr_colour()));
            ExitCode::from(2)
        }
    }
}

/// Prints whether the rerun matched, with the first differences; exit code 0 when every
/// number matched, 1 otherwise. Different data or versions are said first, as the likely cause.
fn report_rerun(original: &RunRecord, rerun: &RunRecord) -> ExitCode {
    for note in rerun::context_changes(original, rerun) {
        println!("note: {note}");
    }
    let mismatches = rerun::compare(original, rerun);
    let values: usize = original.history.values().map(Vec::len).sum();
    if mismatches.is_empty() {
        println!(
            "rerun of {}: all {values} metric values and the trained parameters match bit for bit",
            original.id
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "rerun of {}: {} numbers differ",
        original.id,
        mismatches.len()
    );
    for m in mismatches.iter().take(10) {
        println!("  {m}");
    }
    if mismatches.len() > 10 {
        println!("  ... and {} more", mismatches.len() - 10);
    }
    ExitCode::from(1)
}
