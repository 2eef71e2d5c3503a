//! `expr runs [DIR]` (the recorded runs as a table) and `expr compare RUN RUN...` (what differs
//! between runs, and a plot of their curves): see `crate::runs`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::record;
use crate::runs::{compare_text, metric_names, plot_curves, sort, table};

#[derive(clap::Args, Debug, Clone)]
pub struct RunsArgs {
    /// The runs directory (`runs/`), or one experiment's folder in it.
    #[arg(default_value = "runs")]
    pub dir: PathBuf,
    /// Sort by this metric's final value, highest first (default: by start time).
    #[arg(long, value_name = "METRIC")]
    pub sort: Option<String>,
    /// Reverse the order (lowest first with `--sort`).
    #[arg(long)]
    pub reverse: bool,
    /// One sweep's points, a column per swept value and per metric: `--sweep ID`.
    #[arg(long, value_name = "ID", conflicts_with_all = ["sort", "reverse"])]
    pub sweep: Option<String>,
}

pub const COMPARE_EXAMPLES: &str = "Examples:
  expr compare runs/mnist/20261205T101500Z-4242 runs/mnist/20261205T113000Z-4300
  expr compare --sweep 89844251dc25 --metric test_accuracy";

#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// Run directories or their `run.yaml`; the first is the baseline.
    #[arg(required_unless_present = "sweep", num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// Where to draw the curves of every metric of every run.
    #[arg(long, default_value = "compare.png", conflicts_with = "sweep")]
    pub plot: PathBuf,
    /// One sweep's points by one metric: a ranked table, the metric against each swept
    /// value, and every point's curve (`expr sweep` prints the id).
    #[arg(long, value_name = "ID", conflicts_with = "runs")]
    pub sweep: Option<String>,
    /// With `--sweep`: the metric (default: early stopping's monitor, else the first of
    /// `val_*`/`test_*`, else the first).
    #[arg(long, value_name = "METRIC", requires = "sweep")]
    pub metric: Option<String>,
    /// With `--sweep`: the runs directory the sweep is in.
    #[arg(long, value_name = "DIR", default_value = "runs", requires = "sweep")]
    pub runs_dir: PathBuf,
    /// With `--sweep`: the folder for the plots (default: the sweep's `compare/`).
    #[arg(long, value_name = "DIR", requires = "sweep")]
    pub out: Option<PathBuf>,
}

/// Exit codes: 0 with the table printed, 1 when there is no run, 2 when no run has the
/// `--sort` metric. Unreadable records are skipped with a warning.
pub fn main(args: &RunsArgs) -> ExitCode {
    if let Some(id) = &args.sweep {
        return super::sweep::runs_table(&args.dir, id);
    }
    let mut runs = Vec::new();
    for (dir, record) in record::find_all(&args.dir) {
        match record {
            Ok(r) => runs.push(r),
            Err(e) => eprintln!("warning: skipping {}: {e}", dir.display()),
        }
    }
    if runs.is_empty() {
        eprintln!(
            "no runs under `{}`: `expr run FILE` records runs there (or pass the directory)",
            args.dir.display()
        );
        return ExitCode::from(1);
    }
    if let Some(metric) = &args.sort {
        if !runs.iter().any(|r| r.final_metrics.contains_key(metric)) {
            let names: Vec<String> = metric_names(&runs)
                .iter()
                .map(|n| format!("`{n}`"))
                .collect();
            eprintln!(
                "error: no run has a metric `{metric}`\n  help: sort by one of {}",
                names.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    sort(&mut runs, args.sort.as_deref(), args.reverse);
    print!("{}", table(&runs));
    ExitCode::SUCCESS
}

/// Exit codes: 0 with the comparison and the plot, 2 when a record cannot be read, 1 when
/// the plot cannot be drawn.
pub fn compare(args: &CompareArgs) -> ExitCode {
    if let Some(id) = &args.sweep {
        return compare_sweep(args, id);
    }
    let mut runs = Vec::new();
    for path in &args.runs {
        match record::load(path) {
            Ok(r) => runs.push(r),
            Err(e) => {
                super::print_error(&e);
                return ExitCode::from(2);
            }
        }
    }
    print!("{}", compare_text(&runs));
    if let Err(e) = plot_curves(&runs, &args.plot) {
        super::print_error(&e);
        return ExitCode::from(1);
    }
    println!("plot: {}", args.plot.display());
    ExitCode::SUCCESS
}

/// `expr compare --sweep ID`. Exit codes: 0 with the table and the plots, 2 for an unknown
/// sweep or metric (or no recorded point), 1 when a plot cannot be written.
fn compare_sweep(args: &CompareArgs, id: &str) -> ExitCode {
    use crate::sweep::compare::{compare, CompareError};
    let found = crate::sweep::record::find(&args.runs_dir, id)
        .and_then(|dir| crate::sweep::record::load(&dir).map(|s| (dir, s)));
    let (dir, sweep) = match found {
        Ok(found) => found,
        Err(e) => {
            super::print_error(&e);
            return ExitCode::from(2);
        }
    };
    let out = args.out.clone().unwrap_or_else(|| dir.join("compare"));
    match compare(&sweep, &dir, args.metric.as_deref(), &out) {
        Ok(c) => {
            print!("{}", c.text);
            for plot in &c.plots {
                println!("plot: {}", plot.display());
            }
            ExitCode::SUCCESS
        }
        Err(e @ CompareError::Write(_)) => {
            super::print_error(&e);
            ExitCode::from(1)
        }
        Err(e) => {
            super::print_error(&e);
            ExitCode::from(2)
        }
    }
}
