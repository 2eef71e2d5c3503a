//! Comments are not in the AST (the grammar's `COMMENT` is silent), so the
//! formatter finds them again in the source text, by position, and places
//! each one next to the syntax it was next to.

use crate::source::Span;

/// A `// ...` comment as found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// From `//` to the end of the line, trailing whitespace excluded.
    pub span: Span,
    /// Code precedes it on its line: it belongs at the end of that line.
    pub trailing: bool,
    /// A blank line separates it from whatever precedes it.
    pub blank_before: bool,
}

/// Every comment in `text`, in order. Strings are skipped, so `"a // b"` is not a comment.
pub fn scan(text: &str) -> Vec<Comment> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let start = i;
                // The grammar's NEWLINE ends a comment: `\n`, `\r\n` or a lone `\r`.
                while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                    i += 1;
                }
                let end = start + text[start..i].trim_end().len();
                let line_start = text[..start].rfind(['\n', '\r']).map_or(0, |n| n + 1);
                out.push(Comment {
                    span: Span::new(start, end),
                    trailing: !text[line_start..start].trim().is_empty(),
                    blank_before: blank_before(text, start),
                });
            }
            _ => i += 1,
        }
    }
    out
}

/// Whether the whitespace just before `offset` holds a blank line.
pub fn blank_before(text: &str, offset: usize) -> bool {
    let before = &text[..offset.min(text.len())];
    let gap = &before[before.trim_end().len()..];
    !before.trim_end().is_empty() && gap.matches('\n').count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_line_and_trailing_comments_are_told_apart() {
        let text = "// head\nx = 1 // tail\n\n  // after a blank\n";
        let found = scan(text);
        assert_eq!(found.len(), 3);
        assert!(!found[0].trailing && !found[0].blank_before);
        assert!(found[1].trailing);
        assert_eq!(&text[found[1].span.start..found[1].span.end], "// tail");
        assert!(!found[2].trailing && found[2].blank_before);
    }

    #[test]
    fn slashes_inside_strings_are_not_comments() {
        assert!(scan("log \"a // b\"\n").is_empty());
        assert_eq!(scan("log \"a \\\" // b\" // c\n").len(), 1);
    }
}
