//! Builds the AST from pest's parse tree. `parse_*` functions build a node from
//! a pair of the matching rule; a pair of an unexpected rule is a bug of ours
//! (the grammar guarantees the shape), hence `unreachable!`.

use pest::iterators::{Pair, Pairs};
use pest::Parser as _;

#[allow(clippy::wildcard_imports)] // the parser builds every kind of AST node
use super::ast::*;
use super::error::SyntaxError;
use super::limits::{too_deep, MAX_EXPR_DEPTH};
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
        .collect::<Result<_, _>>()?;
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
            | Rule::kw_return
            | Rule::kw_block
            | Rule::kw_repeat
            | Rule::kw_sweep
            | Rule::kw_grid
            | Rule::kw_uniform
    )
}

fn next<'a>(it: &mut impl Iterator<Item = Pair<'a, Rule>>) -> Pair<'a, Rule> {
    it.next()
        .unwrap_or_else(|| unreachable!("the grammar guarantees this child"))
}

/// A syntax error, or a node. The only errors found while building are expressions nested
/// past `limits::MAX_EXPR_DEPTH`; everything else the grammar has already matched.
type Built<T> = Result<T, SyntaxError>;

fn parse_decl(pair: Pair<'_, Rule>) -> Built<Decl> {
    let span = Span::from(pair.as_span());
    let rule = pair.as_rule();
    let mut it = inner(pair);
    let kind = match rule {
        Rule::experiment_decl => DeclKind::Experiment {
            name: parse_ident(next(&mut it)),
            settings: parse_settings(next(&mut it))?,
        },
        Rule::data_decl => DeclKind::Data {
            name: parse_ident(next(&mut it)),
            pipeline: next(&mut it)
                .into_inner()
                .map(parse_call)
                .collect::<Built<_>>()?,
        },
        Rule::model_decl => DeclKind::Model {
            name: parse_ident(next(&mut it)),
            layers: it.map(parse_layer_item).collect::<Built<_>>()?,
        },
        Rule::graph_model_decl => DeclKind::GraphModel {
            name: parse_ident(next(&mut it)),
            graph: parse_graph(next(&mut it), next(&mut it))?,
        },
        Rule::block_decl => {
            let name = parse_ident(next(&mut it));
            let params = next(&mut it)
                .into_inner()
                .map(|p| {
                    let mut kv = p.into_inner();
                    Ok(BlockParam {
                        name: parse_ident(next(&mut kv)),
                        default: kv.next().map(parse_expr).transpose()?,
                    })
                })
                .collect::<Built<_>>()?;
            let first = next(&mut it);
            let body = if first.as_rule() == Rule::graph_inputs {
                BlockBody::Graph(parse_graph(first, next(&mut it))?)
            } else {
                BlockBody::Layers(
                    first
                        .into_inner()
                        .map(parse_layer_item)
                        .collect::<Built<_>>()?,
                )
            };
            DeclKind::Block { name, params, body }
        }
        Rule::loss_decl => DeclKind::Loss {
            name: parse_ident(next(&mut it)),
            call: parse_call(next(&mut it))?,
        },
        Rule::optimizer_decl => DeclKind::Optimizer {
            name: parse_ident(next(&mut it)),
            call: parse_call(next(&mut it))?,
            models: it
                .next()
                .map(|list| list.into_inner().map(parse_ident).collect())
                .unwrap_or_default(),
        },
        Rule::metrics_decl => DeclKind::Metrics {
            metrics: it.map(parse_metric).collect::<Built<_>>()?,
        },
        Rule::train_decl => DeclKind::Train {
            settings: parse_settings(next(&mut it))?,
        },
        Rule::step_decl => DeclKind::Step {
            data: parse_ident(next(&mut it)),
            x: parse_ident(next(&mut it)),
            y: parse_ident(next(&mut it)),
            body: parse_block(next(&mut it))?,
        },
        Rule::hook_decl => DeclKind::Hook {
            event: parse_event(next(&mut it))?,
            body: parse_block(next(&mut it))?,
        },
        Rule::before_decl => DeclKind::Before {
            body: parse_block(next(&mut it))?,
        },
        Rule::after_decl => DeclKind::After {
            body: parse_block(next(&mut it))?,
        },
        Rule::sweep_decl => DeclKind::Sweep {
            items: it.map(parse_sweep_item).collect::<Built<_>>()?,
        },
        other => unreachable!("not a declaration: {other:?}"),
    };
    Ok(Decl { kind, span })
}

