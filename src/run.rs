//! Run: a checked experiment to a trained model — read the data (`examples`), lower it
//! (`lower::Engine`), train epoch by epoch (`train_loop`, with `hooks` and `metrics`), then
//! the `after` actions (plots, saved models, grids) into a run directory with its run record
//! (`run.yaml`) and checkpoints. A loop over host data: the engine does the tensors.

mod after;
pub mod checkpoint;
pub mod classify;
pub mod evaluate;
pub mod examples;
pub mod grid;
pub mod hooks;
pub mod interrupt;
pub mod lock;
pub mod metrics;
pub mod model_io;
pub mod plateau;
pub mod predict;
mod prefetch;
pub mod sample;
pub mod scalar;
pub mod score;
pub mod stopping;
pub mod train_loop;

use std::fmt::Write as _; // write! into a String, which cannot fail: hence `let _ =`
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::check::plan::{Action, Experiment};
use crate::data::{self, Examples};
use crate::record::{self, Provenance, Recorder, RunRecord, Status};

use crate::lower::Engine;
use train_loop::Loop;

/// A failure after the file checked out: data, I/O, model files.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    ModelFile(#[from] model_io::ModelFileError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Record(#[from] crate::record::RecordError),
    #[error("data `{data}` does not match its declaration: {problem}")]
    #[diagnostic(code(expr::run::data_mismatch), help("{help}"))]
    DataMismatch {
        data: String,
        problem: String,
        help: String,
    },
    #[error("stopped at epoch {}, step {step}: {what}; {last_good}", epoch + 1)]
    #[diagnostic(
        code(expr::run::non_finite),
        help("lower the learning rate, clip gradients (`on step {{ clip(norm = 1.0) }}`), or set `on_nan = skip_batch` (or `restore_last`) in `train {{ }}` to go on past such steps; `expr run --resume RUN_DIR` continues from the last good checkpoint")
    )]
    NonFinite {
        epoch: usize,
        step: u64,
        what: String,
        /// `last good checkpoint: <path>`, or that there is none yet.
        last_good: String,
    },
    #[error("interrupted by {signal} at epoch {}, step {step}", epoch + 1)]
    #[diagnostic(
        code(expr::run::interrupted),
        help("continue with `expr run --resume RUN_DIR`")
    )]
    Interrupted {
        epoch: usize,
        step: u64,
        signal: &'static str,
    },
    #[error("stopped at epoch {}, step {step}: a hook set `{optimizer}.lr` to {value}", epoch + 1)]
    #[diagnostic(
        code(expr::run::learning_rate),
        help("a learning rate must be a finite number, 0 or above; bound the schedule (`max(..., 1e-6)`), or check the metric it reads; `expr run --resume RUN_DIR` continues from the last checkpoint once the file is fixed")
    )]
    LearningRate {
        epoch: usize,
        step: u64,
        optimizer: String,
        value: f64,
        #[label("this hook")]
        span: miette::SourceSpan,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    After(#[from] after::AfterError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Locked(#[from] lock::LockError),
    #[error("cannot start {threads} worker threads: {message}")]
    #[diagnostic(code(expr::run::threads))]
    Threads { threads: usize, message: String },
}

/// What a finished run leaves behind, for callers and tests.
pub struct RunResult {
    pub dir: PathBuf,
    pub names: Vec<String>,
    pub history: Vec<Vec<f64>>,
    pub train_seconds: Vec<f64>,
    pub eval_seconds: Vec<f64>,
    pub parameters: Vec<Vec<Vec<f32>>>,
    /// The run record as written at the end (status `completed`).
    pub record: RunRecord,
}

/// How a run reports on the terminal, and where its experiment came from (for the record).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub show_progress: bool,
    /// Each epoch's seconds as a notice: `epoch 2: train 5.12 s (183 steps/s), test 0.41 s`.
    pub timings: bool,
    /// Where notices go (resuming, interrupted, a checkpoint not written, timings): the CLI
    /// prints them on stderr; `None` drops them.
    pub notices: Option<fn(&str)>,
    /// The file, its hash, the text after overrides; `--resume` re-reads that text.
    pub provenance: Provenance,
    /// Whether the calling thread becomes one of rayon's workers when the thread pool is
    /// built. The CLI's main thread does: the training loop then hands each parallel op to
    /// the other workers through its own queue and works on it too, instead of waking a
    /// worker and sleeping until it is done (32,000 context switches an epoch, not 2,400).
    /// Library callers that may return and end their thread (tests) leave it off, which
    /// would leave the pool a dead worker.
    pub caller_joins_pool: bool,
    /// Whether to resume when the record's history no longer matches the checkpoint's.
    pub edited_record: EditedRecord,
    /// The run's id (a sweep's point), instead of one made of the start time and the pid.
    pub run_id: Option<String>,
}

