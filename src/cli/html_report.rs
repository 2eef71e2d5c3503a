//! `expr report RUN...` (the command; named apart from `crate::report`, the diagnostics):
//! `crate::html_report`).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::html_report;
use crate::output::atomic::write_atomic;

pub const REPORT_EXAMPLES: &str = "Examples:
  expr report runs/mnist/20261205T101500Z-4242 --out mnist.html
  expr report runs/mnist/A runs/mnist/B --metric test_accuracy --metric train_loss";

#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Run directories (or their `run.yaml`); several are overlaid, named r1, r2, ... in order.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(long, default_value = "report.html")]
    pub out: PathBuf,
    /// Draw only these metrics' curves, in this order (repeat the option; default: all).
    #[arg(long = "metric", value_name = "NAME")]
    pub metrics: Vec<String>,
}

/// Exit codes: 0 with the page written, 2 when a run cannot be read or a metric is unknown,
/// 1 when the page cannot be written.
pub fn main(args: &ReportArgs) -> ExitCode {
    let mut runs = Vec::new();
    for path in &args.runs {
        match html_report::load(path) {
            Ok(r) => runs.push(r),
            Err(e) => {
                super::print_error(&e);
                return ExitCode::from(2);
            }
        }
    }
    let metrics = match html_report::metrics(&runs, &args.metrics) {
        Ok(m) => m,
        Err(e) => {
            super::print_error(&e);
            return ExitCode::from(2);
        }
    };
    let page = html_report::page(&runs, &metrics);
    if let Err(e) = write_atomic(&args.out, |w| std::io::Write::write_all(w, page.as_bytes())) {
        super::print_error(&e);
        return ExitCode::from(1);
    }
    println!("report: {}", args.out.display());
    ExitCode::SUCCESS
}
