//! Reading the arguments of a call against the parameters it accepts:
//! positional or named, each at most once, each of the right type and range.
//! Every problem is pushed to the error list and a default is used, so that
//! checking goes on and reports everything at once.

use super::error::{fmt_number, CheckError};
use crate::source::Span;
use crate::syntax::ast::{BinOp, Call, Expr, ExprKind};

pub struct Args<'a> {
    call: &'a Call,
    /// Parameter names in positional order.
    params: Vec<&'a str>,
    /// The expression given for each parameter, if any.
    given: Vec<Option<&'a Expr>>,
    /// Named arguments that match no parameter (already reported).
    unknown: Vec<&'a str>,
}

impl<'a> Args<'a> {
    pub fn read(call: &'a Call, params: &[&'a str], errors: &mut Vec<CheckError>) -> Self {
        Args::read_params(call, params.to_vec(), errors)
    }

    /// A call whose reader takes its arguments itself (an entry with a rest of positional
    /// values, like the `reshape` layer's dimensions).
    pub fn unread(call: &'a Call) -> Self {
        Args {
            call,
            params: Vec::new(),
            given: Vec::new(),
            unknown: Vec::new(),
        }
    }

    pub fn call(&self) -> &'a Call {
        self.call
    }

    /// `read`, with the parameter list owned (a catalogue entry's names).
    pub fn read_params(call: &'a Call, params: Vec<&'a str>, errors: &mut Vec<CheckError>) -> Self {
        let callee = call.name.name.as_str();
        let mut given: Vec<Option<&Expr>> = vec![None; params.len()];
        let mut given_span: Vec<Option<Span>> = vec![None; params.len()];
        let mut position = 0;
        let mut unknown = Vec::new();
        for arg in &call.args {
            let (index, span) = match &arg.name {
                Some(name) => match params.iter().position(|p| *p == name.name) {
                    Some(i) => (i, name.span),
                    None => {
                        errors.push(CheckError::unknown_parameter(
                            callee, &name.name, name.span, &params,
                        ));
                        unknown.push(name.name.as_str());
                        continue;
                    }
                },
                None => {
                    if position >= params.len() {
                        errors.push(CheckError::too_many_arguments(
                            callee,
                            params.len(),
                            arg.value.span,
                        ));
                        continue;
                    }
                    position += 1;
                    (position - 1, arg.value.span)
                }
            };
            if let Some(first) = given_span[index] {
                errors.push(CheckError::duplicate_argument(params[index], span, first));
                continue;
            }
            given[index] = Some(&arg.value);
            given_span[index] = Some(span);
        }
        Args {
            call,
            params,
            given,
            unknown,
        }
    }

    pub fn span(&self) -> Span {
        self.call.span
    }

    pub fn callee(&self) -> &str {
        &self.call.name.name
    }

    pub fn get(&self, param: &str) -> Option<&'a Expr> {
        let index = self.params.iter().position(|p| *p == param)?;
        self.given[index]
    }

    /// The expression for a parameter that must be present.
    pub fn required(&self, param: &str, errors: &mut Vec<CheckError>) -> Option<&'a Expr> {
        let expr = self.get(param);
        // `dense(unit = 10)` is one mistake: the unknown `unit` is reported, the missing `units` not.
        let misspelt = self
            .unknown
            .iter()
            .any(|u| super::error::did_you_mean(u, &[param]).is_some());
        if expr.is_none() && !misspelt {
            errors.push(CheckError::missing_argument(
                self.callee(),
                param,
                self.span(),
            ));
        }
        expr
    }

    pub fn number(&self, param: &str, default: f64, errors: &mut Vec<CheckError>) -> f64 {
        self.get(param)
            .and_then(|e| number(e, param, errors))
            .unwrap_or(default)
    }

    /// A number `> 0` (`positive`) or `>= 0`.
    pub fn positive(
        &self,
        param: &str,
        default: f64,
        strict: bool,
        errors: &mut Vec<CheckError>,
    ) -> f64 {
        let Some(expr) = self.get(param) else {
            return default;
        };
        let Some(v) = number(expr, param, errors) else {
            return default;
        };
        let ok = if strict { v > 0.0 } else { v >= 0.0 };
        if !ok || !v.is_finite() {
            let expected = if strict {
                "greater than 0"
            } else {
                "0 or more"
            };
            errors.push(CheckError::out_of_range(param, v, expected, expr.span));
            return default;
        }
        v
    }

    /// A number in `[lo, hi)`.
    pub fn fraction(
        &self,
        param: &str,
        default: f64,
        (lo, hi): (f64, f64),
        errors: &mut Vec<CheckError>,
    ) -> f64 {
        let Some(expr) = self.get(param) else {
            return default;
        };
        let Some(v) = number(expr, param, errors) else {
            return default;
        };
        if !(lo..hi).contains(&v) {
            let expected = format!("in [{}, {})", fmt_number(lo), fmt_number(hi));
            errors.push(CheckError::out_of_range(param, v, &expected, expr.span));
            return default;
        }
        v
    }

    /// A whole number `>= min`.
    pub fn count(
        &self,
        param: &str,
        default: usize,
        min: usize,
        errors: &mut Vec<CheckError>,
    ) -> usize {
        self.get(param)
            .and_then(|e| count(e, param, min, errors))
            .unwrap_or(default)
    }

    /// A whole number or a pair of them: `3` or `(3, 3)`.
    pub fn pair(
        &self,
        param: &str,
        default: (usize, usize),
        errors: &mut Vec<CheckError>,
    ) -> (usize, usize) {
        self.get(param)
            .and_then(|e| pair(e, param, errors))
            .unwrap_or(default)
    }

    pub fn boolean(&self, param: &str, default: bool, errors: &mut Vec<CheckError>) -> bool {
        match self.get(param) {
            None => default,
            Some(Expr {
                kind: ExprKind::Bool(b),
                ..
            }) => *b,
            Some(e) => {
                errors.push(
                    CheckError::wrong_type(param, "`true` or `false`", describe(e), e.span)
                        .with_help(format!("write `{param} = true` or `{param} = false`")),
                );
                default
            }
        }
    }

    pub fn string(&self, param: &str, errors: &mut Vec<CheckError>) -> Option<(&'a str, Span)> {
        match self.get(param)? {
            Expr {
                kind: ExprKind::Str(s),
                span,
            } => Some((s.value.as_str(), *span)),
            e => {
                errors.push(
                    CheckError::wrong_type(param, "a string", describe(e), e.span)
                        .with_help("put the value in double quotes"),
                );
                None
            }
        }
    }

    /// A string or a tuple of strings (`"a"`, `("a", "b")`); empty when not given.
    pub fn strings(&self, param: &str, errors: &mut Vec<CheckError>) -> Vec<(&'a str, Span)> {
        let Some(expr) = self.get(param) else {
            return Vec::new();
        };
        let items = match &expr.kind {
            ExprKind::Tuple(items) => items.iter().collect(),
            _ => vec![expr],
        };
        let mut out = Vec::new();
        for item in items {
            match &item.kind {
                ExprKind::Str(s) => out.push((s.value.as_str(), item.span)),
                _ => errors.push(
                    CheckError::wrong_type(param, "a string", describe(item), item.span).with_help(
                        "name columns in double quotes: `\"age\"` or `(\"age\", \"bmi\")`",
                    ),
                ),
            }
        }
        out
    }

    /// A tuple of numbers, each `>= 0` and not all 0 (`class_weight = (1.0, 2.5)`), with
    /// its span; `None` when not given, given as `none`, or reported.
    pub fn weights(&self, param: &str, errors: &mut Vec<CheckError>) -> Option<(Vec<f64>, Span)> {
        let expr = self.get(param)?;
        let items = match &expr.kind {
            ExprKind::Tuple(items) => items,
            ExprKind::Name(id) if id.name == "none" => return None,
            _ => {
                errors.push(
                    CheckError::wrong_type(param, "a tuple of numbers", describe(expr), expr.span)
                        .with_help(format!("give one weight per class: `{param} = (1.0, 2.0)`")),
                );
                return None;
            }
        };
        let before = errors.len();
        let mut weights = Vec::with_capacity(items.len());
        for item in items {
            let Some(v) = number(item, param, errors) else {
                continue;
            };
            if v < 0.0 {
                errors.push(CheckError::out_of_range(param, v, "0 or more", item.span));
            }
            weights.push(v);
        }
        if errors.len() > before {
            return None;
        }
        if weights.iter().all(|w| *w == 0.0) {
            errors.push(
                CheckError::invalid(
                    format!("every `{param}` is 0"),
                    "no class counts".into(),
                    expr.span,
                )
                .with_help("give at least one class a weight greater than 0"),
            );
            return None;
        }
        Some((weights, expr.span))
    }

    /// A bare name such as `relu` or `same`, one of `choices`.
    pub fn choice(
        &self,
        param: &str,
        choices: &[&'a str],
        errors: &mut Vec<CheckError>,
    ) -> Option<(&'a str, Span)> {
        let expr = self.get(param)?;
        let (name, span) = match &expr.kind {
            ExprKind::Name(id) => (id.name.as_str(), id.span),
            ExprKind::Str(s) => (s.value.as_str(), expr.span),
            _ => {
                errors.push(
                    CheckError::wrong_type(param, "a name", describe(expr), expr.span)
                        .with_help(format!("one of: {}", choices.join(", "))),
                );
                return None;
            }
        };
        match choices.iter().find(|c| **c == name) {
            Some(c) => Some((c, span)),
            None => {
                errors.push(CheckError::unknown(param, name, span, choices));
                None
            }
        }
    }
}

