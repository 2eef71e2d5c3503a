//! Every path an override can name in a file, and how to edit the text at each.

use crate::catalog::{self, Catalogued, Type};
use crate::source::Span;
use crate::syntax::ast::{self, Call, DeclKind, ExprKind, Setting};

/// Settings `experiment { }` and `train { }` accept (check holds the authoritative lists).
const EXPERIMENT_SETTINGS: &[&str] = &["seed", "threads"];
const TRAIN_SETTINGS: &[&str] = &["epochs", "model", "data", "validate", "loss", "optimizer"];

/// Where in the text a path's value lives.
#[derive(Debug, Clone)]
pub enum Place<'a> {
    /// A setting of `experiment { }` or `train { }`; `settings` present or not.
    Setting {
        settings: &'a [Setting],
        decl_span: Span,
        name: &'static str,
    },
    /// A call's parameter, given positionally, by name, or not at all.
    Arg {
        call: &'a Call,
        index: usize,
        param: &'a str,
    },
}

/// A path and where it leads.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub path: String,
    pub place: Place<'a>,
    /// The declaration it belongs to, for diagnostics.
    pub decl_span: Span,
    /// A second name for a place (`optimizer.lr` for `opt.lr`), left out of listings.
    pub alias: bool,
}

impl Target<'_> {
    pub fn names(&self, path: &str) -> bool {
        self.path == path
    }

    pub fn head(&self) -> &str {
        self.path.split('.').next().unwrap_or(&self.path)
    }
}

impl Place<'_> {
    pub fn same_as(&self, other: &Place<'_>) -> bool {
        match (self, other) {
            (
                Place::Setting {
                    decl_span: a,
                    name: x,
                    ..
                },
                Place::Setting {
                    decl_span: b,
                    name: y,
                    ..
                },
            ) => a == b && x == y,
            (
                Place::Arg {
                    call: a, param: x, ..
                },
                Place::Arg {
                    call: b, param: y, ..
                },
            ) => a.span == b.span && x == y,
            _ => false,
        }
    }

    /// The span of `text` to replace, and the replacement, that set this place to `value`.
    /// The span of the file to replace, the text to put there, and where in that text the
    /// value itself is (for diagnostics about the value, shown as the command line's).
    pub fn edit(
        &self,
        text: &str,
        value: &str,
        parsed: &ast::Expr,
    ) -> (Span, String, std::ops::Range<usize>) {
        match self {
            Place::Setting {
                settings,
                decl_span,
                name,
            } => match settings.iter().find(|s| s.name.name == *name) {
                Some(s) => (s.value.span, value.to_string(), 0..value.len()),
                None => insert_setting(text, *decl_span, name, value),
            },
            Place::Arg { call, index, param } => {
                let value = if is_text(call, param) && !matches!(parsed.kind, ExprKind::Str(_)) {
                    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
                } else {
                    value.to_string()
                };
                match call.arg(*index, param) {
                    Some(arg) => {
                        let len = value.len();
                        (arg.value.span, value, 0..len)
                    }
                    None => insert_arg(text, call.span, param, &value),
                }
            }
        }
    }
}

/// Whether the call's parameter takes a string: a bare `--set test.mnist.split=test` is quoted.
fn is_text(call: &Call, param: &str) -> bool {
    catalog::callable(&call.name.name)
        .and_then(|e| e.param(param))
        .is_some_and(|p| matches!(p.ty, Type::Text(_)))
}

/// `name = value` on its own line before a `}` that is alone on its line, else inline.
fn insert_setting(
    text: &str,
    decl_span: Span,
    name: &str,
    value: &str,
) -> (Span, String, std::ops::Range<usize>) {
    let close = decl_span.end.saturating_sub(1);
    let line_start = text[..close].rfind('\n').map_or(0, |i| i + 1);
    let at = format!("  {name} = ").len();
    if text[line_start..close].trim().is_empty() {
        let span = Span::new(line_start, line_start);
        (span, format!("  {name} = {value}\n"), at..at + value.len())
    } else {
        let at = at - 1;
        (
            Span::new(close, close),
            format!(" {name} = {value} "),
            at..at + value.len(),
        )
    }
}

/// `, name = value` before the call's `)`, without a comma after `(` or a trailing comma.
fn insert_arg(
    text: &str,
    call_span: Span,
    name: &str,
    value: &str,
) -> (Span, String, std::ops::Range<usize>) {
    let close = call_span.end.saturating_sub(1);
    let before = text[..close].trim_end();
    let sep = if before.ends_with('(') || before.ends_with(',') {
        ""
    } else {
        ", "
    };
    let at = format!("{sep}{name} = ").len();
    (
        Span::new(close, close),
        format!("{sep}{name} = {value}"),
        at..at + value.len(),
    )
}

