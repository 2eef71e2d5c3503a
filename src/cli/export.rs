//! `expr export RUN_DIR --format onnx`: the models a run saved as ONNX files (see
//! `crate::export`), for deployment runtimes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crate::check::plan::Experiment;
use crate::overrides::{load_recorded, SourceError};
use crate::run::evaluate::{loaded_engine, resolve, WeightsError};

pub const EXPORT_EXAMPLES: &str = "Examples:
  expr export runs/mnist/<id> --format onnx
  expr export runs/gan/<id> --model generator --format onnx --out generator.onnx";

/// The formats `expr export` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ONNX, opset 17, the batch axis dynamic.
    Onnx,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ExportArgs {
    /// The run directory: its experiment (run.yaml) and its model files
    /// (`<model>.safetensors`, or without one its newest checkpoint).
    pub run_dir: PathBuf,
    /// The model to export (default: every model the run saved).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// The file format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Where to write the file (one model only; default: `RUN_DIR/<model>.onnx`).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// Exit codes: 0 with the files written, 2 when the run directory, its record or its
/// model files are wrong or `--model` names no model of it, 1 when a file cannot be written.
pub fn main(args: &ExportArgs) -> ExitCode {
    let exp = match load_recorded(&args.run_dir) {
        Ok(recorded) => Arc::new(recorded.experiment),
        Err(SourceError::Record(e)) => {
            super::print_error(&e);
            return ExitCode::from(2);
        }
        Err(SourceError::Load(e)) => return super::run::load_failed(&args.run_dir, e),
    };
    let files = match model_files(&exp, &args.run_dir, args.model.as_deref()) {
        Ok(files) => files,
        Err(e) => {
            super::print_error(&e);
            return ExitCode::from(2);
        }
    };
    if args.out.is_some() && files.len() > 1 {
        eprintln!(
            "error: the run holds {} models and `--out` names one file: say which with `--model NAME`",
            files.len()
        );
        return ExitCode::from(2);
    }
    let engine = match loaded_engine(&exp, &files) {
        Ok(engine) => engine,
        Err(e) => return super::eval::failed(&e),
    };
    for (m, from) in &files {
        let model = &exp.models[*m];
        let bytes = match crate::export::onnx(model, &engine.model_tensors(*m)) {
            Ok(bytes) => bytes,
            Err(e) => {
                super::print_error(&e);
                return ExitCode::from(1);
            }
        };
        let to = args
            .out
            .clone()
            .unwrap_or_else(|| args.run_dir.join(format!("{}.onnx", model.name)));
        if let Err(e) = crate::output::atomic::write_atomic(&to, |w| w.write_all(&bytes)) {
            super::print_error(&e);
            return ExitCode::from(1);
        }
        eprintln!(
            "`{}` (from {}) written to {}",
            model.name,
            from.display(),
            to.display()
        );
    }
    ExitCode::SUCCESS
}

/// The model files to export: `--model`'s, else every model the run saved under its own
/// name, else each model as `expr eval --model RUN_DIR` finds it (its only model file, or
/// the newest checkpoint).
fn model_files(
    exp: &Experiment,
    dir: &Path,
    model: Option<&str>,
) -> Result<Vec<(usize, PathBuf)>, WeightsError> {
    if let Some(name) = model {
        return resolve(exp, &[(Some(name.to_string()), dir.to_path_buf())]);
    }
    let saved: Vec<(usize, PathBuf)> = exp
        .models
        .iter()
        .enumerate()
        .map(|(m, model)| (m, dir.join(format!("{}.safetensors", model.name))))
        .filter(|(_, path)| path.is_file())
        .collect();
    if !saved.is_empty() {
        return Ok(saved);
    }
    let every: Vec<_> = exp
        .models
        .iter()
        .map(|m| (Some(m.name.clone()), dir.to_path_buf()))
        .collect();
    resolve(exp, &every)
}
