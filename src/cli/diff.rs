//! `expr diff A B`, `expr diff --rev REV FILE`, `expr diff --textconv FILE`, and git's
//! external diff protocol (seven arguments): see `crate::diff` and docs/git.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::diff::{self, compare_texts, read_text, DiffError};

#[derive(clap::Args, Debug, Clone)]
pub struct DiffArgs {
    /// `A B` (files or `REV:PATH`), `FILE` with `--rev` or `--textconv`, or the seven
    /// arguments git passes an external diff driver.
    #[arg(required = true, num_args = 1..=7, value_name = "EXPERIMENT")]
    pub inputs: Vec<String>,
    /// Compare FILE as of this git revision with FILE in the work tree.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// `text` for people, `yaml` for programs.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print one experiment as sorted facts, for `git config diff.expr.textconv`.
    #[arg(long)]
    pub textconv: bool,
}

/// `--format`: the library's `diff::Format`, spelled for clap.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Yaml,
}

impl From<Format> for diff::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => diff::Format::Text,
            Format::Yaml => diff::Format::Yaml,
        }
    }
}

/// Exit codes, as `diff`'s and `git diff --exit-code`'s: 0 when the experiments mean the same,
/// 1 when they differ (the diff printed either way), 2 when the arguments are wrong or a side
/// cannot be read or does not parse. Called by git as an external diff driver (seven
/// arguments), it exits 0 after printing a difference: git stops at a driver that exits 1.
pub fn main(args: &DiffArgs) -> ExitCode {
    let fail = |e: &DiffError| {
        super::print_error(e);
        ExitCode::from(2)
    };
    if args.textconv {
        let [file] = args.inputs.as_slice() else {
            return fail(&DiffError::Arguments {
                count: args.inputs.len(),
            });
        };
        if file.starts_with('-') && !Path::new(file).exists() {
            return refuse(file);
        }
        return match read_text(file) {
            Ok(text) => {
                print!("{}", diff::textconv(file, &text));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
    }
    if let Some(rev) = args.rev.as_deref().filter(|r| r.starts_with('-')) {
        return refuse(rev);
    }
    let specs = match diff::specs(&args.inputs, args.rev.as_deref()) {
        Ok(specs) => specs,
        Err(e) => return fail(&e),
    };
    // A file of that name is read as a file; anything else would go to git.
    for spec in [&specs.a, &specs.b] {
        if spec.starts_with('-') && !Path::new(spec).exists() {
            return refuse(spec);
        }
    }
    let texts = read_text(&specs.a).and_then(|ta| Ok((ta, read_text(&specs.b)?)));
    let (ta, tb) = match texts {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let labels = &specs.labels;
    let for_git = args.inputs.len() == 7;
    match compare_texts((&labels.0, &ta), (&labels.1, &tb), args.format.into()) {
        Ok(compared) => {
            print!("{}", compared.out);
            if compared.changed && !for_git {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => ExitCode::from(super::print_frontend_error(&PathBuf::from(&specs.a), &e)),
    }
}

/// A revision that git could read as one of its options.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("`{spec}` looks like an option, not a file or a git revision")]
#[diagnostic(
    code(expr::diff::option_like),
    help("a revision or path starting with `-` is refused so that git never reads it as an option; name a file that starts with `-` as `./{spec}`")
)]
struct OptionLike {
    spec: String,
}

fn refuse(spec: &str) -> ExitCode {
    super::print_error(&OptionLike {
        spec: spec.to_string(),
    });
    ExitCode::from(2)
}