#[allow(clippy::needless_pass_by_value)] // pairs are handed over by value, as to every `parse_*`
fn parse_ident(pair: Pair<'_, Rule>) -> Ident {
    debug_assert_eq!(pair.as_rule(), Rule::ident);
    Ident {
        name: pair.as_str().to_string(),
        span: pair.as_span().into(),
    }
}

fn parse_settings(pair: Pair<'_, Rule>) -> Built<Vec<Setting>> {
    pair.into_inner()
        .map(|setting| {
            let mut it = setting.into_inner();
            Ok(Setting {
                name: parse_ident(next(&mut it)),
                value: parse_expr(next(&mut it))?,
            })
        })
        .collect()
}

fn parse_sweep_item(pair: Pair<'_, Rule>) -> Built<SweepItem> {
    let span = Span::from(pair.as_span());
    let rule = pair.as_rule();
    let mut it = inner(pair);
    Ok(match rule {
        Rule::setting => SweepItem::Setting(Setting {
            name: parse_ident(next(&mut it)),
            value: parse_expr(next(&mut it))?,
        }),
        Rule::sweep_grid => {
            let path = parse_sweep_path(next(&mut it));
            let values = next(&mut it);
            let values_span = Span::from(values.as_span());
            let values = if values.as_rule() == Rule::sweep_range {
                let mut ends = values.into_inner();
                GridValues::Range {
                    first: next(&mut ends).as_str().to_string(),
                    last: next(&mut ends).as_str().to_string(),
                    span: values_span,
                }
            } else {
                let src = values.get_input();
                let values = values
                    .into_inner()
                    .map(parse_expr)
                    .collect::<Built<Vec<_>>>()?;
                GridValues::List {
                    // Canonical, so that `expr fmt` keeps the points (and the sweep id).
                    texts: values
                        .iter()
                        .map(|v| crate::fmt::expr::expr_string(src, v))
                        .collect(),
                    values,
                    span: values_span,
                }
            };
            SweepItem::Grid { path, values, span }
        }
        Rule::sweep_uniform => {
            let path = parse_sweep_path(next(&mut it));
            SweepItem::Uniform {
                path,
                low: parse_expr(next(&mut it))?,
                high: parse_expr(next(&mut it))?,
                scale: it.next().map(|p| Ident {
                    name: p.as_str().to_string(),
                    span: p.as_span().into(),
                }),
                span,
            }
        }
        other => unreachable!("not a sweep item: {other:?}"),
    })
}

#[allow(clippy::needless_pass_by_value)] // pairs are handed over by value, as to every `parse_*`
fn parse_sweep_path(pair: Pair<'_, Rule>) -> SweepPath {
    SweepPath {
        text: pair.as_str().to_string(),
        span: pair.as_span().into(),
    }
}

fn parse_metric(pair: Pair<'_, Rule>) -> Built<Metric> {
    let mut it = inner(pair);
    Ok(Metric {
        name: parse_ident(next(&mut it)),
        value: parse_expr(next(&mut it))?,
        on: parse_ident(next(&mut it)),
    })
}

fn parse_event(pair: Pair<'_, Rule>) -> Built<Event> {
    let child = next(&mut pair.into_inner());
    Ok(match child.as_rule() {
        Rule::ident => Event::Named(parse_ident(child)),
        Rule::call => Event::Call(parse_call(child)?),
        Rule::every_steps => {
            let span = child.as_span().into();
            let number = next(&mut inner(child));
            Event::EverySteps {
                steps: parse_number(number),
                span,
            }
        }
        other => unreachable!("not an event: {other:?}"),
    })
}

fn parse_block(pair: Pair<'_, Rule>) -> Built<Vec<Stmt>> {
    pair.into_inner().map(parse_stmt).collect()
}

