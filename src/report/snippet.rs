//! What miette is shown of a file: the text with control characters escaped and long
//! lines clipped to a window around the labels, plus the map from the file's byte offsets
//! to the shown text's.
//!
//! Why: a file is a stranger's text. Raw escape sequences in a snippet would reach the
//! terminal (a file could set its title or hide lines), and miette panics on a label past
//! column 65,535. The shown text keeps one line per line of the file, so line numbers stay
//! right; the column in the `file:line:col` header is the file's, restored by
//! `Shown::read_span`.

use std::collections::HashMap;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

use crate::source::Span;

/// Lines longer than this (in characters, once escaped) are clipped.
pub const MAX_LINE: usize = 240;
/// How much of a clipped line is shown, and how far before its first label the window
/// starts.
const WINDOW: usize = 160;
const LEAD: usize = 60;
/// Marks the text a clipped line leaves out.
const ELLIPSIS: &str = "…";

/// `text` with every character a terminal would act on written as a Rust escape
/// (`\u{1b}`): controls but tab and line breaks, and the bidirectional overrides that can
/// make text read in another order than it runs.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_hostile) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // A `\r` before `\n` is a Windows line break, not a control to show.
        if c == '\r' && chars.peek() == Some(&'\n') {
            out.push(c);
        } else if is_hostile(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out.into()
}

fn is_hostile(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t' && c != '\r')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// The escaped width of one character.
fn shown_len(c: char, next: Option<char>) -> usize {
    if is_hostile(c) && !(c == '\r' && next == Some('\n')) {
        c.escape_unicode().len()
    } else {
        c.len_utf8()
    }
}

/// One line of the file as shown.
struct Line {
    /// Byte offsets of the line (without its break) in the file and in the shown text.
    start: usize,
    end: usize,
    shown_start: usize,
    /// The file's byte range shown, when the line is clipped.
    window: Option<(usize, usize)>,
}

/// A file as miette is shown it.
pub struct Shown {
    name: String,
    text: String,
    lines: Vec<Line>,
    original: std::sync::Arc<str>,
    /// Shown offset of each label's start → the file's, for the header's column.
    starts: HashMap<usize, usize>,
}

impl Shown {
    /// The shown form of `text` (named `name`), with windows around `spans` (the labels).
    pub fn new(name: &str, text: std::sync::Arc<str>, spans: &[Span]) -> Self {
        let mut shown = String::with_capacity(text.len());
        let mut lines = Vec::new();
        let mut start = 0;
        for piece in text.split_inclusive('\n') {
            let end = start + piece.trim_end_matches(['\n', '\r']).len();
            let body = &text[start..end];
            let escaped = escape(body);
            let shown_start = shown.len();
            let window = if escaped.chars().count() > MAX_LINE {
                let focus = spans
                    .iter()
                    .map(|s| s.start)
                    .find(|&s| (start..=end).contains(&s))
                    .unwrap_or(start);
                let (from, to) = window(&text, start, end, focus);
                if from > start {
                    shown.push_str(ELLIPSIS);
                }
                shown.push_str(&escape(&text[from..to]));
                if to < end {
                    shown.push_str(ELLIPSIS);
                }
                Some((from, to))
            } else {
                shown.push_str(&escaped);
                None
            };
            shown.push_str(&text[end..start + piece.len()]);
            lines.push(Line {
                start,
                end,
                shown_start,
                window,
            });
            start += piece.len();
        }
        let mut this = Shown {
            name: escape(name).into_owned(),
            text: shown,
            lines,
            original: text,
            starts: HashMap::new(),
        };
        for span in spans {
            let at = this.offset(span.start);
            this.starts.insert(at, span.start);
        }
        this
    }

    /// Where a byte offset of the file is in the shown text (clamped into a clipped
    /// line's window).
    pub fn offset(&self, at: usize) -> usize {
        let i = self
            .lines
            .partition_point(|l| l.start <= at)
            .saturating_sub(1);
        let Some(line) = self.lines.get(i) else {
            return at.min(self.text.len());
        };
        if at > line.end {
            // Inside the line break.
            return line.shown_start + self.shown_width(line, line.end) + (at - line.end);
        }
        line.shown_start + self.shown_width(line, at)
    }

    /// Shown bytes from the line's start to `at` (at most `line.end`).
    fn shown_width(&self, line: &Line, at: usize) -> usize {
        let (from, to, lead) = match line.window {
            None => (line.start, at, 0),
            Some((from, to)) => {
                let lead = if from > line.start { ELLIPSIS.len() } else { 0 };
                (from, at.clamp(from, to), lead)
            }
        };
        let text = &self.original[from..to];
        let mut width = lead;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let next = chars
                .peek()
                .copied()
                .or_else(|| self.original[to..].chars().next());
            width += shown_len(c, next);
        }
        width
    }

    /// A span of the file, as a span of the shown text.
    pub fn span(&self, span: SourceSpan) -> SourceSpan {
        let start = self.offset(span.offset());
        let end = self.offset(span.offset() + span.len()).max(start);
        SourceSpan::new(start.into(), end - start)
    }
}

