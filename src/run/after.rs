//! The `after` actions, once training ends: plots of the metrics' history, saved models and
//! grids, each recorded as an artifact of the run and announced in the log.
//!
//! Training may have taken hours, so one failed output must not cost the others: every
//! action runs even when an earlier one failed (a `plot` into a folder that is in the way
//! still leaves the `save` after it), each output is recorded with whether it was written,
//! and the run then fails with every failure at once.

use std::path::{Path, PathBuf};

use super::train_loop::Loop;
use super::{grid, model_io, sample, RunError};
use crate::check::plan::{Action, Experiment};
use crate::output::confine::in_run_dir;
use crate::output::plot::{plot_series, Series};
use crate::record::Recorder;

/// Several `after` outputs failed; one alone is reported as itself.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{} of the {total} outputs of `after` were not written", failures.len())]
#[diagnostic(
    code(expr::run::after_failed),
    help("the other outputs were written; `run.yaml` lists each output with `written: false` where it failed")
)]
pub struct AfterError {
    total: usize,
    #[related]
    failures: Vec<RunError>,
}

/// Runs `exp`'s `after` actions into the run directory `dir`: all of them, whatever fails.
///
/// # Errors
/// The failure of the one action that failed, or [`AfterError`] with each of several.
pub fn run_actions(
    lp: &mut Loop<'_>,
    exp: &Experiment,
    dir: &Path,
    recorder: &Recorder,
) -> Result<(), RunError> {
    let mut failures = Vec::new();
    let mut total = 0;
    for action in &exp.after {
        let (kind, relative) = match action {
            Action::Plot { path, .. } => ("plot", path.to_string_lossy().into_owned()),
            Action::Save { path, .. } => ("model", path.to_string_lossy().into_owned()),
            Action::Grid { path, .. } => {
                ("grid", path.replace("{epoch}", &lp.times.len().to_string()))
            }
            Action::Sample { path, .. } => (
                "sample",
                path.replace("{epoch}", &lp.times.len().to_string()),
            ),
            _ => continue,
        };
        total += 1;
        match run_action(lp, exp, action, dir) {
            Ok(Some(target)) => {
                match action {
                    Action::Grid { path, .. } | Action::Sample { path, .. } => {
                        recorder.output(kind, path, lp.times.len(), &target);
                    }
                    _ => recorder.artifact(kind, &target),
                }
                (lp.out)(&format!("{kind}: {}", target.display()));
            }
            Ok(None) => {}
            Err(e) => {
                let target = dir.join(&relative);
                recorder.artifact_not_written(kind, &target);
                (lp.out)(&format!("{kind} not written: {}", target.display()));
                failures.push(e);
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 => Err(failures.remove(0)),
        _ => Err(AfterError { total, failures }.into()),
    }
}

/// One output; `None` for a grid whose step has not run.
fn run_action(
    lp: &mut Loop<'_>,
    exp: &Experiment,
    action: &Action,
    dir: &Path,
) -> Result<Option<PathBuf>, RunError> {
    match action {
        Action::Plot { metrics, path } => {
            let series: Vec<Series<'_>> = metrics
                .iter()
                .map(|&m| Series {
                    name: &lp.metrics.names[m],
                    values: &lp.metrics.history[m],
                })
                .collect();
            let target = in_run_dir(dir, &path.to_string_lossy())?;
            plot_series(&target, &exp.name, "value", &series)?;
            Ok(Some(target))
        }
        Action::Save { model, path } => {
            let target = in_run_dir(dir, &path.to_string_lossy())?;
            model_io::save(&lp.engine, *model, &target, &lp.examples)?;
            Ok(Some(target))
        }
        Action::Sample { data, .. } => {
            let epochs = lp.times.len();
            let vocabulary = sample::Vocabulary::of(&lp.examples[*data].encoding);
            let text = sample::generate(&lp.engine, action, &vocabulary, epochs);
            (lp.out)(&text);
            Ok(Some(sample::write(action, &text, epochs, dir)?))
        }
        Action::Grid { .. } => {
            let epochs = lp.times.len();
            Ok(grid::draw(&lp.engine, action, &lp.kept, epochs, dir)?)
        }
        _ => Ok(None),
    }
}
