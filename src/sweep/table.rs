//! `expr runs --sweep ID`: a sweep's points as a table, a column per swept path and per
//! metric (each run's final value), with each point's state.

use std::path::Path;

use super::record::{self, SweepRecord};

/// The table of the sweep in `sweep_dir`, its states read from the run records.
pub fn table(sweep: &SweepRecord, sweep_dir: &Path) -> String {
    let runs: Vec<Option<crate::record::RunRecord>> = sweep
        .points
        .iter()
        .map(|p| crate::record::load(&SweepRecord::run_dir(sweep_dir, p)).ok())
        .collect();
    let mut metrics: Vec<String> = Vec::new();
    for r in runs.iter().flatten() {
        for m in &r.metrics {
            if !metrics.contains(m) {
                metrics.push(m.clone());
            }
        }
    }
    let mut header = vec!["point".to_string()];
    header.extend(sweep.swept.iter().cloned());
    header.extend(metrics.iter().cloned());
    header.extend(["state".to_string(), "run".to_string()]);
    let mut rows = vec![header];
    for (p, run) in sweep.points.iter().zip(&runs) {
        let mut row = vec![p.index.to_string()];
        for path in &sweep.swept {
            let prefix = format!("{path}=");
            row.push(
                p.overrides
                    .iter()
                    .find_map(|o| o.strip_prefix(&prefix))
                    .unwrap_or("-")
                    .to_string(),
            );
        }
        for m in &metrics {
            let value = run.as_ref().and_then(|r| r.final_metrics.get(m));
            row.push(value.map_or("-".into(), |v| format!("{v:.4}")));
        }
        let state = record::state_of(&SweepRecord::run_dir(sweep_dir, p));
        let state = match run {
            Some(r) if state != "completed" && state != "pending" => {
                format!("{state} ({}/{} epochs)", r.epochs_done(), r.epochs)
            }
            _ => state.to_string(),
        };
        row.push(state);
        row.push(p.run.clone());
        rows.push(row);
    }
    crate::runs::align(&rows)
}
