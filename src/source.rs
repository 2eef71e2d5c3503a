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
    /// A UTF-8 byte order mark at the start is dropped: editors on Windows write one, and
    /// it is no part of the experiment (spans count from after it).
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let text = match text.strip_prefix(BOM) {
            Some(rest) => Arc::from(rest),
            None => text,
        };
        Source::with_line_breaks(path, text)
    }

    /// The text, with lone `\r`s made `\n`s (see `new`).
    fn with_line_breaks(path: impl Into<PathBuf>, text: Arc<str>) -> Self {
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
    /// Invalid UTF-8 is an `InvalidData` error holding a `NotUtf8` (see `decode`), so that
    /// it can be shown at its line and column.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        Source::decode(path, read_bytes(path, EXPERIMENT_LIMIT)?).map_err(std::io::Error::from)
    }

    /// An experiment's bytes as text, a byte order mark dropped. Invalid UTF-8 is an error
    /// that says where: its line and column, and the text with each bad sequence replaced
    /// by U+FFFD for the snippet.
    pub fn decode(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self, Box<NotUtf8>> {
        let path = path.into();
        let bytes = match bytes.strip_prefix(BOM.as_bytes()) {
            Some(rest) => rest.to_vec(),
            None => bytes,
        };
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source::with_line_breaks(path, text.into())),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let byte = e.as_bytes()[at];
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                // The text before `at` is unchanged, so `at` is the replacement's offset.
                let span = Span::new(at, at + char::REPLACEMENT_CHARACTER.len_utf8());
                let source = Source::with_line_breaks(path, text.into());
                let (line, column) = source.line_col(at);
                Err(Box::new(NotUtf8 {
                    source,
                    span,
                    byte,
                    line,
                    column,
                }))
            }
        }
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
    String::from_utf8(read_bytes(path, limit)?)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// The bytes of a user-named file, as `read_text` reads them.
fn read_bytes(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind};
    crate::files::read_regular(path, limit).map_err(|e| match e {
        crate::files::ReadRefused::Io(e) => e,
        refused => Error::new(ErrorKind::InvalidInput, refused.to_string()),
    })
}

/// The UTF-8 byte order mark.
const BOM: &str = "\u{feff}";

/// A file that is not UTF-8 text: where the first bad byte is.
#[derive(Debug, Clone)]
pub struct NotUtf8 {
    /// The file decoded with U+FFFD for each bad sequence, for the snippet.
    pub source: Source,
    /// The first replacement character.
    pub span: Span,
    /// The first byte that is not UTF-8.
    pub byte: u8,
    /// 1-based, as `Source::line_col`.
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not UTF-8 text: byte 0x{:02x} at line {}, column {}",
            self.byte, self.line, self.column
        )
    }
}

impl std::error::Error for NotUtf8 {}

impl From<Box<NotUtf8>> for std::io::Error {
    fn from(e: Box<NotUtf8>) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, *e)
    }
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
    fn a_byte_order_mark_is_dropped() {
        let s = Source::new("a.exp", "\u{feff}experiment");
        assert_eq!(&*s.text, "experiment");
        let s = Source::decode("a.exp", b"\xef\xbb\xbfx = 1".to_vec()).unwrap();
        assert_eq!(&*s.text, "x = 1");
    }

    #[test]
    fn invalid_utf8_says_where() {
        let e = Source::decode("a.exp", b"ab\ncd\xffef".to_vec()).unwrap_err();
        assert_eq!((e.line, e.column, e.byte), (2, 3, 0xff));
        assert_eq!(e.span, Span::new(5, 8));
        assert_eq!(&e.source.text[5..8], "\u{fffd}");
        let io: std::io::Error = e.into();
        assert!(io.to_string().contains("line 2, column 3"), "{io}");
    }

    #[test]
    fn lone_carriage_returns_are_line_breaks() {
        let s = Source::new("a.exp", "a\rb\r\nc\rd");
        assert_eq!(&*s.text, "a\nb\r\nc\nd");
        assert_eq!(s.line_col(2), (2, 1));
        assert_eq!(s.line_col(7), (4, 1));
    }
}
