//! The canonical layout: two-space indent, one item per line, one space
//! around `=` and `|`, a blank line between declarations, pipelines over 100
//! columns broken one transform per line. Comments come back where they were:
//! at the end of their line, or on their own line before the next item.

use super::comments::{self, Comment};
use super::expr::{call_string, expr_string};
use super::graph::{graph_string, names_string, params_string, pipe_input_string};
use crate::source::Span;
use crate::syntax::ast::{
    BlockBody, Call, Decl, DeclKind, Event, File, Graph, GraphExprKind, GraphStmtKind, LayerItem,
    Stmt, StmtKind, SweepItem,
};

/// Pipelines longer than this are broken one transform per line.
pub const MAX_WIDTH: usize = 100;

pub struct Printer<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    /// Index of the first comment not yet printed.
    next: usize,
    out: String,
    indent: usize,
}

impl<'a> Printer<'a> {
    pub fn new(src: &'a str) -> Self {
        Printer {
            src,
            comments: comments::scan(src),
            next: 0,
            out: String::new(),
            indent: 0,
        }
    }

    pub fn file(mut self, file: &File) -> String {
        for (i, decl) in file.decls.iter().enumerate() {
            self.decl(decl, i == 0);
        }
        self.comments_before(self.src.len(), file.decls.is_empty());
        self.out
    }

    fn pending(&self) -> Option<&Comment> {
        self.comments.get(self.next)
    }

    /// Prints, each on its own line, the comments that start before `offset`;
    /// returns whether there were any. `at_start`: nothing precedes them in their block.
    fn comments_before(&mut self, offset: usize, at_start: bool) -> bool {
        let mut first = true;
        while let Some(c) = self.pending().filter(|c| c.span.start < offset).cloned() {
            if c.blank_before && !(first && at_start) {
                self.out.push('\n');
            }
            let text = &self.src[c.span.start..c.span.end];
            self.push_line(text);
            self.next += 1;
            first = false;
        }
        !first
    }

    /// Ends the current line, with the comment that followed `anchor` on its
    /// source line, if any (with nothing but the `) {` of a block's head between them).
    fn end_line(&mut self, anchor: usize) {
        if let Some(c) = self.pending().cloned() {
            let between = self.src.get(anchor..c.span.start).unwrap_or("x");
            if c.trailing
                && between
                    .chars()
                    .all(|ch| matches!(ch, '{' | ')') || ch.is_whitespace())
            {
                self.out.push(' ');
                self.out.push_str(&self.src[c.span.start..c.span.end]);
                self.next += 1;
            }
        }
        self.out.push('\n');
    }

