//! Reading a call to something in the catalogue (`crate::catalog`): the parameters it
//! takes, their types and ranges, and what a missing one is, all come from its entry. A
//! reader asks for a parameter by name with the getter of its type; asking for one the
//! entry lacks, or with the getter of another type, is a bug of ours, and the tests that
//! read every entry find it.

use super::args::Args;
use super::error::CheckError;
use super::init::{read_init, read_regularizer};
use super::plan::{Init, Regularizer};
use crate::catalog::{self, Catalogued, Default, Entry, Param, Type, Value};
use crate::source::Span;
use crate::syntax::ast::{Call, Expr, Ident};

pub struct CallArgs<'a> {
    args: Args<'a>,
    entry: &'static Entry,
}

impl<'a> CallArgs<'a> {
    /// Reads the call's arguments against the entry's parameters, and reports each
    /// required one that is missing, in positional order.
    pub fn read(call: &'a Call, entry: &'static Entry, errors: &mut Vec<CheckError>) -> Self {
        if entry.rest.is_some() {
            // Its reader takes the positional values itself ([`Self::rest_counts`]).
            return CallArgs {
                args: Args::unread(call),
                entry,
            };
        }
        let args = Args::read_params(call, entry.param_names(), errors);
        for p in entry.params.iter().filter(|p| p.is_required()) {
            args.required(p.name, errors);
        }
        CallArgs { args, entry }
    }

