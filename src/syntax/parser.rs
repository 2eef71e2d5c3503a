//! Builds the AST from pest's parse tree. `parse_*` functions build a node from
//! a pair of the matching rule; a pair of an unexpected rule is a bug of ours
//! (the grammar guarantees the shape), hence `unreachable!`.

use pest::iterators::{Pair, Pairs};
use pest::Parser as _;

#[allow(clippy::wildcard_imports)] // the parser builds every kind of AST node
use super::ast::*;
use super::error::SyntaxError;
use crate::source::Span;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/expr.pest"]
pub struct ExprParser;

/// Parses a whole experiment file.
pub fn parse_file(text: &str) -> Result<File, SyntaxError> {
    // Collect the literal tokens tried at the failure point, for "expected `,` or `)`".
    pest::set_error_detail(true);
    super::limits::check_limits(text)?;
    let mut pairs = ExprParser::parse(Rule::file, text).map_err(|e| SyntaxError::from_pest(&e))?;
    let file = pairs.next().into_iter().flat_map(Pair::into_inner);
    let decls = file
        .filter(|p| p.as_rule() != Rule::EOI)
        .map(parse_decl)
        .collect();
    Ok(File { decls })
}

/// Children of a pair without the keyword tokens, which carry no meaning once matched.
fn inner(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_experiment
            | Rule::kw_data
            | Rule::kw_model
            | Rule::kw_loss
            | Rule::kw_optimizer
            | Rule::kw_for
            | Rule::kw_metrics
            | Rule::kw_on
            | Rule::kw_train
            | Rule::kw_step
            | Rule::kw_every
            | Rule::kw_steps
            | Rule::kw_before
            | Rule::kw_after
            | Rule::kw_update
            | Rule::kw_minimizing
            | Rule::kw_log
    )
}

fn next<'a>(it: &mut impl Iterator<Item = Pair<'a, Rule>>) -> Pair<'a, Rule> {
    it.next()
        .unwrap_or_else(|| unreachable!("the grammar guarantees this child"))
}

fn parse_decl(pair: Pair<'_, Rule>) -> Decl {
    let span = Span::from(pair.as_span());
    let rule = pair.as_rule();
    let mut it = inner(pair);
    let kind = match rule {
        Rule::experiment_decl => DeclKind::Experiment {
            name: parse_ident(next(&mut it)),
            settings: parse_settings(next(&mut it)),
        },
        Rule::data_decl => DeclKind::Data {
            name: parse_ident(next(&mut it)),
            pipeline: next(&mut it).into_inner().map(parse_call).collect(),
        },
        Rule::model_decl => DeclKind::Model {
            name: parse_ident(next(&mut it)),
            layers: it.map(parse_call).collect(),
        },
        Rule::loss_decl => DeclKind::Loss {
            name: parse_ident(next(&mut it)),
            call: parse_call(next(&mut it)),
        },
        Rule::optimizer_decl => DeclKind::Optimizer {
            name: parse_ident(next(&mut it)),
            call: parse_call(next(&mut it)),
            models: it
                .next()
                .map(|list| list.into_inner().map(parse_ident).collect())
                .unwrap_or_default(),
        },
        Rule::metrics_decl => DeclKind::Metrics {
            metrics: it.map(parse_metric).collect(),
        },
        Rule::train_decl => DeclKind::Train {
            settings: parse_settings(next(&mut it)),
        },
        Rule::step_decl => DeclKind::Step {
            data: parse_ident(next(&mut it)),
            x: parse_ident(next(&mut it)),
            y: parse_ident(next(&mut it)),
            body: parse_block(next(&mut it)),
        },
        Rule::hook_decl => DeclKind::Hook {
            event: parse_event(next(&mut it)),
            body: parse_block(next(&mut it)),
        },
        Rule::before_decl => DeclKind::Before {
            body: parse_block(next(&mut it)),
        },
        Rule::after_decl => DeclKind::After {
            body: parse_block(next(&mut it)),
        },
        other => unreachable!("not a declaration: {other:?}"),
    };
    Decl { kind, span }
}

#[allow(clippy::needless_pass_by_value)] // pairs are handed over by value, as to every `parse_*`
fn parse_ident(pair: Pair<'_, Rule>) -> Ident {
    debug_assert_eq!(pair.as_rule(), Rule::ident);
    Ident {
        name: pair.as_str().to_string(),
        span: pair.as_span().into(),
    }
}

fn parse_settings(pair: Pair<'_, Rule>) -> Vec<Setting> {
    pair.into_inner()
        .map(|setting| {
            let mut it = setting.into_inner();
            Setting {
                name: parse_ident(next(&mut it)),
                value: parse_expr(next(&mut it)),
            }
        })
        .collect()
}

