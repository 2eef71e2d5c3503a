//! The answers to an editor's questions about one analysed document: hover, completion, go
//! to definition, the outline and formatting. Each reads the syntax tree, the checked plan
//! and the catalogue; none re-parses or re-checks by itself.

use std::fmt::Write as _; // write! into a String, which cannot fail: hence `let _ =`

use lsp_types::{
    CompletionItem, CompletionItemKind, DocumentSymbol, Hover, HoverContents, Location,
    MarkupContent, MarkupKind, Position, Range, SymbolKind, TextEdit, Url,
};

use super::analysis::Analysis;
use super::position::LineIndex;
use crate::catalog::{self, Entry, Kind};
use crate::check::summary::{group, type_name};
use crate::source::Span;
use crate::syntax::ast::{DeclKind, File, Ident};

/// The grammar's other keywords (`kw_*` in `grammar/expr.pest`) and its two literals,
/// besides those that start a declaration (`syntax::error::DECLS`).
const KEYWORDS: &[&str] = &[
    "block",
    "for",
    "every",
    "steps",
    "update",
    "minimizing",
    "log",
    "return",
    "repeat",
    "grid",
    "uniform",
    "true",
    "false",
];

/// Every keyword: those that start a declaration, then the others.
pub fn keywords() -> Vec<&'static str> {
    crate::syntax::error::DECLS
        .iter()
        .chain(KEYWORDS)
        .copied()
        .collect()
}

/// A name the file declares: what declares it, the name and the whole declaration.
struct Declared<'a> {
    what: &'static str,
    name: &'a Ident,
    span: Span,
}

fn declarations(file: &File) -> Vec<Declared<'_>> {
    let mut out = Vec::new();
    for decl in &file.decls {
        let (what, name) = match &decl.kind {
            DeclKind::Experiment { name, .. } => ("experiment", name),
            DeclKind::Data { name, .. } => ("data", name),
            DeclKind::Model { name, .. } | DeclKind::GraphModel { name, .. } => ("model", name),
            DeclKind::Block { name, .. } => ("block", name),
            DeclKind::Loss { name, .. } => ("loss", name),
            DeclKind::Optimizer { name, .. } => ("optimizer", name),
            DeclKind::Metrics { metrics } => {
                for m in metrics {
                    out.push(Declared {
                        what: "metric",
                        name: &m.name,
                        span: m.name.span.to(m.on.span),
                    });
                }
                continue;
            }
            _ => continue,
        };
        out.push(Declared {
            what,
            name,
            span: decl.span,
        });
    }
    out
}

/// The identifier at `offset` (or just before it, at its end), and where it is.
fn word_at(text: &str, offset: usize) -> Option<(Span, &str)> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let offset = offset.min(text.len());
    if !text.is_char_boundary(offset) {
        return None;
    }
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word(c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = offset
        + text[offset..]
            .find(|c: char| !is_word(c))
            .unwrap_or(text.len() - offset);
    (start < end).then(|| (Span::new(start, end), &text[start..end]))
}

/// Hover: a layer's output shape and parameter count, a declared name's declaration, a
/// catalogue name's signature and line of the language guide.
pub fn hover(analysis: &Analysis, position: Position) -> Option<Hover> {
    let index = LineIndex::new(&analysis.text);
    let offset = index.offset(position);
    let (span, word) = word_at(&analysis.text, offset)?;
    let range = Some(index.range(span));
    let markdown = |value: String| {
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value,
            }),
            range,
        })
    };
    if let Some(exp) = &analysis.experiment {
        let layer = exp
            .models
            .iter()
            .flat_map(|m| m.layers.iter().map(move |l| (m, l)))
            .filter(|(_, l)| l.span.start <= span.start && span.end <= l.span.end)
            .min_by_key(|(_, l)| l.span.end - l.span.start);
        if let Some((model, layer)) = layer {
            let shape: Vec<String> = layer.output_shape.iter().map(ToString::to_string).collect();
            return markdown(format!(
                "**{}** ({}) in model `{}`\n\noutput shape `(None, {})` · {} parameters",
                layer.name,
                type_name(layer),
                model.name,
                shape.join(", "),
                group(layer.parameter_count()),
            ));
        }
    }
    if let Some(file) = &analysis.file {
        if let Some(d) = declarations(file).into_iter().find(|d| d.name.name == word) {
            let line = analysis.text[d.span.start..d.span.end]
                .lines()
                .next()
                .unwrap_or_default();
            let at = index.position(d.span.start).line + 1;
            let mut text = format!("{} `{}`, line {at}\n\n```exp\n{line}\n```", d.what, word);
            if d.what == "model" {
                if let Some(m) = analysis
                    .experiment
                    .as_ref()
                    .and_then(|e| e.models.iter().find(|m| m.name == word))
                {
                    let _ = write!(text, "\n\n{} parameters", group(m.total_count()));
                }
            }
            return markdown(text);
        }
    }
    let entry = catalog::entries().find(|e| e.answers_to(word))?;
    markdown(format!(
        "```exp\n{}\n```\n\n{}",
        signature(entry),
        entry.doc
    ))
}