/// What `resume` does with a record whose history disagrees with its checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EditedRecord {
    /// Refuse it, naming the field (the default).
    #[default]
    Refuse,
    /// `--accept-edited-record`: rebuild the history from the checkpoint.
    Accept,
}

/// Trains a checked experiment in a new run directory under `runs_dir`, keeping its run
/// record up to date: `running` from before the first epoch, rewritten after every epoch,
/// and `completed`, `interrupted` or `failed` (with the error, or the panic) at the end.
/// `out` receives the log lines.
pub fn run(
    exp: &Arc<Experiment>,
    runs_dir: &Path,
    options: &RunOptions,
    out: &mut dyn FnMut(&str),
) -> Result<RunResult, RunError> {
    let threads = set_threads(exp.threads, options.caller_joins_pool)?;
    // Read every data set before creating anything, so bad data leaves no trace.
    let examples = examples::load(exp)?;
    for line in examples::streaming_notices(exp, &examples) {
        notice(options, &line);
    }
    let mut engine = Engine::new(exp.clone());
    for action in &exp.before {
        if let Action::Load { model, path, .. } = action {
            model_io::load_into(&mut engine, *model, path)?;
        }
    }
    let id = options
        .run_id
        .clone()
        .unwrap_or_else(|| record::id::run_id(std::time::SystemTime::now(), std::process::id()));
    let (dir, id) = record::id::create_run_dir(runs_dir, &exp.name, &id)?;
    // A disk too full for the run's models and checkpoints is known now, not hours later.
    let (needed, what) = crate::output::space::run_output_estimate(exp);
    if let Err(e) = crate::output::space::ensure_space(runs_dir, needed, &what) {
        let _ = std::fs::remove_dir(&dir);
        return Err(e.into());
    }
    let _lock = lock::RunLock::acquire(&dir)?;
    let mut record = record::new_record(exp, &options.provenance, id, threads);
    record.encoding = exp
        .datasets
        .iter()
        .zip(&examples)
        .filter(|(_, e)| !e.encoding.is_empty())
        .map(|(d, e)| (d.name.clone(), e.encoding.clone()))
        .collect();
    let recorder = Recorder::start(&dir, record)?;
    execute(exp, engine, examples, &recorder, None, options, out)
}

/// Continues a run from the newest checkpoint in its directory that is whole and valid, in
/// the same record: the directory locked, the record's data checked against its SHA-256
/// (read from where the run read it), and the record's history rebuilt from the checkpoint.
pub fn resume(
    exp: &Arc<Experiment>,
    dir: &Path,
    options: &RunOptions,
    out: &mut dyn FnMut(&str),
) -> Result<RunResult, RunError> {
    let threads = set_threads(exp.threads, options.caller_joins_pool)?;
    // Nothing in the directory is touched while another process uses it.
    let _lock = lock::RunLock::acquire(dir)?;
    let record_path = dir.join(record::RECORD_FILE);
    let record = record::load(&record_path).ok();
    let mut resolved = (**exp).clone();
    if let Some(r) = &record {
        record::verify::resolve_data(&mut resolved, r);
        record::verify::data(&resolved, r, &record_path)?;
    }
    let exp = &Arc::new(resolved);
    let examples = examples::load(exp)?;
    let mut engine = Engine::new(exp.clone());
    let expected = checkpoint::Expected::of(&engine, &examples);
    let (path, checkpoint) =
        checkpoint::read_latest_valid(dir, &expected, &mut |line| notice(options, line))?;
    // A kill during a write leaves its hidden temporary file; the run owns the directory now.
    crate::output::atomic::remove_stale_temporaries(dir);
    let stop = || interrupt::requested().is_some();
    let replayed = engine
        .restore_until(&checkpoint.engine, &stop)
        .map_err(|e| checkpoint::CheckpointError::Mismatch {
            path: path.clone(),
            problem: match e {
                crate::lower::TensorMismatch::Missing { name } => format!("it has no `{name}`"),
                crate::lower::TensorMismatch::Shape {
                    name,
                    expected,
                    found,
                } => format!("`{name}` has shape {found:?}, not {expected:?}"),
            },
        })?;
    if !replayed {
        return Err(RunError::Interrupted {
            epoch: checkpoint.position.epoch,
            step: checkpoint.position.global_step,
            signal: interrupt::requested().unwrap_or("SIGINT"),
        });
    }
    notice(options, &format!("resuming from {}", path.display()));
    let kernels = crate::ops::cpu::simd::kernel_path();
    if let Some(then) = record.as_ref().and_then(|r| r.kernels.as_deref()) {
        if then != kernels {
            let words = record::rerun::kernel_words;
            notice(
                options,
                &format!(
                    "note: the run used the {} kernels, this resume uses the {}; the result may differ from an uninterrupted run's in the last bits",
                    words(then),
                    words(kernels)
                ),
            );
        }
    }
    let names: Vec<String> = exp.metrics.iter().map(|m| m.name.clone()).collect();
    let record = match record {
        Some(r) => {
            if options.edited_record == EditedRecord::Refuse {
                record::verify::history(&r, &names, &checkpoint.position.history, &record_path)?;
            }
            rebuilt(r, exp, &names, &checkpoint.position)
        }
        None => {
            let id = dir
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            record::new_record(exp, &options.provenance, id, threads)
        }
    };
    let recorder = Recorder::start(dir, record)?;
    execute(
        exp,
        engine,
        examples,
        &recorder,
        Some(&checkpoint),
        options,
        out,
    )
}