fn parse_metric(pair: Pair<'_, Rule>) -> Metric {
    let mut it = inner(pair);
    Metric {
        name: parse_ident(next(&mut it)),
        value: parse_expr(next(&mut it)),
        on: parse_ident(next(&mut it)),
    }
}

fn parse_event(pair: Pair<'_, Rule>) -> Event {
    let child = next(&mut pair.into_inner());
    match child.as_rule() {
        Rule::ident => Event::Named(parse_ident(child)),
        Rule::every_steps => {
            let span = child.as_span().into();
            let number = next(&mut inner(child));
            Event::EverySteps {
                steps: parse_number(number),
                span,
            }
        }
        other => unreachable!("not an event: {other:?}"),
    }
}

fn parse_block(pair: Pair<'_, Rule>) -> Vec<Stmt> {
    pair.into_inner().map(parse_stmt).collect()
}

fn parse_stmt(pair: Pair<'_, Rule>) -> Stmt {
    let span = Span::from(pair.as_span());
    let rule = pair.as_rule();
    let mut it = inner(pair);
    let kind = match rule {
        Rule::update_stmt => StmtKind::Update {
            optimizer: parse_ident(next(&mut it)),
            loss: parse_expr(next(&mut it)),
        },
        Rule::assign_stmt => StmtKind::Assign {
            target: next(&mut it).into_inner().map(parse_ident).collect(),
            value: parse_expr(next(&mut it)),
        },
        Rule::log_stmt => StmtKind::Log {
            format: parse_string(next(&mut it)),
        },
        Rule::call_stmt => StmtKind::Call(parse_call(next(&mut it))),
        other => unreachable!("not a statement: {other:?}"),
    };
    Stmt { kind, span }
}

fn parse_call(pair: Pair<'_, Rule>) -> Call {
    debug_assert_eq!(pair.as_rule(), Rule::call);
    let span = Span::from(pair.as_span());
    let mut it = pair.into_inner();
    let name = parse_ident(next(&mut it));
    let args = it
        .map(|arg| {
            let child = next(&mut arg.into_inner());
            match child.as_rule() {
                Rule::named_arg => {
                    let mut kv = child.into_inner();
                    Arg {
                        name: Some(parse_ident(next(&mut kv))),
                        value: parse_expr(next(&mut kv)),
                    }
                }
                _ => Arg {
                    name: None,
                    value: parse_expr(child),
                },
            }
        })
        .collect();
    Call { name, args, span }
}

/// Expressions: `sum`, `product` and `power` fold their operands; `unary`
/// applies its minus signs; `postfix` its field accesses.
pub(crate) fn parse_expr(pair: Pair<'_, Rule>) -> Expr {
    let span = Span::from(pair.as_span());
    match pair.as_rule() {
        Rule::expr => parse_expr(next(&mut pair.into_inner())),
        Rule::sum | Rule::product => fold_left(pair.into_inner()),
        Rule::power => {
            let mut it = pair.into_inner();
            let base = parse_expr(next(&mut it));
            match it.next() {
                // `**` is right-associative: `power` recurses on its right.
                Some(_op) => {
                    let exponent = parse_expr(next(&mut it));
                    binary(BinOp::Pow, base, exponent)
                }
                None => base,
            }
        }
        Rule::unary => {
            let children: Vec<_> = pair.into_inner().collect();
            let (ops, operand) = children.split_at(children.len() - 1);
            let mut expr = parse_expr(operand[0].clone());
            for op in ops.iter().rev() {
                let span = Span::from(op.as_span()).to(expr.span);
                expr = Expr {
                    kind: ExprKind::Neg(Box::new(expr)),
                    span,
                };
            }
            expr
        }
        Rule::postfix => {
            let mut it = pair.into_inner();
            let mut expr = parse_expr(next(&mut it));
            for field in it {
                let field = parse_ident(field);
                let span = expr.span.to(field.span);
                expr = Expr {
                    kind: ExprKind::Field(Box::new(expr), field),
                    span,
                };
            }
            expr
        }
        Rule::call => Expr {
            kind: ExprKind::Call(parse_call(pair)),
            span,
        },
        Rule::number => parse_number(pair),
        Rule::boolean => Expr {
            kind: ExprKind::Bool(pair.as_str() == "true"),
            span,
        },
        Rule::string => Expr {
            kind: ExprKind::Str(parse_string(pair)),
            span,
        },
        Rule::ident => Expr {
            kind: ExprKind::Name(parse_ident(pair)),
            span,
        },
        Rule::tuple => {
            let has_comma = tuple_has_comma(&pair);
            let mut items: Vec<Expr> = pair.into_inner().map(parse_expr).collect();
            if items.len() == 1 && !has_comma {
                // `(a + b)`: parentheses for grouping, not a 1-tuple.
                let mut expr = items.remove(0);
                expr.span = span;
                expr
            } else {
                Expr {
                    kind: ExprKind::Tuple(items),
                    span,
                }
            }
        }
        other => unreachable!("not an expression: {other:?}"),
    }
}

