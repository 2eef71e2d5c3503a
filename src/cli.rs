//! The command line: our subcommands, and the hand-off of everything else to
//! the system's coreutils `expr`, so that scripts calling `expr 1 + 2` keep working.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::check::summary::summary;
use crate::frontend::{self, FrontendError};
use crate::report;

/// Our subcommands. None may be a GNU `expr` keyword (match, substr, index, length, quote).
pub const SUBCOMMANDS: &[&str] = &["run", "check", "fmt", "diff", "runs", "compare", "help"];

#[derive(Parser, Debug)]
#[command(
    name = "expr",
    version,
    about = "Run deep-learning experiments written as .exp files",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train an experiment: `expr run experiments/mnist.exp`.
    Run(crate::run::RunArgs),
    /// Check an experiment without training: names, values, shapes; prints each model's summary.
    Check {
        files: Vec<PathBuf>,
        /// Print no summary, only errors.
        #[arg(long, short)]
        quiet: bool,
        /// `human` (rendered diagnostics on stderr) or `json` (one object on stdout).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Rewrite experiments in the canonical layout: `expr fmt experiments/*.exp`.
    Fmt {
        files: Vec<PathBuf>,
        /// Change nothing; list the files that would change and exit 1 if any.
        #[arg(long)]
        check: bool,
    },
    /// Print this help.
    Help,
    /// What changed between two experiments (files or `REV:PATH`), by meaning.
    Diff(crate::diff::DiffArgs),
    /// A table of recorded runs: `expr runs [DIR] --sort test_accuracy`.
    Runs(crate::runs::RunsArgs),
    /// Parameters and metrics of runs side by side, and a plot of their curves.
    Compare(crate::runs::CompareArgs),
}

/// How `expr check` reports.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// Whether these arguments are for us; anything else goes to coreutils `expr`.
pub fn is_ours(args: &[std::ffi::OsString]) -> bool {
    args.get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| SUBCOMMANDS.contains(&a))
}

pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => crate::run::main(&args),
        Command::Check {
            files,
            quiet,
            format: Format::Human,
        } => check_files(&files, quiet),
        Command::Check {
            files,
            format: Format::Json,
            ..
        } => check_files_json(&files),
        Command::Fmt { files, check } => crate::fmt::main(&files, check),
        Command::Diff(args) => crate::diff::main(&args),
        Command::Runs(args) => crate::runs::main(&args),
        Command::Compare(args) => crate::runs::compare_main(&args),
        Command::Help => {
            use clap::CommandFactory;
            let _ = Cli::command().print_long_help();
            ExitCode::SUCCESS
        }
    }
}

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
            Err(e) => worst = worst.max(print_frontend_error(path, &e)),
        }
    }
    ExitCode::from(worst)
}

/// Exit codes: 0 when every file is clean, 2 when any has errors, 1 when one
/// cannot be read (and none has errors).
fn check_files_json(files: &[PathBuf]) -> ExitCode {
    use crate::check::json::FileReport;
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

/// Prints a frontend error to stderr and returns the exit code it deserves:
/// 2 for errors in the user's file, 1 when the file cannot be read.
pub fn print_frontend_error(path: &std::path::Path, e: &FrontendError) -> u8 {
    let colour = report::stderr_colour();
    if let FrontendError::Read(io) = e {
        eprintln!("error: cannot read `{}`: {io}", path.display());
        return 1;
    }
    let diagnostics = e.diagnostics();
    for (d, src) in &diagnostics {
        eprint!("{}", report::render(*d, *src, colour));
    }
    if diagnostics.len() > 1 {
        eprintln!("{} errors in {}", diagnostics.len(), path.display());
    }
    2
}