/// The record as the checkpoint says it stands: every epoch the checkpoint finished in
/// `history`, `final_metrics`, `epoch_seconds` (and so in `metrics.csv`), and the default
/// epoch lines in `log` for epochs a kill cut off before the record was written.
fn rebuilt(
    mut record: RunRecord,
    exp: &Experiment,
    names: &[String],
    position: &checkpoint::LoopPosition,
) -> RunRecord {
    let had = record.epochs_done();
    // `--resume --epochs N` changes the run's length; the record says what it now is.
    record.epochs = exp.epochs;
    let has_log = exp
        .hooks
        .epoch_end
        .iter()
        .any(|a| matches!(a, Action::Log(_)));
    if !has_log {
        for epoch in had..position.epoch {
            let mut line = format!("Epoch {}", epoch + 1);
            for (name, h) in names.iter().zip(&position.history) {
                let _ = write!(line, ", {name}: {:.4}", h[epoch]);
            }
            record.log.push(line);
        }
    }
    record.final_metrics.clear();
    for (name, values) in names.iter().zip(&position.history) {
        record.history.insert(name.clone(), values.clone());
        if let Some(&last) = values.last() {
            record.final_metrics.insert(name.clone(), last);
        }
    }
    record.epoch_seconds = position
        .times
        .iter()
        .map(|&(train, eval)| record::schema::EpochSeconds { train, eval })
        .collect();
    record
}

/// The epochs and the `after` actions, with the record's final status whatever happens.
fn execute(
    exp: &Arc<Experiment>,
    engine: Engine,
    examples: Vec<Arc<Examples>>,
    recorder: &Recorder,
    checkpoint: Option<&checkpoint::Checkpoint>,
    options: &RunOptions,
    out: &mut dyn FnMut(&str),
) -> Result<RunResult, RunError> {
    let mut tee = |line: &str| {
        recorder.log(line);
        out(line);
    };
    // A panic inside the loop (a bug of ours) still leaves a record that says `failed`.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train(
            exp, engine, examples, recorder, checkpoint, options, &mut tee,
        )
    }));
    match outcome {
        Ok(Ok(mut result)) => {
            let sha = record::provenance::parameters_sha256(&result.parameters);
            recorder.finish(Status::Completed, Some(sha))?;
            result.record = recorder.record();
            Ok(result)
        }
        Ok(Err(e @ RunError::Interrupted { signal, .. })) => {
            let status = Status::Interrupted {
                signal: signal.into(),
            };
            if recorder.finish(status, None).is_ok() {
                notice(
                    options,
                    &format!(
                        "interrupted: run record saved in {}",
                        recorder.dir().join(record::RECORD_FILE).display()
                    ),
                );
            }
            Err(e)
        }
        Ok(Err(e)) => {
            let error = e.to_string();
            let _ = recorder.finish(Status::Failed { error }, None);
            Err(e)
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let error = format!("internal error (panic): {message}");
            let _ = recorder.finish(Status::Failed { error }, None);
            std::panic::resume_unwind(panic)
        }
    }
}