    fn push_line(&mut self, text: &str) {
        self.push_indent();
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn push_indent(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    /// One line for an item spanning `span`: comments before and inside it
    /// first, then the text, then its trailing comment.
    /// `blank_lines`: keep a blank line that precedes it in the source.
    fn item(&mut self, span: Span, text: &str, at_start: bool, blank_lines: bool) {
        let had_comments = self.comments_before(span.start, at_start);
        let blank = blank_lines
            && comments::blank_before(self.src, span.start)
            && (had_comments || !at_start);
        if blank {
            self.out.push('\n');
        }
        // Comments inside the item move before it: still first in the block if
        // nothing was printed yet, and never a second blank line.
        self.comments_before(span.end, (at_start && !had_comments) || blank);
        self.push_indent();
        self.out.push_str(text);
        self.end_line(span.end);
    }

    /// A declaration, after the comments that precede it. Comments stay on
    /// their side of the blank line that separates declarations.
    fn decl(&mut self, decl: &Decl, first: bool) {
        let span = Span::new(decl.span.start, decl_end(decl));
        // Whether the gap from the previous declaration already has its blank line.
        let mut separated = first;
        let mut any = false;
        while let Some(c) = self
            .pending()
            .filter(|c| c.span.start < span.start)
            .cloned()
        {
            if c.blank_before && (!first || any) {
                self.out.push('\n');
                separated = true;
            }
            self.push_line(&self.src[c.span.start..c.span.end]);
            self.next += 1;
            any = true;
        }
        if !separated || (any && comments::blank_before(self.src, span.start)) {
            self.out.push('\n');
        }
        match &decl.kind {
            DeclKind::Experiment { name, settings } => {
                let items: Vec<_> = settings
                    .iter()
                    .map(|s| {
                        let text = format!("{} = {}", s.name.name, expr_string(self.src, &s.value));
                        (s.name.span.to(s.value.span), text)
                    })
                    .collect();
                self.block(
                    &format!("experiment {}", name.name),
                    name.span.end,
                    span,
                    &items,
                );
            }
            DeclKind::Data { name, pipeline } => self.data(&name.name, pipeline, span),
            DeclKind::Model { name, layers } => {
                self.layer_block(&format!("model {}", name.name), name.span.end, span, layers);
            }
            DeclKind::GraphModel { name, graph } => {
                let inputs: Vec<&str> = graph.inputs.iter().map(|i| i.name.as_str()).collect();
                let head = format!("model {} ({})", name.name, inputs.join(", "));
                let anchor = graph
                    .inputs
                    .last()
                    .map_or(name.span.end, |i| i.span.end + 1);
                let items = self.graph_items(graph);
                self.block(&head, anchor, span, &items);
            }
            DeclKind::Block { name, params, body } => {
                let mut head = format!("block {}{}", name.name, params_string(self.src, params));
                let items = match body {
                    BlockBody::Graph(graph) => {
                        let inputs: Vec<&str> =
                            graph.inputs.iter().map(|i| i.name.as_str()).collect();
                        head = format!("{head} ({})", inputs.join(", "));
                        self.graph_items(graph)
                    }
                    BlockBody::Layers(layers) => {
                        let anchor = self.src[span.start..span.end]
                            .find('{')
                            .map_or(span.start, |i| span.start + i);
                        self.layer_block(&head, anchor, span, layers);
                        return;
                    }
                };
                // The head ends at the `{` that opens the body.
                let anchor = self.src[span.start..span.end]
                    .find('{')
                    .map_or(span.start, |i| span.start + i);
                self.block(&head, anchor, span, &items);
            }
            DeclKind::Loss { name, call } => {
                let text = format!("loss {} = {}", name.name, call_string(self.src, call));
                self.item(span, &text, true, true);
            }
            DeclKind::Optimizer { name, call, models } => {
                let mut text = format!("optimizer {} = {}", name.name, call_string(self.src, call));
                if !models.is_empty() {
                    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
                    text.push_str(" for ");
                    text.push_str(&names.join(", "));
                }
                self.item(span, &text, true, true);
            }
            DeclKind::Metrics { metrics } => {
                let items: Vec<_> = metrics
                    .iter()
                    .map(|m| {
                        let value = expr_string(self.src, &m.value);
                        (
                            m.name.span.to(m.on.span),
                            format!("{} = {value} on {}", m.name.name, m.on.name),
                        )
                    })
                    .collect();
                self.block("metrics", span.start + "metrics".len(), span, &items);
            }
            DeclKind::Train { settings } => {
                let items: Vec<_> = settings
                    .iter()
                    .map(|s| {
                        let text = format!("{} = {}", s.name.name, expr_string(self.src, &s.value));
                        (s.name.span.to(s.value.span), text)
                    })
                    .collect();
                self.block("train", span.start + "train".len(), span, &items);
            }
            DeclKind::Step { data, x, y, body } => {
                let head = format!("step on {} ({}, {})", data.name, x.name, y.name);
                self.stmt_block(&head, y.span.end, span, body);
            }
            DeclKind::Hook { event, body } => {
                let (head, anchor) = match event {
                    Event::Named(id) => (format!("on {}", id.name), id.span.end),
                    Event::EverySteps { steps, span } => (
                        format!("on every {} steps", expr_string(self.src, steps)),
                        span.end,
                    ),
                    Event::Call(c) => (format!("on {}", call_string(self.src, c)), c.span.end),
                };
                self.stmt_block(&head, anchor, span, body);
            }
            DeclKind::Before { body } => {
                self.stmt_block("before", span.start + "before".len(), span, body);
            }
            DeclKind::After { body } => {
                self.stmt_block("after", span.start + "after".len(), span, body);
            }
            DeclKind::Sweep { items } => {
                let items: Vec<_> = items
                    .iter()
                    .map(|item| match item {
                        SweepItem::Setting(s) => (
                            s.name.span.to(s.value.span),
                            format!("{} = {}", s.name.name, expr_string(self.src, &s.value)),
                        ),
                        other => (other.span(), sweep_item_string(self.src, other)),
                    })
                    .collect();
                self.block("sweep", span.start + "sweep".len(), span, &items);
            }
        }
    }

    /// A graph's statements, one per line; a pipe too long for one line is broken before
    /// each `|` after the first, the stages lined up under the first.
    fn graph_items(&self, graph: &Graph) -> Vec<(Span, String)> {
        graph
            .stmts
            .iter()
            .map(|stmt| match &stmt.kind {
                GraphStmtKind::Assign { names, value } => {
                    let names = names_string(names);
                    let line = format!("{names} = {}", graph_string(self.src, value));
                    let text = match &value.kind {
                        GraphExprKind::Pipe(input, calls)
                            if (self.indent + 1) * 2 + line.len() > MAX_WIDTH
                                && calls.len() > 1 =>
                        {
                            // The stages line up under the first `|`.
                            let head = format!("{names} = {} ", pipe_input_string(self.src, input));
                            let pad = " ".repeat((self.indent + 1) * 2 + head.chars().count());
                            let mut text = format!("{head}| {}", call_string(self.src, &calls[0]));
                            for c in &calls[1..] {
                                text = format!("{text}\n{pad}| {}", call_string(self.src, c));
                            }
                            text
                        }
                        _ => line,
                    };
                    (Span::new(stmt.span.start, value_end(value)), text)
                }
                GraphStmtKind::Return(values) => {
                    let items: Vec<String> =
                        values.iter().map(|v| graph_string(self.src, v)).collect();
                    let end = values.last().map_or(stmt.span.end, value_end);
                    (
                        Span::new(stmt.span.start, end),
                        format!("return {}", items.join(", ")),
                    )
                }
            })
            .collect()
    }

    /// A block of statements, each `every N steps { ... }` a block of its own one level
    /// deeper (as `layer_block` prints repeats).
    fn stmt_block(&mut self, head: &str, anchor: usize, span: Span, body: &[Stmt]) {
        if !body
            .iter()
            .any(|s| matches!(s.kind, StmtKind::Every { .. }))
        {
            let items: Vec<_> = body
                .iter()
                .map(|s| (Span::new(s.span.start, stmt_end(s)), self.stmt(s)))
                .collect();
            self.block(head, anchor, span, &items);
            return;
        }
        self.open_block(head, anchor);
        for (i, stmt) in body.iter().enumerate() {
            if let StmtKind::Every {
                steps,
                head: every,
                body: inner,
            } = &stmt.kind
            {
                let had = self.comments_before(stmt.span.start, i == 0);
                if comments::blank_before(self.src, stmt.span.start) && (had || i > 0) {
                    self.out.push('\n');
                }
                let head = format!("every {} steps", expr_string(self.src, steps));
                self.stmt_block(&head, every.end, stmt.span, inner);
            } else {
                let text = self.stmt(stmt);
                self.item(
                    Span::new(stmt.span.start, stmt_end(stmt)),
                    &text,
                    i == 0,
                    true,
                );
            }
        }
        self.close_block(span, body.is_empty());
    }

    fn stmt(&self, stmt: &Stmt) -> String {
        match &stmt.kind {
            StmtKind::Assign { target, value } => {
                let path: Vec<&str> = target.iter().map(|t| t.name.as_str()).collect();
                format!("{} = {}", path.join("."), expr_string(self.src, value))
            }
            StmtKind::Unpack { targets, value } => {
                let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                format!("{} = {}", names.join(", "), expr_string(self.src, value))
            }
            StmtKind::Update { optimizer, loss } => {
                format!(
                    "update {} minimizing {}",
                    optimizer.name,
                    expr_string(self.src, loss)
                )
            }
            StmtKind::Log { format } => format!("log \"{}\"", format.raw),
            StmtKind::Call(c) => call_string(self.src, c),
            StmtKind::Every { .. } => unreachable!("`every` blocks are printed as blocks"),
        }
    }

    /// A block of layer calls, each `repeat N { ... }` a block of its own one level deeper.
    fn layer_block(&mut self, head: &str, anchor: usize, span: Span, items: &[LayerItem]) {
        if !items.iter().any(|i| matches!(i, LayerItem::Repeat { .. })) {
            let lines: Vec<_> = items
                .iter()
                .map(|i| (i.span(), self.layer_item_line(i)))
                .collect();
            self.block(head, anchor, span, &lines);
            return;
        }
        // As `block`, with nested blocks for the repeats.
        self.open_block(head, anchor);
        for (i, item) in items.iter().enumerate() {
            match item {
                LayerItem::Call(c) => {
                    let text = call_string(self.src, c);
                    self.item(c.span, &text, i == 0, true);
                }
                LayerItem::Repeat { count, items, span } => {
                    let had = self.comments_before(span.start, i == 0);
                    if comments::blank_before(self.src, span.start) && (had || i > 0) {
                        self.out.push('\n');
                    }
                    let head = format!("repeat {}", expr_string(self.src, count));
                    self.layer_block(&head, count.span.end, *span, items);
                }
            }
        }
        self.close_block(span, items.is_empty());
    }

    fn layer_item_line(&self, item: &LayerItem) -> String {
        match item {
            LayerItem::Call(c) => call_string(self.src, c),
            LayerItem::Repeat { .. } => unreachable!("repeats are printed as blocks"),
        }
    }

    /// `head {`, one item per line, `}`; `anchor` ends the head in the source.
    fn block(&mut self, head: &str, anchor: usize, span: Span, items: &[(Span, String)]) {
        // The block's closing `}` is its last character.
        let close = span.end.saturating_sub(1);
        let inner_comments = self.pending().is_some_and(|c| c.span.start < close);
        self.push_indent();
        self.out.push_str(head);
        if items.is_empty() && !inner_comments {
            self.out.push_str(" {}");
            self.end_line(span.end);
            return;
        }
        self.out.push_str(" {");
        self.end_line(anchor);
        self.indent += 1;
        for (i, (item_span, text)) in items.iter().enumerate() {
            self.item(*item_span, text, i == 0, true);
        }
        self.close_block(span, items.is_empty());
    }

    /// `head {` on its line, `anchor` ending the head in the source, and one level deeper.
    fn open_block(&mut self, head: &str, anchor: usize) {
        self.push_indent();
        self.out.push_str(head);
        self.out.push_str(" {");
        self.end_line(anchor);
        self.indent += 1;
    }

    /// The comments left before the block's closing `}` (its last character), then `}`.
    fn close_block(&mut self, span: Span, empty: bool) {
        self.comments_before(span.end.saturating_sub(1), empty);
        self.indent -= 1;
        self.push_indent();
        self.out.push('}');
        self.end_line(span.end);
    }

    /// `data NAME = source | transform ...`, on one line when it fits and no
    /// comment sits between its stages, else one stage per line.
    fn data(&mut self, name: &str, pipeline: &[Call], span: Span) {
        let stages: Vec<String> = pipeline.iter().map(|c| call_string(self.src, c)).collect();
        let line = format!("data {name} = {}", stages.join(" | "));
        let after_source = pipeline.first().map_or(span.end, |c| c.span.end);
        let commented = self.comments[self.next..]
            .iter()
            .any(|c| c.span.start >= after_source && c.span.start < span.end);
        if pipeline.len() < 2 || (!commented && self.indent * 2 + line.len() <= MAX_WIDTH) {
            self.item(span, &line, true, true);
            return;
        }
        let first = &pipeline[0];
        self.item(
            first.span,
            &format!("data {name} = {}", stages[0]),
            true,
            true,
        );
        self.indent += 1;
        for (call, text) in pipeline.iter().zip(&stages).skip(1) {
            // The `|` comes before the stage: a blank line after it is not kept.
            self.item(call.span, &format!("| {text}"), false, false);
        }
        self.indent -= 1;
    }
}

/// Where a declaration's text ends. pest's span for a declaration that ends in
/// an optional or repeated part (`for ...`, `| ...`) also covers the
/// whitespace and comments it skipped looking for more; those belong to what follows.
fn decl_end(decl: &Decl) -> usize {
    match &decl.kind {
        DeclKind::Data { pipeline, .. } => pipeline.last().map_or(decl.span.end, |c| c.span.end),
        DeclKind::Loss { call, .. } => call.span.end,
        DeclKind::Optimizer { call, models, .. } => {
            models.last().map_or(call.span.end, |m| m.span.end)
        }
        _ => decl.span.end,
    }
}

/// Where a statement's text ends (its pest span may run on over whitespace and comments).
fn stmt_end(stmt: &Stmt) -> usize {
    match &stmt.kind {
        StmtKind::Assign { value, .. } | StmtKind::Unpack { value, .. } => value.span.end,
        StmtKind::Update { loss, .. } => loss.span.end,
        // The closing quote follows the text.
        StmtKind::Log { format } => format.span.end + 1,
        StmtKind::Call(c) => c.span.end,
        StmtKind::Every { .. } => stmt.span.end,
    }
}

/// Where a graph expression's text ends (a pipe's pest span may run on over whitespace).
fn value_end(e: &crate::syntax::ast::GraphExpr) -> usize {
    match &e.kind {
        GraphExprKind::Name(id) => id.span.end,
        GraphExprKind::Call(c) => c.span.end,
        GraphExprKind::Pipe(_, calls) => calls.last().map_or(e.span.end, |c| c.span.end),
        GraphExprKind::Add(items) | GraphExprKind::Mul(items) => {
            items.last().map_or(e.span.end, value_end)
        }
    }
}

/// A grid or uniform line of a sweep block, canonical: `grid opt.lr = (1e-3, 3e-4)`,
/// `grid experiment.seed = 1..5`, `uniform opt.lr = 1e-4 : 1e-2 log`.
pub(crate) fn sweep_item_string(src: &str, item: &SweepItem) -> String {
    let show = |e: &crate::syntax::ast::Expr| expr_string(src, e);
    match item {
        SweepItem::Grid { path, values, .. } => {
            format!("grid {} = {}", path.text, values.render(show))
        }
        SweepItem::Uniform {
            path,
            low,
            high,
            scale,
            ..
        } => format!(
            "uniform {} = {}",
            path.text,
            crate::syntax::ast::render_uniform(low, high, scale.as_ref(), show)
        ),
        SweepItem::Setting(s) => format!("{} = {}", s.name.name, show(&s.value)),
    }
}
