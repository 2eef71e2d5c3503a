//! `expr fmt FILE...`: rewrites files in the canonical layout, or with `--check` lists those
//! that would change.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::fmt::{format_file, write_atomic, FormatError, Formatted};
use crate::report;

#[derive(clap::Args, Debug, Clone)]
pub struct FmtArgs {
    pub files: Vec<PathBuf>,
    /// Change nothing; list the files that would change and exit 1 if any.
    #[arg(long)]
    pub check: bool,
}

/// Exit codes: 0 done (or nothing to change), 1 a file would change under
/// `--check` or could not be read or written, 2 a file has a syntax error.
pub fn main(args: &FmtArgs) -> ExitCode {
    let mut code = 0u8;
    for path in &args.files {
        let formatted = match format_file(path) {
            Ok(Formatted::Unchanged) => continue,
            Ok(Formatted::Changed(text)) => text,
            Err(FormatError::Read(e)) => {
                eprintln!("error: cannot read `{}`: {e}", path.display());
                code = code.max(1);
                continue;
            }
            Err(FormatError::Syntax(source, e)) => {
                eprint!(
                    "{}",
                    report::render(e.as_ref(), Some(&source), report::stderr_colour())
                );
                code = 2;
                continue;
            }
            Err(FormatError::ChangesMeaning) => {
                eprintln!(
                    "error: internal: formatting `{}` would change its meaning; the file is left as it was (please report this file)",
                    path.display()
                );
                code = code.max(1);
                continue;
            }
        };
        if args.check {
            println!("{}", path.display());
            code = code.max(1);
        } else if let Err(e) = write_atomic(path, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            code = code.max(1);
        }
    }
    ExitCode::from(code)
}
