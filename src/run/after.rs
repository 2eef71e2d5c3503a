//! The `after` actions, once training ends: plots of the metrics' history, saved models and
//! grids, each recorded as an artifact of the run and announced in the log.

use std::path::Path;

use super::train_loop::Loop;
use super::{grid, model_io, RunError};
use crate::check::plan::{Action, Experiment};
use crate::output::plot::{plot_series, Series};
use crate::record::Recorder;

/// Runs `exp`'s `after` actions into the run directory `dir`.
pub fn run_actions(
    lp: &mut Loop<'_>,
    exp: &Experiment,
    dir: &Path,
    recorder: &Recorder,
) -> Result<(), RunError> {
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
                recorder.artifact("plot", &target);
                (lp.out)(&format!("plot: {}", target.display()));
            }
            Action::Save { model, path } => {
                let target = dir.join(path);
                model_io::save(&lp.engine, *model, &target)?;
                recorder.artifact("model", &target);
                (lp.out)(&format!("model: {}", target.display()));
            }
            Action::Grid { .. } => {
                let epochs = lp.times.len();
                if let Some(target) = grid::draw(&lp.engine, action, &lp.kept, epochs, dir)? {
                    recorder.artifact("grid", &target);
                    (lp.out)(&format!("grid: {}", target.display()));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
