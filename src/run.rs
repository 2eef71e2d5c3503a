//! Run: an experiment from file to trained model — load and check, lower,
//! read the data, train epoch by epoch, then the `after` actions (plots,
//! saved models) into a run directory.

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
    pub file: PathBuf,
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
    #[error("cannot create the run directory `{path}`: {source}")]
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
    let (source, mut exp) = match crate::frontend::load(&args.file) {
        Ok(v) => v,
        Err(e) => return ExitCode::from(crate::cli::print_frontend_error(&args.file, &e)),
    };
    let _ = source;
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
    };
    match run(Arc::new(exp), &args.runs_dir, options, &mut print) {
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

/// How a run reports on the terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    pub show_progress: bool,
    /// Each epoch's seconds on stderr: `epoch 2: train 5.12 s (183 steps/s), test 0.41 s`.
    pub timings: bool,
}

/// Trains a checked experiment; `out` receives the log lines.
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
    let has_log = exp
        .hooks
        .epoch_end
        .iter()
        .any(|a| matches!(a, Action::Log(_)));
    let mut lp = Loop::new(engine, examples, options.show_progress, out);
    for epoch in 0..exp.epochs {
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
    if rayon::current_num_threads() == n {
        return Ok(());
    }
    // The global pool can be built once per process; a second run in the same
    // process (tests) keeps the first pool, which is fine as long as it matches.
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| RunError::Threads {
            threads: n,
            message: e.to_string(),
        })
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
