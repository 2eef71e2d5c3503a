//! `expr fmt`: one canonical layout for experiments (see `fmt::printer`).
//! Formatting is meaning-preserving (the file parses to the same tree) and
//! idempotent; files are replaced atomically, so none is ever half-written.
//! The command itself (arguments, messages, exit codes) is `cli::fmt`.

pub mod comments;
pub mod expr;
pub mod graph;
pub mod printer;

use std::io::Write as _;
use std::path::Path;

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

/// What formatting a file on disk gives.
pub enum Formatted {
    /// The file is already in the canonical layout.
    Unchanged,
    /// The file's canonical text, which differs from it.
    Changed(String),
}

/// Why a file cannot be formatted.
pub enum FormatError {
    Read(std::io::Error),
    /// The file does not parse; the error points into `Source`.
    Syntax(Source, Box<SyntaxError>),
    /// The formatted text would parse to another tree: a bug of ours, so the file stays as it is.
    ChangesMeaning,
}

/// The canonical text of the file at `path`, checked to mean what the file means. Writes
/// nothing: the caller replaces the file (`write_atomic`) or reports it.
pub fn format_file(path: &Path) -> Result<Formatted, FormatError> {
    // The file as it is on disk: `Source` turns lone `\r`s into `\n`s, which
    // formatting must still write out.
    // A regular file of at most 1 MiB, refused before reading otherwise.
    let raw = crate::source::read_text(path, crate::source::EXPERIMENT_LIMIT)
        .map_err(FormatError::Read)?;
    let source = Source::new(path, raw.clone());
    let tree = match syntax::parse_file(&source.text) {
        Ok(tree) => tree,
        Err(e) => return Err(FormatError::Syntax(source, Box::new(e))),
    };
    let formatted = printer::Printer::new(&source.text).file(&tree);
    if formatted == raw {
        return Ok(Formatted::Unchanged);
    }
    // A bug of ours must never cost a user their file: check before anyone writes.
    if !keeps_meaning(&tree, &formatted) {
        return Err(FormatError::ChangesMeaning);
    }
    Ok(Formatted::Changed(formatted))
}

/// Writes through a temporary file in the same directory, then renames it
/// over `path`: a reader sees the old text or the new, never a part. A symlink is written
/// through: the file it points at gets the new text and the link stays a link (a
/// dotfiles-style checkout keeps its links).
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let resolved;
    let path = if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        resolved = std::fs::canonicalize(path)?;
        resolved.as_path()
    } else {
        path
    };
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
