//! Run: an experiment from file to trained model — load and check, lower,
//! read the data, train epoch by epoch, then the `after` actions (plots,
//! saved models) into a run directory.

pub mod checkpoint;
pub mod engine;
pub mod interrupt;
pub mod metrics;
pub mod model_io;
pub mod scalar;
pub mod step;
pub mod train_loop;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crate::check::plan::{Action, DataSource, Experiment};
use crate::data::{self, Examples};
use crate::output::plot::{plot_series, Series};
use crate::report;

use engine::Engine;
use train_loop::Loop;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The experiment file.
    #[arg(required_unless_present = "resume")]
    pub file: Option<PathBuf>,
    /// Continue an interrupted run from its newest checkpoint: `--resume runs/mnist/<id>`.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "file")]
    pub resume: Option<PathBuf>,
    /// Where run directories go: DIR/<experiment>/<run-id>/.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Train for this many epochs instead of the file's.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Worker threads (default: the file's `threads`, else every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Print each epoch's training and test seconds on stderr.
    #[arg(long)]
    pub timings: bool,
}

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
    #[error("cannot create the run directory `{path}`")]
    #[diagnostic(
        code(expr::run::run_dir),
        help("pass `--runs-dir` with a writable directory")
    )]
    RunDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data `{data}` does not match its declaration: {problem}")]
    #[diagnostic(code(expr::run::data_mismatch), help("{help}"))]
    DataMismatch {
        data: String,
        problem: String,
        help: String,
    },
    #[error("stopped at epoch {}, step {step}: {what}", epoch + 1)]
    #[diagnostic(
        code(expr::run::non_finite),
        help("lower the learning rate, clip gradients (`on step {{ clip(norm = 1.0) }}`), or set `on_nan = skip` in `train {{ }}` to skip such steps")
    )]
    NonFinite {
        epoch: usize,
        step: u64,
        what: String,
    },
    #[error("interrupted at epoch {}, step {step}", epoch + 1)]
    #[diagnostic(code(expr::run::interrupted))]
    Interrupted { epoch: usize, step: u64 },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
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
}

pub fn main(args: &RunArgs) -> ExitCode {
    let file = match (&args.resume, &args.file) {
        (Some(dir), _) => dir.join(SOURCE_COPY),
        (None, Some(file)) => file.clone(),
        (None, None) => unreachable!("clap requires a file or --resume"),
    };
    let (source, mut exp) = match crate::frontend::load(&file) {
        Ok(v) => v,
        Err(e) => return ExitCode::from(crate::cli::print_frontend_error(&file, &e)),
    };
    if let Some(dir) = &args.resume {
        // The settings the run was started with, unless overridden again now.
        if let Ok(saved) = read_run_settings(dir) {
            exp.epochs = saved.epochs;
            exp.threads = saved.threads;
        }
    }
    if let Some(epochs) = args.epochs {
        exp.epochs = epochs.max(1);
    }
    if let Some(t) = args.threads {
        exp.threads = Some(t.max(1));
    }
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    interrupt::install();
    let mut stdout = std::io::stdout();
    let mut print = |line: &str| {
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    };
    let options = RunOptions {
        show_progress,
        timings: args.timings,
        source: Some(source.text.clone()),
    };
    let result = match &args.resume {
        Some(dir) => resume(Arc::new(exp), dir, options, &mut print),
        None => run(Arc::new(exp), &args.runs_dir, options, &mut print),
    };
    match result {
        Ok(result) => {
            eprintln!("run saved in {}", result.dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{}", report::render(&e, None, report::stderr_colour()));
            // 130 = 128 + SIGINT, what shells expect of an interrupted program.
            ExitCode::from(if matches!(e, RunError::Interrupted { .. }) {
                130
            } else {
                1
            })
        }
    }
}

/// How a run reports on the terminal, and what it keeps for a resume.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub show_progress: bool,
    /// Each epoch's seconds on stderr: `epoch 2: train 5.12 s (183 steps/s), test 0.41 s`.
    pub timings: bool,
    /// The experiment's text, copied into the run directory so `--resume` can re-read it.
    pub source: Option<Arc<str>>,
}

/// The copy of the experiment file in a run directory.
pub const SOURCE_COPY: &str = "experiment.exp";
const RUN_SETTINGS: &str = "run-settings.yaml";