fn parse_stmt(pair: Pair<'_, Rule>) -> Built<Stmt> {
    let span = Span::from(pair.as_span());
    let rule = pair.as_rule();
    let mut it = inner(pair);
    let kind = match rule {
        Rule::update_stmt => StmtKind::Update {
            optimizer: parse_ident(next(&mut it)),
            loss: parse_expr(next(&mut it))?,
        },
        Rule::assign_stmt => StmtKind::Assign {
            target: next(&mut it).into_inner().map(parse_ident).collect(),
            value: parse_expr(next(&mut it))?,
        },
        Rule::unpack_stmt => {
            let mut children: Vec<_> = it.collect();
            let value = parse_expr(children.pop().unwrap_or_else(|| unreachable!("a value")))?;
            StmtKind::Unpack {
                targets: children.into_iter().map(parse_ident).collect(),
                value,
            }
        }
        Rule::log_stmt => StmtKind::Log {
            format: parse_string(next(&mut it)),
        },
        Rule::call_stmt => StmtKind::Call(parse_call(next(&mut it))?),
        Rule::every_stmt => {
            let head = next(&mut it);
            let head_span = head.as_span().into();
            StmtKind::Every {
                steps: parse_number(next(&mut inner(head))),
                head: head_span,
                body: parse_block(next(&mut it))?,
            }
        }
        other => unreachable!("not a statement: {other:?}"),
    };
    Ok(Stmt { kind, span })
}

/// A call in a stack of layers, or a `repeat` of them.
fn parse_layer_item(pair: Pair<'_, Rule>) -> Built<LayerItem> {
    if pair.as_rule() == Rule::call {
        return Ok(LayerItem::Call(parse_call(pair)?));
    }
    let span = Span::from(pair.as_span());
    let mut it = inner(pair);
    let count = parse_number(next(&mut it));
    let items = it.map(parse_layer_item).collect::<Built<_>>()?;
    Ok(LayerItem::Repeat { count, items, span })
}

/// A graph's inputs and body.
fn parse_graph(inputs: Pair<'_, Rule>, body: Pair<'_, Rule>) -> Built<Graph> {
    let inputs = inputs.into_inner().map(parse_ident).collect();
    let stmts = body
        .into_inner()
        .map(|stmt| {
            let span = Span::from(stmt.as_span());
            let kind = match stmt.as_rule() {
                Rule::graph_assign => {
                    let mut names = Vec::new();
                    let mut value = None;
                    for p in stmt.into_inner() {
                        match p.as_rule() {
                            Rule::ident => names.push(parse_ident(p)),
                            _ => value = Some(parse_graph_expr(p, 1)?),
                        }
                    }
                    GraphStmtKind::Assign {
                        names,
                        value: value.unwrap_or_else(|| {
                            unreachable!("the grammar ends an assignment with a value")
                        }),
                    }
                }
                Rule::graph_return => GraphStmtKind::Return(
                    inner(stmt)
                        .map(|e| parse_graph_expr(e, 1))
                        .collect::<Built<_>>()?,
                ),
                other => unreachable!("not a graph statement: {other:?}"),
            };
            Ok(GraphStmt { kind, span })
        })
        .collect::<Built<_>>()?;
    Ok(Graph { inputs, stmts })
}

/// A graph expression at `depth`: pipes, sums and products are flat lists, so only
/// parentheses nest (and the bracket limit bounds them).
fn parse_graph_expr(pair: Pair<'_, Rule>, depth: usize) -> Built<GraphExpr> {
    let span = Span::from(pair.as_span());
    if depth > MAX_EXPR_DEPTH {
        return Err(too_deep(span));
    }
    let rule = pair.as_rule();
    let kind = match rule {
        Rule::graph_expr | Rule::graph_sum | Rule::graph_product => {
            let mut it = pair.into_inner();
            let first = parse_graph_expr(next(&mut it), depth + 1)?;
            let rest: Vec<_> = it.collect();
            if rest.is_empty() {
                return Ok(first);
            }
            match rule {
                Rule::graph_expr => GraphExprKind::Pipe(
                    Box::new(first),
                    rest.into_iter().map(parse_call).collect::<Built<_>>()?,
                ),
                _ => {
                    let mut items = vec![first];
                    for p in rest {
                        items.push(parse_graph_expr(p, depth + 1)?);
                    }
                    if rule == Rule::graph_sum {
                        GraphExprKind::Add(items)
                    } else {
                        GraphExprKind::Mul(items)
                    }
                }
            }
        }
        Rule::call => GraphExprKind::Call(parse_call(pair)?),
        Rule::ident => GraphExprKind::Name(parse_ident(pair)),
        other => unreachable!("not a graph expression: {other:?}"),
    };
    // pest's span of a rule that ends in a repetition runs on over the whitespace and
    // comments it skipped looking for more: the node ends where its last part does.
    let end = match &kind {
        GraphExprKind::Pipe(_, calls) => calls.last().map_or(span.end, |c| c.span.end),
        GraphExprKind::Add(items) | GraphExprKind::Mul(items) => {
            items.last().map_or(span.end, |i| i.span.end)
        }
        GraphExprKind::Name(_) | GraphExprKind::Call(_) => span.end,
    };
    Ok(GraphExpr {
        kind,
        span: Span::new(span.start, end),
    })
}