/// What kind of value an expression is, for "this is ..." labels.
pub fn describe(expr: &Expr) -> &'static str {
    match &expr.kind {
        ExprKind::Number(_) | ExprKind::Int(_) | ExprKind::Neg(_) | ExprKind::Binary(..) => {
            "a number"
        }
        ExprKind::Bool(_) => "a boolean",
        ExprKind::Str(_) => "a string",
        ExprKind::Name(_) | ExprKind::Field(..) => "a name",
        ExprKind::Index(..) => "an indexed tensor",
        ExprKind::Tuple(_) => "a tuple",
        ExprKind::Call(_) => "a call",
    }
}

/// Evaluates a constant numeric expression (`1 / 255`, `-3`, `2 ** 10`).
pub fn number(expr: &Expr, what: &str, errors: &mut Vec<CheckError>) -> Option<f64> {
    let value = const_number(expr).or_else(|| {
        errors.push(
            CheckError::wrong_type(what, "a number", describe(expr), expr.span)
                .with_help(format!("write a number, e.g. `{what} = 0.5`")),
        );
        None
    })?;
    if value.is_finite() {
        Some(value)
    } else {
        errors.push(CheckError::out_of_range(
            what,
            value,
            "a finite number",
            expr.span,
        ));
        None
    }
}

