//! Graph models and blocks printed canonically: `h = x | dense(8) | relu()`, sums and
//! products with one space around `+` and `*`, parentheses only where the grammar needs them
//! (and around a sum or product that is piped, `(h + x) | relu()`, which reads plainer).

use super::expr::call_string;
use crate::syntax::ast::{BlockParam, Call, GraphExpr, GraphExprKind, Ident};

/// Binding strength: pipes bind loosest, then sums, then products, then atoms.
fn level(e: &GraphExpr) -> u8 {
    match &e.kind {
        GraphExprKind::Pipe(..) => 1,
        GraphExprKind::Add(_) => 2,
        GraphExprKind::Mul(_) => 3,
        GraphExprKind::Name(_) | GraphExprKind::Call(_) => 4,
    }
}

/// `e` on one line.
pub fn graph_string(src: &str, e: &GraphExpr) -> String {
    graph_string_with(e, &|c| call_string(src, c))
}

/// `e` on one line, its calls printed by `call`.
pub fn graph_string_with(e: &GraphExpr, call: &dyn Fn(&Call) -> String) -> String {
    let mut out = String::new();
    at_least(e, 1, call, &mut out);
    out
}

/// The value a pipe starts from, parenthesised when it is not a name or a call.
pub fn pipe_input_string(src: &str, e: &GraphExpr) -> String {
    let mut out = String::new();
    at_least(e, 4, &|c| call_string(src, c), &mut out);
    out
}

fn at_least(e: &GraphExpr, min: u8, call: &dyn Fn(&Call) -> String, out: &mut String) {
    if level(e) < min {
        out.push('(');
        at_least(e, 1, call, out);
        out.push(')');
        return;
    }
    match &e.kind {
        GraphExprKind::Name(id) => out.push_str(&id.name),
        GraphExprKind::Call(c) => out.push_str(&call(c)),
        GraphExprKind::Pipe(input, calls) => {
            at_least(input, 4, call, out);
            for c in calls {
                out.push_str(" | ");
                out.push_str(&call(c));
            }
        }
        GraphExprKind::Add(items) | GraphExprKind::Mul(items) => {
            let (op, next) = if level(e) == 2 {
                (" + ", 3)
            } else {
                (" * ", 4)
            };
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(op);
                }
                at_least(item, next, call, out);
            }
        }
    }
}

/// `(filters, strides = 1)`.
pub fn params_string(src: &str, params: &[BlockParam]) -> String {
    let items: Vec<String> = params
        .iter()
        .map(|p| match &p.default {
            Some(d) => format!("{} = {}", p.name.name, super::expr::expr_string(src, d)),
            None => p.name.name.clone(),
        })
        .collect();
    format!("({})", items.join(", "))
}

/// The names an assignment binds: `h`, or `y, h, c`.
pub fn names_string(names: &[Ident]) -> String {
    let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
    names.join(", ")
}