/// A call outside any expression (a layer, a transform, a statement): its arguments are
/// one level deep.
fn parse_call(pair: Pair<'_, Rule>) -> Built<Call> {
    parse_call_at(pair, 0)
}

/// A call whose node is `depth` levels deep; its arguments are one deeper.
fn parse_call_at(pair: Pair<'_, Rule>, depth: usize) -> Built<Call> {
    debug_assert_eq!(pair.as_rule(), Rule::call);
    let span = Span::from(pair.as_span());
    let mut it = pair.into_inner();
    let name = parse_ident(next(&mut it));
    let args = it
        .map(|arg| {
            let child = next(&mut arg.into_inner());
            Ok(match child.as_rule() {
                Rule::named_arg => {
                    let mut kv = child.into_inner();
                    Arg {
                        name: Some(parse_ident(next(&mut kv))),
                        value: expr_at(next(&mut kv), depth + 1)?,
                    }
                }
                _ => Arg {
                    name: None,
                    value: expr_at(child, depth + 1)?,
                },
            })
        })
        .collect::<Built<_>>()?;
    Ok(Call { name, args, span })
}

/// A whole expression: its root is one level deep.
pub(crate) fn parse_expr(pair: Pair<'_, Rule>) -> Built<Expr> {
    expr_at(pair, 1)
}

/// Expressions: `sum`, `product` and `power` fold their operands; `unary`
/// applies its minus signs; `postfix` its field accesses. `depth` is the level the node
/// built from `pair` sits at; chains are checked against the limit before their operands
/// are built, so no tree deeper than `MAX_EXPR_DEPTH` ever exists.
fn expr_at(pair: Pair<'_, Rule>, depth: usize) -> Built<Expr> {
    let span = Span::from(pair.as_span());
    if depth > MAX_EXPR_DEPTH {
        return Err(too_deep(span));
    }
    Ok(match pair.as_rule() {
        Rule::expr => expr_at(next(&mut pair.into_inner()), depth)?,
        Rule::sum | Rule::product => fold_left(pair.into_inner(), depth)?,
        Rule::power => fold_right(pair.into_inner(), depth)?,
        Rule::unary => {
            let children: Vec<_> = pair.into_inner().collect();
            let (ops, operand) = children.split_at(children.len() - 1);
            check_chain(ops, depth)?;
            let mut expr = expr_at(operand[0].clone(), depth + ops.len())?;
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
            let atom = next(&mut it);
            let fields: Vec<_> = it.collect();
            check_chain(&fields, depth)?;
            let mut expr = expr_at(atom, depth + fields.len())?;
            for part in fields {
                let span = expr.span.to(Span::from(part.as_span()));
                let kind = if part.as_rule() == Rule::index {
                    ExprKind::Index(Box::new(expr), parse_index(part)?)
                } else {
                    ExprKind::Field(Box::new(expr), parse_ident(part))
                };
                expr = Expr { kind, span };
            }
            expr
        }
        Rule::call => Expr {
            kind: ExprKind::Call(parse_call_at(pair, depth)?),
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
            let items: Vec<Pair<'_, Rule>> = pair.into_inner().collect();
            if items.len() == 1 && !has_comma {
                // `(a + b)`: parentheses for grouping, not a 1-tuple, so no level of its own.
                let mut expr = expr_at(items[0].clone(), depth)?;
                expr.span = span;
                expr
            } else {
                Expr {
                    kind: ExprKind::Tuple(
                        items
                            .into_iter()
                            .map(|item| expr_at(item, depth + 1))
                            .collect::<Built<_>>()?,
                    ),
                    span,
                }
            }
        }
        other => unreachable!("not an expression: {other:?}"),
    })
}