fn train(
    exp: &Arc<Experiment>,
    engine: Engine,
    examples: Vec<Arc<Examples>>,
    recorder: &Recorder,
    checkpoint: Option<&checkpoint::Checkpoint>,
    options: &RunOptions,
    out: &mut dyn FnMut(&str),
) -> Result<RunResult, RunError> {
    let dir = recorder.dir();
    let has_log = exp
        .hooks
        .epoch_end
        .iter()
        .any(|a| matches!(a, Action::Log(_)));
    let setup = train_loop::Setup {
        show_progress: options.show_progress,
        notices: options.notices,
        dir: Some(dir.clone()),
    };
    let mut lp = Loop::new(engine, examples, setup, out);
    let first_epoch = checkpoint.map_or(0, |c| c.position.epoch);
    if let Some(c) = checkpoint {
        lp.restore(&c.position);
        lp.restore_best_weights(&c.engine.tensors);
    }
    // Where `max_time` stopped the loop: (epoch, global step).
    let mut out_of_time = None;
    // An evaluation-only run (`epochs = 0`) runs one epoch of its evaluation steps.
    for epoch in first_epoch..exp.epochs.max(1) {
        if lp.stopped() {
            // Resumed from the checkpoint of the epoch that stopped the run.
            break;
        }
        let steps_before = lp.global_step;
        match lp.run_epoch(epoch) {
            Ok(()) => {}
            Err(train_loop::Stop::Data(e)) => return Err(RunError::Data(e)),
            Err(train_loop::Stop::OutOfTime { epoch, step }) => {
                // The epoch in progress is not evaluated: its place is in the checkpoint
                // the loop wrote, its training in the weights `after { }` saves.
                out_of_time = Some((epoch, step));
                break;
            }
            Err(train_loop::Stop::Interrupted {
                epoch,
                step,
                signal,
            }) => {
                return Err(RunError::Interrupted {
                    epoch,
                    step,
                    signal,
                })
            }
            Err(train_loop::Stop::BadLr { epoch, step, bad }) => {
                return Err(RunError::LearningRate {
                    epoch,
                    step,
                    optimizer: exp.optimizers[bad.optimizer].name.clone(),
                    value: bad.value,
                    span: (bad.span.start..bad.span.end).into(),
                });
            }
            Err(train_loop::Stop::NonFinite { epoch, step, what }) => {
                // Updates with non-finite gradients never happen under `stop`, so every
                // checkpoint holds finite parameters: the newest is the last good one.
                let last_good = checkpoint::list(&dir).pop().map_or_else(
                    || "no checkpoint yet".to_string(),
                    |p| format!("last good checkpoint: {}", p.display()),
                );
                return Err(RunError::NonFinite {
                    epoch,
                    step,
                    what,
                    last_good,
                });
            }
        }
        if !has_log {
            let line = default_line(epoch, exp.epochs, &lp.metrics);
            (lp.out)(&line);
        }
        let seconds: Vec<record::schema::EpochSeconds> = lp
            .times
            .iter()
            .map(|t| record::schema::EpochSeconds {
                train: t.train,
                eval: t.eval,
            })
            .collect();
        recorder.steps(lp.logged_steps.drain(..));
        for path in lp.saved.drain(..) {
            recorder.artifact("model", &path);
        }
        for (tag, path) in lp.drawn.drain(..) {
            recorder.output("grid", &tag, epoch + 1, &path);
        }
        for (tag, path) in lp.sampled.drain(..) {
            recorder.output("sample", &tag, epoch + 1, &path);
        }
        for path in lp.matrices.drain(..) {
            // The heat map is shown in TensorBoard too, epoch by epoch; the CSV is not.
            if path.extension().is_some_and(|e| e == "png") {
                let tag = path
                    .strip_prefix(&dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                recorder.output("confusion_matrix", &tag, epoch + 1, &path);
            } else {
                recorder.artifact("confusion_matrix", &path);
            }
        }
        recorder.epoch_end(&lp.metrics.names, &lp.metrics.history, &seconds)?;
        if options.timings {
            let t = lp.times[epoch];
            let steps = (lp.global_step - steps_before) as f64;
            notice(
                options,
                &format!(
                    "epoch {}: train {} s ({:.0} steps/s), test {} s, waiting for data {} s",
                    epoch + 1,
                    timing_seconds(t.train),
                    steps / t.train.max(1e-9),
                    timing_seconds(t.eval),
                    timing_seconds(t.data)
                ),
            );
        }
    }
    end_stopping(&mut lp, recorder, out_of_time)?;
    recorder.non_finite(lp.non_finite);
    // `after { }` saves and draws the models' averages, where `train { ema }` keeps them.
    lp.engine.use_averages(true);
    after::run_actions(&mut lp, exp, &dir, recorder)?;
    Ok(RunResult {
        dir,
        names: lp.metrics.names.clone(),
        history: lp.metrics.history.clone(),
        train_seconds: lp.times.iter().map(|t| t.train).collect(),
        eval_seconds: lp.times.iter().map(|t| t.eval).collect(),
        parameters: lp.engine.parameters(),
        record: recorder.record(),
    })
}

/// Early stopping at the end of training, as Keras' `on_train_end`: the best epoch's
/// weights put back (with `restore_best`, whether or not the rule stopped the loop), and
/// the record told how training ended, `max_time` (`out_of_time`, at an epoch and step)
/// included.
fn end_stopping(
    lp: &mut Loop<'_>,
    recorder: &Recorder,
    out_of_time: Option<(usize, u64)>,
) -> Result<(), RunError> {
    let timed_out = |watched| record::schema::Stopped {
        reason: "max_time".into(),
        epoch: out_of_time.map_or(0, |(epoch, _)| epoch + 1),
        step: out_of_time.map(|(_, step)| step),
        watched,
    };
    let Some(s) = lp.stopper.clone() else {
        if out_of_time.is_some() {
            recorder.stopped(timed_out(None));
        }
        return Ok(());
    };
    let restored = s.rule.restore_best && s.state.has_best_weights;
    if restored {
        for (m, tensors) in s.best_weights.iter().enumerate() {
            lp.engine.load_model(m, tensors).map_err(|e| {
                checkpoint::CheckpointError::Mismatch {
                    path: recorder.dir(),
                    problem: format!("the best weights do not fit: {e:?}"),
                }
            })?;
        }
        let line = format!(
            "restored the weights of epoch {} (best `{}`: {:.4})",
            s.state.best_epoch + 1,
            lp.metrics.names[s.rule.metric],
            s.state.best
        );
        (lp.out)(&line);
    }
    let watched = lp.times.len() > s.rule.start_from_epoch;
    let watched = record::schema::Watched {
        monitor: lp.metrics.names[s.rule.metric].clone(),
        best_epoch: if watched { s.state.best_epoch + 1 } else { 0 },
        best: s.state.best,
        restored_best: restored,
    };
    recorder.stopped(if out_of_time.is_some() {
        timed_out(Some(watched))
    } else {
        record::schema::Stopped {
            reason: if s.state.stopped_epoch.is_some() {
                "early_stopping"
            } else {
                "epochs"
            }
            .into(),
            epoch: s.state.stopped_epoch.map_or(lp.times.len(), |e| e + 1),
            step: None,
            watched: Some(watched),
        }
    });
    Ok(())
}

fn default_line(epoch: usize, epochs: usize, metrics: &metrics::MetricSet) -> String {
    let mut line = if epochs == 0 {
        "Evaluation".to_string()
    } else {
        format!("Epoch {}", epoch + 1)
    };
    for (name, h) in metrics.names.iter().zip(&metrics.history) {
        let _ = write!(
            line,
            ", {name}: {:.4}",
            h.last().copied().unwrap_or(f64::NAN)
        );
    }
    line
}

/// Seconds for a `--timings` line: milliseconds' precision, or microseconds'
/// below a tenth of a second, so a benchmark can time the small tables' epochs too.
fn timing_seconds(seconds: f64) -> String {
    if seconds >= 0.1 {
        format!("{seconds:.3}")
    } else {
        format!("{seconds:.6}")
    }
}

/// Hands a notice to the caller, if it wants them.
fn notice(options: &RunOptions, line: &str) {
    if let Some(f) = options.notices {
        f(line);
    }
}

/// Sizes the engine's thread pool; returns the thread count in use.
fn set_threads(threads: Option<usize>, caller_joins: bool) -> Result<usize, RunError> {
    let n = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    crate::lower::start_threads(n, caller_joins)
        .map(|()| n)
        .map_err(|message| RunError::Threads {
            threads: n,
            message,
        })
}
