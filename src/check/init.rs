//! Initializers (`kernel_init = he_normal`, `bias_init = normal(0.01)`): a bare name or a
//! call, read against the catalogue's entries (`catalog::initializers`).

use super::args::describe;
use super::call::CallArgs;
use super::error::CheckError;
use super::plan::Init;
use crate::catalog::{self, Catalogued, Initializer};
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
    let number = |name: &str, errors: &mut Vec<CheckError>| match args {
        Some(args) => args.number(name, errors),
        None => match id.entry().param(name).map(|p| p.default) {
            Some(catalog::Default::Is(catalog::Value::Number(v))) => v,
            _ => unreachable!("`{}`'s `{name}` has a number for default", id.entry().name),
        },
    };
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
