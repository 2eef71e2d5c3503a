//! `expr eval`: a saved model's metrics on the experiment's evaluation data, as Keras'
//! `model.evaluate`. The experiment's evaluation steps run once with the weights of the
//! given files, as in an evaluation-only run (`epochs = 0`), but nothing is written: no
//! run directory, no hooks, no `after { }` actions (a query, not a run).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::train_loop::{Loop, Setup, Stop};
use super::{examples, model_io, RunError};
use crate::check::plan::{Action, Experiment};
use crate::lower::Engine;

/// Why the weights to evaluate cannot be found.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WeightsError {
    #[error("the experiment has no model `{name}`")]
    #[diagnostic(code(expr::eval::no_model), help("its models: {models}"))]
    NoModel { name: String, models: String },
    #[error("the experiment has {count} models: say which one `{path}` is for")]
    #[diagnostic(
        code(expr::eval::which_model),
        help("write `--model NAME=PATH`; its models: {models}")
    )]
    Ambiguous {
        path: PathBuf,
        count: usize,
        models: String,
    },
    #[error("`{}` has no model file for `{model}`", dir.display())]
    #[diagnostic(
        code(expr::eval::no_model_file),
        help("a run directory must hold `{model}.safetensors` (`save({model}, to = \"{model}.safetensors\")`), its only .safetensors file, or, without either, a checkpoint; found: {found}")
    )]
    NoFile {
        dir: PathBuf,
        model: String,
        found: String,
    },
    #[error("`{}` does not exist", path.display())]
    #[diagnostic(code(expr::eval::missing_file))]
    Missing { path: PathBuf },
}

/// `--model [NAME=]PATH`, resolved: model indices and the files their weights come from.
/// A directory (a run's) gives `<dir>/<model>.safetensors`, its only .safetensors file that
/// is not a checkpoint, or, with neither, its newest checkpoint.
pub fn resolve(
    exp: &Experiment,
    specs: &[(Option<String>, PathBuf)],
) -> Result<Vec<(usize, PathBuf)>, WeightsError> {
    let models = || {
        exp.models
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    for (name, path) in specs {
        let m = match name {
            Some(name) => exp
                .models
                .iter()
                .position(|m| &m.name == name)
                .ok_or_else(|| WeightsError::NoModel {
                    name: name.clone(),
                    models: models(),
                })?,
            None if exp.models.len() == 1 => 0,
            None => {
                return Err(WeightsError::Ambiguous {
                    path: path.clone(),
                    count: exp.models.len(),
                    models: models(),
                })
            }
        };
        let file = if path.is_dir() {
            in_run_dir(path, &exp.models[m].name)?
        } else if path.exists() {
            path.clone()
        } else {
            return Err(WeightsError::Missing { path: path.clone() });
        };
        out.retain(|(other, _)| *other != m);
        out.push((m, file));
    }
    Ok(out)
}

/// The file of model `model` in run directory `dir`.
fn in_run_dir(dir: &Path, model: &str) -> Result<PathBuf, WeightsError> {
    let named = dir.join(format!("{model}.safetensors"));
    if named.is_file() {
        return Ok(named);
    }
    let checkpoints = super::checkpoint::list(dir);
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "safetensors")
                        && !super::checkpoint::is_checkpoint(p)
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if found.len() == 1 {
        return Ok(found.remove(0));
    }
    if found.is_empty() {
        // A run that saved no model (interrupted, or without `save`): its newest checkpoint.
        if let Some(newest) = checkpoints.last() {
            return Ok(newest.clone());
        }
    }
    Err(WeightsError::NoFile {
        dir: dir.into(),
        model: model.into(),
        found: if found.is_empty() {
            "none".into()
        } else {
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        },
    })
}