fn const_number(expr: &Expr) -> Option<f64> {
    match &expr.kind {
        ExprKind::Number(_) | ExprKind::Int(_) => expr.kind.literal(),
        ExprKind::Neg(e) => const_number(e).map(|v| -v),
        ExprKind::Binary(op, l, r) => {
            let (l, r) = (const_number(l)?, const_number(r)?);
            Some(match op {
                BinOp::Add => l + r,
                BinOp::Sub => l - r,
                BinOp::Mul => l * r,
                BinOp::Div => l / r,
                BinOp::Pow => l.powf(r),
            })
        }
        _ => None,
    }
}

/// The largest count (`units`, `epochs`, `buffer`, `every`, ...) any setting accepts: far
/// past what fits in memory or time, and small enough to be exact in f64 and in usize.
pub const MAX_COUNT: u64 = 1_000_000_000_000;

/// A whole number in `min..=MAX_COUNT`.
pub fn count(expr: &Expr, what: &str, min: usize, errors: &mut Vec<CheckError>) -> Option<usize> {
    let v = whole(expr, what, min as u64, MAX_COUNT, errors)?;
    // At most MAX_COUNT, which fits a 64-bit usize.
    #[allow(clippy::cast_possible_truncation)]
    Some(v as usize)
}

/// A whole number in `min..=max`, exact when written as an integer literal (a seed above
/// 2^53 keeps every bit). Too small says "at least", too large "at most": one diagnostic.
pub fn whole(
    expr: &Expr,
    what: &str,
    min: u64,
    max: u64,
    errors: &mut Vec<CheckError>,
) -> Option<u64> {
    if let ExprKind::Int(v) = expr.kind {
        return in_bounds(v, what, min, max, expr.span, errors);
    }
    let v = number(expr, what, errors)?;
    if v.fract() != 0.0 {
        errors.push(
            CheckError::wrong_type(what, "a whole number", "a fraction", expr.span).with_help(
                format!("write a whole number, e.g. `{}`", v.round().max(min as f64)),
            ),
        );
        return None;
    }
    if v < min as f64 {
        let expected = format!("at least {min}");
        errors.push(CheckError::out_of_range(what, v, &expected, expr.span));
        return None;
    }
    if v >= 18_446_744_073_709_551_616.0 {
        // 2^64 and above cannot be converted; they are past any `max`.
        let mut error = CheckError::out_of_range(what, v, &format!("at most {max}"), expr.span);
        // Not the value as a float, which rounds the digits written (`99999999999999999999`
        // would show as `100000000000000000000`).
        error.label = "too large for any whole-number setting".into();
        errors.push(error);
        return None;
    }
    // A whole number in [0, 2^64) by the checks above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    in_bounds(v as u64, what, min, max, expr.span, errors)
}

fn in_bounds(
    v: u64,
    what: &str,
    min: u64,
    max: u64,
    span: crate::source::Span,
    errors: &mut Vec<CheckError>,
) -> Option<u64> {
    let bound = if v < min {
        format!("at least {min}")
    } else if v > max {
        format!("at most {max}")
    } else {
        return Some(v);
    };
    #[allow(clippy::cast_precision_loss)] // the label below shows the exact value
    let mut error = CheckError::out_of_range(what, v as f64, &bound, span);
    error.label = format!("{v} is out of range");
    errors.push(error);
    None
}

fn pair(expr: &Expr, what: &str, errors: &mut Vec<CheckError>) -> Option<(usize, usize)> {
    match &expr.kind {
        ExprKind::Tuple(items) if items.len() == 2 => {
            let a = count(&items[0], what, 1, errors);
            let b = count(&items[1], what, 1, errors);
            Some((a?, b?))
        }
        ExprKind::Tuple(_) => {
            errors.push(
                CheckError::wrong_type(
                    what,
                    "a number or a pair",
                    "a tuple of another size",
                    expr.span,
                )
                .with_help(format!("write `{what} = 3` or `{what} = (3, 3)`")),
            );
            None
        }
        _ => count(expr, what, 1, errors).map(|v| (v, v)),
    }
}