/// The byte range of a long line (`start..end` of `text`) to show: `WINDOW` characters,
/// starting `LEAD` before `focus`, on character boundaries.
fn window(text: &str, start: usize, end: usize, focus: usize) -> (usize, usize) {
    let line = &text[start..end];
    let focus_char = line[..focus - start].chars().count();
    let total = line.chars().count();
    let first = focus_char
        .saturating_sub(LEAD)
        .min(total.saturating_sub(WINDOW));
    let mut offsets = line.char_indices().map(|(i, _)| start + i).skip(first);
    let from = offsets.next().unwrap_or(end);
    // The start of the character `WINDOW` after `from`'s.
    let to = offsets.nth(WINDOW - 1).unwrap_or(end);
    (from, to)
}

impl SourceCode for Shown {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let contents =
            self.text
                .as_str()
                .read_span(span, context_lines_before, context_lines_after)?;
        // The header's `line:col` comes from reading a label's span with no context:
        // give the file's column there, not the shown text's.
        let column = match self.starts.get(&span.offset()) {
            Some(&original) if context_lines_before == 0 => {
                let before = &self.original[..original];
                before.len() - before.rfind('\n').map_or(0, |nl| nl + 1)
            }
            _ => contents.column(),
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            contents.data(),
            *contents.span(),
            contents.line(),
            column,
            contents.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_shown_as_it_is() {
        let text: std::sync::Arc<str> = "a = 1\r\nb = 2\n".into();
        let shown = Shown::new("a.exp", text.clone(), &[Span::new(8, 9)]);
        assert_eq!(shown.text, &*text);
        assert_eq!(shown.offset(8), 8);
    }

    #[test]
    fn controls_are_escaped_and_offsets_follow() {
        let shown = Shown::new("a.exp", "x\u{1b}y z".into(), &[Span::new(4, 5)]);
        assert_eq!(shown.text, "x\\u{1b}y z");
        assert_eq!(shown.offset(4), "x\\u{1b}y ".len());
        assert_eq!(escape("tab\there\n"), "tab\there\n");
        assert_eq!(escape("\u{202e}"), "\\u{202e}");
    }

    #[test]
    fn a_long_line_is_clipped_around_its_label_with_the_file_s_column() {
        let text = format!("{}bad\nnext\n", " ".repeat(100_000));
        let at = 100_000;
        let shown = Shown::new("a.exp", text.into(), &[Span::new(at, at + 3)]);
        let first = shown.text.lines().next().unwrap();
        assert!(first.chars().count() <= WINDOW + 2, "{}", first.len());
        assert!(first.starts_with(ELLIPSIS) && first.ends_with("bad"));
        let span = shown.span(SourceSpan::new(at.into(), 3));
        assert_eq!(&shown.text[span.offset()..span.offset() + 3], "bad");
        // The line after keeps its place, and the header gets the file's column.
        assert_eq!(&shown.text[shown.offset(at + 4)..], "next\n");
        let contents = shown.read_span(&span, 0, 0).unwrap();
        assert_eq!((contents.line(), contents.column()), (0, at));
    }
}
