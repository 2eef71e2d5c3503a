//! Canonical text of expressions, calls and statements: one spelling per meaning, whatever
//! the layout of the file, so that two experiments compare by what they say.
//!
//! Numbers print in Rust's shortest round-trip form (`1e-3` and `0.001` are both `0.001`),
//! parentheses only where precedence needs them, arguments as `name = value`.

use crate::syntax::ast::{BinOp, Call, Event, Expr, ExprKind, IndexItem, Stmt, StmtKind};

fn precedence(op: BinOp) -> u8 {
    match op {
        BinOp::Add | BinOp::Sub => 1,
        BinOp::Mul | BinOp::Div => 2,
        BinOp::Pow => 3,
    }
}

pub fn number(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number(v) => number(*v),
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Str(s) => format!("\"{}\"", s.raw),
        ExprKind::Name(i) => i.name.clone(),
        ExprKind::Field(base, field) => format!("{}.{}", expr(base), field.name),
        ExprKind::Index(base, items) => {
            let items: Vec<String> = items.iter().map(IndexItem::text).collect();
            format!("{}[{}]", expr(base), items.join(", "))
        }
        ExprKind::Tuple(items) => {
            let inner: Vec<String> = items.iter().map(expr).collect();
            if inner.len() == 1 {
                format!("({},)", inner[0])
            } else {
                format!("({})", inner.join(", "))
            }
        }
        ExprKind::Call(c) => call(c, &[]),
        ExprKind::Neg(inner) => match inner.kind {
            ExprKind::Binary(..) => format!("-({})", expr(inner)),
            _ => format!("-{}", expr(inner)),
        },
        ExprKind::Binary(op, l, r) => {
            let side = |e: &Expr, right: bool| {
                let text = expr(e);
                match &e.kind {
                    // `**` is right-associative, the others left: parenthesise the other side.
                    ExprKind::Binary(inner, ..)
                        if precedence(*inner) < precedence(*op)
                            || (precedence(*inner) == precedence(*op)
                                && right != (*op == BinOp::Pow)) =>
                    {
                        format!("({text})")
                    }
                    _ => text,
                }
            };
            format!("{} {} {}", side(l, false), op.symbol(), side(r, true))
        }
    }
}

/// `name(p = v, ...)`; positional arguments get their parameter's name from `params`
/// (the call's parameters in order) where known, and keep their position otherwise.
pub fn call(c: &Call, params: &[&str]) -> String {
    let args: Vec<String> = call_args(c, params)
        .into_iter()
        .map(|(k, v)| {
            if k.is_empty() {
                v
            } else {
                format!("{k} = {v}")
            }
        })
        .collect();
    format!("{}({})", c.name.name, args.join(", "))
}

/// The arguments as (parameter name, canonical value); empty name for a positional argument
/// whose parameter is unknown.
pub fn call_args(c: &Call, params: &[&str]) -> Vec<(String, String)> {
    let mut position = 0;
    c.args
        .iter()
        .map(|a| match &a.name {
            Some(n) => (n.name.clone(), expr(&a.value)),
            None => {
                let name = params
                    .get(position)
                    .map_or(String::new(), |p| (*p).to_string());
                position += 1;
                (name, expr(&a.value))
            }
        })
        .collect()
}

pub fn stmt(s: &Stmt) -> String {
    match &s.kind {
        StmtKind::Assign { target, value } => {
            let path: Vec<&str> = target.iter().map(|i| i.name.as_str()).collect();
            format!("{} = {}", path.join("."), expr(value))
        }
        StmtKind::Unpack { targets, value } => {
            let names: Vec<&str> = targets.iter().map(|i| i.name.as_str()).collect();
            format!("{} = {}", names.join(", "), expr(value))
        }
        StmtKind::Update { optimizer, loss } => {
            format!("update {} minimizing {}", optimizer.name, expr(loss))
        }
        StmtKind::Log { format } => format!("log \"{}\"", format.raw),
        StmtKind::Call(c) => call(c, &[]),
        StmtKind::Every { steps, body, .. } => {
            let body: Vec<String> = body.iter().map(stmt).collect();
            format!("every {} steps {{ {} }}", expr(steps), body.join("; "))
        }
    }
}

pub fn event(e: &Event) -> String {
    match e {
        Event::Named(i) => format!("on {}", i.name),
        Event::EverySteps { steps, .. } => format!("on every {} steps", expr(steps)),
        Event::Call(c) => format!("on {}", call(c, &["metric", "mode"])),
    }
}

/// A graph's inputs and statements, one line each, in the formatter's layout.
pub fn graph(g: &crate::syntax::ast::Graph) -> Vec<String> {
    use crate::syntax::ast::GraphStmtKind;
    let inputs: Vec<&str> = g.inputs.iter().map(|i| i.name.as_str()).collect();
    let mut lines = vec![format!("({})", inputs.join(", "))];
    for stmt in &g.stmts {
        lines.push(match &stmt.kind {
            GraphStmtKind::Assign { names, value } => {
                format!(
                    "{} = {}",
                    crate::fmt::graph::names_string(names),
                    crate::fmt::graph::graph_string_with(value, &|c| call(c, &[]))
                )
            }
            GraphStmtKind::Return(values) => {
                let items: Vec<String> = values
                    .iter()
                    .map(|v| crate::fmt::graph::graph_string_with(v, &|c| call(c, &[])))
                    .collect();
                format!("return {}", items.join(", "))
            }
        });
    }
    lines
}

/// A block's parameters, as written: `(filters, strides = 1)`.
pub fn block_head(params: &[crate::syntax::ast::BlockParam]) -> String {
    let items: Vec<String> = params
        .iter()
        .map(|p| match &p.default {
            Some(d) => format!("{} = {}", p.name.name, expr(d)),
            None => p.name.name.clone(),
        })
        .collect();
    format!("({})", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_expr_at;

    fn canon(text: &str) -> String {
        expr(&parse_expr_at(text, 0).unwrap())
    }

    #[test]
    fn spelling_and_spacing_do_not_matter() {
        assert_eq!(canon("1e-3"), canon("0.001"));
        assert_eq!(canon("1/255"), "1 / 255");
        assert_eq!(canon("(1 + 2) * 3"), "(1 + 2) * 3");
        assert_eq!(canon("1 + (2 * 3)"), "1 + 2 * 3");
        assert_eq!(canon("1 - (2 - 3)"), "1 - (2 - 3)");
        assert_eq!(canon("2 ** 3 ** 2"), "2 ** 3 ** 2");
        assert_eq!(canon("(2 ** 3) ** 2"), "(2 ** 3) ** 2");
        assert_eq!(canon("adam(lr=1e-3,)"), "adam(lr = 0.001)");
        assert_eq!(canon("64.0"), "64");
    }
}
