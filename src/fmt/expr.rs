//! Expressions printed with the fewest parentheses that parse back to the same
//! tree. Numbers keep the text they were written with (`1e-3` stays `1e-3`).

use crate::syntax::ast::{Arg, BinOp, Call, Expr, ExprKind, IndexItem};

/// Binding strength, following the grammar's rules `sum` < `product` <
/// `power` < `unary` < `postfix` < atoms.
fn level(expr: &Expr) -> u8 {
    match &expr.kind {
        ExprKind::Binary(BinOp::Add | BinOp::Sub, ..) => 1,
        ExprKind::Binary(BinOp::Mul | BinOp::Div, ..) => 2,
        ExprKind::Binary(BinOp::Pow, ..) => 3,
        ExprKind::Neg(_) => 4,
        ExprKind::Field(..) | ExprKind::Index(..) => 5,
        _ => 6,
    }
}

pub fn expr(src: &str, e: &Expr, out: &mut String) {
    at_least(src, e, 1, out);
}

/// Prints `e` where the grammar expects at least binding strength `min`.
fn at_least(src: &str, e: &Expr, min: u8, out: &mut String) {
    if level(e) < min {
        out.push('(');
        at_least(src, e, 1, out);
        out.push(')');
        return;
    }
    match &e.kind {
        ExprKind::Number(_) | ExprKind::Int(_) => out.push_str(number_text(
            src.get(e.span.start..e.span.end).unwrap_or("0"),
        )),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Str(s) => {
            out.push('"');
            out.push_str(&s.raw);
            out.push('"');
        }
        ExprKind::Name(id) => out.push_str(&id.name),
        ExprKind::Field(base, field) => {
            at_least(src, base, 5, out);
            // `9.mo` would lex as the number `9.` and a stray name: keep them apart.
            if matches!(base.kind, ExprKind::Number(..) | ExprKind::Int(..)) {
                out.push(' ');
            }
            out.push('.');
            out.push_str(&field.name);
        }
        ExprKind::Index(base, items) => {
            at_least(src, base, 5, out);
            out.push('[');
            let items: Vec<String> = items.iter().map(IndexItem::text).collect();
            out.push_str(&items.join(", "));
            out.push(']');
        }
        ExprKind::Tuple(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                at_least(src, item, 1, out);
            }
            if items.len() == 1 {
                // `(a,)` is a 1-tuple; `(a)` would be grouping.
                out.push(',');
            }
            out.push(')');
        }
        ExprKind::Call(c) => call(src, c, out),
        ExprKind::Neg(inner) => {
            out.push('-');
            // `--x` is two minus signs of one `unary`; `-(-x)` would add nesting.
            let min = if matches!(inner.kind, ExprKind::Neg(_)) {
                4
            } else {
                5
            };
            at_least(src, inner, min, out);
        }
        ExprKind::Binary(op, l, r) => {
            // `+ - * /` associate to the left, `**` to the right, and the base
            // of `**` is a `unary` (so `-2 ** 2` is `(-2) ** 2`).
            let (lmin, rmin) = match op {
                BinOp::Add | BinOp::Sub => (1, 2),
                BinOp::Mul | BinOp::Div => (2, 3),
                BinOp::Pow => (4, 3),
            };
            at_least(src, l, lmin, out);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            at_least(src, r, rmin, out);
        }
    }
}

/// The literal inside a number's span, which for `(1e-3)` also covers the
/// grouping parentheses (and any comment between them).
fn number_text(span_text: &str) -> &str {
    let bytes = span_text.as_bytes();
    let mut i = 0;
    // Skip brackets, whitespace and comments up to the first digit.
    while i < bytes.len() && !bytes[i].is_ascii_digit() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    let start = i;
    while i < bytes.len() {
        let c = bytes[i];
        let sign_after_e = (c == b'+' || c == b'-') && matches!(bytes[i - 1], b'e' | b'E');
        if c.is_ascii_digit() || c == b'.' || c == b'e' || c == b'E' || sign_after_e {
            i += 1;
        } else {
            break;
        }
    }
    if start == i {
        "0"
    } else {
        &span_text[start..i]
    }
}

pub fn call(src: &str, c: &Call, out: &mut String) {
    out.push_str(&c.name.name);
    out.push('(');
    for (i, a) in c.args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        arg(src, a, out);
    }
    out.push(')');
}

fn arg(src: &str, a: &Arg, out: &mut String) {
    if let Some(name) = &a.name {
        out.push_str(&name.name);
        out.push_str(" = ");
    }
    expr(src, &a.value, out);
}

pub fn call_string(src: &str, c: &Call) -> String {
    let mut out = String::new();
    call(src, c, &mut out);
    out
}

pub fn expr_string(src: &str, e: &Expr) -> String {
    let mut out = String::new();
    expr(src, e, &mut out);
    out
}
