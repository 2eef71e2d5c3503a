//! `expr compare --sweep ID`: one metric across a sweep's points. Each point's final value,
//! best first; the mean per swept value; and the plots: the metric against each swept path
//! (one marker per point, a line through each value's mean) and every point's curve over
//! the epochs, overlaid.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::record::SweepRecord;
use crate::output::plot::{plot_against, plot_series, Series};
use crate::record::RunRecord;

/// What [`compare`] found and wrote.
pub struct SweepComparison {
    /// The table and summary, to print.
    pub text: String,
    /// The plots written.
    pub plots: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CompareError {
    #[error("no point of sweep `{id}` has a run record yet")]
    #[diagnostic(
        code(expr::compare::no_runs),
        help("its points start with `expr sweep`; `expr sweep --status {id}` says where they are")
    )]
    NoRuns { id: String },
    #[error("no point of sweep `{id}` has a metric `{metric}`")]
    #[diagnostic(code(expr::compare::unknown_metric), help("its metrics: {known}"))]
    UnknownMetric {
        id: String,
        metric: String,
        known: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::output::OutputError),
}

/// Compares the points of `sweep` (in `sweep_dir`) by `metric` (default: the metric early
/// stopping watched, else the first evaluated on held-out data, else the first), writing
/// the plots into `out`.
///
/// # Errors
/// No point with a record, a metric no point has, and a plot that cannot be written.
pub fn compare(
    sweep: &SweepRecord,
    sweep_dir: &Path,
    metric: Option<&str>,
    out: &Path,
) -> Result<SweepComparison, CompareError> {
    let runs: Vec<(usize, RunRecord)> = sweep
        .points
        .iter()
        .filter_map(|p| {
            crate::record::load(&SweepRecord::run_dir(sweep_dir, p))
                .ok()
                .map(|r| (p.index, r))
        })
        .collect();
    if runs.is_empty() {
        return Err(CompareError::NoRuns {
            id: sweep.id.clone(),
        });
    }
    let metric = match metric {
        Some(m) => m.to_string(),
        None => default_metric(runs.iter().map(|(_, r)| r)),
    };
    if !runs.iter().any(|(_, r)| r.history.contains_key(&metric)) {
        let mut known: Vec<String> = Vec::new();
        for m in runs.iter().flat_map(|(_, r)| &r.metrics) {
            if !known.contains(m) {
                known.push(m.clone());
            }
        }
        return Err(CompareError::UnknownMetric {
            id: sweep.id.clone(),
            metric,
            known: known
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let higher = higher_is_better(&metric);
    let finals: Vec<(usize, &RunRecord, f64)> = runs
        .iter()
        .map(|(i, r)| {
            (
                *i,
                r,
                r.final_metrics.get(&metric).copied().unwrap_or(f64::NAN),
            )
        })
        .collect();

    let mut text = String::new();
    let _ = writeln!(
        text,
        "sweep {} of `{}`: {} of {} points recorded; {metric} ({} is better; `--metric` picks another)\n",
        sweep.id,
        sweep.experiment,
        runs.len(),
        sweep.points.len(),
        if higher { "higher" } else { "lower" },
    );
    let mut ranked = finals.clone();
    ranked.sort_by(|a, b| {
        let (x, y) = if higher { (b.2, a.2) } else { (a.2, b.2) };
        // NaN (a diverged or unfinished point) last.
        x.is_nan().cmp(&y.is_nan()).then(x.total_cmp(&y))
    });
    let mut rows = vec![{
        let mut h = vec!["rank".to_string(), "point".to_string()];
        h.extend(sweep.swept.iter().cloned());
        h.extend([metric.clone(), "epochs".to_string()]);
        h
    }];
    for (rank, (index, r, v)) in ranked.iter().enumerate() {
        let mut row = vec![(rank + 1).to_string(), index.to_string()];
        row.extend(
            sweep
                .swept
                .iter()
                .map(|p| swept_value(&r.overrides, p).to_string()),
        );
        row.push(if v.is_nan() {
            "-".into()
        } else {
            format!("{v:.4}")
        });
        row.push(format!("{}/{}", r.epochs_done(), r.epochs));
        rows.push(row);
    }
    text.push_str(&crate::runs::align(&rows));

    std::fs::create_dir_all(out).map_err(|e| crate::output::OutputError::Write {
        path: out.to_path_buf(),
        source: e,
    })?;
    let mut plots = Vec::new();
    for path in &sweep.swept {
        let points: Vec<(String, f64)> = finals
            .iter()
            .map(|(_, r, v)| (swept_value(&r.overrides, path).to_string(), *v))
            .collect();
        let _ = writeln!(text, "\nmean {metric} per {path}:");
        let mut seen: Vec<&str> = Vec::new();
        for (v, _) in &points {
            if seen.contains(&v.as_str()) {
                continue;
            }
            seen.push(v);
            let ys: Vec<f64> = points.iter().filter(|p| &p.0 == v).map(|p| p.1).collect();
            #[allow(clippy::cast_precision_loss)] // a handful of points
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            let _ = writeln!(text, "  {v:<12} {mean:.4}  ({} points)", ys.len());
        }
        let file = out.join(format!("{}_by_{}.png", file_part(&metric), file_part(path)));
        let title = format!("{metric} by {path}");
        plot_against(&file, &title, (path, &metric), &points)?;
        plots.push(file);
    }
    let names: Vec<String> = finals
        .iter()
        .map(|(i, r, _)| {
            // `lr=1e-3 seed=2`: the swept paths' last names, for a short legend.
            let values: Vec<String> = sweep
                .swept
                .iter()
                .map(|p| {
                    let name = p.rsplit('.').next().unwrap_or(p);
                    format!("{name}={}", swept_value(&r.overrides, p))
                })
                .collect();
            format!("p{i} {}", values.join(" "))
        })
        .collect();
    let series: Vec<Series<'_>> = finals
        .iter()
        .zip(&names)
        .map(|((_, r, _), name)| Series {
            name,
            values: r.history.get(&metric).map_or(&[], Vec::as_slice),
        })
        .collect();
    let file = out.join(format!("{}_curves.png", file_part(&metric)));
    plot_series(
        &file,
        &format!("{metric}, sweep {}", sweep.id),
        &metric,
        &series,
    )?;
    plots.push(file);
    Ok(SweepComparison { text, plots })
}

/// The value a run's overrides give `path` (`-` when none does).
fn swept_value<'a>(overrides: &'a [String], path: &str) -> &'a str {
    let prefix = format!("{path}=");
    overrides
        .iter()
        .find_map(|o| o.strip_prefix(&prefix))
        .unwrap_or("-")
}

/// Early stopping's monitor, else the first metric of held-out data (`val_`/`test_`), else
/// the first metric.
fn default_metric<'a>(mut runs: impl Iterator<Item = &'a RunRecord> + Clone) -> String {
    if let Some(m) = runs.clone().find_map(|r| {
        r.stopped
            .as_ref()?
            .watched
            .as_ref()
            .map(|w| w.monitor.clone())
    }) {
        return m;
    }
    let metrics: Vec<&String> = runs.clone().flat_map(|r| &r.metrics).collect();
    metrics
        .iter()
        .find(|m| m.starts_with("val") || m.starts_with("test"))
        .or_else(|| metrics.first())
        .map_or_else(
            || {
                runs.next()
                    .map(|r| r.experiment.clone())
                    .unwrap_or_default()
            },
            |m| (*m).clone(),
        )
}

/// `mode = auto`'s rule on the name alone (the record keeps names, not kinds): accuracies,
/// areas, precision, recall, f1 and R² go up; losses and errors down.
fn higher_is_better(metric: &str) -> bool {
    ["acc", "auc", "precision", "recall", "f1", "r2"]
        .iter()
        .any(|w| metric.contains(w))
}

/// `name` with anything but letters, digits, `.`, `-` and `_` made `_`, for a file name.
fn file_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decide_the_direction() {
        for up in ["test_accuracy", "val_auc", "f1_macro", "r2"] {
            assert!(higher_is_better(up), "{up}");
        }
        for down in ["test_loss", "val_mae", "rmse"] {
            assert!(!higher_is_better(down), "{down}");
        }
    }

    #[test]
    fn swept_values_come_from_the_runs_overrides() {
        let o = ["opt.lr=3e-4".to_string(), "experiment.seed=2".to_string()];
        assert_eq!(swept_value(&o, "opt.lr"), "3e-4");
        assert_eq!(swept_value(&o, "opt"), "-");
        assert_eq!(file_part("opt.lr/x y"), "opt.lr_x_y");
    }
}
