//! Source files and spans, and their bridge to miette.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// A byte range in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn len(self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both.
    #[must_use]
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl From<pest::Span<'_>> for Span {
    fn from(span: pest::Span<'_>) -> Self {
        Span::new(span.start(), span.end())
    }
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> Self {
        SourceSpan::new(span.start.into(), span.len())
    }
}

/// An experiment's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl Source {
    /// A lone `\r` (classic Mac line ending) becomes `\n`: the grammar already
    /// reads it as a line break, and this way line numbers, miette's snippets and
    /// `expr fmt` agree. Byte offsets do not move, so spans stay valid.
    ///
    /// # Panics
    /// Never: replacing one ASCII byte with another keeps the text UTF-8.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let text = if has_lone_cr(&text) {
            let mut bytes = text.as_bytes().to_vec();
            for i in 0..bytes.len() {
                if bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n') {
                    bytes[i] = b'\n';
                }
            }
            // Replacing one ASCII byte with another keeps the text UTF-8.
            Arc::from(String::from_utf8(bytes).expect("still UTF-8"))
        } else {
            text
        };
        Source {
            path: path.into(),
            text,
        }
    }

    /// Reads an experiment file: a regular file of at most 1 MiB (the parser's limit),
    /// refused before reading otherwise, so `/dev/zero` or a FIFO never hangs `expr`.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        Ok(Source::new(path, read_text(path, EXPERIMENT_LIMIT)?))
    }

    /// The source as miette wants it, named by its path so reports say `file:line:col`.
    pub fn named(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.path.display().to_string(), self.text.clone())
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        (line, col)
    }
}

/// The largest experiment file read, checked before reading: the parser's own limit
/// (`syntax::limits::MAX_BYTES`, which a test below keeps equal).
pub const EXPERIMENT_LIMIT: u64 = 1 << 20;

/// The text of a user-named file through `files::read_regular`: a regular file (or a
/// symlink to one) of at most `limit` bytes. A refusal is an I/O error whose message says
/// what the path is (`it is a FIFO (named pipe), not a regular file`).
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind};
    let bytes = crate::files::read_regular(path, limit).map_err(|e| match e {
        crate::files::ReadRefused::Io(e) => e,
        refused => Error::new(ErrorKind::InvalidInput, refused.to_string()),
    })?;
    String::from_utf8(bytes)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

fn has_lone_cr(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_limit_is_the_parser_s() {
        assert_eq!(EXPERIMENT_LIMIT, crate::syntax::limits::MAX_BYTES as u64);
    }

    #[test]
    fn lone_carriage_returns_are_line_breaks() {
        let s = Source::new("a.exp", "a\rb\r\nc\rd");
        assert_eq!(&*s.text, "a\nb\r\nc\nd");
        assert_eq!(s.line_col(2), (2, 1));
        assert_eq!(s.line_col(7), (4, 1));
    }
}
