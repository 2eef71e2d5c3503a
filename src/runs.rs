//! `expr runs [DIR]`: the recorded runs as a table; `expr compare RUN RUN...`: what differs
//! between runs (the experiment, by meaning), their final metrics with deltas, and a plot of
//! their curves. The commands themselves (arguments, messages, exit codes) are `cli::runs`.

use std::collections::BTreeSet;
use std::fmt::Write as _; // write! into a String, which cannot fail: hence `let _ =`
use std::path::Path;

use crate::diff;
use crate::output::plot::{plot_series, Series};
use crate::output::OutputResult;
use crate::record::{self, RunRecord};

/// Every metric name the runs have a final value of, sorted: what `--sort` can take.
pub fn metric_names(runs: &[RunRecord]) -> Vec<String> {
    let names: BTreeSet<&String> = runs.iter().flat_map(|r| r.final_metrics.keys()).collect();
    names.into_iter().cloned().collect()
}

/// By start time (the id), or by a metric's final value with runs lacking it last.
pub fn sort(runs: &mut [RunRecord], metric: Option<&str>, reverse: bool) {
    match metric {
        None => runs.sort_by(|a, b| a.id.cmp(&b.id)),
        Some(m) => runs.sort_by(|a, b| {
            let key = |r: &RunRecord| r.final_metrics.get(m).copied().filter(|v| !v.is_nan());
            match (key(a), key(b)) {
                (Some(x), Some(y)) => y.total_cmp(&x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.id.cmp(&b.id),
            }
        }),
    }
    if reverse {
        runs.reverse();
    }
}

/// The table: one row per run, metrics as columns (the union over the runs).
pub fn table(runs: &[RunRecord]) -> String {
    let metrics: Vec<String> = {
        let mut seen = Vec::new();
        for r in runs {
            for m in &r.metrics {
                if !seen.contains(m) {
                    seen.push(m.clone());
                }
            }
        }
        seen
    };
    let mut rows = vec![{
        let mut h: Vec<String> = ["started", "experiment", "run", "commit", "parameters"]
            .iter()
            .map(ToString::to_string)
            .collect();
        h.extend(metrics.iter().cloned());
        h.push("status".into());
        h
    }];
    for r in runs {
        let mut row = vec![
            r.started.get(..16).unwrap_or(&r.started).replace('T', " "),
            r.experiment.clone(),
            r.id.clone(),
            commit(r),
            key_parameters(r),
        ];
        for m in &metrics {
            row.push(
                r.final_metrics
                    .get(m)
                    .map_or("-".into(), |v| format!("{v:.4}")),
            );
        }
        row.push(status(r));
        rows.push(row);
    }
    align(&rows)
}

fn commit(r: &RunRecord) -> String {
    r.git.as_ref().map_or("-".into(), |g| {
        let short = g.commit.get(..8).unwrap_or(&g.commit);
        if g.dirty {
            format!("{short}+")
        } else {
            short.to_string()
        }
    })
}

/// Seed and epochs, then the overrides that made this run differ from its file.
fn key_parameters(r: &RunRecord) -> String {
    let mut parts = vec![format!("seed={}", r.seed), format!("epochs={}", r.epochs)];
    parts.extend(
        r.overrides
            .iter()
            .filter(|o| !o.starts_with("train.epochs="))
            .cloned(),
    );
    parts.join(" ")
}

fn status(r: &RunRecord) -> String {
    let done = r.epochs_done();
    match &r.status {
        record::Status::Completed => "completed".into(),
        s => format!("{} ({done}/{} epochs)", s.label(), r.epochs),
    }
}

pub fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Draws the curves of every metric of every run into one plot at `path`, named `r1 loss`,
/// `r2 loss`, ... in the order of `runs`.
pub fn plot_curves(runs: &[RunRecord], path: &Path) -> OutputResult<()> {
    let names: Vec<Vec<String>> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.metrics
                .iter()
                .map(|m| format!("r{} {m}", i + 1))
                .collect()
        })
        .collect();
    let series: Vec<Series<'_>> = runs
        .iter()
        .zip(&names)
        .flat_map(|(r, names)| {
            r.ordered_history()
                .into_iter()
                .zip(names)
                .map(|((_, values), name)| Series { name, values })
        })
        .collect();
    plot_series(path, "compare", "value", &series)
}

/// The runs named `r1, r2, ...`, each one's experiment diffed against `r1`'s, and a table of
/// final metrics with each run's difference from `r1`.
pub fn compare_text(runs: &[RunRecord]) -> String {
    let mut out = String::new();
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(out, "r{}: {} {} ({})", i + 1, r.experiment, r.id, status(r));
    }
    let Some(base) = runs.first() else {
        return out;
    };
    for (i, r) in runs.iter().enumerate().skip(1) {
        let _ = write!(out, "\nr1 → r{}:\n", i + 1);
        let texts = (
            base.source.resolved.as_deref().unwrap_or(""),
            r.source.resolved.as_deref().unwrap_or(""),
        );
        match diff::diff_texts(
            ("r1", texts.0),
            (&format!("r{}", i + 1), texts.1),
            diff::Format::Text,
        ) {
            // Skip the `---`/`+++` header: the runs are named above.
            Ok(d) => d.lines().skip(2).for_each(|l| {
                let _ = writeln!(out, "  {l}");
            }),
            Err(_) => out.push_str("  (an experiment text does not parse)\n"),
        }
        if base.seed != r.seed {
            let _ = writeln!(out, "  ~ seed: {} → {}", base.seed, r.seed);
        }
        let data = |r: &RunRecord| r.data.iter().map(|d| d.sha256.clone()).collect::<Vec<_>>();
        if data(base) != data(r) {
            out.push_str("  ~ data: the data files differ (sha256)\n");
        }
    }
    let mut rows = vec![{
        let mut h = vec!["metric".to_string()];
        h.extend((1..=runs.len()).map(|i| format!("r{i}")));
        h
    }];
    for m in &base.metrics {
        let mut row = vec![m.clone()];
        let first = base.final_metrics.get(m).copied();
        for (i, r) in runs.iter().enumerate() {
            let cell = match (r.final_metrics.get(m), first) {
                (Some(v), Some(f)) if i > 0 => format!("{v:.4} ({:+.4})", v - f),
                (Some(v), _) => format!("{v:.4}"),
                (None, _) => "-".into(),
            };
            row.push(cell);
        }
        rows.push(row);
    }
    out.push('\n');
    out.push_str(&align(&rows));
    out
}
