//! `expr check FILE...`: each model's summary, or every diagnostic of every file.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::check::json::FileReport;
use crate::check::summary::summary;
use crate::frontend::{self, FrontendError};

#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// The experiments to check; at least one (none checked is not "all clean").
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print no summary, only errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// `human` (rendered diagnostics on stderr) or `json` (one object on stdout).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// How `expr check` reports.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

pub fn main(args: &CheckArgs) -> ExitCode {
    match args.format {
        Format::Human => check_files(&args.files, args.quiet),
        Format::Json => check_files_json(&args.files),
    }
}

/// Exit codes: 0 when every file is clean, 2 when any has errors, 1 when one
/// cannot be read (and none has errors).
fn check_files(files: &[PathBuf], quiet: bool) -> ExitCode {
    let mut worst = 0u8;
    for path in files {
        match frontend::load(path) {
            Ok((_, exp)) => {
                if !quiet {
                    for model in &exp.models {
                        println!("{}", summary(model));
                    }
                }
            }
            Err(e) => worst = worst.max(super::print_frontend_error(path, &e)),
        }
    }
    ExitCode::from(worst)
}

/// One JSON object on stdout for all the files; the exit codes of `check_files`.
fn check_files_json(files: &[PathBuf]) -> ExitCode {
    let mut worst = 0u8;
    let reports: Vec<FileReport> = files
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            match frontend::load(path) {
                Ok((_, exp)) => FileReport::clean(name, &exp),
                Err(FrontendError::Read(io)) => {
                    worst = worst.max(1);
                    FileReport::unreadable(name, &io)
                }
                Err(e) => {
                    worst = 2;
                    FileReport::failed(name, &e.diagnostics())
                }
            }
        })
        .collect();
    let out = serde_json::json!({ "files": reports });
    println!("{out:#}");
    ExitCode::from(worst)
}
