//! Semantic tokens: what each word of a document is, for the editor's colours. A lexical pass
//! in the grammar's terms (`grammar/exp.pest`): `//` comments, strings, numbers, and names,
//! each name a keyword, a call (followed by `(`), a parameter (followed by one `=`) or a
//! plain name. It needs no parse, so a document with a syntax error is coloured too.

use lsp_types::{SemanticToken, SemanticTokenType, SemanticTokensLegend};

use super::position::LineIndex;

/// The token types, in the legend's order: a token's type is its index here.
pub const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::NUMBER,
    SemanticTokenType::STRING,
    SemanticTokenType::COMMENT,
];

const KEYWORD: u32 = 0;
const FUNCTION: u32 = 1;
const PARAMETER: u32 = 2;
const VARIABLE: u32 = 3;
const NUMBER: u32 = 4;
const STRING: u32 = 5;
const COMMENT: u32 = 6;

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: Vec::new(),
    }
}

/// The document's tokens, encoded as the protocol wants: each relative to the one before.
pub fn tokens(text: &str, keywords: &[&str]) -> Vec<SemanticToken> {
    let index = LineIndex::new(text);
    let mut out = Vec::new();
    let (mut line, mut start) = (0u32, 0u32);
    for (from, to, kind) in scan(text, keywords) {
        let (a, b) = (index.position(from), index.position(to));
        // A token never spans lines here: comments and strings end at the line's end.
        let length = b.character.saturating_sub(a.character);
        if a.line != b.line || length == 0 {
            continue;
        }
        let delta_line = a.line - line;
        let delta_start = if delta_line == 0 {
            a.character - start
        } else {
            a.character
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length,
            token_type: kind,
            token_modifiers_bitset: 0,
        });
        (line, start) = (a.line, a.character);
    }
    out
}

/// (start, end, type) of each token, in order.
fn scan(text: &str, keywords: &[&str]) -> Vec<(usize, usize, u32)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |n| from + n);
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            let end = line_end(i);
            out.push((i, end, COMMENT));
            i = end;
        } else if c == b'"' {
            let mut end = i + 1;
            while end < bytes.len() && bytes[end] != b'"' && bytes[end] != b'\n' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let end = (end + 1).min(line_end(i)).min(bytes.len());
            out.push((i, end, STRING));
            i = end.max(i + 1);
        } else if c.is_ascii_digit() {
            let mut end = i;
            while end < bytes.len()
                && (bytes[end].is_ascii_alphanumeric()
                    || bytes[end] == b'.' && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
                    || matches!(bytes[end], b'+' | b'-') && matches!(bytes[end - 1], b'e' | b'E'))
            {
                end += 1;
            }
            out.push((i, end, NUMBER));
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let mut end = i;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                end += 1;
            }
            let word = &text[i..end];
            let next = text[end..].trim_start_matches([' ', '\t']);
            let kind = if keywords.contains(&word) {
                KEYWORD
            } else if next.starts_with('(') {
                FUNCTION
            } else if next.starts_with('=') && !next.starts_with("==") {
                PARAMETER
            } else {
                VARIABLE
            };
            out.push((i, end, kind));
            i = end;
        } else {
            // Any other character, whole (a multi-byte one too).
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_word_gets_its_kind_relative_to_the_one_before() {
        let text = "model m {\n  dense(units = 1e-3) // é\n  \"s\"\n}";
        let kinds: Vec<(usize, usize, u32)> = scan(text, &["model"]);
        let words: Vec<(&str, u32)> = kinds.iter().map(|&(a, b, k)| (&text[a..b], k)).collect();
        assert_eq!(
            words,
            [
                ("model", KEYWORD),
                ("m", VARIABLE),
                ("dense", FUNCTION),
                ("units", PARAMETER),
                ("1e-3", NUMBER),
                ("// é", COMMENT),
                ("\"s\"", STRING),
            ]
        );
        let encoded = tokens(text, &["model"]);
        let first = |t: &SemanticToken| (t.delta_line, t.delta_start, t.length, t.token_type);
        assert_eq!(first(&encoded[0]), (0, 0, 5, KEYWORD));
        assert_eq!(first(&encoded[2]), (1, 2, 5, FUNCTION));
        // The comment's `é` is one UTF-16 unit: 4 in all.
        assert_eq!(first(&encoded[5]), (0, 6, 4, COMMENT));
        assert_eq!(first(&encoded[6]), (1, 2, 3, STRING));
    }
}
