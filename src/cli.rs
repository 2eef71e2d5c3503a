//! The command line: our subcommands, and the hand-off of everything else to
//! the system's coreutils `expr`, so that scripts calling `expr 1 + 2` keep working.
//!
//! Each subcommand's arguments, printing and exit codes live in `cli/<subcommand>.rs`; the
//! library functions they call return results and print nothing. Nothing outside `cli` and
//! `main.rs` imports it.

pub mod check;
pub mod completions;
pub mod coreutils;
pub mod diff;
pub mod eval;
pub mod export;
pub mod fmt;
pub mod html_report;
pub mod lsp;
pub mod predict;
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
    "run",
    "check",
    "fmt",
    "diff",
    "runs",
    "compare",
    "report",
    "sweep",
    "eval",
    "predict",
    "export",
    "help",
    "completions",
    "man",
    "lsp",
];

/// Our options that may come first: help and version. GNU `expr` answers `--help` and
/// `--version` itself only when they are its one argument, and prints `-h` and `-V` back;
/// all four are ours under the same rule as a subcommand's name (see [`is_ours`]).
pub const OPTIONS: &[&str] = &["--help", "-h", "--version", "-V"];

/// The last lines of `expr --help`: where everything else goes.
const PASSTHROUGH: &str = "Anything else is handed, unchanged, to the system's coreutils `expr`: \
`expr 1 + 2`, `expr length abc`, `expr match abc 'a.'` work as in any shell script \
(`man 1 expr` documents them).";

#[derive(Parser, Debug)]
#[command(
    name = "expr",
    version,
    about = "Run deep-learning experiments written as .exp files",
    after_help = PASSTHROUGH,
    disable_help_subcommand = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// Print expr's version and the version of the coreutils `expr` it hands other arguments to.
    #[arg(short = 'V', long, action = clap::ArgAction::SetTrue)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train an experiment: `expr run experiments/mnist.exp`.
    Run(run::RunArgs),
    /// Check an experiment without training: names, values, shapes; prints each model's summary.
    Check(check::CheckArgs),
    /// Rewrite experiments in the canonical layout: `expr fmt experiments/*.exp`.
    Fmt(fmt::FmtArgs),
    /// Print this help, or a command's: `expr help run`.
    Help {
        /// The command whose help to print.
        command: Option<String>,
    },
    /// What changed between two experiments (files or `REV:PATH`), by meaning.
    Diff(diff::DiffArgs),
    /// A table of recorded runs: `expr runs [DIR] --sort test_accuracy`.
    Runs(runs::RunsArgs),
    /// Parameters and metrics of runs side by side, and a plot of their curves; or a
    /// sweep's points by one metric (`--sweep ID`).
    #[command(after_help = runs::COMPARE_EXAMPLES)]
    Compare(runs::CompareArgs),
    /// One self-contained HTML page of runs: text, parameters, provenance, curves, grids.
    #[command(after_help = html_report::REPORT_EXAMPLES)]
    Report(html_report::ReportArgs),
    /// Run an experiment at many points: `expr sweep FILE --grid opt.lr=1e-3,3e-4 --jobs 2`.
    Sweep(sweep::SweepArgs),
    /// A saved model's metrics on the experiment's evaluation data: `expr eval FILE --model PATH`.
    #[command(after_help = eval::EVAL_EXAMPLES)]
    Eval(eval::EvalArgs),
    /// A saved model's predictions, per example (CSV) or per image file: `expr predict FILE --model PATH`.
    #[command(after_help = predict::PREDICT_EXAMPLES)]
    Predict(predict::PredictArgs),
    /// A run's trained models as ONNX files: `expr export RUN_DIR --format onnx`.
    #[command(after_help = export::EXPORT_EXAMPLES)]
    Export(export::ExportArgs),
    /// Print a shell's completion script: `expr completions bash > ~/.local/share/bash-completion/completions/expr`.
    #[command(after_help = completions::COMPLETIONS_EXAMPLES)]
    Completions(completions::CompletionsArgs),
    /// Print expr's manual page (roff): `expr man > ~/.local/share/man/man1/expr.1`.
    #[command(after_help = completions::MAN_EXAMPLES)]
    Man,
    /// The language server for editors (diagnostics, hover, completion, definitions,
    /// outline, formatting), on standard input and output: `expr lsp`.
    #[command(after_help = lsp::LSP_EXAMPLES)]
    Lsp,
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
    if !SUBCOMMANDS.contains(&first) && !OPTIONS.contains(&first) {
        return false;
    }
    !matches!(word(2), Some(Some(second)) if OPERATORS.contains(&second))
}

pub fn main(cli: Cli) -> ExitCode {
    let Some(command) = cli.command else {
        if cli.version {
            print!("{}", completions::version_text());
            return ExitCode::SUCCESS;
        }
        // `expr` with no command but an option clap accepted: the help.
        let _ = <Cli as clap::CommandFactory>::command().print_help();
        return ExitCode::from(2);
    };
    match command {
        Command::Run(args) => run::main(&args),
        Command::Check(args) => check::main(&args),
        Command::Fmt(args) => fmt::main(&args),
        Command::Diff(args) => diff::main(&args),
        Command::Runs(args) => runs::main(&args),
        Command::Compare(args) => runs::compare(&args),
        Command::Report(args) => html_report::main(&args),
        Command::Sweep(args) => sweep::main(&args),
        Command::Eval(args) => eval::main(&args),
        Command::Predict(args) => predict::main(&args),
        Command::Export(args) => export::main(&args),
        Command::Help { command } => completions::help(command.as_deref()),
        Command::Completions(args) => completions::completions(&args),
        Command::Man => completions::man(),
        Command::Lsp => lsp::main(),
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