/// Whether a `tuple` pair has a comma of its own (`(a,)`, `(a, b)`), as opposed
/// to one nested inside an item (`(f(a, b))`, `("a, b")`), which is grouping.
fn tuple_has_comma(pair: &Pair<'_, Rule>) -> bool {
    let items: Vec<_> = pair.clone().into_inner().collect();
    if items.len() > 1 {
        return true;
    }
    let Some(last) = items.last() else {
        return false;
    };
    // Between the only item and the closing `)`: whitespace, comments, maybe a comma.
    let mut rest = &pair.as_str()[last.as_span().end() - pair.as_span().start()..];
    loop {
        rest = rest.trim_start();
        match rest.strip_prefix("//") {
            Some(comment) => rest = comment.split_once('\n').map_or("", |(_, after)| after),
            None => return rest.starts_with(','),
        }
    }
}

fn fold_left(mut pairs: Pairs<'_, Rule>) -> Expr {
    let mut expr = parse_expr(next(&mut pairs));
    while let Some(op) = pairs.next() {
        let op = match op.as_str() {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            other => unreachable!("not an operator: {other}"),
        };
        let rhs = parse_expr(next(&mut pairs));
        expr = binary(op, expr, rhs);
    }
    expr
}

fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr {
        kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
        span,
    }
}

#[allow(clippy::needless_pass_by_value)] // pairs are handed over by value, as to every `parse_*`
fn parse_number(pair: Pair<'_, Rule>) -> Expr {
    let span = Span::from(pair.as_span());
    // The grammar only admits decimal literals, which always parse; an
    // out-of-range one becomes infinity and is reported by `check`.
    let value = pair.as_str().parse::<f64>().unwrap_or(f64::INFINITY);
    Expr {
        kind: ExprKind::Number(value),
        span,
    }
}

fn parse_string(pair: Pair<'_, Rule>) -> StringLit {
    let inner = next(&mut pair.into_inner());
    let raw = inner.as_str();
    let mut value = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some(other) => value.push(other),
                None => {}
            }
        } else {
            value.push(c);
        }
    }
    StringLit {
        value,
        raw: raw.to_string(),
        span: inner.as_span().into(),
    }
}

/// Parses a lone expression (used for `{...}` holes in log format strings);
/// `offset` shifts the spans to the hole's place in the file.
pub fn parse_expr_at(text: &str, offset: usize) -> Result<Expr, SyntaxError> {
    super::limits::check_limits(text).map_err(|mut e| {
        e.shift(offset);
        e
    })?;
    let mut pairs = ExprParser::parse(Rule::lone_expr, text).map_err(|e| {
        let mut err = SyntaxError::from_pest(&e);
        err.shift(offset);
        err
    })?;
    let lone = next(&mut pairs);
    let mut expr = parse_expr(next(&mut lone.into_inner()));
    shift_expr(&mut expr, offset);
    Ok(expr)
}

fn shift_expr(expr: &mut Expr, offset: usize) {
    let shift = |s: &mut Span| {
        s.start += offset;
        s.end += offset;
    };
    shift(&mut expr.span);
    match &mut expr.kind {
        ExprKind::Number(_) | ExprKind::Bool(_) => {}
        ExprKind::Str(s) => shift(&mut s.span),
        ExprKind::Name(i) => shift(&mut i.span),
        ExprKind::Field(e, i) => {
            shift_expr(e, offset);
            shift(&mut i.span);
        }
        ExprKind::Tuple(items) => items.iter_mut().for_each(|e| shift_expr(e, offset)),
        ExprKind::Call(c) => {
            shift(&mut c.span);
            shift(&mut c.name.span);
            for a in &mut c.args {
                if let Some(n) = &mut a.name {
                    shift(&mut n.span);
                }
                shift_expr(&mut a.value, offset);
            }
        }
        ExprKind::Neg(e) => shift_expr(e, offset),
        ExprKind::Binary(_, l, r) => {
            shift_expr(l, offset);
            shift_expr(r, offset);
        }
    }
}