/// An engine for `exp` with the weights of `files` loaded (the file's own `before { load }`
/// first, so that a model the command line does not name keeps what the file gives it).
pub fn loaded_engine(
    exp: &Arc<Experiment>,
    files: &[(usize, PathBuf)],
) -> Result<Engine, RunError> {
    let mut engine = Engine::new(exp.clone());
    for action in &exp.before {
        if let Action::Load { model, path, .. } = action {
            if !files.iter().any(|(m, _)| m == model) {
                model_io::load_into(&mut engine, *model, path)?;
            }
        }
    }
    for (m, path) in files {
        if super::checkpoint::is_checkpoint(path) {
            from_checkpoint(&mut engine, *m, path)?;
        } else {
            model_io::load_into(&mut engine, *m, path)?;
        }
    }
    Ok(engine)
}

/// Loads model `m` from a run's checkpoint: its averaged weights where the run kept an
/// average (`train { ema }`: what the run evaluated and saved), else its trained ones, with
/// its layer state.
fn from_checkpoint(engine: &mut Engine, m: usize, path: &Path) -> Result<(), RunError> {
    let checkpoint = super::checkpoint::read(path)?;
    let model = engine.experiment().models[m].name.clone();
    let stored: std::collections::HashMap<&str, &crate::output::model_file::NamedTensor> =
        checkpoint
            .engine
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
    let tensors: Vec<_> = engine
        .model_tensors(m)
        .iter()
        .filter_map(|t| {
            let averaged = format!("ema.{model}.{}", t.name);
            let trained = format!("model.{model}.{}", t.name);
            stored
                .get(averaged.as_str())
                .or_else(|| stored.get(trained.as_str()))
                .map(|found| crate::output::model_file::NamedTensor {
                    name: t.name.clone(),
                    ..(*found).clone()
                })
        })
        .collect();
    engine.load_model(m, &tensors).map_err(|e| {
        super::checkpoint::CheckpointError::Mismatch {
            path: path.into(),
            problem: format!("it does not hold model `{model}` of this experiment: {e:?}"),
        }
        .into()
    })
}

/// The experiment cut down to what `evaluate` runs: its evaluation steps once, the metrics
/// they compute, no hooks, no early stopping, no `after { }`.
pub fn evaluation_only(exp: &Experiment) -> Experiment {
    let mut e = exp.clone();
    e.epochs = 0;
    e.metrics.retain(|m| !exp.steps[m.step].trains());
    e.matrices.retain(|m| !exp.steps[m.step].trains());
    e.hooks = crate::check::plan::Hooks::default();
    e.stop = None;
    e.after.clear();
    e
}

/// Each metric of the experiment's evaluation steps, `(name, value)`, with the weights of
/// `files`, over one pass of the evaluation data; `threads` overrides the file's.
pub fn evaluate(
    exp: &Experiment,
    files: &[(usize, PathBuf)],
    threads: Option<usize>,
) -> Result<Vec<(String, f64)>, RunError> {
    let exp = Arc::new(evaluation_only(exp));
    super::set_threads(threads.or(exp.threads), false)?;
    let examples = examples::load(&exp)?;
    let engine = loaded_engine(&exp, files)?;
    let mut out = |_: &str| {};
    let setup = Setup {
        show_progress: false,
        notices: None,
        dir: None,
    };
    let mut lp = Loop::new(engine, examples, setup, &mut out);
    lp.run_epoch(0).map_err(|stop| match stop {
        Stop::Interrupted {
            epoch,
            step,
            signal,
        } => RunError::Interrupted {
            epoch,
            step,
            signal,
        },
        Stop::NonFinite { epoch, step, what } => RunError::NonFinite {
            epoch,
            step,
            what,
            last_good: "evaluation only".into(),
        },
        Stop::Data(e) => RunError::Data(e),
        Stop::BadLr { .. } => unreachable!("an evaluation runs no hooks"),
        Stop::OutOfTime { .. } => unreachable!("an evaluation runs no training step"),
    })?;
    Ok(lp
        .metrics
        .names
        .iter()
        .zip(&lp.metrics.history)
        .map(|(n, h)| (n.clone(), h.last().copied().unwrap_or(f64::NAN)))
        .collect())
}