/// What the command line changed, saved for `--resume`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RunSettings {
    epochs: usize,
    threads: Option<usize>,
}

fn read_run_settings(dir: &Path) -> Result<RunSettings, Box<dyn std::error::Error>> {
    Ok(serde_yaml::from_str(&std::fs::read_to_string(
        dir.join(RUN_SETTINGS),
    )?)?)
}

/// Trains a checked experiment in a new run directory; `out` receives the log lines.
pub fn run(
    exp: Arc<Experiment>,
    runs_dir: &Path,
    options: RunOptions,
    out: &mut dyn FnMut(&str),
) -> Result<RunResult, RunError> {
    set_threads(exp.threads)?;
    // Read every data set before creating anything, so bad data leaves no trace.
    let examples = load_examples(&exp)?;
    let mut engine = Engine::new(exp.clone());
    for action in &exp.before {
        if let Action::Load { model, path, .. } = action {
            model_io::load_into(&mut engine.models[*model], &exp.models[*model], path)?;
        }
    }
    let dir = run_dir(runs_dir, &exp.name)?;
    let write = |name: &str, text: &str| {
        crate::output::atomic::write_atomic(&dir.join(name), |f| f.write_all(text.as_bytes()))
    };
    if let Some(text) = &options.source {
        write(SOURCE_COPY, text)?;
    }
    let settings = RunSettings {
        epochs: exp.epochs,
        threads: exp.threads,
    };
    write(
        RUN_SETTINGS,
        &serde_yaml::to_string(&settings).unwrap_or_default(),
    )?;
    execute(exp, engine, examples, dir, None, &options, out)
}

/// Continues a run from the newest checkpoint in its directory.
pub fn resume(
    exp: Arc<Experiment>,
    dir: &Path,
    options: RunOptions,
    out: &mut dyn FnMut(&str),
) -> Result<RunResult, RunError> {
    set_threads(exp.threads)?;
    let (path, checkpoint) = checkpoint::read_latest(dir)?;
    let examples = load_examples(&exp)?;
    let engine = Engine::new(exp.clone());
    eprintln!("resuming from {}", path.display());
    execute(
        exp,
        engine,
        examples,
        dir.to_path_buf(),
        Some(checkpoint),
        &options,
        out,
    )
}

fn execute(
    exp: Arc<Experiment>,
    engine: Engine,
    examples: Vec<Arc<Examples>>,
    dir: PathBuf,
    checkpoint: Option<checkpoint::Checkpoint>,
    options: &RunOptions,
    out: &mut dyn FnMut(&str),
) -> Result<RunResult, RunError> {
    let has_log = exp
        .hooks
        .epoch_end
        .iter()
        .any(|a| matches!(a, Action::Log(_)));
    let mut lp = Loop::new(engine, examples, options.show_progress, out);
    lp.checkpoints = Some(train_loop::CheckpointPolicy {
        dir: dir.clone(),
        every_steps: exp.checkpoints.every_steps,
        every_epochs: exp.checkpoints.every_epochs,
        keep: exp.checkpoints.keep,
    });
    let first_epoch = checkpoint.as_ref().map_or(0, |c| c.position.epoch);
    if let Some(c) = &checkpoint {
        lp.restore(c);
    }
    for epoch in first_epoch..exp.epochs {
        let steps_before = lp.global_step;
        match lp.run_epoch(epoch) {
            Ok(()) => {}
            Err(train_loop::Stop::Interrupted { epoch, step }) => {
                return Err(RunError::Interrupted { epoch, step })
            }
            Err(train_loop::Stop::NonFinite { epoch, step, what }) => {
                return Err(RunError::NonFinite { epoch, step, what })
            }
        }
        if !has_log {
            let line = default_line(epoch, &lp.metrics);
            (lp.out)(&line);
        }
        if options.timings {
            let t = lp.times[epoch];
            let steps = (lp.global_step - steps_before) as f64;
            eprintln!(
                "epoch {}: train {:.3} s ({:.0} steps/s), test {:.3} s",
                epoch + 1,
                t.train,
                steps / t.train.max(1e-9),
                t.eval
            );
        }
    }
    for action in &exp.after {
        match action {
            Action::Plot { metrics, path } => {
                let series: Vec<Series<'_>> = metrics
                    .iter()
                    .map(|&m| Series {
                        name: &lp.metrics.names[m],
                        values: &lp.metrics.history[m],
                    })
                    .collect();
                let target = dir.join(path);
                plot_series(&target, &exp.name, "value", &series)?;
                (lp.out)(&format!("plot: {}", target.display()));
            }
            Action::Save { model, path } => {
                let target = dir.join(path);
                model_io::save(
                    &lp.engine.models[*model],
                    &exp.models[*model],
                    &exp.name,
                    &target,
                )?;
                (lp.out)(&format!("model: {}", target.display()));
            }
            _ => {}
        }
    }
    Ok(RunResult {
        dir,
        names: lp.metrics.names.clone(),
        history: lp.metrics.history.clone(),
        train_seconds: lp.times.iter().map(|t| t.train).collect(),
        eval_seconds: lp.times.iter().map(|t| t.eval).collect(),
        parameters: lp
            .engine
            .models
            .iter()
            .map(|m| m.params.iter().map(|p| p.value.clone()).collect())
            .collect(),
    })
}