/// `dense(units, activation = linear, ...)`: the entry's parameters and defaults.
fn signature(entry: &Entry) -> String {
    let params: Vec<String> = entry.params.iter().map(catalog::docs::spell).collect();
    format!("{}({})", entry.name, params.join(", "))
}

/// Completion: inside a call's parentheses its parameters; elsewhere the catalogue's
/// names, the file's declared names and the keywords.
pub fn completion(analysis: &Analysis, position: Position) -> Vec<CompletionItem> {
    let index = LineIndex::new(&analysis.text);
    let offset = index.offset(position);
    if let Some(entry) = enclosing_call(&analysis.text[..offset]).and_then(catalog::callable) {
        return entry
            .params
            .iter()
            .map(|p| CompletionItem {
                label: p.name.to_string(),
                kind: Some(CompletionItemKind::FIELD),
                detail: Some(match catalog::docs::hint(p.ty) {
                    Some(hint) => {
                        format!("{} ({})", catalog::docs::spell(p), hint.replace("\\|", "|"))
                    }
                    None => catalog::docs::spell(p),
                }),
                insert_text: Some(format!("{} = ", p.name)),
                ..CompletionItem::default()
            })
            .collect();
    }
    let mut items: Vec<CompletionItem> = catalog::entries()
        .map(|e| CompletionItem {
            label: e.name.to_string(),
            kind: Some(match e.kind {
                Kind::Layer | Kind::Activation => CompletionItemKind::CLASS,
                Kind::Loss | Kind::Optimizer | Kind::Source | Kind::Transform => {
                    CompletionItemKind::FUNCTION
                }
                _ => CompletionItemKind::VALUE,
            }),
            detail: Some(signature(e)),
            documentation: Some(lsp_types::Documentation::String(e.doc.to_string())),
            ..CompletionItem::default()
        })
        .collect();
    if let Some(file) = &analysis.file {
        items.extend(declarations(file).into_iter().map(|d| CompletionItem {
            label: d.name.name.clone(),
            kind: Some(CompletionItemKind::VARIABLE),
            detail: Some(d.what.to_string()),
            ..CompletionItem::default()
        }));
    }
    items.extend(keywords().into_iter().map(|k| CompletionItem {
        label: k.to_string(),
        kind: Some(CompletionItemKind::KEYWORD),
        ..CompletionItem::default()
    }));
    items
}

/// The name of the call whose open parenthesis `before` ends inside, if any.
fn enclosing_call(before: &str) -> Option<&str> {
    let mut depth = 0usize;
    for (i, c) in before.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let name = word_at(before, i)?.1;
                return Some(name);
            }
            '{' | '}' => return None,
            _ => {}
        }
    }
    None
}

/// Go to definition: where a data set, model, block, loss, optimizer or metric is declared.
pub fn definition(analysis: &Analysis, uri: &Url, position: Position) -> Option<Location> {
    let index = LineIndex::new(&analysis.text);
    let (_, word) = word_at(&analysis.text, index.offset(position))?;
    let file = analysis.file.as_ref()?;
    let d = declarations(file)
        .into_iter()
        .find(|d| d.name.name == word)?;
    Some(Location::new(uri.clone(), index.range(d.name.span)))
}

