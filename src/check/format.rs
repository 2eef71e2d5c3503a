//! `log` format strings: text with `{expr:spec}` holes, each a scalar
//! expression with a spec such as `.4f`; `{{` and `}}` are literal braces.

use super::error::CheckError;
use super::hooks::HookCx;
use super::plan::{Format, FormatSpec, FormatStyle, Piece};
use crate::source::Span;
use crate::syntax::ast::StringLit;
use crate::syntax::parse_expr_at;

impl HookCx<'_, '_> {
    /// Splits a format string into text and `{expr:spec}` holes; `{{`/`}}` are braces.
    pub(super) fn format(&self, s: &StringLit, errors: &mut Vec<CheckError>) -> Option<Format> {
        let raw = s.raw.as_str();
        let base = s.span.start;
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        let bytes = raw.as_bytes();
        let mut ok = true;
        while i < raw.len() {
            match bytes[i] {
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    text.push('{');
                    i += 2;
                }
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    text.push('}');
                    i += 2;
                }
                b'{' => {
                    let Some(close) = raw[i..].find('}').map(|c| i + c) else {
                        errors.push(
                            CheckError::invalid(
                                "unclosed `{` in a log format".into(),
                                "opened here".into(),
                                Span::new(base + i, base + i + 1),
                            )
                            .with_help("close it with `}`, or write `{{` for a literal brace"),
                        );
                        return None;
                    };
                    let inner = &raw[i + 1..close];
                    let (expr_text, spec_text) = match inner.find(':') {
                        Some(c) => (&inner[..c], Some(&inner[c + 1..])),
                        None => (inner, None),
                    };
                    let expr = match parse_expr_at(expr_text, base + i + 1) {
                        Ok(e) => e,
                        Err(e) => {
                            errors.push(CheckError::invalid(
                                format!("bad expression in a log format: expected {}", e.expected),
                                e.found,
                                e.span,
                            ));
                            ok = false;
                            i = close + 1;
                            continue;
                        }
                    };
                    let spec_span = Span::new(base + i + 2 + expr_text.len(), base + close);
                    let spec = match spec_text.map(|t| parse_spec(t, spec_span)) {
                        None => FormatSpec::default(),
                        Some(Ok(spec)) => spec,
                        Some(Err(e)) => {
                            errors.push(*e);
                            ok = false;
                            FormatSpec::default()
                        }
                    };
                    if !text.is_empty() {
                        pieces.push(Piece::Text(unescape(&std::mem::take(&mut text))));
                    }
                    match self.scalar(&expr, errors) {
                        Some(value) => pieces.push(Piece::Hole { value, spec }),
                        None => ok = false,
                    }
                    i = close + 1;
                }
                _ => {
                    let c = raw[i..].chars().next().unwrap_or(' ');
                    text.push(c);
                    i += c.len_utf8();
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(unescape(&text)));
        }
        ok.then_some(Format { pieces })
    }
}

fn unescape(raw: &str) -> String {
    raw.replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
}

/// `.4f`, `.2e`, `d`, `.1%`, `f`.
fn parse_spec(text: &str, span: Span) -> Result<FormatSpec, Box<CheckError>> {
    let bad = || {
        Box::new(
            CheckError::invalid(
                format!("unknown format spec `{text}`"),
                "not a format spec".into(),
                span,
            )
            .with_help("use `.4f` (fixed), `.2e` (exponent), `d` (integer) or `.1%` (percent)"),
        )
    };
    let (precision, rest) = match text.strip_prefix('.') {
        Some(r) => {
            let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
            let p = digits.parse::<usize>().map_err(|_| bad())?;
            if p > 30 {
                return Err(bad());
            }
            (Some(p), &r[digits.len()..])
        }
        None => (None, text),
    };
    let style = match rest {
        "f" => FormatStyle::Fixed,
        "e" => FormatStyle::Exponent,
        "d" if precision.is_none() => FormatStyle::Integer,
        "%" => FormatStyle::Percent,
        "" => FormatStyle::General,
        _ => return Err(bad()),
    };
    Ok(FormatSpec { precision, style })
}