fn default_line(epoch: usize, metrics: &metrics::MetricSet) -> String {
    let mut line = format!("Epoch {}", epoch + 1);
    for (name, h) in metrics.names.iter().zip(&metrics.history) {
        line.push_str(&format!(
            ", {name}: {:.4}",
            h.last().copied().unwrap_or(f64::NAN)
        ));
    }
    line
}

fn set_threads(threads: Option<usize>) -> Result<(), RunError> {
    let n = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    // The global pool can be built once per process (asking its size builds
    // it too). A second run in the same process (tests) keeps the first pool,
    // which is fine as long as its size matches.
    match rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
    {
        Ok(()) => Ok(()),
        Err(_) if rayon::current_num_threads() == n => Ok(()),
        Err(e) => Err(RunError::Threads {
            threads: n,
            message: format!("{e} with {} threads", rayon::current_num_threads()),
        }),
    }
}

fn load_examples(exp: &Experiment) -> Result<Vec<Arc<Examples>>, RunError> {
    let mut loaded: Vec<(DataSource, Arc<Examples>)> = Vec::new();
    let mut out = Vec::new();
    for d in &exp.datasets {
        // Two data sets over the same source share one copy in memory.
        if let Some((_, e)) = loaded.iter().find(|(s, _)| *s == d.source) {
            out.push(e.clone());
            continue;
        }
        let examples = Arc::new(match &d.source {
            DataSource::Mnist { train } => data::load_mnist(if *train {
                data::Split::Train
            } else {
                data::Split::Test
            })?,
            DataSource::Idx { images, labels } => data::load_idx_pair(images, labels)?,
        });
        validate_for(&examples, d)?;
        loaded.push((d.source.clone(), examples.clone()));
        out.push(examples);
    }
    Ok(out)
}

/// The files must hold what the declaration promised: element size and label range.
fn validate_for(examples: &Examples, d: &crate::check::plan::DataSet) -> Result<(), RunError> {
    let declared: usize = d.element_shape.iter().product();
    if examples.features() != declared {
        return Err(RunError::DataMismatch {
            data: d.name.clone(),
            problem: format!(
                "{} has {} values per element, the declaration {declared} ({:?})",
                examples.source,
                examples.features(),
                d.element_shape
            ),
            help: "fix `shape = (...)` in the source, or `reshape(...)`".into(),
        });
    }
    if examples.num_classes() > d.classes {
        return Err(RunError::DataMismatch {
            data: d.name.clone(),
            problem: format!(
                "{} has labels up to {}, but {} classes are declared",
                examples.source,
                examples.num_classes() - 1,
                d.classes
            ),
            help: format!(
                "set `classes = {}` (and the model's last layer to match)",
                examples.num_classes()
            ),
        });
    }
    Ok(())
}

/// `runs/<experiment>/<UTC time>-<pid>/`: sortable by time, unique per process.
fn run_dir(root: &Path, name: &str) -> Result<PathBuf, RunError> {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(char::is_ascii_alphanumeric).collect();
    let dir = root
        .join(name)
        .join(format!("{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| RunError::RunDir {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}
