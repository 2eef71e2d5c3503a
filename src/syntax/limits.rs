//! Limits on what the parser accepts, so that no later stage can be crashed by a file.
//!
//! Checked before pest sees the text: pest's parser recurses once per nested bracket, so a
//! few thousand `(` overflow the stack and abort the process; a file of many megabytes is
//! never an experiment. Both become a syntax error instead, found in one linear scan.
//!
//! Checked while the AST is built (`MAX_EXPR_DEPTH`): every stage after the parser (the
//! formatter, `expr diff`, the checker, the evaluator of hooks, even dropping the tree)
//! walks an expression recursively, so a tree 20,000 nodes deep (`0 + 0 + ...`, or
//! `- - - ... 1`) would overflow their stacks. One limit here keeps them all safe.

use super::error::SyntaxError;
use crate::source::Span;

/// Deepest nesting of `(` and `{` accepted; real experiments use 3 or 4.
pub const MAX_DEPTH: usize = 64;
/// Largest file accepted, in bytes; real experiments are a few kilobytes.
pub const MAX_BYTES: usize = 1 << 20;
/// Deepest expression tree accepted, counted in nodes from the root: an operator, a
/// minus sign, a field access, a call or a tuple each nest one level. Real experiments
/// use under 10; recursive walkers need well under 2 KiB of stack a level, so 256 levels
/// stay far inside the 2 MiB of a spawned thread.
pub const MAX_EXPR_DEPTH: usize = 256;

/// The error for an expression nested deeper than `MAX_EXPR_DEPTH`, pointing at `span`
/// (the operator, sign or bracket where the limit is crossed).
pub fn too_deep(span: Span) -> SyntaxError {
    SyntaxError {
        expected: format!("an expression nested at most {MAX_EXPR_DEPTH} levels deep"),
        span,
        found: format!("level {} of nesting", MAX_EXPR_DEPTH + 1),
        help: Some(
            "split the expression into simpler parts, or write its value as one number".into(),
        ),
    }
}

/// Rejects text that is too large or nested too deep to parse safely.
pub fn check_limits(text: &str) -> Result<(), SyntaxError> {
    if text.len() > MAX_BYTES {
        let mut at = MAX_BYTES;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        return Err(SyntaxError {
            expected: format!("a file of at most {} KiB", MAX_BYTES / 1024),
            span: Span::new(at, at),
            found: format!("the file goes on past {} KiB", MAX_BYTES / 1024),
            help: Some("an experiment is a few kilobytes of text: is this the right file?".into()),
        });
    }
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                // A comment runs to the end of the line.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                // Brackets inside a string are text (log holes are checked when parsed).
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(SyntaxError {
                        expected: format!("at most {MAX_DEPTH} nested brackets"),
                        span: Span::new(i, i + 1),
                        found: format!("bracket {depth} deep"),
                        help: Some("split the expression into simpler parts".into()),
                    });
                }
            }
            b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_at_the_limit_is_accepted() {
        let text = format!("{}1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(check_limits(&text).is_ok());
    }

    #[test]
    fn nesting_past_the_limit_points_at_the_bracket() {
        let text = format!(
            "{}1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        let err = check_limits(&text).unwrap_err();
        assert_eq!(err.span, Span::new(MAX_DEPTH, MAX_DEPTH + 1));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let many = "(".repeat(MAX_DEPTH * 2);
        let text = format!("// {many}\nlog \"{many}\"\n");
        assert!(check_limits(&text).is_ok());
    }

    #[test]
    fn a_file_past_the_size_limit_is_rejected() {
        let text = "a".repeat(MAX_BYTES + 1);
        assert!(check_limits(&text).is_err());
    }
}
