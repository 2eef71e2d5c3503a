//! Initializers (`kernel_init = he_normal`, `bias_init = normal(0.01)`) and regularizers
//! (`kernel_regularizer = l2(0.01)`): a bare name or a call, read against the catalogue's
//! entries (`catalog::initializers`, `catalog::regularizers`).

use super::args::describe;
use super::call::CallArgs;
use super::error::CheckError;
use super::plan::{Init, Regularizer};
use crate::catalog::{self, Catalogued, Entry, Initializer};
use crate::syntax::ast::{Call, Expr, ExprKind};

/// The initializer `expr` names, given for the parameter `param`; `None` after reporting
/// why it is not one.
pub fn read_init(expr: &Expr, param: &str, errors: &mut Vec<CheckError>) -> Option<Init> {
    let (name, span, call) = match &expr.kind {
        ExprKind::Name(id) => (id.name.as_str(), id.span, None),
        ExprKind::Str(s) => (s.value.as_str(), expr.span, None),
        ExprKind::Call(call) => (call.name.name.as_str(), call.name.span, Some(call)),
        _ => {
            errors.push(
                CheckError::wrong_type(param, "an initializer", describe(expr), expr.span)
                    .with_help(format!(
                        "name one, e.g. `{param} = he_normal`, or call one: `normal(0.01)`"
                    )),
            );
            return None;
        }
    };
    let Some(id) = Initializer::named(name) else {
        let known = Initializer::names();
        errors.push(CheckError::unknown("initializer", name, span, &known));
        return None;
    };
    Some(match call {
        Some(call) => from_call(id, call, errors),
        None => from_args(id, None, errors),
    })
}

/// The initializer a bare name means: `id` with its entry's defaults.
pub fn default_of(id: Initializer) -> Init {
    from_args(id, None, &mut Vec::new())
}

fn from_call(id: Initializer, call: &Call, errors: &mut Vec<CheckError>) -> Init {
    let args = CallArgs::read(call, id.entry(), errors);
    from_args(id, Some(&args), errors)
}

/// The initializer `id` with the call's arguments, or the entry's defaults for a bare name.
fn from_args(id: Initializer, args: Option<&CallArgs<'_>>, errors: &mut Vec<CheckError>) -> Init {
    let number = |name: &str, errors: &mut Vec<CheckError>| number(id.entry(), args, name, errors);
    match id {
        Initializer::GlorotUniform => Init::GlorotUniform,
        Initializer::GlorotNormal => Init::GlorotNormal,
        Initializer::HeUniform => Init::HeUniform,
        Initializer::HeNormal => Init::HeNormal,
        Initializer::LecunUniform => Init::LecunUniform,
        Initializer::LecunNormal => Init::LecunNormal,
        Initializer::Zeros => Init::Zeros,
        Initializer::Ones => Init::Ones,
        Initializer::Normal => Init::Normal {
            std: number("std", errors),
        },
        Initializer::Uniform => Init::Uniform {
            limit: number("limit", errors),
        },
        Initializer::Torch => Init::Torch,
    }
}

/// A number parameter of a call, or its default for a bare name.
fn number(
    entry: &'static Entry,
    args: Option<&CallArgs<'_>>,
    name: &str,
    errors: &mut Vec<CheckError>,
) -> f64 {
    match args {
        Some(args) => args.number(name, errors),
        None => match entry.param(name).map(|p| p.default) {
            Some(catalog::Default::Is(catalog::Value::Number(v))) => v,
            _ => unreachable!("`{}`'s `{name}` has a number for default", entry.name),
        },
    }
}

/// The regularizer `expr` names for `param`: `None` for `none`, or after reporting why it
/// is not one.
pub fn read_regularizer(
    expr: &Expr,
    param: &str,
    errors: &mut Vec<CheckError>,
) -> Option<Regularizer> {
    let (name, span, call) = match &expr.kind {
        ExprKind::Name(id) => (id.name.as_str(), id.span, None),
        ExprKind::Call(call) => (call.name.name.as_str(), call.name.span, Some(call)),
        _ => {
            errors.push(
                CheckError::wrong_type(param, "a regularizer", describe(expr), expr.span)
                    .with_help(format!("e.g. `{param} = l2(0.01)`, or `none`")),
            );
            return None;
        }
    };
    if name == "none" && call.is_none() {
        return None;
    }
    let Some(id) = catalog::Regularizer::named(name) else {
        let mut known = catalog::Regularizer::names();
        known.push("none");
        errors.push(CheckError::unknown("regularizer", name, span, &known));
        return None;
    };
    let args = call.map(|c| CallArgs::read(c, id.entry(), errors));
    let number =
        |name: &str, errors: &mut Vec<CheckError>| number(id.entry(), args.as_ref(), name, errors);
    Some(match id {
        catalog::Regularizer::L1 => Regularizer {
            l1: number("l1", errors),
            l2: 0.0,
        },
        catalog::Regularizer::L2 => Regularizer {
            l1: 0.0,
            l2: number("l2", errors),
        },
        catalog::Regularizer::L1L2 => Regularizer {
            l1: number("l1", errors),
            l2: number("l2", errors),
        },
    })
}
