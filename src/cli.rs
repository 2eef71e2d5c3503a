//! The command line: our subcommands, and the hand-off of everything else to
//! the system's coreutils `expr`, so that scripts calling `expr 1 + 2` keep working.
//!
//! Each subcommand's arguments, printing and exit codes live in `cli/<subcommand>.rs`; the
//! library functions they call return results and print nothing. Nothing outside `cli` and
//! `main.rs` imports it.

pub mod check;
pub mod coreutils;
pub mod diff;
pub mod fmt;
pub mod run;
pub mod runs;
pub mod sweep;

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::frontend::FrontendError;
use crate::report;

/// Our subcommands. None may be a GNU `expr` keyword (match, substr, index, length, quote).
pub const SUBCOMMANDS: &[&str] = &[
    "run", "check", "fmt", "diff", "runs", "compare", "sweep", "help",
];

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
    Run(run::RunArgs),
    /// Check an experiment without training: names, values, shapes; prints each model's summary.
    Check(check::CheckArgs),
    /// Rewrite experiments in the canonical layout: `expr fmt experiments/*.exp`.
    Fmt(fmt::FmtArgs),
    /// Print this help.
    Help,
    /// What changed between two experiments (files or `REV:PATH`), by meaning.
    Diff(diff::DiffArgs),
    /// A table of recorded runs: `expr runs [DIR] --sort test_accuracy`.
    Runs(runs::RunsArgs),
    /// Parameters and metrics of runs side by side, and a plot of their curves.
    Compare(runs::CompareArgs),
    /// Run an experiment at many points: `expr sweep FILE --grid opt.lr=1e-3,3e-4 --jobs 2`.
    Sweep(sweep::SweepArgs),
}

/// The binary operators of coreutils `expr`'s grammar, each a separate argument.
const OPERATORS: &[&str] = &[
    "|", "&", "=", "==", ">", ">=", "<", "<=", "!=", "+", "-", "*", "/", "%", ":",
];

/// Whether these arguments are for us; anything else goes to coreutils `expr`.
///
/// The rule, from coreutils' grammar: an expression is atoms joined by binary operators,
/// where an atom is a string, `( EXPR )`, `+ TOKEN`, or a keyword (`match`, `substr`,
/// `index`, `length`) with its arguments. Our subcommand words are plain strings, so an
/// expression that starts with one is either that word alone or the word followed by a
/// binary operator (`| & = == > >= < <= != + - * / % :`); anything else after it is a
/// syntax error for coreutils. So the arguments are ours when the first is one of
/// [`SUBCOMMANDS`] and the second, if any, is not a binary operator:
///
/// - `expr run = run`, `expr check : 'c\(.*\)'`, `expr diff + 1` → coreutils;
/// - `expr run file.exp`, `expr run --resume DIR`, `expr check a.exp b.exp` → ours;
/// - `expr run` alone → ours (coreutils would print `run`): a bare subcommand asks for
///   its usage, and `expr runs` lists runs. Scripts that echo a variable through `expr`
///   are served unless the variable is exactly a subcommand name.
///
/// A file named like an operator is still ours when written as a path: `expr check ./=`.
pub fn is_ours(args: &[std::ffi::OsString]) -> bool {
    let word = |i: usize| args.get(i).map(|a| a.to_str());
    let Some(Some(first)) = word(1) else {
        return false;
    };
    if !SUBCOMMANDS.contains(&first) {
        return false;
    }
    !matches!(word(2), Some(Some(second)) if OPERATORS.contains(&second))
}

pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => run::main(&args),
        Command::Check(args) => check::main(&args),
        Command::Fmt(args) => fmt::main(&args),
        Command::Diff(args) => diff::main(&args),
        Command::Runs(args) => runs::main(&args),
        Command::Compare(args) => runs::compare(&args),
        Command::Sweep(args) => sweep::main(&args),
        Command::Help => {
            use clap::CommandFactory;
            let _ = Cli::command().print_long_help();
            ExitCode::SUCCESS
        }
    }
}

/// Prints a frontend error to stderr and returns the exit code it deserves:
/// 2 for errors in the user's file, 1 when the file cannot be read.
fn print_frontend_error(path: &Path, e: &FrontendError) -> u8 {
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

/// Prints a diagnostic that has no source text to stderr.
fn print_error(e: &dyn miette::Diagnostic) {
    eprint!("{}", report::render(e, None, report::stderr_colour()));
}