/// A chain of `ops.len()` operators, signs or fields whose outermost node is `depth` deep
/// nests its innermost operand `ops.len()` levels further: past the limit, the error
/// points at the operator where the count crosses it, reading left to right.
/// The items of `[...]`: positions and ranges.
fn parse_index(pair: Pair<'_, Rule>) -> Built<Vec<IndexItem>> {
    pair.into_inner()
        .map(|item| {
            let span = Span::from(item.as_span());
            match item.as_rule() {
                Rule::index_range => {
                    let text = item.as_str();
                    let colon = text.find(':').unwrap_or(0);
                    let mut start = None;
                    let mut end = None;
                    for at in item.into_inner() {
                        let value = parse_position(&at)?;
                        // The position's side of the colon says which end it is.
                        if at.as_span().start() - span.start < colon {
                            start = Some(value);
                        } else {
                            end = Some(value);
                        }
                    }
                    Ok(IndexItem::Range { start, end, span })
                }
                _ => Ok(IndexItem::At {
                    value: parse_position(&item)?,
                    span,
                }),
            }
        })
        .collect()
}

fn parse_position(pair: &Pair<'_, Rule>) -> Built<i64> {
    pair.as_str().parse::<i64>().map_err(|_| SyntaxError {
        expected: "a position that fits in 64 bits".into(),
        span: Span::from(pair.as_span()),
        found: "this position".into(),
        help: Some("a tensor's axes are far shorter: count from 0, or from -1 at the end".into()),
    })
}