    pub fn get(&self, name: &str) -> Option<&'a Expr> {
        self.args.get(name)
    }

    /// The whole numbers (at least 1) of an entry whose parameters are a rest of positional
    /// values, such as `reshape(256, 7, 7)`; `None` once a value or a named argument is
    /// reported, or when there are none.
    pub fn rest_counts(&self, errors: &mut Vec<CheckError>) -> Option<Vec<usize>> {
        let name = self.entry.name;
        self.rest(errors, |value, errors| {
            super::args::count(value, name, 1, errors)
        })
    }

    /// The data names of an entry whose parameters are a rest of positional names, such as
    /// `concat(train, test)`; `None` once a value or a named argument is reported, or when
    /// there are none.
    pub fn rest_data_names(&self, errors: &mut Vec<CheckError>) -> Option<Vec<&'a Ident>> {
        let rest = self.entry.rest.unwrap_or_default();
        self.rest(errors, |value: &'a Expr, errors| {
            if let crate::syntax::ast::ExprKind::Name(id) = &value.kind {
                return Some(id);
            }
            errors.push(
                CheckError::wrong_type(
                    rest,
                    "a data name",
                    super::args::describe(value),
                    value.span,
                )
                .with_help("name a `data` declaration, without quotes: `concat(train, test)`"),
            );
            None
        })
    }

    /// The positional values of a rest, each read by `read` (which reports what it refuses);
    /// a named argument, or no value at all, is reported here.
    fn rest<T>(
        &self,
        errors: &mut Vec<CheckError>,
        mut read: impl FnMut(&'a Expr, &mut Vec<CheckError>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let call = self.args.call();
        let mut values = Vec::new();
        let mut reported = false;
        for arg in &call.args {
            if let Some(name) = &arg.name {
                let known = self.entry.param_names();
                let err =
                    CheckError::unknown_parameter(self.entry.name, &name.name, name.span, &known);
                errors.push(err);
                reported = true;
                continue;
            }
            match read(&arg.value, errors) {
                Some(v) => values.push(v),
                None => reported = true,
            }
        }
        if values.is_empty() && !reported {
            let rest = self.entry.rest.unwrap_or_default();
            errors.push(CheckError::missing_argument(
                self.entry.name,
                rest,
                call.span,
            ));
            reported = true;
        }
        (!reported).then_some(values)
    }

    /// A whole number, at least the entry's minimum.
    pub fn count(&self, name: &str, errors: &mut Vec<CheckError>) -> usize {
        let p = self.param(name);
        let (Type::Count { min }, Some(Value::Count(default))) = (p.ty, value(p)) else {
            self.mismatch(p, "a count")
        };
        self.args.count(name, default, min, errors)
    }

    /// A whole number or a pair of them.
    pub fn pair(&self, name: &str, errors: &mut Vec<CheckError>) -> (usize, usize) {
        let p = self.param(name);
        let (Type::Pair, Some(Value::Pair(a, b))) = (p.ty, value(p)) else {
            self.mismatch(p, "a pair with a default of its own")
        };
        self.args.pair(name, (a, b), errors)
    }

    /// A pair that defaults to another parameter's value (`stride = pool`): `same`.
    pub fn pair_or(
        &self,
        name: &str,
        same: (usize, usize),
        errors: &mut Vec<CheckError>,
    ) -> (usize, usize) {
        let p = self.param(name);
        let (Type::Pair, Default::SameAs(_)) = (p.ty, p.default) else {
            self.mismatch(p, "a pair that defaults to another parameter")
        };
        self.args.pair(name, same, errors)
    }

    /// A whole number that defaults to another parameter's value (`stride = pool`): `same`.
    pub fn count_or(&self, name: &str, same: usize, errors: &mut Vec<CheckError>) -> usize {
        let p = self.param(name);
        let (Type::Count { min }, Default::SameAs(_)) = (p.ty, p.default) else {
            self.mismatch(p, "a count that defaults to another parameter")
        };
        self.args.count(name, same, min, errors)
    }

    /// A whole number that the layer works out when the call leaves it out
    /// (`Default::Derived`): `None` then, or when the value given is reported.
    pub fn derived_count(&self, name: &str, errors: &mut Vec<CheckError>) -> Option<usize> {
        let p = self.param(name);
        let (Type::Count { min }, Default::Derived(_)) = (p.ty, p.default) else {
            self.mismatch(p, "a count worked out from the input")
        };
        let value = self.args.get(name)?;
        super::args::count(value, name, min, errors)
    }

    /// A number in the range its type says.
    pub fn number(&self, name: &str, errors: &mut Vec<CheckError>) -> f64 {
        let p = self.param(name);
        let Some(Value::Number(default)) = value(p) else {
            self.mismatch(p, "a number")
        };
        match p.ty {
            Type::Number => self.args.number(name, default, errors),
            Type::Positive => self.args.positive(name, default, true, errors),
            Type::NonNegative => self.args.positive(name, default, false, errors),
            Type::Fraction => self.args.fraction(name, default, (0.0, 1.0), errors),
            Type::Count { .. }
            | Type::Pair
            | Type::Bool
            | Type::Activation
            | Type::Initializer
            | Type::Regularizer
            | Type::Name(_)
            | Type::Text(_)
            | Type::Texts
            | Type::Numbers
            | Type::Channels { .. }
            | Type::DataName
            | Type::ValueName
            | Type::ValueNames
            | Type::Scalar => self.mismatch(p, "a number"),
        }
    }

    pub fn boolean(&self, name: &str, errors: &mut Vec<CheckError>) -> bool {
        let p = self.param(name);
        let (Type::Bool, Some(Value::Bool(default))) = (p.ty, value(p)) else {
            self.mismatch(p, "a boolean")
        };
        self.args.boolean(name, default, errors)
    }

    /// One of the names the type allows (bare or quoted), or the default.
    pub fn name(&self, name: &str, errors: &mut Vec<CheckError>) -> &'a str {
        let p = self.param(name);
        let choices: Vec<&'static str> = match p.ty {
            Type::Name(choices) | Type::Text(choices) if !choices.is_empty() => choices.to_vec(),
            Type::Activation => catalog::Activation::names(),
            _ => self.mismatch(p, "a name"),
        };
        let Some(Value::Name(default) | Value::Text(default)) = value(p) else {
            self.mismatch(p, "a name with a default")
        };
        self.args
            .choice(name, &choices, errors)
            .map_or(default, |(chosen, _)| chosen)
    }

    /// An activation's name.
    pub fn activation(&self, name: &str, errors: &mut Vec<CheckError>) -> catalog::Activation {
        let chosen = self.name(name, errors);
        catalog::Activation::named(chosen)
            .unwrap_or_else(|| unreachable!("`{chosen}` is one of the catalogue's activations"))
    }

    /// An initializer: a name (`he_normal`) or a call (`normal(0.01)`).
    pub fn initializer(&self, name: &str, errors: &mut Vec<CheckError>) -> Init {
        let p = self.param(name);
        let (Type::Initializer, Some(Value::Name(default))) = (p.ty, value(p)) else {
            self.mismatch(p, "an initializer")
        };
        let given = self.args.get(name).and_then(|e| read_init(e, name, errors));
        given.unwrap_or_else(|| {
            let id = catalog::Initializer::named(default)
                .unwrap_or_else(|| unreachable!("`{default}` is one of the initializers"));
            crate::check::init::default_of(id)
        })
    }

    /// A regularizer (`l2(0.01)`, `l1`), or `None` for `none` or when not given.
    pub fn regularizer(&self, name: &str, errors: &mut Vec<CheckError>) -> Option<Regularizer> {
        let p = self.param(name);
        if p.ty != Type::Regularizer {
            self.mismatch(p, "a regularizer");
        }
        read_regularizer(self.args.get(name)?, name, errors)
    }

    /// A string, any string.
    pub fn string(&self, name: &str, errors: &mut Vec<CheckError>) -> Option<(&'a str, Span)> {
        let p = self.param(name);
        if p.ty != Type::Text(&[]) {
            self.mismatch(p, "a string");
        }
        self.args.string(name, errors)
    }

    /// A string or a tuple of strings, each with its span; empty when not given.
    pub fn strings(&self, name: &str, errors: &mut Vec<CheckError>) -> Vec<(&'a str, Span)> {
        let p = self.param(name);
        if p.ty != Type::Texts {
            self.mismatch(p, "strings");
        }
        self.args.strings(name, errors)
    }

    /// A tuple of weights, one per class, with its span; `None` when not given.
    pub fn weights(&self, name: &str, errors: &mut Vec<CheckError>) -> Option<(Vec<f64>, Span)> {
        let p = self.param(name);
        if p.ty != Type::Numbers {
            self.mismatch(p, "numbers");
        }
        self.args.weights(name, errors)
    }

    /// A number, or a tuple of one per channel, with the span of what gave it (the call's,
    /// when left out: the placeholder then stands in for it).
    pub fn per_channel(&self, name: &str, errors: &mut Vec<CheckError>) -> (Vec<f64>, Span) {
        let p = self.param(name);
        let (Type::Channels { positive }, Some(Value::Number(default))) = (p.ty, value(p)) else {
            self.mismatch(p, "numbers per channel")
        };
        let Some(expr) = self.args.get(name) else {
            return (vec![default], self.args.call().span);
        };
        let items = match &expr.kind {
            crate::syntax::ast::ExprKind::Tuple(items) => items.iter().collect(),
            _ => vec![expr],
        };
        let mut values = Vec::new();
        for item in items {
            let Some(v) = super::args::number(item, name, errors) else {
                return (vec![default], expr.span);
            };
            if positive && v <= 0.0 {
                errors.push(CheckError::out_of_range(
                    name,
                    v,
                    "greater than 0",
                    item.span,
                ));
                return (vec![default], expr.span);
            }
            values.push(v);
        }
        (values, expr.span)
    }

    /// The name of a `data` declaration, with its span (checked against the declarations
    /// by the caller), or `None` when not given.
    pub fn data_name(&self, name: &str, errors: &mut Vec<CheckError>) -> Option<(&'a str, Span)> {
        let help = "name a `data` declaration, without quotes: `from = train`";
        self.bare_name(name, (Type::DataName, "a data name"), help, errors)
    }

    /// The name of a value of a graph model, with its span (resolved by `check::graph`), or
    /// `None` when not given.
    pub fn value_name(&self, name: &str, errors: &mut Vec<CheckError>) -> Option<(&'a str, Span)> {
        let help = "name a value computed above, without quotes: `memory = x | dense(64)`, then `value = memory`";
        let what = (Type::ValueName, "the name of a value of the model");
        self.bare_name(name, what, help, errors)
    }

    /// Values of a graph model, one name or a tuple of them, each with its span (resolved by
    /// `check::graph`); empty when not given.
    pub fn value_names(&self, name: &str, errors: &mut Vec<CheckError>) -> Vec<(&'a str, Span)> {
        let what = "the name of a value of the model, or a tuple of them";
        let p = self.param(name);
        if p.ty != Type::ValueNames {
            self.mismatch(p, what);
        }
        let Some(expr) = self.args.get(name) else {
            return Vec::new();
        };
        let items = match &expr.kind {
            crate::syntax::ast::ExprKind::Tuple(items) => items.iter().collect(),
            _ => vec![expr],
        };
        let mut names = Vec::new();
        for item in items {
            match &item.kind {
                crate::syntax::ast::ExprKind::Name(id) => names.push((id.name.as_str(), id.span)),
                _ => errors.push(
                    CheckError::wrong_type(name, what, super::args::describe(item), item.span)
                        .with_help("name values computed above, without quotes: `_, h, c = x | lstm(32, return_state = true)`, then `initial_state = (h, c)`"),
                ),
            }
        }
        names
    }

    /// A bare name of type `ty`, described as `what` when the argument is something else.
    fn bare_name(
        &self,
        name: &str,
        (ty, what): (Type, &str),
        help: &str,
        errors: &mut Vec<CheckError>,
    ) -> Option<(&'a str, Span)> {
        let p = self.param(name);
        if p.ty != ty {
            self.mismatch(p, what);
        }
        let expr = self.args.get(name)?;
        match &expr.kind {
            crate::syntax::ast::ExprKind::Name(id) => Some((id.name.as_str(), id.span)),
            _ => {
                errors.push(
                    CheckError::wrong_type(name, what, super::args::describe(expr), expr.span)
                        .with_help(help),
                );
                None
            }
        }
    }

    fn param(&self, name: &str) -> &'static Param {
        self.entry.param(name).unwrap_or_else(|| {
            unreachable!(
                "the catalogue gives `{}` no parameter `{name}`",
                self.entry.name
            )
        })
    }

    fn mismatch(&self, p: &Param, wanted: &str) -> ! {
        unreachable!(
            "`{}`'s `{}` is read as {wanted}, but the catalogue says {:?} = {:?}",
            self.entry.name, p.name, p.ty, p.default
        )
    }
}

/// The value a parameter has when the call leaves it out (a required one's placeholder).
fn value(p: &Param) -> Option<Value> {
    match p.default {
        Default::Required(v) | Default::Is(v) => Some(v),
        Default::SameAs(_) | Default::Derived(_) => None,
    }
}
