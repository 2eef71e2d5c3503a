//! The command line describing itself: `expr --version`, `expr help COMMAND`, shell
//! completions (`clap_complete`) and the manual page (`clap_mangen`), all generated from the
//! one clap definition in `cli.rs`, so they cannot drift from the commands.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{coreutils, Cli};

/// `expr completions --help`'s examples.
pub const COMPLETIONS_EXAMPLES: &str = "Examples:
  expr completions bash > ~/.local/share/bash-completion/completions/expr
  expr completions zsh > \"${fpath[1]}/_expr\"
  expr completions fish > ~/.config/fish/completions/expr.fish
  expr completions powershell >> $PROFILE";

/// `expr man --help`'s examples.
pub const MAN_EXAMPLES: &str = "Examples:
  expr man > ~/.local/share/man/man1/expr.1 && man expr
  expr man | man -l -";

#[derive(clap::Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `expr --version`: ours, then the coreutils `expr` that other arguments go to.
pub fn version_text() -> String {
    let ours = format!("expr {} (expr experiments)\n", env!("CARGO_PKG_VERSION"));
    match coreutils::system_version() {
        Some((path, line)) => format!(
            "{ours}Hands other arguments to {line} at {}\n",
            path.display()
        ),
        None => format!("{ours}No coreutils `expr` found to hand other arguments to\n"),
    }
}

/// `expr help [COMMAND]`: the long help of the command, or of `expr` itself.
pub fn help(command: Option<&str>) -> ExitCode {
    let mut cli = Cli::command();
    // Building names each subcommand's usage `expr run ...`, not `run ...`.
    cli.build();
    let Some(name) = command else {
        let _ = cli.print_long_help();
        return ExitCode::SUCCESS;
    };
    let names: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    match cli.find_subcommand_mut(name) {
        Some(sub) => {
            let _ = sub.print_long_help();
            ExitCode::SUCCESS
        }
        None => {
            let known: Vec<&str> = names.iter().map(String::as_str).collect();
            let suggestion = crate::suggest::did_you_mean(name, &known)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            eprintln!(
                "error: no command `{name}`{suggestion}; the commands are: {}",
                names.join(", ")
            );
            ExitCode::from(2)
        }
    }
}

/// `expr completions SHELL`: the completion script on stdout.
pub fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut cli = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cli, "expr", &mut out);
    flushed(out.flush())
}

/// `expr man`: the manual page, in roff, on stdout.
pub fn man() -> ExitCode {
    let mut out = std::io::stdout().lock();
    let written = clap_mangen::Man::new(Cli::command()).render(&mut out);
    flushed(written.and_then(|()| out.flush()))
}

/// A closed pipe (`expr man | head`) is not an error of ours; anything else is.
fn flushed(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write: {e}");
            ExitCode::from(1)
        }
    }
}