fn check_chain(ops: &[Pair<'_, Rule>], depth: usize) -> Built<()> {
    if depth + ops.len() <= MAX_EXPR_DEPTH {
        return Ok(());
    }
    let at = MAX_EXPR_DEPTH.saturating_sub(depth).min(ops.len() - 1);
    Err(too_deep(ops[at].as_span().into()))
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

/// `a + b - c`: operands and operators alternate; the tree leans left.
fn fold_left(pairs: Pairs<'_, Rule>, depth: usize) -> Built<Expr> {
    let (first, rest) = operands(pairs);
    let ops: Vec<_> = rest.iter().map(|(op, _)| op.clone()).collect();
    check_chain(&ops, depth)?;
    let mut expr = expr_at(first, depth + ops.len())?;
    for (i, (op, rhs)) in rest.into_iter().enumerate() {
        let op = match op.as_str() {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            other => unreachable!("not an operator: {other}"),
        };
        // The i-th operator's node is `ops.len() - 1 - i` below the root.
        let rhs = expr_at(rhs, depth + ops.len() - i)?;
        expr = binary(op, expr, rhs);
    }
    Ok(expr)
}

/// `2 ** 3 ** 2`: the tree leans right, so it is built from the last operand back.
fn fold_right(pairs: Pairs<'_, Rule>, depth: usize) -> Built<Expr> {
    let (first, rest) = operands(pairs);
    let ops: Vec<_> = rest.iter().map(|(op, _)| op.clone()).collect();
    check_chain(&ops, depth)?;
    let n = rest.len();
    let mut operands = vec![first];
    operands.extend(rest.into_iter().map(|(_, operand)| operand));
    let mut iter = operands.into_iter().enumerate().rev();
    // The last operand is the right child of the innermost `**`, `n` levels down.
    let (_, last) = next_operand(&mut iter);
    let mut expr = expr_at(last, depth + n)?;
    for (i, base) in iter {
        // Operand i (but the last) is the left child of the i-th `**` node.
        let base = expr_at(base, depth + i + 1)?;
        expr = binary(BinOp::Pow, base, expr);
    }
    Ok(expr)
}

fn next_operand<'a>(
    it: &mut impl Iterator<Item = (usize, Pair<'a, Rule>)>,
) -> (usize, Pair<'a, Rule>) {
    it.next()
        .unwrap_or_else(|| unreachable!("the grammar guarantees an operand"))
}

/// The first operand, then each operator with the operand after it.
#[allow(clippy::type_complexity)] // a pair of pairs reads plainer than a named struct here
fn operands(mut pairs: Pairs<'_, Rule>) -> (Pair<'_, Rule>, Vec<(Pair<'_, Rule>, Pair<'_, Rule>)>) {
    let first = next(&mut pairs);
    let mut rest = Vec::new();
    while let Some(op) = pairs.next() {
        rest.push((op, next(&mut pairs)));
    }
    (first, rest)
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
    let text = pair.as_str();
    // A whole number that fits is kept exact (a seed above 2^53 is not rounded); the
    // grammar only admits decimal literals, so the rest always parse as f64, an
    // out-of-range one as infinity, which `check` reports.
    let kind = match text.parse::<u64>() {
        Ok(int) => ExprKind::Int(int),
        Err(_) => ExprKind::Number(text.parse::<f64>().unwrap_or(f64::INFINITY)),
    };
    Expr { kind, span }
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
    let mut expr = parse_expr(next(&mut lone.into_inner()))?;
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
        ExprKind::Number(_) | ExprKind::Int(_) | ExprKind::Bool(_) => {}
        ExprKind::Str(s) => shift(&mut s.span),
        ExprKind::Name(i) => shift(&mut i.span),
        ExprKind::Field(e, i) => {
            shift_expr(e, offset);
            shift(&mut i.span);
        }
        ExprKind::Index(e, items) => {
            shift_expr(e, offset);
            for item in items {
                match item {
                    IndexItem::At { span, .. } | IndexItem::Range { span, .. } => shift(span),
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lone(text: &str) -> Result<Expr, SyntaxError> {
        parse_expr_at(text, 0)
    }

    #[test]
    fn power_is_right_associative_though_the_grammar_is_flat() {
        let e = lone("2 ** 3 ** 4").unwrap();
        let ExprKind::Binary(BinOp::Pow, base, exponent) = e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(base.kind, ExprKind::Int(2));
        assert_eq!(exponent.span, Span::new(5, 11));
        assert!(matches!(exponent.kind, ExprKind::Binary(BinOp::Pow, ..)));
    }

    #[test]
    fn whole_numbers_are_exact_and_others_are_floats() {
        assert_eq!(
            lone("18446744073709551615").unwrap().kind,
            ExprKind::Int(u64::MAX)
        );
        assert_eq!(
            lone("18446744073709551616").unwrap().kind,
            ExprKind::Number(18_446_744_073_709_551_616.0)
        );
        assert_eq!(lone("2.0").unwrap().kind, ExprKind::Number(2.0));
        assert_eq!(lone("1e3").unwrap().kind, ExprKind::Number(1000.0));
    }

    #[test]
    fn every_chain_stops_at_the_depth_limit() {
        let n = MAX_EXPR_DEPTH - 1;
        for (ok, too_deep) in [
            (
                format!("1{}", " + 1".repeat(n)),
                format!("1{}", " + 1".repeat(n + 1)),
            ),
            (
                format!("1{}", " * 1".repeat(n)),
                format!("1{}", " * 1".repeat(n + 1)),
            ),
            (
                format!("1{}", " ** 1".repeat(n)),
                format!("1{}", " ** 1".repeat(n + 1)),
            ),
            (
                format!("{}1", "-".repeat(n)),
                format!("{}1", "-".repeat(n + 1)),
            ),
            (
                format!("a{}", ".b".repeat(n)),
                format!("a{}", ".b".repeat(n + 1)),
            ),
        ] {
            assert!(lone(&ok).is_ok(), "{ok}");
            let err = lone(&too_deep).unwrap_err();
            assert!(err.expected.contains("nested at most"), "{err:?}");
        }
    }

    #[test]
    fn the_limit_counts_across_brackets_and_calls() {
        // 30 calls, each adding a call level and 9 signs: 300 levels, 60 brackets.
        let text = format!("{}1{}", "f(---------".repeat(30), ")".repeat(30));
        assert!(lone(&text).is_err());
        // Grouping parentheses add no level.
        let text = format!("{}1{}", "(-".repeat(60), ")".repeat(60));
        assert!(lone(&text).is_ok());
    }
}
