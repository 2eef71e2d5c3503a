//! `expr fmt`: one canonical layout for experiments (see `fmt::printer`).
//! Formatting is meaning-preserving (the file parses to the same tree) and
//! idempotent; files are replaced atomically, so none is ever half-written.

pub mod comments;
pub mod expr;
pub mod printer;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::report;
use crate::source::Source;
use crate::syntax::{self, SyntaxError};

/// The canonical form of an experiment's text.
pub fn format_source(text: &str) -> Result<String, SyntaxError> {
    let file = syntax::parse_file(text)?;
    Ok(printer::Printer::new(text).file(&file))
}

/// The tree's `Debug` form with every span blanked out: two texts with equal
/// shapes mean the same, whatever their layout and comments.
pub fn tree_shape(file: &crate::syntax::ast::File) -> String {
    let tree = format!("{file:?}");
    let mut out = String::with_capacity(tree.len());
    let mut rest = tree.as_str();
    while let Some(at) = rest.find("Span { start: ") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('}').map_or(rest.len(), |e| at + e + 1);
        out.push('_');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Whether `formatted` parses to the same tree as `original` (which parsed to `tree`).
fn keeps_meaning(tree: &crate::syntax::ast::File, formatted: &str) -> bool {
    syntax::parse_file(formatted).is_ok_and(|f| tree_shape(&f) == tree_shape(tree))
}

/// Formats `files` in place, or with `check` lists those that would change.
/// Exit codes: 0 done (or nothing to change), 1 a file would change under
/// `--check` or could not be read or written, 2 a file has a syntax error.
pub fn main(files: &[PathBuf], check: bool) -> ExitCode {
    let mut code = 0u8;
    for path in files {
        // The file as it is on disk: `Source` turns lone `\r`s into `\n`s, which
        // formatting must still write out.
        let (raw, source) = match std::fs::read_to_string(path) {
            Ok(raw) => (raw.clone(), Source::new(path, raw)),
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", path.display());
                code = code.max(1);
                continue;
            }
        };
        let tree = match syntax::parse_file(&source.text) {
            Ok(tree) => tree,
            Err(e) => {
                eprint!(
                    "{}",
                    report::render(&e, Some(&source), report::stderr_colour())
                );
                code = 2;
                continue;
            }
        };
        let formatted = printer::Printer::new(&source.text).file(&tree);
        if formatted == raw {
            continue;
        }
        // A bug of ours must never cost a user their file: check before writing.
        if !keeps_meaning(&tree, &formatted) {
            eprintln!(
                "error: internal: formatting `{}` would change its meaning; the file is left as it was (please report this file)",
                path.display()
            );
            code = code.max(1);
            continue;
        }
        if check {
            println!("{}", path.display());
            code = code.max(1);
        } else if let Err(e) = write_atomic(path, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            code = code.max(1);
        }
    }
    ExitCode::from(code)
}

/// Writes through a temporary file in the same directory, then renames it
/// over `path`: a reader sees the old text or the new, never a part.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.fmt-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        if let Ok(meta) = std::fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
