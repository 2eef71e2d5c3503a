//! `expr eval FILE --model PATH`: the metrics of the experiment's evaluation steps with
//! saved weights, printed; nothing written (see `crate::run::evaluate`).

use std::fmt::Write as _; // write! into a String, which cannot fail: hence `let _ =`
use std::path::PathBuf;
use std::process::ExitCode;

use crate::check::plan::Experiment;
use crate::overrides::{self, Override};
use crate::report;
use crate::run::evaluate::{evaluate, resolve};

pub const EVAL_EXAMPLES: &str = "Examples:
  expr eval experiments/mnist.exp --model runs/mnist/<id>/classifier.safetensors
  expr eval experiments/autoencoder.exp --model encoder=enc.safetensors --model decoder=dec.safetensors
  expr eval experiments/mnist.exp --model runs/mnist/<id>/ --set test.batch=1000";

#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// The experiment file.
    pub file: PathBuf,
    /// The weights: `PATH.safetensors` (the experiment's one model), `NAME=PATH` for model
    /// NAME, or a run directory holding `<model>.safetensors` (or, when the run saved no
    /// model, its checkpoints: the newest is read); repeatable.
    #[arg(long = "model", value_name = "[NAME=]PATH", required = true)]
    pub models: Vec<String>,
    /// Change a value without editing the file, e.g. `--set test.batch=500`; repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Worker threads (default: the file's `threads`, else every core).
    #[arg(long, value_parser = super::run::threads_arg)]
    pub threads: Option<usize>,
}

/// `NAME=PATH` or `PATH`.
pub fn model_spec(arg: &str) -> (Option<String>, PathBuf) {
    match arg.split_once('=') {
        Some((name, path))
            if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') =>
        {
            (Some(name.to_string()), PathBuf::from(path))
        }
        _ => (None, PathBuf::from(arg)),
    }
}

/// The experiment of `file` with `--set` overrides, or the exit code after the errors.
pub fn load(file: &std::path::Path, set: &[String]) -> Result<Experiment, ExitCode> {
    let mut sets = Vec::new();
    for arg in set {
        sets.push(Override::parse(arg).map_err(|f| {
            eprint!("{}", f.render(report::stderr_colour()));
            ExitCode::from(2)
        })?);
    }
    overrides::load_file(file, &sets)
        .map(|l| l.experiment)
        .map_err(|e| super::run::load_failed(file, e))
}

/// The weights files of `--model`, or exit code 2 after the error.
pub fn weights(exp: &Experiment, models: &[String]) -> Result<Vec<(usize, PathBuf)>, ExitCode> {
    let specs: Vec<_> = models.iter().map(|m| model_spec(m)).collect();
    let files = resolve(exp, &specs).map_err(|e| {
        super::print_error(&e);
        ExitCode::from(2)
    })?;
    for (m, path) in &files {
        if crate::run::checkpoint::is_checkpoint(path) {
            eprintln!(
                "`{}`: the run saved no model file; using its newest checkpoint, {}",
                exp.models[*m].name,
                path.display()
            );
        }
    }
    Ok(files)
}

/// Exit codes: 0 with the metrics printed, 2 when the file, a weights file or the data is
/// wrong, 1 otherwise.
pub fn main(args: &EvalArgs) -> ExitCode {
    let exp = match load(&args.file, &args.set) {
        Ok(exp) => exp,
        Err(code) => return code,
    };
    if exp.steps.iter().all(crate::check::plan::Step::trains) {
        eprintln!(
            "error: `{}` has no evaluation step (`validate = DATA`, or a step without `update`): nothing to evaluate",
            args.file.display()
        );
        return ExitCode::from(2);
    }
    let files = match weights(&exp, &args.models) {
        Ok(files) => files,
        Err(code) => return code,
    };
    match evaluate(&exp, &files, args.threads) {
        Ok(metrics) => {
            let mut line = "Evaluation".to_string();
            for (name, value) in &metrics {
                let _ = write!(line, ", {name}: {value:.4}");
            }
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

/// Prints a run error; 2 when a file the user gave is at fault, 1 otherwise.
pub fn failed(e: &crate::run::RunError) -> ExitCode {
    use crate::run::RunError;
    super::print_error(e);
    ExitCode::from(match e {
        RunError::ModelFile(_) | RunError::DataMismatch { .. } => 2,
        RunError::Data(data) if data.is_bad_data() => 2,
        RunError::Interrupted { .. } => 130,
        _ => 1,
    })
}
