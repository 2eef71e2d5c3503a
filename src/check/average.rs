//! `train { ema = ema(generator, decay = 0.999) }`: an exponential moving average of a
//! model's parameters, which evaluation steps, hooks after an epoch and `after { }` use
//! in place of the trained weights.
//!
//! It is a setting of `train` rather than a declaration because it is not a second model:
//! it has no layers of its own and cannot be called in a step, and the loop decides when
//! it stands in for the model. `ema = (ema(g), ema(d, decay = 0.99))` averages several.

use super::args::{describe, Args};
use super::error::CheckError;
use super::plan::{Average, Optimizer};
use super::Table;
use crate::syntax::ast::{Expr, ExprKind};

/// The decay when none is given: PyTorch's `get_ema_multi_avg_fn` default.
const DECAY: f64 = 0.999;

/// The averages that `value` (the `ema` setting's value) asks for, by model; the models
/// must be trained by some optimizer (an average of constant weights is the weights).
pub(super) fn read_averages<M>(
    value: &Expr,
    models: &Table<M>,
    optimizers: &Table<Optimizer>,
    errors: &mut Vec<CheckError>,
) -> Vec<Average> {
    let calls: Vec<&Expr> = match &value.kind {
        ExprKind::Tuple(items) => items.iter().collect(),
        _ => vec![value],
    };
    let mut averages: Vec<(Average, crate::source::Span)> = Vec::new();
    for expr in calls {
        let ExprKind::Call(call) = &expr.kind else {
            errors.push(
                CheckError::wrong_type("ema", "a call `ema(MODEL)`", describe(expr), expr.span)
                    .with_help("write `ema = ema(net, decay = 0.999)`"),
            );
            continue;
        };
        if call.name.name != "ema" {
            errors.push(
                CheckError::unknown("average", &call.name.name, call.name.span, &["ema"])
                    .with_help("write `ema = ema(net, decay = 0.999)`"),
            );
            continue;
        }
        let args = Args::read(call, &["model", "decay"], errors);
        let model = args.required("model", errors).and_then(|e| match &e.kind {
            ExprKind::Name(id) => models.resolve("model", id, errors).map(|m| (m, e.span)),
            _ => {
                errors.push(
                    CheckError::wrong_type("model", "a name", describe(e), e.span)
                        .with_help("write the name of a declared model, without quotes"),
                );
                None
            }
        });
        let decay = read_decay(&args, errors);
        let Some((model, span)) = model else {
            continue;
        };
        if let Some((_, first)) = averages.iter().find(|(a, _)| a.model == model) {
            errors.push(CheckError::duplicate_argument(
                &models.items[model].0.name,
                span,
                *first,
            ));
            continue;
        }
        if !optimizers
            .items
            .iter()
            .any(|(_, o)| o.models.contains(&model))
        {
            errors.push(
                CheckError::invalid(
                    format!(
                        "`ema` of `{}`, which no optimizer updates",
                        models.items[model].0.name
                    ),
                    "never trained".into(),
                    span,
                )
                .with_help("average a model that an `update` trains: its weights never change"),
            );
            continue;
        }
        averages.push((Average { model, decay }, span));
    }
    averages.into_iter().map(|(a, _)| a).collect()
}

/// `decay` in `[0, 1)`: 1 would never move from the initial weights.
fn read_decay(args: &Args<'_>, errors: &mut Vec<CheckError>) -> f64 {
    let decay = args.number("decay", DECAY, errors);
    if (0.0..1.0).contains(&decay) {
        return decay;
    }
    let span = args.get("decay").map_or(args.span(), |e| e.span);
    errors.push(
        CheckError::out_of_range("decay", decay, "at least 0 and below 1", span)
            .with_help("`decay = 0.999` keeps about the last 1000 updates"),
    );
    DECAY
}