/// The outline: each declaration, the metrics under their block.
#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written, as `None`
pub fn symbols(analysis: &Analysis) -> Vec<DocumentSymbol> {
    let Some(file) = &analysis.file else {
        return Vec::new();
    };
    let index = LineIndex::new(&analysis.text);
    let symbol = |name: String, kind: SymbolKind, span: Span, selection: Span| DocumentSymbol {
        name,
        detail: None,
        kind,
        tags: None,
        deprecated: None,
        range: index.range(span),
        selection_range: index.range(selection),
        children: None,
    };
    let mut out = Vec::new();
    for decl in &file.decls {
        let keyword = |n: usize| Span::new(decl.span.start, decl.span.start + n);
        let (name, kind, selection) = match &decl.kind {
            DeclKind::Experiment { name, .. } => (
                format!("experiment {}", name.name),
                SymbolKind::MODULE,
                name.span,
            ),
            DeclKind::Data { name, .. } => (
                format!("data {}", name.name),
                SymbolKind::VARIABLE,
                name.span,
            ),
            DeclKind::Model { name, .. } | DeclKind::GraphModel { name, .. } => {
                (format!("model {}", name.name), SymbolKind::CLASS, name.span)
            }
            DeclKind::Block { name, .. } => {
                (format!("block {}", name.name), SymbolKind::CLASS, name.span)
            }
            DeclKind::Loss { name, .. } => (
                format!("loss {}", name.name),
                SymbolKind::FUNCTION,
                name.span,
            ),
            DeclKind::Optimizer { name, .. } => (
                format!("optimizer {}", name.name),
                SymbolKind::OBJECT,
                name.span,
            ),
            DeclKind::Metrics { metrics } => {
                let mut s = symbol(
                    "metrics".into(),
                    SymbolKind::NAMESPACE,
                    decl.span,
                    keyword(7),
                );
                s.children = Some(
                    metrics
                        .iter()
                        .map(|m| {
                            symbol(
                                m.name.name.clone(),
                                SymbolKind::FIELD,
                                m.name.span.to(m.on.span),
                                m.name.span,
                            )
                        })
                        .collect(),
                );
                out.push(s);
                continue;
            }
            DeclKind::Train { .. } => ("train".into(), SymbolKind::NAMESPACE, keyword(5)),
            DeclKind::Step { data, .. } => (
                format!("step {}", data.name),
                SymbolKind::FUNCTION,
                data.span,
            ),
            DeclKind::Hook { .. } => ("on".into(), SymbolKind::EVENT, keyword(2)),
            DeclKind::Before { .. } => ("before".into(), SymbolKind::EVENT, keyword(6)),
            DeclKind::After { .. } => ("after".into(), SymbolKind::EVENT, keyword(5)),
            DeclKind::Sweep { .. } => ("sweep".into(), SymbolKind::NAMESPACE, keyword(5)),
        };
        out.push(symbol(name, kind, decl.span, selection));
    }
    out
}

/// Formatting: the whole document as `expr fmt` writes it; nothing for a document that does
/// not parse or is already canonical.
pub fn formatting(analysis: &Analysis) -> Vec<TextEdit> {
    let Ok(formatted) = crate::fmt::format_source(&analysis.text) else {
        return Vec::new();
    };
    if formatted == analysis.text {
        return Vec::new();
    }
    let index = LineIndex::new(&analysis.text);
    let end = index.position(analysis.text.len());
    vec![TextEdit::new(
        Range::new(Position::new(0, 0), end),
        formatted,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_enclosing_calls() {
        let text = "model m {\n  dense(units = 10, act";
        assert_eq!(word_at(text, 13).map(|w| w.1), Some("dense"));
        assert_eq!(word_at(text, text.len()).map(|w| w.1), Some("act"));
        assert_eq!(enclosing_call(text), Some("dense"));
        assert_eq!(enclosing_call("dense(units = f(1), "), Some("dense"));
        assert_eq!(enclosing_call("model m {"), None);
    }
}