/// Every path in the file, canonical ones first, then aliases.
pub fn targets(file: &ast::File) -> Vec<Target<'_>> {
    let mut out = Vec::new();
    let optimizers = count(file, |k| matches!(k, DeclKind::Optimizer { .. }));
    let losses = count(file, |k| matches!(k, DeclKind::Loss { .. }));
    for decl in &file.decls {
        let span = decl.span;
        match &decl.kind {
            DeclKind::Experiment { name, settings } => {
                for s in EXPERIMENT_SETTINGS {
                    let place = || Place::Setting {
                        settings,
                        decl_span: span,
                        name: s,
                    };
                    out.push(target(format!("experiment.{s}"), place(), span, false));
                    out.push(target(format!("{}.{s}", name.name), place(), span, true));
                }
            }
            DeclKind::Train { settings } => {
                for s in TRAIN_SETTINGS {
                    let place = Place::Setting {
                        settings,
                        decl_span: span,
                        name: s,
                    };
                    out.push(target(format!("train.{s}"), place, span, false));
                }
            }
            DeclKind::Optimizer { name, call, .. } => {
                call_paths(&mut out, &name.name, call, span, false);
                if optimizers == 1 {
                    call_paths(&mut out, "optimizer", call, span, true);
                }
            }
            DeclKind::Loss { name, call } => {
                call_paths(&mut out, &name.name, call, span, false);
                if losses == 1 {
                    call_paths(&mut out, "loss", call, span, true);
                }
            }
            DeclKind::Data { name, pipeline } => {
                let calls: Vec<&Call> = pipeline.iter().collect();
                numbered(&mut out, &name.name, &calls, span, |c| c);
            }
            DeclKind::Model { name, layers } => {
                // A repeated call is one place for every layer it makes.
                let calls = ast::LayerItem::expand(layers);
                numbered(&mut out, &name.name, &calls, span, catalog::layer_base);
            }
            // Layers written in the model itself, named as the checker names them when no
            // block is used (a block's layers are set in the block).
            DeclKind::GraphModel { name, graph } => {
                let calls: Vec<&Call> = graph
                    .layer_calls()
                    .into_iter()
                    .filter(|c| catalog::Layer::named(&c.name.name).is_some())
                    .collect();
                numbered(&mut out, &name.name, &calls, span, catalog::layer_base);
            }
            _ => {}
        }
    }
    out
}

fn count(file: &ast::File, pred: impl Fn(&DeclKind) -> bool) -> usize {
    file.decls.iter().filter(|d| pred(&d.kind)).count()
}

fn target(path: String, place: Place<'_>, decl_span: Span, alias: bool) -> Target<'_> {
    Target {
        path,
        place,
        decl_span,
        alias,
    }
}

/// `<prefix>.<param>` for each parameter of the call (known ones, and any named ones given).
fn call_paths<'a>(
    out: &mut Vec<Target<'a>>,
    prefix: &str,
    call: &'a Call,
    span: Span,
    alias: bool,
) {
    for (index, param) in call_params(call).into_iter().enumerate() {
        let place = Place::Arg { call, index, param };
        out.push(target(format!("{prefix}.{param}"), place, span, alias));
    }
}

fn call_params(call: &Call) -> Vec<&str> {
    let mut all: Vec<&str> = catalog::call_params(&call.name.name);
    for arg in &call.args {
        if let Some(n) = &arg.name {
            if !all.contains(&n.name.as_str()) {
                all.push(&n.name);
            }
        }
    }
    all
}

/// Calls named Keras style (`dense`, `dense_1`), each with `<prefix>.<name>.<param>` paths and
/// `<prefix>.<name>` for its first known parameter.
fn numbered<'a>(
    out: &mut Vec<Target<'a>>,
    prefix: &str,
    calls: &[&'a Call],
    span: Span,
    base: impl Fn(&str) -> &str,
) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for &call in calls {
        let b = base(&call.name.name).to_string();
        let n = seen.entry(b.clone()).or_default();
        let name = if *n == 0 { b } else { format!("{b}_{n}") };
        *n += 1;
        let qualified = format!("{prefix}.{name}");
        if let Some(first) = call_params(call).first() {
            let place = Place::Arg {
                call,
                index: 0,
                param: first,
            };
            out.push(target(qualified.clone(), place, span, false));
        }
        call_paths(out, &qualified, call, span, false);
    }
}
